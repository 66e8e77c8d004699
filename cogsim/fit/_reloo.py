"""Exact leave-one-out refits for the trials whose Pareto-smoothed estimate cannot be trusted (as brms's
``reloo`` and ArviZ's ``reloo``): for each such trial, its unit's posterior sampled again without it, and
the trial's density averaged over those draws.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError
from cogsim.fit import _model
from cogsim.fit._data import pack, trial_arrays
from cogsim.fit._loo import LooResult, loglik_at, summarise
from cogsim.fit._objective import Prior
from cogsim.fit._sample import sample


def reloo(
    model,
    data: pd.DataFrame,
    result,
    loo_result: LooResult,
    *,
    prior: Prior | None = None,
    set_size_column: str = "set_size",
    key: jax.Array,
    progress: Callable[[int, int], None] | None = None,
) -> LooResult:
    """``loo_result`` with every trial whose Pareto ``k`` exceeds its threshold computed exactly: the trial's
    unit sampled again without it (:func:`cogsim.fit.sample` with ``result``'s settings, ``prior``, and the
    key ``fold_in(key, row)``), and ``elpd_loo_i = log mean_s p(y_i | theta_s)`` over those draws. Such a
    trial's ``refit`` is True, its ``p_loo`` is ``lppd_i - elpd_loo_i`` (``lppd_i`` from the full
    posterior's draws), its ``pareto_k`` stays (why it was refitted), and its participant counts as
    ``converged`` only if the refit's chains converged too. One sampling run per trial: costly where many
    trials have a high ``k`` (then k-fold cross-validation, ``fit(..., cv=K)``, is the cheaper check).

    Args:
      model, data: as given to :func:`cogsim.fit.sample` and :func:`cogsim.fit.loo`.
      result: the :class:`~cogsim.fit.SampleResult` that ``loo_result`` was computed from.
      loo_result: :func:`cogsim.fit.loo`'s result.
      prior: the prior the model was sampled under (required when it was sampled under one).
      set_size_column: as for :func:`cogsim.fit.sample`.
      key: the refits' root key.
      progress: called as ``progress(done, total)`` after each refit (``total`` the trials to refit).

    Returns:
      A :class:`~cogsim.fit.LooResult`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from cogsim.fit import Param, loo, sample
      >>> class Mean:
      ...     name, params = "mean", (Param("mu", -10.0, 10.0, default=0.0),)
      ...     def loglik(self, p, t):
      ...         return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], 1.0)
      >>> df = pd.DataFrame({"subject": 1, "x": [0.1, -0.3, 0.2, 0.0, -0.1, 0.3, 0.05, -0.2, 0.15, 8.0]})
      >>> draws = sample(Mean(), df, n_warmup=300, n_samples=1000, key=jax.random.key(0))
      >>> psis = loo(Mean(), df, draws)
      >>> exact = reloo(Mean(), df, draws, psis, key=jax.random.key(1))
      >>> exact.pointwise["refit"].tolist() == (psis.pointwise["pareto_k"] > 0.7).tolist()
      True
    """
    if loo_result.model != model.name or result.model != model.name:
        raise CogsimError(
            f"reloo results: got {result.model!r} and {loo_result.model!r}; allowed: sample() and loo() "
            f"results of {model.name!r}"
        )
    s = result.settings
    if prior is None and any(v != "uniform" for v in s.get("prior", {}).values()):
        raise CogsimError(
            f"reloo prior: {model.name!r} was sampled under priors {s['prior']}; allowed: the same prior="
        )
    threshold = loo_result.settings["k_threshold"]
    pw = loo_result.pointwise.copy()
    todo = pw.index[(pw["pareto_k"] > threshold) & ~pw["refit"]]
    if len(todo) == 0:
        return dataclasses.replace(loo_result, settings={**loo_result.settings, "refits": 0})
    by = tuple(result.by)
    flat = data.reset_index(drop=True)
    packed = pack(flat, model, by=by, set_size_column=set_size_column, min_trials=s.get("min_trials", 10))
    unit_of = np.empty(len(flat), np.int64)
    unit_of[packed.rows[np.asarray(packed.mask)]] = np.nonzero(np.asarray(packed.mask))[0]
    specialised = _model.specialised(model, flat)
    patterns = flat.attrs.get("pattern_columns", ())
    ll_at = jax.jit(loglik_at(specialised))
    for done, i in enumerate(todo, 1):
        row = int(pw.at[i, "row"])
        unit = packed.rows[unit_of[row]][np.asarray(packed.mask)[unit_of[row]]]
        rest = flat.iloc[unit[unit != row]]
        rest.attrs = dict(flat.attrs)
        again = _sample_again(model, rest, by, s, prior, set_size_column, jax.random.fold_in(key, row))
        one = trial_arrays(flat.iloc[[row]], patterns)
        elpd = _log_mean_density(ll_at, again.draws, one)
        lppd = _log_mean_density(ll_at, result.draws[unit_of[row]], one)  # over the full posterior's draws
        pw.loc[i, "elpd_loo"], pw.loc[i, "p_loo"], pw.loc[i, "refit"] = elpd, lppd - elpd, True
        if not bool(again.summary["converged"].all()):
            same = np.all([pw[b] == pw.at[i, b] for b in by], axis=0)
            pw.loc[same, "converged"] = False
        if progress is not None:
            progress(done, len(todo))
    summary = summarise(model.name, by, pw, threshold, data)
    settings = {**loo_result.settings, "refits": len(todo)}
    return dataclasses.replace(loo_result, summary=summary, pointwise=pw, settings=settings)


def _log_mean_density(ll_at, draws, one) -> float:
    """``log mean_s p(y | theta_s)`` of the one trial ``one`` over ``draws`` (``[..., k]``), in float64."""
    ll = np.asarray(ll_at(draws.reshape(-1, draws.shape[-1]), one), np.float64)[:, 0]
    return float(np.logaddexp.reduce(ll) - math.log(len(ll)))


def _sample_again(model, rest, by, s, prior, set_size_column, key):
    return sample(
        model,
        rest,
        by=by,
        prior=prior,
        n_chains=s["n_chains"],
        n_warmup=s["n_warmup"],
        n_samples=s["n_samples"],
        n_leapfrog=s["n_leapfrog"],
        n_temperatures=s.get("n_temperatures", 1),
        adapt_ladder=s.get("adapt_ladder") is not False,
        level=s["level"],
        min_trials=1,
        set_size_column=set_size_column,
        key=key,
    )
