"""``fit``: maximum-likelihood (or MAP) estimates of one model for every participant at once."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, check_count
from cogsim.fit import _model, _objective, _passes
from cogsim.fit._at_bound import join_labels, unit_labels
from cogsim.fit._bootstrap import bootstrap_intervals
from cogsim.fit._compress import check_choice, evaluated, is_weighted
from cogsim.fit._crossval import cv_loglik
from cogsim.fit._data import MAX_BUCKETS, Packed, check_no_blanks, pack, unit_ids
from cogsim.fit._key import check_key
from cogsim.fit._profile import profile_intervals
from cogsim.fit._solve import by_bucket, solve_starts

ESTIMATE_COLUMNS = ("parameter", "estimate", "ci_low", "ci_high")
SUMMARY_COLUMNS = tuple("loglik n_params n_trials aic bic cv_loglik converged grad_norm at_bound".split())


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What :func:`fit` returns.

    Attributes:
      model: the model's name.
      by: the participant columns.
      estimates: one row per participant (x set size) x parameter: ``model, <by...>, set_size, parameter,
        estimate, ci_low, ci_high``.
      summary: one row per participant: ``model, <by...>, loglik, n_params, n_trials, aic, bic, cv_loglik,
        converged, grad_norm, at_bound`` (``grad_norm``: the largest final gradient norm of the participant's
        units, per-trial mean, unconstrained; ``at_bound``: the comma-separated parameters whose estimate lies
        at a finite bound, ``p_mem[6]`` for set size 6 of a per-set-size model, ``""`` when none; see
        :mod:`cogsim.fit._at_bound`).
      units: one row per fitted unit (participant, or participant x set size) with its ``loglik``,
        ``n_trials``, ``grad_norm``, ``n_iter``, ``converged``, ``at_bound`` and one column per parameter.
      settings: the fit's settings (starts, CI method and level, folds, prior, optimiser).
    """

    model: str
    by: tuple[str, ...]
    estimates: pd.DataFrame
    summary: pd.DataFrame
    units: pd.DataFrame
    settings: dict


def _check_args(n_starts, ci, cv, level, n_boot, by):
    check_count("fit", "n_starts", n_starts)
    if ci not in (None, "profile", "bootstrap"):
        raise CogsimError(f"fit ci: got {ci!r}; allowed: 'profile', 'bootstrap' or None")
    if cv is not None:
        check_count("fit", "cv", cv, low=2, detail=" (folds), or None")
    if not isinstance(level, numbers.Real) or isinstance(level, bool) or not 0.0 < level < 1.0:
        raise CogsimError(f"fit level: got {level!r}; allowed: a confidence level in (0, 1)")
    check_count("fit", "n_boot", n_boot, low=10)
    if isinstance(by, str) or not by or not all(isinstance(b, str) for b in by):
        raise CogsimError(f"fit by: got {by!r}; allowed: a non-empty tuple of column names")


def starts(model, ids: np.ndarray, n_starts: int, *, key: jax.Array) -> jax.Array:
    """Start points ``[n_starts + m, n_units, k]`` of the units with random-stream ids ``ids`` (see
    :func:`cogsim.fit._data.unit_ids`): the defaults, then defaults + N(0, 1) in unconstrained coordinates
    (start ``s`` of a unit keyed by ``fold_in(fold_in(key, s), id)``, so a unit's starts do not depend on the
    other units), then the ``m`` points of the model's optional ``start_points()`` (natural units; a
    parameter a point leaves out takes its default), the same for every unit.

    Example:
      >>> import jax
      >>> import numpy as np
      >>> from cogsim.fit import Param
      >>> class M:
      ...     name, params = "m", (Param("K", 0.0, 8.0, default=3.0),)
      ...     def start_points(self):
      ...         return ({"K": 0.5}, {"K": 6.5})
      >>> starts(M(), np.arange(5), 2, key=jax.random.key(0)).shape
      (4, 5, 1)
    """
    base = _objective.default_u(model)
    ids = jnp.asarray(np.asarray(ids, np.uint32))
    out = [jnp.broadcast_to(base, (ids.shape[0], base.shape[0]))]
    for s in range(1, n_starts):
        ks = jax.random.fold_in(key, s)
        noise = jax.vmap(lambda i, ks=ks: jax.random.normal(jax.random.fold_in(ks, i), base.shape))(ids)
        out.append(base + noise)
    for point in _model.start_points(model):
        u = _objective.to_unconstrained(model, {p.name: point.get(p.name, p.default) for p in model.params})
        out.append(jnp.broadcast_to(u, (ids.shape[0], base.shape[0])))
    return jnp.stack(out)


