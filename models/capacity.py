"""The fixed-capacity model of visual working memory with attention lapses and guessing (Rouder et al. 2008).

On a trial with ``N`` items, an observer who attends (probability ``a``) holds ``K`` items, so the
probed item is in memory with probability ``d = min(K / N, 1)``. If it is, the response is correct; if not
(or on a lapse), the observer guesses "change" with probability ``g``, one guess rate per
change-probability block::

    P(hit) = a (d + (1 - d) g) + (1 - a) g
    P(FA)  = a (1 - d) g + (1 - a) g

Fits are maximum likelihood on counts of "change" responses, in JAX. The fit is vectorised: one call fits many
count tables at once (participants, bootstrap resamples) with ``jax.vmap`` over an Adam optimisation in
``lax.scan``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from jaxtyping import Array, Float

from cogsim.compare import binomial_loglik
from cogsim.errors import DataError

PARAMS = ("K", "a", "g")


@dataclasses.dataclass(frozen=True)
class Counts:
    """Change-detection data as counts per condition cell.

    Attributes:
      set_size: ``[cells]`` set size N of each cell.
      block: ``[cells]`` index of the change-probability block (into ``p_change``).
      is_change: ``[cells]`` 1 for change trials, 0 for same trials.
      n: ``[..., cells]`` trials per cell (a leading axis holds participants or resamples).
      k: ``[..., cells]`` "change" responses per cell.
      p_change: the blocks' change probabilities.
    """

    set_size: np.ndarray
    block: np.ndarray
    is_change: np.ndarray
    n: np.ndarray
    k: np.ndarray
    p_change: tuple[float, ...]


def counts_from_table(trials: pd.DataFrame, *, by_participant: bool = True) -> Counts:
    """Builds :class:`Counts` from trial rows in the change-detection schema: ``subject, set_size, change,
    correct`` and optionally ``base_rate`` (the block's probability of a change).

    Without ``base_rate`` all trials form one block labelled with the observed proportion of change trials
    (rounded to 0.01). Any set sizes and participant ids (strings or integers) are accepted.

    Example:
      >>> import pandas as pd
      >>> t = pd.DataFrame({"subject": ["a", "a", "b", "b"], "set_size": [2, 2, 4, 4],
      ...                   "change": [1, 0, 1, 0], "correct": [1, 1, 0, 1]})
      >>> c = counts_from_table(t)
      >>> c.p_change, c.n.shape, c.k.sum(0).tolist()
      ((0.5,), (2, 4), [0.0, 1.0, 0.0, 0.0])
    """
    change = trials["change"].to_numpy().astype(int)
    correct = trials["correct"].to_numpy().astype(int)
    if "base_rate" in trials.columns:
        p_change = trials["base_rate"].to_numpy(float)
    else:
        p_change = np.full(len(trials), round(float(change.mean()), 2))
    resp = np.where(change == 1, correct, 1 - correct)  # 1 = responded "change"
    df = pd.DataFrame(
        {"sub": trials["subject"].to_numpy(), "N": trials["set_size"].to_numpy(), "p_change": p_change}
    ).assign(ischange=change, resp=resp)
    return _counts(df, by_participant)


def counts_from_trials(trials: pd.DataFrame, *, by_participant: bool = True) -> Counts:
    """Builds :class:`Counts` from Rouder et al.'s trial rows: columns ``sub, N, prch, ischange, resp``.

    ``prch`` is the block's log-odds of a change; it is mapped to the change probability.

    Raises:
      DataError: ``prch`` holds probabilities (every value in [0, 1] and some strictly inside), which would
        silently relabel the conditions.
    """
    prch = trials["prch"].to_numpy(float)
    if np.all((prch >= 0) & (prch <= 1)) and np.any((prch > 0) & (prch < 1)):
        i = int(np.flatnonzero((prch > 0) & (prch < 1))[0])
        raise DataError(
            f"row {i + 1}, column 'prch': got {prch[i]!r}, a probability; allowed: the log-odds of a change "
            "(give probabilities as base_rate in the change_detection schema)"
        )
    df = trials.assign(p_change=np.round(1 / (1 + np.exp(-prch)), 2))
    return _counts(df[["sub", "N", "p_change", "ischange", "resp"]], by_participant)


def _counts(df: pd.DataFrame, by_participant: bool) -> Counts:
    cells = df[["N", "p_change", "ischange"]].drop_duplicates().sort_values(["N", "p_change", "ischange"])
    p_levels = tuple(sorted(df["p_change"].unique()))
    subs = sorted(df["sub"].unique()) if by_participant else [None]
    n = np.zeros((len(subs), len(cells)))
    k = np.zeros((len(subs), len(cells)))
    g = df.groupby(["sub", "N", "p_change", "ischange"])["resp"].agg(["sum", "count"])
    for i, s in enumerate(subs):
        for j, (nn, pc, ch) in enumerate(cells.itertuples(index=False)):
            if s is None:
                sel = g.xs((nn, pc, ch), level=("N", "p_change", "ischange"))
                k[i, j], n[i, j] = sel["sum"].sum(), sel["count"].sum()
            elif (s, nn, pc, ch) in g.index:
                k[i, j], n[i, j] = g.loc[(s, nn, pc, ch)]
    return Counts(
        set_size=cells["N"].to_numpy(),
        block=np.array([p_levels.index(p) for p in cells["p_change"]]),
        is_change=cells["ischange"].to_numpy(),
        n=n,
        k=k,
        p_change=tuple(float(p) for p in p_levels),
    )


def predict(params: dict[str, jax.Array], set_size, block, is_change) -> jax.Array:
    """P("change" response) per cell: hit probability on change cells, false-alarm probability on same cells.

    Args:
      params: ``K`` (scalar, items), ``a`` (scalar, attention probability), ``g`` (``[blocks]`` guess rates).

    Example:
      >>> import jax.numpy as jnp
      >>> p = {"K": jnp.array(3.0), "a": jnp.array(1.0), "g": jnp.array([0.5])}
      >>> [round(x, 3) for x in predict(p, jnp.array([2, 6]), jnp.array([0, 0]), jnp.array([1, 1])).tolist()]
      [1.0, 0.75]
    """
    d = jnp.minimum(params["K"] / set_size, 1.0)
    g = params["g"][block]
    a = params["a"]
    hit = a * (d + (1 - d) * g) + (1 - a) * g
    fa = a * (1 - d) * g + (1 - a) * g
    return jnp.where(is_change == 1, hit, fa)


def _natural(z: dict[str, jax.Array]) -> dict[str, jax.Array]:
    return {"K": jnp.exp(z["logK"]), "a": jax.nn.sigmoid(z["za"]), "g": jax.nn.sigmoid(z["zg"])}


def loglik(params: dict[str, jax.Array], counts: Counts, n: jax.Array, k: jax.Array) -> jax.Array:
    """Binomial log-likelihood of one count table ``n, k`` (``[cells]``) under ``params``."""
    p = predict(params, counts.set_size, counts.block, counts.is_change)
    return jnp.sum(binomial_loglik(k, n, p))


def fit(
    counts: Counts,
    n: Float[Array, "*batch cells"] | None = None,
    k: Float[Array, "*batch cells"] | None = None,
    *,
    steps: int = 1500,
    lr: float = 0.05,
    init_K: float = 3.0,
) -> dict[str, jax.Array]:
    """Maximum-likelihood fit of the fixed-capacity model to every count table in ``n, k`` at once.

    Args:
      counts: the cell layout (and default data ``counts.n``, ``counts.k``).
      n: trials per cell, any leading batch shape (participants, bootstrap resamples).
      k: "change" responses per cell, same shape.
      steps: Adam steps (full batch; the likelihood is smooth except at K = N).
      lr: Adam learning rate in the unconstrained space (log K, logit a, logit g).
      init_K: starting capacity.

    Returns:
      ``{"K", "a", "g", "loglik"}`` with the batch shape (``g`` has a trailing blocks axis).
    """
    n = jnp.asarray(counts.n if n is None else n, jnp.float32)
    k = jnp.asarray(counts.k if k is None else k, jnp.float32)
    batch = n.shape[:-1]
    n2, k2 = n.reshape(-1, n.shape[-1]), k.reshape(-1, k.shape[-1])
    nb = len(counts.p_change)
    opt = optax.adam(lr)

    def one(n1, k1):
        z0 = {"logK": jnp.log(jnp.float32(init_K)), "za": jnp.float32(2.0), "zg": jnp.zeros(nb)}

        def loss(z):
            return -loglik(_natural(z), counts, n1, k1) / jnp.maximum(jnp.sum(n1), 1.0)

        def step(carry, _):
            z, s = carry
            g = jax.grad(loss)(z)
            u, s = opt.update(g, s, z)
            return (optax.apply_updates(z, u), s), None

        (z, _), _ = jax.lax.scan(step, (z0, opt.init(z0)), None, length=steps)
        nat = _natural(z)
        return {**nat, "loglik": loglik(nat, counts, n1, k1)}

    out = jax.jit(jax.vmap(one))(n2, k2)
    return {name: v.reshape(batch + v.shape[1:]) for name, v in out.items()}


def bootstrap(
    counts: Counts, *, key: jax.Array, n_boot: int = 1000, steps: int = 1500
) -> dict[str, jax.Array]:
    """Group fits on participant-resampled data: ``n_boot`` resamples of the participants, refit each.

    Args:
      counts: per-participant counts (``counts.n`` of shape ``[participants, cells]``).
      key: PRNG key of the resampling.
      n_boot: number of resamples.
      steps: Adam steps per fit.

    Returns:
      Parameter draws with a leading ``n_boot`` axis.
    """
    n_sub = counts.n.shape[0]
    idx = jax.random.randint(key, (n_boot, n_sub), 0, n_sub)
    w = jax.vmap(lambda i: jnp.bincount(i, length=n_sub))(idx).astype(jnp.float32)  # [boot, sub]
    n = w @ jnp.asarray(counts.n, jnp.float32)
    k = w @ jnp.asarray(counts.k, jnp.float32)
    return fit(counts, n, k, steps=steps)
