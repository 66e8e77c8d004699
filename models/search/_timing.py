"""The shared response-time layer of the search models: a mixture over the number of inspected items.

Every serial model here ends a trial after ``n`` inspected items with a response (target present or absent);
each inspected item takes a gamma time with shape ``k_item`` and scale ``scale_s``, and the rest of the trial
(encoding, response) a residual ``t0_s + Gamma(k_res, scale_s)``. With a common scale the sum is
``t0_s + Gamma(k_res + n * k_item, scale_s)``, so the likelihood of (RT, response) is the finite mixture
``sum_n P(n, response) * gamma_pdf(rt - t0_s; k_res + n * k_item, scale_s)``: exact, no simulation. A fixed
contaminant (probability :data:`CONTAMINANT`, RT uniform on ``[0, RT_MAX_S]``, either response) keeps the
likelihood finite for trials faster than ``t0_s`` or extremely slow; it is not fitted. The simulators draw
the same sum as one gamma variate per trial (:func:`sample_rt`).

:func:`table_loglik` computes the same mixture for models whose ``P(n, response)`` depends on the trial only
through its set size, target presence and response: the probabilities (and the gamma normalising terms,
which depend only on ``n``) are computed once per kind of trial and gathered per trial, so each trial costs
one logarithm and one ``logsumexp`` over ``n`` instead of a log-gamma, two logarithms and an exponential
per ``n``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jaxtyping import Array, Float

from cogsim.models.working_memory._model import check_binary, row_error

#: the largest set size the likelihood tables cover
MAX_ITEMS = 32
#: fixed probability that a trial is a contaminant (uniform RT, random response)
CONTAMINANT = 0.005
#: the contaminant's RT range (seconds)
RT_MAX_S = 15.0


def responded_present(trials) -> jax.Array:
    """1 where the answer was "present" (a hit or a false alarm), from ``target_present`` and ``correct``."""
    tp = jnp.asarray(trials["target_present"], jnp.int32)
    c = jnp.asarray(trials["correct"], jnp.int32)
    return jnp.where(tp == 1, c, 1 - c)


def check_trials(frame: pd.DataFrame, src: str, max_items: int | None = None) -> None:
    """Refuses trials a search model would fit without a word but wrongly, on any DataFrame ``cogsim.fit``
    is given, read by the paradigm or not: ``target_present`` or ``correct`` other than 0 or 1, ``rt_ms``
    negative or not finite, a set size that is not a whole number >= 1 or is beyond ``max_items`` (the
    likelihood's tables; None: no limit).

    Raises:
      DataError: naming the row, the column, the value and what is allowed.
    """
    check_binary(frame, src, ("target_present", "correct"))
    if "rt_ms" in frame.columns:
        v = pd.to_numeric(frame["rt_ms"], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isnan(v) & ~((v >= 0) & np.isfinite(v)))
        if len(bad):
            raise row_error(src, int(bad[0]), "rt_ms", frame["rt_ms"].iloc[bad[0]], "a finite number >= 0")
    if "set_size" in frame.columns:
        n = pd.to_numeric(frame["set_size"], errors="coerce").to_numpy(float)
        top = np.inf if max_items is None else max_items
        bad = np.flatnonzero(~np.isnan(n) & ~((n >= 1) & (n <= top) & (n == np.floor(n))))
        if len(bad):
            value = frame["set_size"].iloc[bad[0]]
            allowed = "a whole number >= 1"
            if max_items is not None:
                allowed = f"1 to {max_items}, a whole number (the likelihood's tables)"
            raise row_error(src, int(bad[0]), "set_size", value, allowed)


def _contaminated(model: Float[Array, " trials"], rt_s: Float[Array, " trials"]) -> Float[Array, " trials"]:
    """``log((1 - CONTAMINANT) exp(model) + CONTAMINANT * uniform(rt))``: the model's per-trial log-density
    mixed with the contaminant (RT uniform on ``[0, RT_MAX_S]``, either response)."""
    cont = jnp.log(CONTAMINANT * 0.5 / RT_MAX_S) * jnp.ones_like(rt_s)
    inside = (rt_s >= 0) & (rt_s <= RT_MAX_S)
    cont = jnp.where(inside, cont, -jnp.inf)
    return jnp.logaddexp(jnp.log1p(-CONTAMINANT) + model, cont)


def mixture_loglik(
    p_obs: Float[Array, "trials n"],
    shape: Float[Array, "trials n"],
    rt_s: Float[Array, " trials"],
    t0_s: jax.Array,
    scale_s: jax.Array,
) -> Float[Array, " trials"]:
    """Per-trial log-likelihood of ``sum_n p_obs[n] * gamma_pdf(rt - t0; shape[n], scale)``, with contaminant.

    Args:
      p_obs: probability of ending after ``n`` items with the observed response (columns n = 0, 1, ...).
      shape: the gamma shape of the RT after ``t0_s`` for each ``n``.
      rt_s: observed response times in seconds.
      t0_s: the residual's shift (seconds).
      scale_s: the common gamma scale (seconds).
    """
    x = rt_s[:, None] - t0_s
    pos = x > 0
    xs = jnp.where(pos, x, 1.0)
    lpdf = jax.scipy.stats.gamma.logpdf(xs, shape, scale=scale_s)
    lp = jnp.where(pos & (p_obs > 0), lpdf + jnp.log(jnp.where(p_obs > 0, p_obs, 1.0)), -jnp.inf)
    model = jax.scipy.special.logsumexp(lp, axis=1)
    return _contaminated(model, rt_s)


def trial_kind(trials, max_items: int) -> jax.Array:
    """Row of a :func:`table_loglik` table for each trial: ``(response * 2 + target_present) * (max_items + 1)
    + set_size``, with ``response`` 1 for "present" (:func:`responded_present`); ``4 * (max_items + 1)``,
    past the table's end (so only the contaminant's density), for a set size that is not a whole number
    from 1 to ``max_items`` (until 2026-12-07 such a trial read another kind's row) or a ``target_present``
    or ``correct`` other than 0 or 1."""
    tp = jnp.asarray(trials["target_present"], jnp.int32)
    size = jnp.asarray(trials["set_size"])
    n = size.astype(jnp.int32)
    ok = (n >= 1) & (n <= max_items) & ((tp == 0) | (tp == 1))
    c = jnp.asarray(trials["correct"])
    ok = ok & ((c == 0) | (c == 1))
    if not jnp.issubdtype(size.dtype, jnp.integer):
        ok = ok & (size == jnp.floor(size))
    kind = (responded_present(trials) * 2 + tp) * (max_items + 1) + n
    return jnp.where(ok, kind, 4 * (max_items + 1))


def table_loglik(
    p_table: Float[Array, "kinds n"],
    kind: jax.Array,
    k_res: jax.Array,
    k_item: jax.Array,
    rt_s: Float[Array, " trials"],
    t0_s: jax.Array,
    scale_s: jax.Array,
) -> Float[Array, " trials"]:
    """:func:`mixture_loglik` with ``p_obs = p_table[kind]`` and ``shape[n] = k_res + n * k_item``.

    Args:
      p_table: probability of ending after ``n`` items (columns) with a response, per kind of trial (rows,
        :func:`trial_kind`); a kind outside the table gives a trial only the contaminant's density.
      kind: the row of each trial.
      k_res, k_item: gamma shapes of the residual and of one item.
      rt_s: observed response times in seconds.
      t0_s: the residual's shift (seconds).
      scale_s: the common gamma scale (seconds).

    Example:
      >>> import jax.numpy as jnp
      >>> p = jnp.array([[0.0, 0.7, 0.3]])
      >>> rt = jnp.array([0.6, 0.9])
      >>> a = table_loglik(p, jnp.array([0, 0]), 8.0, 2.0, rt, 0.25, 0.02)
      >>> shape = jnp.tile(8.0 + 2.0 * jnp.arange(3.0), (2, 1))
      >>> b = mixture_loglik(jnp.tile(p, (2, 1)), shape, rt, 0.25, 0.02)
      >>> bool(jnp.allclose(a, b, atol=1e-5))
      True
    """
    a = k_res + jnp.arange(p_table.shape[1], dtype=jnp.float32) * k_item
    log_p = jnp.log(jnp.where(p_table > 0, p_table, 1.0))
    log_p = jnp.where(p_table > 0, log_p, -jnp.inf) - jax.scipy.special.gammaln(a) - jnp.log(scale_s)
    x = rt_s - t0_s
    pos = x > 0
    y = jnp.where(pos, x, 1.0) / scale_s
    kind = jnp.where(kind < 0, p_table.shape[0], kind)  # "fill" would read a negative kind from the end
    rows = jnp.take(log_p, kind, axis=0, mode="fill", fill_value=-jnp.inf)
    lp = (a - 1) * jnp.log(y)[:, None] - y[:, None] + rows
    model = jnp.where(pos, jax.scipy.special.logsumexp(lp, axis=1), -jnp.inf)
    return _contaminated(model, rt_s)


def sample_rt(
    n_items: jax.Array, k_item, k_res, t0_s, scale_s, *, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Draws RTs (seconds) ``t0_s + Gamma(k_res + n_items * k_item, scale_s)`` and whether each trial is a
    contaminant. Returns ``(rt_s, contaminant)``.

    The residual ``Gamma(k_res)`` plus ``n_items`` independent ``Gamma(k_item)`` item times, all of scale
    ``scale_s``, is exactly ``Gamma(k_res + n_items * k_item)`` in distribution (the shape the likelihood
    uses), so each trial takes one gamma variate instead of one per item. The key is split in four: the
    second sub-key draws the gamma variate, the third the contaminant flag (probability
    :data:`CONTAMINANT`) and the fourth a contaminant's RT (uniform on ``[0, RT_MAX_S]``); the first, which
    drew the item times one by one before the identity was used, is unused, so the contaminant flags and
    RTs are the same draws as the item-by-item sampler's.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> rt, cont = sample_rt(jnp.array([0, 6, 18]), 2.0, 8.0, 0.25, 0.02, key=jax.random.key(0))
      >>> rt.shape, cont.dtype
      ((3,), dtype('bool'))
      >>> bool((rt[~cont] > 0.25).all())
      True
    """
    _, k_rt, k_cont, k_unif = jax.random.split(key, 4)
    shape = jnp.shape(n_items)
    a = k_res + jnp.asarray(n_items, jnp.float32) * k_item
    rt = t0_s + jax.random.gamma(k_rt, a, shape) * scale_s
    cont = jax.random.uniform(k_cont, shape) < CONTAMINANT
    rt = jnp.where(cont, jax.random.uniform(k_unif, shape, maxval=RT_MAX_S), rt)
    return rt, cont
