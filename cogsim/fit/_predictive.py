"""Posterior (plug-in) predictive checks: copies of the data simulated from each unit's fitted estimates,
and the data's summaries set beside the simulated copies' (mean and percentile band)."""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, check_count
from cogsim.fit import _model, _objective
from cogsim.fit._bootstrap import simulate_units
from cogsim.fit._cache import cached
from cogsim.fit._data import _plain, pack, unit_ids
from cogsim.fit._key import check_key

#: the columns :func:`predictive_check` adds after the summaries' condition columns
CHECK_COLUMNS = ("observed", "sim_mean", "ci_low", "ci_high", "n_sims", "inside")
#: simulated copies drawn per vectorised batch (the numbers do not depend on it); 1 (one copy after
#: another) took about half the time of 8 for serial, mixture2p and vp: vectorised rejection samplers
#: (gamma, von Mises) wait for their slowest lane
SIM_BATCH = 1


def _unit_values(model, result, packed) -> jax.Array:
    """Each packed unit's estimates, unconstrained ``[n_units, k]``, matched to ``result.units`` by key."""
    names = [p.name for p in model.params]
    keys = list(packed.keys)
    missing = [c for c in keys + names if c not in result.units.columns]
    if missing:
        raise CogsimError(
            f"predictive result: its units table lacks {', '.join(missing)}; allowed: the result of fitting "
            f"model {model.name!r} (cogsim.fit.fit or fit_hierarchical)"
        )
    est = packed.units[keys].merge(result.units[keys + names], on=keys, how="left", validate="one_to_one")
    unfit = est[names].isna().any(axis=1).to_numpy() if names else np.zeros(len(est), bool)
    if unfit.any():
        i = int(np.argmax(unfit))
        what = ", ".join(f"{c}={_plain(est[c].iloc[i])!r}" for c in keys)
        raise CogsimError(
            f"predictive data: unit {what} has no estimates in the result; allowed: the data the model was "
            "fitted to"
        )
    if not names:
        return jnp.zeros((len(est), 0), jnp.float32)
    return _objective.to_unconstrained(model, est[names].to_numpy(np.float32))


@functools.lru_cache(maxsize=32)
def _sampler(model, responses: tuple[str, ...]):
    """The jitted sampler of ``model``: ``run(u, trials, key, sims, ids)`` -> response column -> ``[n_sims,
    n_units, max_trials]``, copy ``s`` keyed by ``fold_in(key, s)``, ``SIM_BATCH`` copies vectorised at a
    time; cached per model, so later calls with the same shapes reuse the compiled code."""

    def run(u, trials, key, sims, ids):
        def one(s):
            drawn = simulate_units(model, u, trials, key=jax.random.fold_in(key, s), ids=ids)
            return {c: drawn[c] for c in responses}

        return jax.lax.map(one, sims, batch_size=SIM_BATCH)

    return jax.jit(run)


def predictive(
    model, result, data: pd.DataFrame, *, n_sims: int = 100, set_size_column: str = "set_size", key: jax.Array
) -> pd.DataFrame:
    """``n_sims`` copies of ``data`` with the response columns drawn from each unit's fitted estimates.

    Plug-in: every copy is simulated at the point estimates (``result.units``), not at draws from the
    parameters' uncertainty. The rows and the design columns are the data's; the columns the model's
    ``simulate`` returns (e.g. ``error_rad``, or ``correct`` and ``rt_ms``) are replaced, cast to the data's
    dtypes. Copy ``s`` is keyed by ``fold_in(key, s)`` and a unit within it by ``fold_in`` of that and the
    unit's random-stream id (as :func:`cogsim.fit._bootstrap.simulate_units`), so a copy's numbers do not
    depend on ``n_sims`` or on the units' order.

    Args:
      model: the fitted model (it must have ``simulate``).
      result: its :class:`cogsim.fit.FitResult` (or ``HierarchicalResult``) on ``data``.
      data: the trials it was fitted to.
      n_sims: the number of simulated copies (>= 1).
      set_size_column: the set-size column (per-set-size models' units).
      key: the root random key.

    Returns:
      The copies in long format: a ``sim`` column (0 .. n_sims - 1) first, then the data's columns,
      ``len(data) * n_sims`` rows.

    Raises:
      CogsimError: the model has no ``simulate``, a bad ``n_sims``, or a unit of ``data`` the result lacks.

    Example:
      >>> import jax, numpy as np, pandas as pd
      >>> from cogsim import fit
      >>> from cogsim.models import paradigms
      >>> m = paradigms.get("delayed_estimation").models["mixture2p"]
      >>> e = np.random.default_rng(0).vonmises(0.0, 8.0, 60)
      >>> data = pd.DataFrame({"subject": 1, "set_size": 2, "error_rad": e})
      >>> res = fit.fit(m, data, ci=None, key=jax.random.key(0))
      >>> sims = fit.predictive(m, res, data, n_sims=3, key=jax.random.key(1))
      >>> sims.shape, sorted(sims["sim"].unique().tolist())
      ((180, 4), [0, 1, 2])
    """
    check_key(key, what="predictive")
    _model.check_model(model)
    if not callable(getattr(model, "simulate", None)):
        raise CogsimError(
            f"predictive: model {model.name!r} has no simulate(); allowed: a model with simulate()"
        )
    n_sims = check_count("predictive", "n_sims", n_sims)
    if not isinstance(getattr(result, "units", None), pd.DataFrame) or not hasattr(result, "by"):
        raise CogsimError(
            f"predictive result: got {type(result).__name__}; allowed: the result of fitting model "
            f"{model.name!r} to the data (cogsim.fit.fit or fit_hierarchical)"
        )
    if not isinstance(data, pd.DataFrame):
        raise CogsimError(
            f"predictive data: got {type(data).__name__}; allowed: a pandas DataFrame, the trials the model "
            "was fitted to"
        )
    if getattr(result, "model", model.name) != model.name:
        raise CogsimError(
            f"predictive result: got a fit of {result.model!r}; allowed: a fit of {model.name!r}"
        )
    data = data.reset_index(drop=True)
    packed = pack(data, model, by=result.by, set_size_column=set_size_column, min_trials=1)
    u = _unit_values(model, result, packed)

    first = jax.tree.map(lambda a: a[0], packed.trials)
    shapes = jax.eval_shape(lambda: model.simulate(_objective.values(model, u[0]), first, key=key))
    responses = tuple(c for c, v in shapes.items() if len(v.shape) == 1)  # per-trial draws, not design arrays
    run = cached(_sampler, model, responses)
    drawn = run(u, packed.trials, key, jnp.arange(n_sims), jnp.asarray(unit_ids(packed.units, packed.keys)))
    mask = np.asarray(packed.mask)
    rows = packed.rows[mask]
    n = len(data)
    frame = data.iloc[np.tile(np.arange(n), n_sims)].reset_index(drop=True)
    frame.insert(0, "sim", np.repeat(np.arange(n_sims), n))
    for c in responses:
        sims = np.asarray(drawn[c])[:, mask]  # [n_sims, real trials], in packed order
        out = np.empty((n_sims, n), sims.dtype)
        out[:, rows] = sims
        values = out.reshape(-1)
        frame[c] = values.astype(data[c].dtype) if c in data.columns else values
    frame.attrs = {**data.attrs, "n_sims": n_sims}
    return frame


