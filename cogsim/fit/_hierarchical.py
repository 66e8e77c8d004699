"""``fit_hierarchical``: group + participant (empirical-Bayes) fits by EM with the Laplace approximation.

The method of Huys et al. (2011, PLoS Comput Biol 7:e1002028; "emfit"). Each parameter has a normal group
distribution ``N(mean, sd^2)`` in its unconstrained coordinates (the optimiser's, see
:class:`cogsim.fit.Param`), independent across parameters (a diagonal group covariance); a model fitted per
set size has one such distribution per parameter and set size. The last ``by`` column names the
participant and the earlier ones nest it (``("experiment", "subject")``, ``("task", "subject")``): each
combination of those outer columns is its own population with its own distributions, so the groups are
``by[:-1]`` x set size (since 2026-12-07; until then all units shared one distribution per parameter and
set size whatever ``by`` was); with a single ``by`` column there is one population. From a start (the ML
fits' mean and SD, or a broad prior), each EM iteration

- E-step: finds every unit's MAP under the current group prior (all units at once in one compiled
  L-BFGS program whose prior mean and SD are traced arguments, so iterations do not recompile), started from
  the previous MAP and from the group mean (the lower objective kept), and the Hessian of the data's
  negative log-likelihood there (central finite differences of the exact gradient,
  :func:`cogsim.fit._profile.value_and_hessian_fd`; its negative eigenvalues set to 0). The posterior
  covariance is the inverse of that Hessian plus the prior's precision ``diag(1 / sd^2)``;
- evaluates the Laplace approximation of the log marginal likelihood,
  ``sum_i [loglik_i(u_i) + log N(u_i; mean, sd) + k/2 log(2 pi) - 1/2 log det H_i]``;
- M-step: ``mean = mean_i(u_i)``, ``sd^2 = mean_i(u_i^2 + posterior variance_i) - mean^2``, floored at
  ``SD_FLOOR^2``.

It stops when the log marginal likelihood changes by at most ``lml_tol`` between iterations, or the M-step
moves no group mean or SD by more than ``tol``, or after ``max_iter`` iterations (not converged). The result
holds the last E-step's MAPs and the group parameters they were found under. The group mean's interval is a
Wald interval with ``t`` quantiles (``n - 1`` degrees of freedom, ``n`` units in the group) from the Laplace
marginal likelihood's information about the mean, ``sum_i (P - P A_i P)`` (``P = diag(1 / sd^2)``, ``A_i``
unit ``i``'s posterior covariance), which is ``n / sd^2`` with exact data and falls to 0 as the data say
nothing (where it is below 1e-6 of the largest ``n / sd^2`` in a direction, the means that load on it get
the interval ``(-inf, inf)``); the integrated BIC is ``-2 log marginal + 2 k G ln(n_trials)`` (``G`` groups).

A unit is ``converged`` (``units``, and the participant's row of ``summary`` when all its units are) when its
data log-likelihood at the MAP is finite and its *Newton decrement* is small: with ``g`` the gradient of the
unit's negative log posterior at the MAP, summed over its trials (the data's exact gradient, from the
program that differentiates it for the Hessian, plus the prior's ``(u - mean) / sd^2``, added in float64)
and ``H + P`` its posterior precision as in :func:`laplace` (the data Hessian with its negative eigenvalues
set to 0, plus ``P = diag(1 / sd^2)``), ``newton_decrement = g^T (H + P)^-1 g / 2`` is how far the log
posterior lies below its local maximum by the quadratic model there, in nats; converged when it is at most
``NEWTON_TOL`` = 0.01 nats (a NaN decrement, from a gradient or Hessian that is not finite, is not
converged). In the quadratic model the MAP is then at most ``sqrt(2 * 0.01)`` = 0.14 posterior SDs from the
maximum along any direction (a seventh of a 95 % Laplace interval's half-width), and the log marginal
likelihood is off by at most 0.01 per unit, the EM stop's ``lml_tol`` for the whole fit. The E-step's
float32 solver stops where a step no longer lowers the per-trial mean objective in float32 (about ``|nll|
* 1e-7`` nats in total, 1e-5 on a unit of 100 nats), orders of magnitude below the tolerance for any unit
under about 1e4 nats, so the flag does not turn on where that stop happens to fall. Until 2026-12-07 the
flag was the ML fit's gradient rule, the final per-trial gradient norm at most ``CONVERGED_GTOL`` (1e-3):
with few participants the group SDs shrink (to 0.01-0.1 in unconstrained units), the prior's per-trial
curvature ``1 / (n sd^2)`` reaches 10-250, and float32 resolution of the per-trial objective leaves
gradient norms of ``sqrt(2 * curvature * 6e-8)`` = 1e-3 to 5e-3 at a point within 1e-5 nats of the
maximum; renaming participants (their ML starts are drawn by unit id) moved such units across 1e-3 with
estimates within 1e-4. ``grad_norm`` (the solver's final per-trial gradient norm, float32) stays in
``units`` beside ``newton_decrement``. Local, like every rule here: a higher maximum elsewhere is not seen.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from cogsim.errors import CogsimError, check_count
from cogsim.fit import _model, _objective
from cogsim.fit._cache import cached
from cogsim.fit._compress import check_choice, evaluated
from cogsim.fit._data import MAX_BUCKETS, pack
from cogsim.fit._fit import (
    FitResult,
    _check_args,
    _estimates,
    _summary,
    _unit_estimates,
    estimate,
    fit,
    level_column,
)
from cogsim.fit._key import check_key
from cogsim.fit._profile import value_grad_and_hessian_fd
from cogsim.fit._solve import _solver, by_bucket, chunk_size

#: the group SD's floor (unconstrained units)
SD_FLOOR = 1e-2
#: the broad start's group SD (unconstrained units; its mean is the parameters' defaults)
BROAD_SD = 5.0
#: the group mean's interval: information below this share of the largest ``n / sd^2`` counts as none, and a
#: mean whose squared loading on such directions exceeds ``NULL_LOADING`` gets the interval (-inf, inf)
NO_INFORMATION, NULL_LOADING = 1e-6, 1e-3
#: a unit is converged when its Newton decrement is at most this (nats; see the module docstring)
NEWTON_TOL = 0.01
GROUP_COLUMNS = (
    "model", "set_size", "parameter", "transform", "n_units", "group_mean", "group_sd", "ci_low", "ci_high",
    "value", "value_ci_low", "value_ci_high",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class HierarchicalResult(FitResult):
    """What :func:`fit_hierarchical` returns: the :class:`FitResult` tables (estimates: the units' MAPs
    under the group prior with Laplace posterior intervals; loglik, AIC and BIC of the data at the MAPs,
    without the prior) and

    Attributes:
      group: one row per (population, set size,) parameter: the outer ``by`` columns (all but the last;
        none with a single ``by`` column), then ``model, set_size, parameter, transform, n_units,
        group_mean, group_sd, ci_low, ci_high`` (unconstrained) and ``value, value_ci_low, value_ci_high``
        (the group mean and its interval on the parameter's own scale: the group distribution's median
        there); ``n_units`` counts the units whose data inform the parameter (NaN values where none does:
        a parameter inert in every unit of the group, see ``cogsim.fit.Model``).
      trace: one row per EM iteration: ``iteration, log_marginal, change`` (the M-step's largest move of a
        group mean or SD).
      log_marginal: the Laplace log marginal likelihood of all the data under the group parameters.
      ibic: ``-2 log_marginal + (2 k G) ln(total trials)``, ``G`` the number of groups (``k G`` less the
        group parameters that no unit's data inform: inert in all of the group's units).
      n_iter: EM iterations run.
      converged: whether a stopping tolerance was met before ``max_iter``.
    """

    group: pd.DataFrame
    trace: pd.DataFrame
    log_marginal: float
    ibic: float
    n_iter: int
    converged: bool


@functools.lru_cache(maxsize=32)
def _hessian_program(model):
    """``(u [U, k], trials, mask) -> (nll [U], grad [U, k], hess [U, k, k])`` of the data alone (no prior),
    jitted."""

    def one(u, trials, mask):
        return value_grad_and_hessian_fd(lambda v: -_objective.loglik_sum(model, v, trials, mask), u)

    return jax.jit(jax.vmap(one))


def _e_step(model, packed, u_prev, mean_u, sd_u, max_buckets):
    """MAPs under ``N(mean_u, sd_u^2)`` ``[U, k]`` from the previous MAPs and the group means, the data's
    nll, gradient and Hessian there."""
    u0 = jnp.stack([u_prev, mean_u]).astype(jnp.float32)
    mean_j, sd_j = jnp.asarray(mean_u, jnp.float32), jnp.asarray(sd_u, jnp.float32)

    def solve(sub, idx):
        solver = cached(
            _solver, model, None, chunk_size(2 * len(sub.units), int(sub.units["n_trials"].max())), True
        )
        return solver(u0[:, idx], sub.trials, sub.mask, mean_j[idx], sd_j[idx])

    u, _, gnorm, n_iter = by_bucket(packed, solve, max_buckets)
    program = cached(_hessian_program, model)
    nll, grad, hess = by_bucket(packed, lambda sub, idx: program(u[idx], sub.trials, sub.mask), max_buckets)
    return (
        u,
        np.asarray(gnorm, float),
        np.asarray(n_iter, int),
        np.asarray(nll, float),
        np.asarray(grad, float),
        np.asarray(hess, float),
    )


def laplace(u: np.ndarray, nll: np.ndarray, hess: np.ndarray, mean: np.ndarray, sd: np.ndarray):
    """Per unit: the posterior covariance ``[U, k, k]`` and the Laplace log marginal likelihood ``[U]``.

    ``hess`` (the data's nll Hessian at the MAPs ``u``) has its non-finite entries set to 0 and its negative
    eigenvalues to 0; the posterior precision adds ``diag(1 / sd^2)``.

    Example:
      >>> one = np.ones((1, 1))
      >>> cov, lml = laplace(0 * one, np.zeros(1), one[None], 0 * one, one)
      >>> float(cov[0, 0, 0]), round(float(lml[0]), 4)  # N(0, 1) prior, unit curvature: -1/2 log 2
      (0.5, -0.3466)
    """
    h = np.where(np.isfinite(hess), hess, 0.0)
    lam, vec = np.linalg.eigh(0.5 * (h + np.swapaxes(h, -1, -2)))
    h = (vec * np.maximum(lam, 0.0)[..., None, :]) @ np.swapaxes(vec, -1, -2)
    prec = h + np.eye(u.shape[1]) / (sd**2)[..., None, :]
    _, logdet = np.linalg.slogdet(prec)
    z = (u - mean) / sd
    lml = -nll - np.sum(np.log(sd) + 0.5 * z * z, axis=-1) - 0.5 * logdet
    return np.linalg.inv(prec), lml


def newton_decrement(u: np.ndarray, grad: np.ndarray, cov: np.ndarray, mean: np.ndarray, sd: np.ndarray):
    """Per unit ``[U]``: ``g^T cov g / 2`` (nats), ``g`` = the data's nll gradient ``grad`` plus the prior's
    ``(u - mean) / sd^2`` (float64), ``cov`` the posterior covariance of :func:`laplace`; NaN where ``g`` is
    not finite.

    Example:
      >>> one = np.ones((1, 1))
      >>> cov, _ = laplace(0 * one, np.zeros(1), one[None], 0 * one, one)  # posterior precision 2
      >>> float(newton_decrement(0 * one, 2 * one, cov, 0 * one, one)[0])  # 2^2 / 2 / 2
      1.0
    """
    g = np.asarray(grad, float) + (np.asarray(u, float) - mean) / sd**2
    return 0.5 * np.einsum("ui,uij,uj->u", g, cov, g)


def m_step(u: np.ndarray, cov: np.ndarray, groups: np.ndarray, n_groups: int):
    """Group means and SDs ``[G, k]``: the MAPs' mean, and ``sqrt(mean(u^2 + var) - mean^2)`` floored.

    Example:
      >>> mean, sd = m_step(np.array([[1.0], [3.0]]), np.full((2, 1, 1), 0.5), np.array([0, 0]), 1)
      >>> float(mean[0, 0]), round(float(sd[0, 0] ** 2), 6)
      (2.0, 1.5)
    """
    var = np.diagonal(cov, axis1=-2, axis2=-1)
    mean = np.stack([u[groups == g].mean(0) for g in range(n_groups)])
    second = np.stack([(u[groups == g] ** 2 + var[groups == g]).mean(0) for g in range(n_groups)])
    return mean, np.sqrt(np.maximum(second - mean**2, SD_FLOOR**2))


def group_mean_interval(cov, groups, mean, sd, level):
    """Per group: the group mean's interval ``(low, high)`` ``[G, k]`` (unconstrained): ``t`` quantiles
    (``n - 1`` degrees of freedom) times the SE from the information ``sum_i (P - P A_i P)``."""
    low, high = np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    for g in range(len(mean)):
        a = cov[groups == g]
        n = len(a)
        if n < 2:
            continue
        p = np.diag(1.0 / sd[g] ** 2)
        lam, vec = np.linalg.eigh(n * p - p @ a.sum(0) @ p)  # the information (symmetric)
        seen = lam > NO_INFORMATION * n * np.max(np.diag(p))
        var = (vec[:, seen] / lam[seen]) @ vec[:, seen].T
        unseen = (vec[:, ~seen] ** 2).sum(axis=1) > NULL_LOADING  # loads on what the data do not inform
        se = np.where(unseen, np.inf, np.sqrt(np.maximum(np.diag(var), 0.0)))
        half = stats.t.ppf(0.5 + level / 2, n - 1) * se
        low[g], high[g] = mean[g] - half, mean[g] + half
    return low, high


def population_groups(units: pd.DataFrame, cols: Sequence[str]):
    """The groups: one per combination of ``cols``' values in ``units`` (the outer ``by`` columns, then the
    set size for per-set-size models), sorted; returns their labels (one tuple each) and each unit's group
    ``[U]``.

    Example:
      >>> u = pd.DataFrame({"task": ["b", "a", "b"], "subject": [1, 1, 2], "set_size": [3, 3, 6]})
      >>> population_groups(u, ["task", "set_size"])
      ([('a', 3), ('b', 3), ('b', 6)], array([1, 0, 2]))
      >>> population_groups(u, [])
      ([()], array([0, 0, 0]))
    """
    if not cols:
        return [()], np.zeros(len(units), int)
    groups = units.groupby(list(cols), sort=True).ngroup().to_numpy()
    first = pd.Series(np.arange(len(units))).groupby(groups).first().to_numpy()
    return list(units[list(cols)].iloc[first].itertuples(index=False, name=None)), groups


def _check(init, ci, max_iter, tol, lml_tol):
    if init not in ("ml", "broad"):
        raise CogsimError(f"fit_hierarchical init: got {init!r}; allowed: 'ml' or 'broad'")
    if ci not in ("laplace", None):
        raise CogsimError(f"fit_hierarchical ci: got {ci!r}; allowed: 'laplace' or None")
    check_count("fit_hierarchical", "max_iter", max_iter)
    for name, v in (("tol", tol), ("lml_tol", lml_tol)):
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not 0 < v < np.inf:
            raise CogsimError(f"fit_hierarchical {name}: got {v!r}; allowed: a finite number > 0")


def fit_hierarchical(
    model,
    data: pd.DataFrame,
    *,
    by: Sequence[str] = ("subject",),
    n_starts: int = 4,
    init: str = "ml",
    ci: str | None = "laplace",
    level: float = 0.95,
    max_iter: int = 100,
    tol: float = 1e-3,
    lml_tol: float = 1e-2,
    min_trials: int = 10,
    set_size_column: str = "set_size",
    max_buckets: int = MAX_BUCKETS,
    compress: bool | None = None,
    key: jax.Array,
) -> HierarchicalResult:
    """Fits ``model`` to every participant with a normal group distribution learnt from all of them
    (empirical Bayes, EM with the Laplace approximation; see the module docstring and docs/fitting.md).

    Args:
      model: a :class:`cogsim.fit.Model`.
      data: the trials, one row each.
      by: the columns that identify a participant; the last names it, the earlier ones nest it, and each
        combination of them is a population with its own group distributions (see the module docstring).
      n_starts: starts per unit of the ML fits that start EM (as in :func:`cogsim.fit.fit`).
      init: ``"ml"``: the group distribution starts at the ML estimates' mean and SD (per parameter,
        population and set size, unconstrained); ``"broad"``: at the parameters' defaults with SD
        ``BROAD_SD``.
      ci: ``"laplace"``: per-unit intervals ``MAP +- z sqrt(posterior variance)`` (unconstrained, mapped to
        the parameter's scale); None: none.
      level: the level of the per-unit and group-mean intervals.
      max_iter: at most this many EM iterations.
      tol: converged when the M-step moves no group mean or SD by more than this (unconstrained units).
      lml_tol: converged when the log marginal likelihood changes by at most this between iterations.
      min_trials: a unit with fewer trials is a DataError (as in :func:`cogsim.fit.fit`).
      set_size_column: the column of set sizes for per-set-size models.
      max_buckets: as in :func:`cogsim.fit.fit`.
      compress: evaluate each unit's distinct trials once, weighted by their count (as in
        :func:`cogsim.fit.fit`, the same default).
      key: the root random key (the ML fits' starts).

    Returns:
      A :class:`HierarchicalResult`.

    Example:
      >>> import jax, numpy as np, pandas as pd
      >>> from cogsim.fit import Param
      >>> class Gauss:
      ...     name, by_set_size, requires = "gauss", False, ()
      ...     params = (Param("mu"), Param("sd", 0.0, default=1.0))
      ...     def loglik(self, p, t):
      ...         return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], p["sd"])
      >>> rng = np.random.default_rng(0)
      >>> x = rng.normal(np.repeat(rng.normal(1.0, 0.3, 6), 20), 1.0)
      >>> df = pd.DataFrame({"subject": np.repeat(np.arange(6), 20), "x": x})
      >>> res = fit_hierarchical(Gauss(), df, key=jax.random.key(0))
      >>> res.converged, list(res.group.parameter)
      (True, ['mu', 'sd'])
    """
    check_key(key, what="fit_hierarchical")
    _model.check_model(model)
    _check_args(n_starts, None, None, level, 200, by)
    _check(init, ci, max_iter, tol, lml_tol)
    min_trials = check_count("fit_hierarchical", "min_trials", min_trials)
    compress = check_choice("fit_hierarchical", compress)
    by, n_starts, max_iter, tol, lml_tol = tuple(by), int(n_starts), int(max_iter), float(tol), float(lml_tol)
    k = len(model.params)
    if k == 0:  # nothing to pool: the ordinary fit, its log-likelihood the marginal likelihood
        res = fit(
            model, data, by=by, ci=None, min_trials=min_trials, set_size_column=set_size_column, key=key
        )
        res = dataclasses.replace(res, settings=res.settings | {"method": "EM-Laplace", "n_iter": 0})
        lml = float(res.summary["loglik"].sum())
        return HierarchicalResult(
            **{f.name: getattr(res, f.name) for f in dataclasses.fields(res)},
            group=pd.DataFrame(columns=_group_columns(by, set_size_column)),
            trace=pd.DataFrame(columns=["iteration", "log_marginal", "change"]),
            log_marginal=lml,
            ibic=-2.0 * lml,
            n_iter=0,
            converged=True,
        )
    if set_size_column in by and _model.by_set_size(model):
        raise CogsimError(
            f"fit_hierarchical by: got {list(by)}; allowed: columns other than {set_size_column!r} (model "
            f"{model.name!r} is fitted per set size already)"
        )
    if clash := [c for c in by[:-1] if c in GROUP_COLUMNS and c != set_size_column]:
        raise CogsimError(
            f"fit_hierarchical by: got {list(by)}; allowed: outer columns not named as the group table's "
            f"columns ({clash[0]!r} is one)"
        )
    packed = pack(data, model, by=by, set_size_column=set_size_column, min_trials=min_trials)
    model = _model.specialised(model, data)  # e.g. tables cut at the data's largest set size
    packed = evaluated(packed, model, compress)  # the solver and the Hessians: distinct trials, by default
    per_ss = _model.by_set_size(model)
    cols = [*by[:-1], *([set_size_column] if per_ss else [])]
    labels, groups = population_groups(packed.units, cols)
    n_groups = len(labels)
    u_ml = estimate(
        model, packed, {}, n_starts=n_starts, key=jax.random.fold_in(key, 0), max_buckets=max_buckets
    )[0]
    u_prev = np.asarray(u_ml, float)
    if init == "ml":
        mean = np.stack([u_prev[groups == g].mean(0) for g in range(n_groups)])
        sd = np.stack([np.maximum(u_prev[groups == g].std(0), SD_FLOOR) for g in range(n_groups)])
    else:
        mean = np.broadcast_to(np.asarray(_objective.default_u(model), float), (n_groups, k)).copy()
        sd = np.full((n_groups, k), BROAD_SD)

    trace, converged = [], False
    for it in range(1, max_iter + 1):
        u, gnorm, n_iter, nll, grad, hess = _e_step(
            model, packed, u_prev, mean[groups], sd[groups], max_buckets
        )
        u = np.asarray(u, float)
        cov, lml_units = laplace(u, nll, hess, mean[groups], sd[groups])
        lml = float(np.sum(lml_units))
        new_mean, new_sd = m_step(u, cov, groups, n_groups)
        change = float(max(np.max(np.abs(new_mean - mean)), np.max(np.abs(new_sd - sd))))
        trace.append({"iteration": it, "log_marginal": lml, "change": change})
        if change <= tol or (it > 1 and abs(lml - trace[-2]["log_marginal"]) <= lml_tol):
            converged = True
            break
        if it < max_iter:
            mean, sd, u_prev = new_mean, new_sd, u

    return _result(
        model, packed, by, set_size_column, per_ss, labels, groups, u, cov, nll, grad, gnorm, n_iter, mean,
        sd, trace, converged, ci, level,
        dict(n_starts=n_starts, init=init, ci=ci, level=level, max_iter=max_iter, tol=tol, lml_tol=lml_tol,
             min_trials=min_trials, by_set_size=per_ss, sd_floor=SD_FLOOR),
    )  # fmt: skip


def _group_columns(by, ss_col) -> list[str]:
    """The group table's columns: the outer ``by`` columns (the set size column aside: it fills
    ``set_size``), then :data:`GROUP_COLUMNS`."""
    return [*(c for c in by[:-1] if c != ss_col), *GROUP_COLUMNS]


def _result(model, packed, by, ss_col, per_ss, labels, groups, u, cov, nll, grad, gnorm, n_iter, mean, sd,
            trace, converged, ci, level, settings) -> HierarchicalResult:  # fmt: skip
    x_hat = np.stack(
        [np.asarray(p.from_unconstrained(u[:, i]), float) for i, p in enumerate(model.params)], -1
    )
    lo = hi = np.full_like(x_hat, np.nan)
    if ci == "laplace":
        half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(np.maximum(np.diagonal(cov, axis1=-2, axis2=-1), 0))
        ends = [
            np.stack([np.asarray(p.from_unconstrained(u[:, i] + s * half[:, i]), float) for s in (-1, 1)])
            for i, p in enumerate(model.params)
        ]
        lo = np.stack([e.min(0) for e in ends], -1)
        hi = np.stack([e.max(0) for e in ends], -1)
    units = packed.units.drop(columns=["first_row"]).copy()
    units["loglik"] = -nll
    units["cv_loglik"] = np.nan
    units["grad_norm"] = gnorm
    units["newton_decrement"] = newton_decrement(u, grad, cov, mean[groups], sd[groups])
    units["n_iter"] = n_iter
    units["converged"] = np.isfinite(units["loglik"]) & (units["newton_decrement"] <= NEWTON_TOL)
    inert = _unit_estimates(model, packed, units, x_hat, ss_col)
    low, high = group_mean_interval(cov, groups, mean, sd, level)
    rows = []
    # units whose data inform each group parameter (an inert one is informed by none of its group's units)
    informed = np.stack([np.sum((groups == g)[:, None] & ~inert, axis=0) for g in range(len(labels))])
    # a group distribution that rests on one unit is that unit's own estimate with its SD at the floor: the
    # unit's interval under it would be the floor's width, not a statement about the data (NaN instead)
    lo, hi = (np.where(informed[groups] == 1, np.nan, a) for a in (lo, hi))
    shown = lambda a: np.where(informed > 0, a, np.nan)  # no data on it: no group distribution to report
    mean, sd, low, high = map(shown, (mean, sd, low, high))
    levels = _model.levels(model)  # a shared model's p_mem[3]: parameter p_mem at set size 3
    outer = _group_columns(by, ss_col)[: -len(GROUP_COLUMNS)]
    for g, label in enumerate(labels):
        where = dict(zip([*by[:-1], *([ss_col] if per_ss else [])], label, strict=True))
        for i, p in enumerate(model.params):
            to = lambda v, p=p: (  # an unbounded end maps to the parameter's bound
                float(p.from_unconstrained(jnp.float32(v))) if np.isfinite(v)
                else {np.inf: p.high, -np.inf: p.low}.get(v, np.nan)
            )  # fmt: skip
            name, level = levels.get(p.name, (p.name, where.get(ss_col)))
            rows.append(
                {
                    **{c: where[c] for c in outer},
                    "model": model.name,
                    "set_size": level,
                    "parameter": name,
                    "transform": p.transform,
                    "n_units": int(informed[g, i]),
                    "group_mean": float(mean[g, i]),
                    "group_sd": float(sd[g, i]),
                    "ci_low": float(low[g, i]),
                    "ci_high": float(high[g, i]),
                    "value": to(mean[g, i]),
                    "value_ci_low": to(low[g, i]),
                    "value_ci_high": to(high[g, i]),
                }
            )
    group = pd.DataFrame(rows, columns=[*outer, *GROUP_COLUMNS])
    for c in outer:
        group[c] = group[c].astype(packed.units[c].dtype)
    shown_ss = ss_col in by[:-1] or per_ss  # a population's set size (an outer column) fills set_size too
    if shown_ss and pd.api.types.is_integer_dtype(packed.units[ss_col]):
        group["set_size"] = group["set_size"].astype("Int64")
    elif shown_ss:
        group["set_size"] = group["set_size"].astype(float)
    else:
        group["set_size"] = level_column(group["set_size"])
    lml = trace[-1]["log_marginal"]
    n_total = int(packed.units["n_trials"].sum())
    settings = settings | {
        "method": "EM-Laplace (Huys et al. 2011)",
        "prior": [],
        "optimizer": "L-BFGS (Wolfe line search, one evaluation per pass)",
        "n_iter": len(trace),
        "converged": converged,
    }
    return HierarchicalResult(
        model.name,
        by,
        _estimates(model, packed, by, x_hat, lo, hi, ss_col, inert),
        _summary(model, units, by),
        units,
        settings,
        group=group,
        trace=pd.DataFrame(trace, columns=["iteration", "log_marginal", "change"]),
        log_marginal=float(lml),
        ibic=float(-2.0 * lml + 2 * np.count_nonzero(informed) * np.log(n_total)),
        n_iter=len(trace),
        converged=converged,
    )