def estimate(
    model,
    packed: Packed,
    prior,
    *,
    n_starts: int,
    key: jax.Array,
    max_buckets: int = MAX_BUCKETS,
    ids: np.ndarray | None = None,
):
    """Best-of-all-starts L-BFGS solutions of every unit: the ``n_starts`` default and random starts and the
    model's own ``start_points()`` (units grouped by trial count by
    :func:`cogsim.fit._data.buckets` into at most ``max_buckets`` groups: one group padded to the longest unit
    by default, so the solver compiles once per model; the starts are drawn for all units first, so they do
    not depend on the grouping).

    Returns:
      ``(u [U, k], nll [U], grad_norm [U], n_iter [U])``.
    """
    ids = unit_ids(packed.units, packed.keys) if ids is None else ids  # the units' random-stream ids
    u0 = starts(model, ids, n_starts, key=key)
    if u0.shape[-1] == 0:  # no free parameters: nothing to optimise
        u = jnp.zeros((len(packed.units), 0), jnp.float32)
        nll = _objective.make_nll(model, prior)
        value = jax.vmap(nll)(u, packed.trials, packed.mask)
        zero = jnp.zeros(len(packed.units))
        return u, value, zero, zero.astype(jnp.int32)
    return solve_starts(model, packed, prior, u0, max_buckets)