def predictive_check(observed: pd.DataFrame, simulated: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """The observed summaries beside the simulated copies' mean and central ``level`` percentile band.

    Args:
      observed: summaries in long format: condition columns, ``statistic`` and ``value`` (e.g. a
        paradigm's ``summarize`` of the data).
      simulated: the same summaries of the simulated copies, with a ``sim`` column.
      level: the band's coverage (0.95: from the 2.5th to the 97.5th percentile of the copies).

    Returns:
      One row per observed summary: its condition columns and ``statistic``, then ``observed``,
      ``sim_mean``, ``ci_low``, ``ci_high`` (over the copies whose summary is finite), ``n_sims`` (how many)
      and ``inside`` (``ci_low <= observed <= ci_high``; False where either is not finite).

    Example:
      >>> obs = pd.DataFrame({"statistic": ["m"], "value": [0.5]})
      >>> sim = pd.DataFrame({"sim": range(5), "statistic": "m", "value": [0.1, 0.3, 0.4, 0.6, 0.9]})
      >>> predictive_check(obs, sim, level=0.5)[["observed", "sim_mean", "ci_low", "ci_high", "inside"]]
         observed  sim_mean  ci_low  ci_high  inside
      0       0.5      0.46     0.3      0.6    True
    """
    if not isinstance(level, numbers.Real) or isinstance(level, bool) or not 0.0 < level < 1.0:
        raise CogsimError(f"predictive_check level: got {level!r}; allowed: a coverage in (0, 1)")
    for name, frame, need in (
        ("observed", observed, ("statistic", "value")),
        ("simulated", simulated, ("sim", "statistic", "value")),
    ):
        lacking = [c for c in need if c not in frame.columns]
        if lacking:
            raise CogsimError(
                f"predictive_check {name}: missing column(s) {', '.join(lacking)}; allowed: a long summary "
                f"table with condition columns, {', '.join(need)}"
            )
    cond = [c for c in observed.columns if c != "value"]
    lacking = [c for c in cond if c not in simulated.columns]
    if lacking:
        raise CogsimError(
            f"predictive_check simulated: missing condition column(s) {', '.join(lacking)}; allowed: the "
            "observed summaries' columns plus sim"
        )
    alpha = (1.0 - level) / 2.0
    g = simulated.groupby(cond, dropna=False, sort=False)["value"]
    stats = pd.concat(
        {
            "sim_mean": g.mean(),
            "ci_low": g.quantile(alpha),
            "ci_high": g.quantile(1.0 - alpha),
            "n_sims": g.count(),
        },
        axis=1,
    ).reset_index()
    out = observed.rename(columns={"value": "observed"}).merge(stats, on=cond, how="left")
    out["n_sims"] = out["n_sims"].fillna(0).astype(int)
    obs, lo, hi = (out[c].to_numpy(float) for c in ("observed", "ci_low", "ci_high"))
    with np.errstate(invalid="ignore"):
        out["inside"] = np.isfinite(obs) & np.isfinite(lo) & (lo <= obs) & (obs <= hi)
    return out[[*cond, *CHECK_COLUMNS]]


def inside_fraction(check: pd.DataFrame) -> float:
    """The fraction of a :func:`predictive_check` table's rows inside their band.

    Example:
      >>> inside_fraction(pd.DataFrame({"inside": [True, False, True, True]}))
      0.75
    """
    return float(np.mean(check["inside"].to_numpy(bool))) if len(check) else float("nan")
