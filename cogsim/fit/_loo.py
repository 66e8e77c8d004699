"""Leave-one-out cross-validation from posterior draws by Pareto-smoothed importance sampling (PSIS-LOO,
:mod:`cogsim.fit._psis`) and the widely applicable information criterion (WAIC), per trial, per participant
and per model, and the comparison of models by their expected log predictive density (elpd) with the
standard error of each difference (as R's ``loo::loo_compare`` and ArviZ's ``compare``).

For trial ``i`` and draws ``theta_s`` (``s = 1..S``) of its unit's posterior:

- ``elpd_loo_i = log sum_s w_is p(y_i | theta_s)``, ``w_is`` the Pareto-smoothed weights of the ratios
  ``1 / p(y_i | theta_s)``, normalised; ``k_i`` their Pareto shape (reliable below
  :func:`cogsim.fit._psis.k_threshold`, 0.7 for 2,155 draws or more);
- ``lppd_i = log mean_s p(y_i | theta_s)``, ``p_loo_i = lppd_i - elpd_loo_i``;
- ``p_waic_i = var_s log p(y_i | theta_s)``, ``elpd_waic_i = lppd_i - p_waic_i``.

Sums over a participant's trials give its ``elpd_loo`` (``looic = -2 elpd_loo``) and ``elpd_waic``, with
``se = sqrt(n var_i(.))``. Trials are left out one at a time within their own fitting unit: for a model
fitted per set size, each set size's posterior predicts its own trials. A model with no free parameters has
no posterior: its leave-one-out density of a trial is its density of that trial, exactly (``exact``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jaxtyping import Array, Float

from cogsim.errors import CogsimError
from cogsim.fit import _model
from cogsim.fit._cache import cached
from cogsim.fit._data import pack
from cogsim.fit._psis import k_threshold, psis, tail_length

#: the pointwise measures, one column each in :attr:`LooResult.pointwise`
POINTWISE = ("elpd_loo", "p_loo", "pareto_k", "elpd_waic", "p_waic")
#: the most log-likelihood values one block of trials holds (draws x trials), bounding the memory used
BLOCK_VALUES = 2**21


@dataclasses.dataclass(frozen=True)
class LooResult:
    """What :func:`loo` returns.

    Attributes:
      model: the model's name.
      by: the participant columns.
      summary: one row per participant: ``model, <by...>, n_trials, elpd_loo, se_elpd_loo, p_loo, looic,
        elpd_waic, se_elpd_waic, p_waic, waic, max_k, n_high_k, converged`` (``n_high_k``: trials whose
        Pareto ``k`` exceeds ``settings["k_threshold"]``, where the LOO estimate is unreliable, and that
        were not refitted; a NaN ``k``, a trial whose likelihood is the same at every draw and whose
        ``elpd_loo`` is that likelihood's log, exactly, is not counted;
        ``converged``: the participant's chains met :func:`cogsim.fit.sample`'s convergence rule, without
        which the draws, and so these estimates, do not stand for the posterior; ``exact``: the model has no
        free parameters and ``elpd_loo`` is its log-likelihood, exactly, ``p_loo`` 0, ``max_k`` NaN, every
        participant converged).
      pointwise: one row per trial: ``row`` (its 0-based position in the data), ``<by...>``, then
        :data:`POINTWISE`, ``converged`` (its participant's) and ``refit`` (its ``elpd_loo`` computed from a
        posterior sampled without it, by :func:`cogsim.fit.reloo`, instead of by importance sampling).
      settings: the number of draws, the tail length, the ``k`` threshold (0, 0 and NaN where ``exact``),
        ``exact``.

    Example:
      >>> pw = pd.DataFrame({"row": [0, 1, 2], "subject": 1, **{c: [0.0] * 3 for c in POINTWISE}})
      >>> pw["elpd_loo"] = [-1.0, -2.0, -1.5]  # each trial's log density given the other trials
      >>> res = LooResult("coin", ("subject",), pd.DataFrame({"model": ["coin"], "elpd_loo": [-4.5]}), pw,
      ...                 {"k_threshold": 0.7})
      >>> loo_compare([res])[["model", "n_trials", "elpd_loo"]].values.tolist()  # sums the pointwise table
      [['coin', 3, -4.5]]
    """

    model: str
    by: tuple[str, ...]
    summary: pd.DataFrame
    pointwise: pd.DataFrame
    settings: dict


def _totals(pw: pd.DataFrame, threshold: float) -> dict:
    n = len(pw)
    out = {"n_trials": n}
    for name in ("elpd_loo", "elpd_waic"):
        x = pw[name].to_numpy(np.float64)
        out[name] = float(x.sum())
        out[f"se_{name}"] = float(math.sqrt(n * x.var(ddof=1))) if n > 1 else math.nan
    out["p_loo"] = float(pw["p_loo"].sum())
    out["p_waic"] = float(pw["p_waic"].sum())
    out["looic"] = -2.0 * out["elpd_loo"]
    out["waic"] = -2.0 * out["elpd_waic"]
    out["max_k"] = float(np.nanmax(pw["pareto_k"])) if pw["pareto_k"].notna().any() else math.nan
    high = pw["pareto_k"] > threshold
    out["n_high_k"] = int((high & ~pw["refit"]).sum() if "refit" in pw else high.sum())
    return out


def summarise(
    model_name: str, by: tuple[str, ...], pointwise: pd.DataFrame, threshold: float, data, exact: bool = False
):
    """:attr:`LooResult.summary` from the pointwise table: one row per participant."""
    rows = []
    for key, group in pointwise.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                "model": model_name,
                **dict(zip(by, key, strict=True)),
                **_totals(group, threshold),
                "converged": bool(group["converged"].all()),
                "exact": exact,
            }
        )
    summary = pd.DataFrame(rows)
    for b in by:
        summary[b] = summary[b].astype(data[b].dtype)
    order = ["model", *by, "n_trials", "elpd_loo", "se_elpd_loo", "p_loo", "looic", "elpd_waic"]
    return summary[[*order, "se_elpd_waic", "p_waic", "waic", "max_k", "n_high_k", "converged", "exact"]]


def loglik_at(model):
    """``f(draws, trials) -> [D, n]``: the model's per-trial log-likelihood at each of the draws ``[D, k]``
    (the parameters in the model's order, on their own scale) of the trials ``{column: [n, ...]}``."""
    names = [p.name for p in model.params]
    return jax.vmap(lambda d, t: model.loglik(dict(zip(names, d, strict=True)), t), (0, None))


def _pointwise(model, x, trials, mask, n_block: int):
    """``[U*B, 5, n_block]``: the pointwise measures of each block of one unit's trials, ``x`` ``[U, D, k]``
    the unit's draws, ``trials`` ``{column: [U*B, n_block, ...]}``, ``mask`` ``[U*B, n_block]``."""
    n_blocks = mask.shape[0] // x.shape[0]

    def block(a):
        b, t = a
        draws = x[b // n_blocks]  # [D, k]
        return measures(loglik_at(model)(draws, t))

    return jax.lax.map(block, (jnp.arange(mask.shape[0]), trials))


def measures(ll: Float[Array, "S n"]) -> Float[Array, "5 n"]:
    """:data:`POINTWISE` of each column of ``ll``, the log-likelihood of a trial (column) at each of ``S``
    draws. A trial with a likelihood of 0 (or not finite) at some draw has an infinite importance ratio there:
    its ``elpd_loo``, ``p_loo``, ``elpd_waic`` and ``p_waic`` are NaN and its ``k`` infinite (unreliable:
    :func:`cogsim.fit.reloo` refits it).

    Example:
      >>> ll = jnp.full((100, 2), jnp.log(0.5)).at[3, 1].set(-jnp.inf)  # trial 2 impossible at draw 4
      >>> [round(float(v), 4) for v in measures(ll)[:, 0]]  # the same density at every draw: a flat tail
      [-0.6931, 0.0, nan, -0.6931, 0.0]
      >>> bool(jnp.isnan(measures(ll)[0, 1])), float(measures(ll)[2, 1])
      (True, inf)
    """
    bad = ~jnp.all(jnp.isfinite(ll), axis=0)
    ll = jnp.where(bad[None], 0.0, ll)
    lw, k = psis(-ll)
    elpd = jax.nn.logsumexp(lw + ll, axis=0)
    lppd = jax.nn.logsumexp(ll, axis=0) - math.log(ll.shape[0])
    p_waic = jnp.var(ll, axis=0, ddof=1)
    out = jnp.stack([elpd, lppd - elpd, k, lppd - p_waic, p_waic])
    return jnp.where(bad[None], jnp.array([jnp.nan, jnp.nan, jnp.inf, jnp.nan, jnp.nan])[:, None], out)


@functools.lru_cache(maxsize=32)
def _program(model, n_block: int):
    """The jitted :func:`_pointwise` of ``model`` for blocks of ``n_block`` trials (one per model and block
    size, so that a second call on data of the same shapes is not compiled again)."""
    return jax.jit(lambda x, t, m: _pointwise(model, x, t, m, n_block))


def loo(
    model,
    data: pd.DataFrame,
    result=None,
    *,
    by: Sequence[str] = ("subject",),
    set_size_column: str = "set_size",
) -> LooResult:
    """PSIS-LOO and WAIC of every participant's trials from :func:`cogsim.fit.sample`'s draws; for a model
    with no free parameters (nothing to sample), the exact leave-one-out densities: each trial's
    log-likelihood (``exact`` True, ``p_loo`` and ``p_waic`` 0, ``pareto_k`` NaN, every participant
    ``converged``).

    Args:
      model: the model sampled (as given to :func:`cogsim.fit.sample`).
      data: the same trials as were sampled.
      result: the :class:`~cogsim.fit.SampleResult` of ``sample(model, data, ...)``; None for a model with
        no free parameters.
      by: the participant columns of a model with no free parameters (``result``'s otherwise).
      set_size_column: as for :func:`cogsim.fit.sample`.

    Returns:
      A :class:`LooResult`.

    Raises:
      CogsimError: ``result`` is another model's, or its units are not the data's.

    Example:
      >>> import jax, pandas as pd
      >>> from cogsim.fit import Param, sample
      >>> class Coin:
      ...     name, params = "coin", (Param("p", 0.0, 1.0, default=0.5),)
      ...     def loglik(self, q, t):
      ...         return jnp.where(t["y"] > 0, jnp.log(q["p"]), jnp.log1p(-q["p"]))
      >>> df = pd.DataFrame({"subject": 1, "y": [1] * 14 + [0] * 6})
      >>> res = loo(Coin(), df, sample(Coin(), df, n_warmup=200, n_samples=1000, key=jax.random.key(0)))
      >>> exact = 14 * math.log(14 / 21) + 6 * math.log(6 / 21)  # Beta(1, 1) prior: y_i given the others
      >>> bool(abs(res.summary["elpd_loo"].iloc[0] - exact) < 0.15), int(res.summary["n_high_k"].iloc[0])
      (True, 0)
    """
    _model.check_model(model)
    of = getattr(result, "model", None)
    if result is not None and (of != model.name or (model.params and not hasattr(result, "draws"))):
        got = f"a {type(result).__name__} of {of!r}" if isinstance(of, str) else f"a {type(result).__name__}"
        raise CogsimError(
            f"loo result: got {got}; allowed: the SampleResult of sample({model.name!r}, data, ...)"
            + ("" if model.params else " or None")
        )
    if not model.params:
        return _exact(model, data, tuple(getattr(result, "by", by)), set_size_column)
    if result is None:
        raise CogsimError(
            f"loo result: got None; allowed: the SampleResult of sample({model.name!r}, data, ...)"
        )
    by = tuple(result.by)
    packed = pack(
        data, model, by=by, set_size_column=set_size_column, min_trials=result.settings.get("min_trials", 10)
    )
    model = _model.specialised(model, data)
    keys = list(packed.keys)
    if (
        not packed.units[[*keys, "n_trials"]]
        .reset_index(drop=True)
        .equals(result.units[[*keys, "n_trials"]].reset_index(drop=True))
    ):
        raise CogsimError(
            f"loo data: its units ({len(packed.units)}) are not those {model.name!r} was sampled on "
            f"({len(result.units)}); allowed: the data given to sample()"
        )
    n_units, n_chains, n_samples, n_params = result.draws.shape
    n_draws = n_chains * n_samples
    x = jnp.asarray(result.draws.reshape(n_units, n_draws, n_params), jnp.float32)
    mask = np.asarray(packed.mask)
    width = mask.shape[1]
    n_block = int(max(1, min(width, BLOCK_VALUES // n_draws)))
    n_blocks = -(-width // n_block)
    pad = n_blocks * n_block - width

    def blocks(a):  # [U, width, ...] -> [U * n_blocks, n_block, ...], padding repeating the first trial
        a = np.asarray(a)
        if pad:
            a = np.concatenate([a, np.repeat(a[:, :1], pad, axis=1)], axis=1)
        return a.reshape(n_units * n_blocks, n_block, *a.shape[2:])

    trials = {c: jnp.asarray(blocks(a)) for c, a in packed.trials.items()}
    program = cached(_program, model, n_block)
    out = np.asarray(program(x, trials, jnp.asarray(blocks(mask))))  # [U * n_blocks, 5, n_block]
    out = out.reshape(n_units, n_blocks, len(POINTWISE), n_block).transpose(0, 2, 1, 3)
    out = out.reshape(n_units, len(POINTWISE), n_blocks * n_block)[:, :, :width]
    ok = result.summary[[*by, "converged"]]
    pointwise = _table(packed, data, by, {n: out[:, i, :][mask] for i, n in enumerate(POINTWISE)}, ok)
    threshold = k_threshold(n_draws)
    summary = summarise(model.name, by, pointwise, threshold, data)
    settings = {"n_draws": n_draws, "tail_length": tail_length(n_draws), "k_threshold": threshold}
    return LooResult(model.name, by, summary, pointwise, {**settings, "exact": False})


def _table(packed, data, by, values: dict, converged: pd.DataFrame | None) -> pd.DataFrame:
    """:attr:`LooResult.pointwise` in data order: ``values`` (:data:`POINTWISE` name -> the masked trials'
    values), each trial's participant's ``converged`` flag from the table ``converged`` (``<by...>,
    converged``; a participant not in it: not converged; None: every participant converged)."""
    mask = np.asarray(packed.mask)
    pointwise = pd.DataFrame({"row": packed.rows[mask]})
    flat = data.reset_index(drop=True)
    for b in by:
        pointwise[b] = flat[b].to_numpy()[pointwise["row"].to_numpy()]
    for name in POINTWISE:
        pointwise[name] = np.asarray(values[name], np.float64)
    if converged is None:
        pointwise["converged"] = True
    else:
        ok = pointwise[list(by)].merge(converged, on=list(by), how="left")
        pointwise["converged"] = ok["converged"].eq(True).to_numpy()
    pointwise["refit"] = False
    return pointwise.sort_values("row", kind="stable", ignore_index=True)


def _exact(model, data: pd.DataFrame, by: tuple[str, ...], set_size_column: str) -> LooResult:
    """:func:`loo` of a model with no free parameters: each trial's log-likelihood, exactly."""
    packed = pack(data, model, by=by, set_size_column=set_size_column)
    specialised = _model.specialised(model, data)
    ll = np.asarray(jax.jit(jax.vmap(lambda t: specialised.loglik({}, t)))(packed.trials), np.float64)
    ll = ll[np.asarray(packed.mask)]
    zero, nan = np.zeros_like(ll), np.full_like(ll, np.nan)
    values = {"elpd_loo": ll, "p_loo": zero, "pareto_k": nan, "elpd_waic": ll, "p_waic": zero}
    pointwise = _table(packed, data, by, values, None)
    summary = summarise(model.name, by, pointwise, math.nan, data, exact=True)
    settings = {"n_draws": 0, "tail_length": 0, "k_threshold": math.nan, "exact": True}
    return LooResult(model.name, by, summary, pointwise, settings)


def stacking_weights(elpd: np.ndarray, *, tol: float = 1e-10, max_iter: int = 100_000) -> np.ndarray:
    """Stacking weights of predictive distributions (Yao, Vehtari, Simpson & Gelman 2018): the weights ``w``
    on the simplex that maximise ``sum_i log sum_k w_k exp(elpd_ik)``, the leave-one-out log score of the
    models' mixture. Found by the EM iteration for mixture weights with the components held fixed,
    ``w_k <- mean_i w_k p_ik / sum_j w_j p_ij``, which never lowers the (concave) objective; it stops when no
    weight moves by more than ``tol``.

    Args:
      elpd: ``[n, K]`` each trial's ``elpd_loo`` under each of ``K`` models.

    Returns:
      ``[K]`` weights summing to 1.

    Example:
      >>> e = np.log([[0.5, 0.1], [0.1, 0.5], [0.5, 0.1]])  # model 0 predicts two trials well, model 1 one
      >>> stacking_weights(e).round(3).tolist()
      [0.75, 0.25]
    """
    e = np.asarray(elpd, np.float64)
    p = np.exp(e - e.max(axis=1, keepdims=True))  # the same maximiser: each row rescaled
    w = np.full(e.shape[1], 1.0 / e.shape[1])
    for _ in range(max_iter):
        r = w * p
        new = (r / r.sum(axis=1, keepdims=True)).mean(axis=0)
        if np.abs(new - w).max() <= tol:
            return new
        w = new
    return w


def loo_compare(results: Sequence[LooResult], *, converged_only: bool = True) -> pd.DataFrame:
    """Models ranked by their summed ``elpd_loo`` over the trials every one of them predicts, with each
    model's difference from the best and that difference's standard error, ``sqrt(n var_i(d_i))`` over the
    pointwise differences ``d_i`` (Vehtari et al. 2017).

    Args:
      results: :class:`LooResult` of each model on the same data (distinct model names).
      converged_only: keep only the trials of participants whose chains converged under every model
        (draws that have not converged do not stand for the posterior: their LOO estimates can be off by
        any amount). Trials without an estimate under some model (``elpd_loo`` NaN, see :func:`measures`;
        :func:`cogsim.fit.reloo` gives them one) are left out too; ``n_trials`` says how many remain.

    Returns:
      One row per model, best first: ``model, n_trials, elpd_loo, se_elpd_loo, p_loo, elpd_diff, se_diff,
      weight, elpd_waic, n_high_k, exact``; ``elpd_diff`` is 0 for the best model and negative for the
      others; ``weight`` the model's stacking weight (:func:`stacking_weights`); ``exact`` True for a model
      with no free parameters (its log-likelihood, see :func:`loo`).

    Example:
      >>> pw = lambda e: pd.DataFrame({"row": [0, 1, 2], **{c: [0.0] * 3 for c in POINTWISE}, "elpd_loo": e})
      >>> a = LooResult("a", (), pd.DataFrame(), pw([-1.0, -2.0, -1.5]), {"k_threshold": 0.7})
      >>> b = LooResult("b", (), pd.DataFrame(), pw([-1.5, -2.0, -2.0]), {"k_threshold": 0.7})
      >>> loo_compare([b, a])[["model", "elpd_diff", "se_diff"]].round(3).values.tolist()
      [['a', 0.0, 0.0], ['b', -1.0, 0.5]]
    """
    results = list(results)
    names = [r.model for r in results]
    if not results or len(set(names)) != len(names):
        raise CogsimError(f"loo_compare results: got models {names}; allowed: one or more distinct models")

    def kept(r):  # trials without an estimate (NaN: a zero likelihood at some draw; see measures) left out
        pw = r.pointwise[np.isfinite(r.pointwise["elpd_loo"])]
        return set(pw["row"][pw["converged"]] if converged_only and "converged" in pw else pw["row"])

    common = kept(results[0])
    for r in results[1:]:
        common &= kept(r)
    if not common:
        what = "converged participant's trial" if converged_only else "trial"
        raise CogsimError(
            f"loo_compare results: models {names} share no {what}; allowed: fits of the same data"
            + (" with chains that converged (or converged_only=False)" if converged_only else "")
        )
    rows = np.array(sorted(common))
    pw = {r.model: r.pointwise.set_index("row").loc[rows] for r in results}
    totals = {r.model: _totals(pw[r.model].reset_index(), r.settings["k_threshold"]) for r in results}
    best = max(names, key=lambda m: totals[m]["elpd_loo"])
    exact = {r.model: bool(r.settings.get("exact", False)) for r in results}
    weights = stacking_weights(np.stack([pw[m]["elpd_loo"].to_numpy() for m in names], axis=1))
    out = []
    for m, weight in zip(names, weights, strict=True):
        d = (pw[m]["elpd_loo"] - pw[best]["elpd_loo"]).to_numpy(np.float64)
        t = totals[m]
        out.append(
            {
                "model": m,
                "n_trials": len(rows),
                "elpd_loo": t["elpd_loo"],
                "se_elpd_loo": t["se_elpd_loo"],
                "p_loo": t["p_loo"],
                "elpd_diff": float(d.sum()),
                "se_diff": float(math.sqrt(len(d) * d.var(ddof=1))) if len(d) > 1 else math.nan,
                "weight": float(weight),
                "elpd_waic": t["elpd_waic"],
                "n_high_k": t["n_high_k"],
                "exact": exact[m],
            }
        )
    return pd.DataFrame(out).sort_values("elpd_loo", ascending=False, ignore_index=True)