def fit(
    model,
    data: pd.DataFrame,
    *,
    by: Sequence[str] = ("subject",),
    n_starts: int = 4,
    ci: str | None = "profile",
    cv: int | None = None,
    prior: _objective.Prior | None = None,
    level: float = 0.95,
    n_boot: int = 200,
    min_trials: int = 10,
    set_size_column: str = "set_size",
    max_buckets: int = MAX_BUCKETS,
    compress: bool | None = None,
    key: jax.Array,
) -> FitResult:
    """Fits ``model`` to every participant (and set size, for per-set-size models) at once.

    Maximum likelihood, or MAP when ``prior`` is given; every unit's fit from ``n_starts`` starts runs in one
    jitted, vmapped L-BFGS (see ``cogsim.fit._optim`` for the stopping and convergence rules), followed, for a
    model that declares ``initial(trials)``, by the passes and the convergence check of
    :mod:`cogsim.fit._passes`. The log-likelihood, AIC and BIC are those of the data at the estimates
    (without the prior).

    Args:
      model: a :class:`cogsim.fit.Model`.
      data: the trials, one row each (e.g. from :meth:`Paradigm.read`); numeric columns reach ``loglik``.
      by: the columns that identify a participant (e.g. ``("experiment", "subject")``).
      n_starts: starts per unit (the defaults, then random perturbations), fitted besides the model's own
        ``start_points()`` if it declares any; the best of all is kept (then, for a model that declares
        ``initial(trials)``, solved again from that start and from the units' median:
        :mod:`cogsim.fit._passes`).
      ci: ``"profile"`` (profile likelihood), ``"bootstrap"`` (parametric, needs ``model.simulate``) or
        None.
      cv: number of folds for the cross-validated log-likelihood, or None.
      prior: parameter name -> log-density of its value (MAP estimation), e.g.
        ``{"sd": lambda x: jax.scipy.stats.norm.logpdf(x, 0.5, 0.2)}``.
      level: confidence level of the intervals.
      n_boot: bootstrap replicates (``ci="bootstrap"``).
      min_trials: a unit with fewer than ``max(min_trials, n_params + 1, cv)`` trials is a DataError.
      set_size_column: the column of set sizes for per-set-size models.
      max_buckets: at most this many groups of units of similar trial counts, each padded to its own
        longest unit and compiled separately (1: every unit padded to the longest, one compilation per
        program). More groups pay off when iterations cost more than compilation (an expensive
        likelihood, many units, unequal trial counts); see docs/fitting.md, "Speed".
      compress: evaluate each unit's distinct trials once, weighted by their count, for the estimates and
        profile intervals (:mod:`cogsim.fit._compress`: the same log-likelihood up to float32 summation
        order; bootstrap and cross-validation use every trial); False evaluates every trial; None (default)
        does so for every model but those that declare ``initial(trials)``.
      key: the root random key (starts, folds and bootstrap draws use ``fold_in`` of it).

    Returns:
      A :class:`FitResult` with the ``estimates`` and ``summary`` tables.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np, pandas as pd
      >>> from cogsim.fit import Param
      >>> class Gauss:
      ...     name, by_set_size, requires = "gauss", False, ()
      ...     params = (Param("mu"), Param("sd", 0.0, default=1.0))
      ...     def loglik(self, p, t):
      ...         return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], p["sd"])
      >>> x = np.random.default_rng(0).normal(2.0, 0.5, 200)
      >>> res = fit(Gauss(), pd.DataFrame({"subject": 1, "x": x}), ci=None, key=jax.random.key(0))
      >>> bool(abs(res.estimates.query("parameter == 'mu'").estimate.iloc[0] - x.mean()) < 1e-3)
      True
    """
    check_key(key, what="fit")
    _model.check_model(model)
    _check_args(n_starts, ci, cv, level, n_boot, by)
    max_buckets = check_count("fit", "max_buckets", max_buckets)
    min_trials = check_count("fit", "min_trials", min_trials)
    compress = check_choice("fit", compress)
    n_starts, n_boot, level = int(n_starts), int(n_boot), float(level)
    cv = None if cv is None else int(cv)
    by = tuple(by)
    if set_size_column in by and _model.by_set_size(model):
        raise CogsimError(
            f"fit by: got {list(by)}; allowed: columns other than {set_size_column!r} (model "
            f"{model.name!r} is fitted per set size already)"
        )
    _objective.check_prior(model, prior)  # the arguments' errors before the data's
    packed = pack(data, model, by=by, set_size_column=set_size_column, min_trials=min_trials, cv=cv)
    model = _model.specialised(model, data)  # e.g. tables cut at the data's largest set size
    nll = _objective.make_nll(model, prior)
    work = evaluated(packed, model, compress)  # what the solver and profiles evaluate
    ids = unit_ids(packed.units, packed.keys)  # each unit's random-stream id (starts, bootstrap, folds)
    u_hat, nll_hat, gnorm, n_iter = estimate(
        model,
        work,
        _objective.check_prior(model, prior),
        n_starts=n_starts,
        key=jax.random.fold_in(key, 0),
        max_buckets=max_buckets,
        ids=ids,
    )
    u_hat, nll_hat, gnorm, n_iter, converged = _passes.refine(
        model,
        work,
        _objective.check_prior(model, prior),
        (u_hat, nll_hat, gnorm, n_iter),
        max_buckets,
        raw=packed,
    )
    if prior:  # the data's log-likelihood without the prior: one more program
        loglik_fn = jax.jit(jax.vmap(lambda u, tr, m: _objective.loglik_sum(model, u, tr, m)))
        loglik = by_bucket(work, lambda sub, idx: loglik_fn(u_hat[idx], sub.trials, sub.mask), max_buckets)
    else:  # the solver's minimum (its per-trial mean times the trial count: float32 rounding apart)
        loglik = -np.asarray(nll_hat)
    check_no_blanks(data, packed, np.flatnonzero(~np.isfinite(np.asarray(loglik, float))), model)
    k = len(model.params)
    x_hat = np.stack(
        [np.asarray(p.from_unconstrained(u_hat[:, i])) for i, p in enumerate(model.params)]
        + [np.zeros(len(packed.units))] * (k == 0),
        -1,
    )[:, :k]
    lo = hi = np.full_like(x_hat, np.nan)
    if k == 0:  # nothing estimated: no intervals; held-out log-likelihood = log-likelihood
        ci_, cv_ = None, None
    else:
        ci_, cv_ = ci, cv
    if ci_ == "profile":
        lo, hi = map(
            np.asarray,
            by_bucket(
                work,
                lambda sub, idx: profile_intervals(model, nll, u_hat[idx], sub.trials, sub.mask, level=level),
                max_buckets,
            ),
        )
    elif ci_ == "bootstrap":
        lo, hi = map(
            np.asarray,
            bootstrap_intervals(
                model,
                nll,
                u_hat,
                packed.trials,
                packed.mask,
                n_boot=n_boot,
                level=level,
                key=jax.random.fold_in(key, 1),
                ids=ids,
            ),
        )
    cvl = np.full(len(packed.units), np.nan)
    if cv is not None and k == 0:
        cvl = np.asarray(loglik, float)
    if cv_ is not None:
        cvl = np.asarray(
            cv_loglik(
                model,
                nll,
                u_hat,
                packed.trials,
                packed.mask,
                k=cv,
                key=jax.random.fold_in(key, 2),
                ids=ids,
            )
        )

    units = packed.units.drop(columns=["first_row"]).copy()
    units["loglik"] = np.asarray(loglik, float)
    units["cv_loglik"] = cvl
    units["grad_norm"] = np.asarray(gnorm, float)
    units["n_iter"] = np.asarray(n_iter, int)
    units["converged"] = np.isfinite(units["loglik"]) & converged
    inert = _unit_estimates(model, packed, units, x_hat, set_size_column)
    settings = {
        "n_starts": n_starts,
        "ci": ci,
        "level": level,
        "cv": cv,
        "n_boot": n_boot if ci == "bootstrap" else None,
        "prior": sorted(_objective.check_prior(model, prior)),
        "optimizer": "L-BFGS (Wolfe line search, one evaluation per pass)",
        "by_set_size": _model.by_set_size(model),
        "min_trials": min_trials,
        "distinct_trials": int((np.asarray(work.mask) > 0).sum()) if is_weighted(work) else None,
    }
    return FitResult(
        model.name,
        by,
        _estimates(model, packed, by, x_hat, lo, hi, set_size_column, inert),
        _summary(model, units, by),
        units,
        settings,
    )


def _unit_estimates(model, packed, units: pd.DataFrame, x_hat, ss_col) -> np.ndarray:
    """Adds each parameter's estimate, ``n_params`` (less the inert parameters) and ``at_bound`` (inert ones
    not flagged) to ``units``; returns the inert mask ``[n_units, k]`` (:func:`cogsim.fit._model.inert_mask`).
    The estimates are kept as fitted, inert ones too: predictive checks simulate at them."""
    inert = _model.inert_mask(model, packed)
    units["n_params"] = len(model.params) - inert.sum(axis=1)
    for i, p in enumerate(model.params):
        units[p.name] = x_hat[:, i]
    shown = units.assign(
        **{p.name: np.where(inert[:, i], np.nan, x_hat[:, i]) for i, p in enumerate(model.params)}
    )
    units["at_bound"] = unit_labels(model.params, shown, ss_col if _model.by_set_size(model) else None)
    return inert


def _estimates(model, packed, by, x_hat, lo, hi, ss_col, inert=None) -> pd.DataFrame:
    rows = []
    per_ss = _model.by_set_size(model)
    shown = _model.levels(model)  # a shared model's p_mem[3]: parameter p_mem at set size 3
    if inert is not None and inert.any():  # not identified by the unit's trials: no estimate, no interval
        x_hat, lo, hi = (np.where(inert, np.nan, a) for a in (x_hat, lo, hi))
    for u, unit in enumerate(packed.units.itertuples(index=False)):
        key = dict(zip(packed.units.columns, unit, strict=True))
        for i, p in enumerate(model.params):
            name, level = shown.get(p.name, (p.name, None))
            rows.append(
                {
                    "model": model.name,
                    **{b: key[b] for b in by},
                    "set_size": key[ss_col] if per_ss else level,
                    "parameter": name,
                    "estimate": float(x_hat[u, i]),
                    "ci_low": float(lo[u, i]),
                    "ci_high": float(hi[u, i]),
                }
            )
    out = pd.DataFrame(rows, columns=["model", *by, "set_size", *ESTIMATE_COLUMNS])
    for b in by:
        out[b] = out[b].astype(packed.units[b].dtype)
    if not per_ss:
        out["set_size"] = level_column(out["set_size"])
    elif pd.api.types.is_integer_dtype(packed.units[ss_col]):
        out["set_size"] = out["set_size"].astype("Int64")
    else:
        out["set_size"] = out["set_size"].astype(float)
    return out


def level_column(values) -> pd.arrays.IntegerArray:
    """A table's ``set_size`` for a model not fitted per set size: a shared model's parameters at their set
    size (:func:`cogsim.fit._model.levels`), missing for the others."""
    return pd.array([pd.NA if v is None else v for v in values], dtype="Int64")


def _summary(model, units: pd.DataFrame, by) -> pd.DataFrame:
    """One row per participant; ``n_params`` sums the units' (their parameters less the inert ones)."""
    g = units.groupby(list(by), sort=True)
    out = g.agg(
        loglik=("loglik", "sum"),
        n_params=("n_params", "sum"),
        n_trials=("n_trials", "sum"),
        cv_loglik=("cv_loglik", lambda s: s.sum(min_count=len(s))),
        converged=("converged", "all"),
        grad_norm=("grad_norm", "max"),
        at_bound=("at_bound", join_labels),
    ).reset_index()
    out["n_params"] = out["n_params"].astype(int)
    out["aic"] = 2 * out["n_params"] - 2 * out["loglik"]
    out["bic"] = out["n_params"] * np.log(out["n_trials"]) - 2 * out["loglik"]
    out.insert(0, "model", model.name)
    out["n_trials"] = out["n_trials"].astype(int)
    out["converged"] = out["converged"].astype(bool)
    out["grad_norm"] = out["grad_norm"].astype(float)
    out["at_bound"] = out["at_bound"].astype(object)
    return out[["model", *by, *SUMMARY_COLUMNS]]
