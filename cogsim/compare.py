"""Model-vs-human statistics: fits, confidence intervals, agreement measures and the Comparison record.

Every scenario's ``compare(sim, human)`` returns a :class:`~cogsim.comparison.Comparison` (defined in
:mod:`cogsim.comparison`, re-exported here): named metrics with CIs, the checks (each a contrast with a CI,
a threshold and a pass rule) and one key metric. This module holds the statistics the checks are built from:
agreement measures, bootstrap and t-based CIs for means, differences and proportions, line fits and maximum
likelihood fits.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cogsim.comparison import (  # noqa: F401 - the record types, re-exported where scenarios import them
    Check,
    Comparison,
    Metric,
    PaperRun,
    verdict_from_checks,
)
from cogsim.errors import CogsimError, check_count, check_level


class _LazyStats:
    """``scipy.stats``, imported on first use: importing it takes about a second, which every command that
    computes no statistic (help, a listing, a rejected config) would otherwise spend."""

    def __getattr__(self, name: str) -> Any:
        from scipy import stats

        return getattr(stats, name)


_stats = _LazyStats()


def _same_length(where: str, a: np.ndarray, b: np.ndarray, names: str = "x and y") -> None:
    if a.shape != b.shape:
        raise CogsimError(f"{where}: {names} must have the same shape; got {a.shape} and {b.shape}")


# ---------------------------------------------------------------------------------------------- agreement
def rmse(model: Sequence[float], human: Sequence[float]) -> float:
    """Root-mean-square error.

    Example:
      >>> rmse([1.0, 2.0], [1.0, 4.0])
      1.4142135623730951
    """
    a, b = np.asarray(model, float), np.asarray(human, float)
    if a.shape != b.shape:
        raise CogsimError(f"rmse: model and human must have the same shape; got {a.shape} and {b.shape}")
    return float(np.sqrt(np.mean((a - b) ** 2)))


def pearson_r(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation (NaN when either side is constant).

    Example:
      >>> round(pearson_r([1, 2, 3], [2, 4, 7]), 3)
      0.993
    """
    a, b = np.asarray(x, float), np.asarray(y, float)
    _same_length("pearson_r", a, b)
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def bootstrap_ci(
    data: Any,
    statistic: Callable[[Any], float],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap over the rows (or first axis) of ``data`` (an array, a list, a DataFrame or a
    Series).

    Resamples on which ``statistic`` is NaN (undefined there, e.g. a slope of a resample with one distinct
    x) are dropped and the percentiles taken over the others. When the statistic of ``data`` itself is NaN,
    or of every resample, the limits are NaN: a CI is never given around an undefined estimate.

    Returns:
      ``(estimate, low, high)``; the limits are NaN for fewer than two rows (resampling one row gives the
      same value every time: no interval), so a check that needs the CI fails and says why.

    Raises:
      CogsimError: ``n_boot`` is not an integer >= 1 or ``level`` not in (0, 1).

    Example:
      >>> est, lo, hi = bootstrap_ci(np.arange(10.0), np.mean, n_boot=200)
      >>> lo < est < hi
      True
    """
    n_boot, level = check_count("bootstrap_ci", "n_boot", n_boot), check_level("bootstrap_ci", level)
    if not isinstance(data, (pd.DataFrame, pd.Series, np.ndarray)):
        data = np.asarray(data)
    rng = np.random.default_rng(seed)
    n = len(data)
    est = float(statistic(data))
    if n < 2 or math.isnan(est):
        return est, math.nan, math.nan
    take = (
        (lambda idx: data.iloc[idx])
        if isinstance(data, (pd.DataFrame, pd.Series))
        else (lambda idx: data[idx])
    )
    vals = np.array([statistic(take(rng.integers(0, n, n))) for _ in range(n_boot)], float)
    if np.isnan(vals).all():
        return est, math.nan, math.nan
    alpha = (1 - level) / 2
    return est, float(np.nanquantile(vals, alpha)), float(np.nanquantile(vals, 1 - alpha))


def mean_ci(x: Sequence[float], *, level: float = 0.95) -> tuple[float, float, float]:
    """Mean with a t-based CI (NaN CI for fewer than two finite values).

    Returns:
      ``(mean, low, high)``.

    Example:
      >>> m, lo, hi = mean_ci([1.0, 2.0, 3.0, 4.0])
      >>> m, round(lo, 3), round(hi, 3)
      (2.5, 0.446, 4.554)
    """
    level = check_level("mean_ci", level)
    a = np.asarray(x, float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return math.nan, math.nan, math.nan
    m = float(a.mean())
    if a.size < 2:
        return m, math.nan, math.nan
    half = float(_stats.t.ppf(0.5 + level / 2, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))
    return m, m - half, m + half


def diff_ci(a: Sequence[float], b: Sequence[float], *, level: float = 0.95) -> tuple[float, float, float]:
    """Difference of means ``mean(a) - mean(b)`` of two independent samples, with a Welch t CI.

    Use it for condition-vs-control contrasts over seeds or participants.

    Returns:
      ``(difference, low, high)``.

    Example:
      >>> d, lo, hi = diff_ci([5.0, 6.0, 7.0, 6.5], [1.0, 2.0, 1.5, 2.5])
      >>> d, lo > 0
      (4.375, True)
    """
    level = check_level("diff_ci", level)
    x, y = np.asarray(a, float), np.asarray(b, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size < 2 or y.size < 2:
        d = float(x.mean() - y.mean()) if x.size and y.size else math.nan
        return d, math.nan, math.nan
    res = _stats.ttest_ind(x, y, equal_var=False)
    lo, hi = res.confidence_interval(confidence_level=level)
    return float(x.mean() - y.mean()), float(lo), float(hi)


def paired_bootstrap_diff(
    a: Sequence[float], b: Sequence[float], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean paired difference ``mean(a - b)`` with a percentile bootstrap CI over the pairs.

    The pairs are the units the claim generalises over (participants, stimuli, collages); use it for "model
    beats the best baseline" on the same units.

    Returns:
      ``(difference, low, high)``.

    Example:
      >>> d, lo, hi = paired_bootstrap_diff([0.5, 0.6, 0.7, 0.55], [0.4, 0.45, 0.5, 0.5], n_boot=500)
      >>> round(d, 4), lo > 0
      (0.125, True)
    """
    n_boot, level = check_count(where := "paired_bootstrap_diff", "n_boot", n_boot), check_level(where, level)
    x, y = np.asarray(a, float), np.asarray(b, float)
    _same_length(where, x, y, "a and b")
    d = x - y
    d = d[np.isfinite(d)]
    if d.size < 2:
        return (float(d.mean()) if d.size else math.nan), math.nan, math.nan
    est, lo, hi = bootstrap_ci(d, np.mean, n_boot=n_boot, level=level, seed=seed)
    return est, lo, hi


def proportion_ci(k: int, n: int, *, level: float = 0.95) -> tuple[float, float, float]:
    """A proportion ``k / n`` with its Wilson score CI.

    Example:
      >>> p, lo, hi = proportion_ci(30, 40)
      >>> p, round(lo, 3), round(hi, 3)
      (0.75, 0.598, 0.858)
    """
    level = check_level("proportion_ci", level)
    if n <= 0:
        return math.nan, math.nan, math.nan
    if not 0 <= k <= n or int(k) != k or int(n) != n:
        raise CogsimError(f"proportion_ci: k={k!r}, n={n!r}; allowed: whole numbers with 0 <= k <= n")
    ci = _stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return k / n, float(ci.low), float(ci.high)


@dataclasses.dataclass(frozen=True)
class LineFit:
    """A least-squares line with t-based confidence intervals.

    Example:
      >>> f = fit_line([1, 2, 3, 4], [10, 12, 14, 16.5])
      >>> f.intercept, [round(c, 2) for c in f.slope_ci], f.n
      (7.75, [1.78, 2.52], 4)
    """

    slope: float
    intercept: float
    slope_ci: tuple[float, float]
    intercept_ci: tuple[float, float]
    r: float
    n: int


def fit_line(x: Sequence[float], y: Sequence[float], *, level: float = 0.95) -> LineFit:
    """Ordinary least squares ``y = slope * x + intercept`` (e.g. RT by set size) with CIs.

    Example:
      >>> f = fit_line([1, 2, 3, 4], [10, 12, 14, 16.5])
      >>> round(f.slope, 2)
      2.15
    """
    level = check_level("fit_line", level)
    x, y = np.asarray(x, float), np.asarray(y, float)
    _same_length("fit_line", x, y)
    n = x.size
    if n < 2 or np.ptp(x) == 0:
        raise CogsimError(f"fit_line: need at least two distinct x values; got {x.tolist()}")
    res = _stats.linregress(x, y)
    if n > 2:
        t = _stats.t.ppf(0.5 + level / 2, n - 2)
        s_ci = (res.slope - t * res.stderr, res.slope + t * res.stderr)
        i_ci = (res.intercept - t * res.intercept_stderr, res.intercept + t * res.intercept_stderr)
    else:
        s_ci = (res.slope, res.slope)
        i_ci = (res.intercept, res.intercept)
    return LineFit(
        float(res.slope),
        float(res.intercept),
        tuple(map(float, s_ci)),
        tuple(map(float, i_ci)),
        float(res.rvalue),
        int(n),
    )


def slopes_by(df: pd.DataFrame, *, by: Sequence[str], x: str, y: str) -> pd.DataFrame:
    """Per-group line fits: one row per group with slope, intercept and their CIs.

    Example:
      >>> df = pd.DataFrame({"cond": ["a"] * 3 + ["b"] * 3, "x": [1, 2, 3] * 2, "y": [1, 2, 3, 2, 4, 6.5]})
      >>> slopes_by(df, by=["cond"], x="x", y="y")[["cond", "slope", "intercept", "n"]].round(2)
        cond  slope  intercept  n
      0    a   1.00       0.00  3
      1    b   2.25      -0.33  3
    """
    rows = []
    for keys, g in df.groupby(list(by), sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        f = fit_line(g[x], g[y])
        rows.append(
            {
                **dict(zip(by, keys, strict=True)),
                "slope": f.slope,
                "slope_low": f.slope_ci[0],
                "slope_high": f.slope_ci[1],
                "intercept": f.intercept,
                "r": f.r,
                "n": f.n,
            }
        )
    return pd.DataFrame(rows)


def asymmetry_index(slope_hard: float, slope_easy: float) -> float:
    """(sH - sL) / (sH + sL) with slopes clipped at 0; 0 when both are 0 (Gupta et al. 2021).

    Example:
      >>> asymmetry_index(9.9, 2.4)
      0.6097560975609756
    """
    h, e = max(float(slope_hard), 0.0), max(float(slope_easy), 0.0)
    return 0.0 if h + e == 0 else (h - e) / (h + e)


def search_rt_table(sim: pd.DataFrame, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """Mean RT and saccades per (by..., experiment, condition, set size) of search trials, with the SEM of RT.

    Example:
      >>> sim = pd.DataFrame({"model": "m", "experiment": 1, "condition": "a", "set_size": [1, 1, 2],
      ...                     "rt_ms": [600.0, 700.0, 900.0], "n_saccades": [1, 1, 2]})
      >>> search_rt_table(sim)[["set_size", "rt_ms", "n"]].values.tolist()
      [[1.0, 650.0, 2.0], [2.0, 900.0, 1.0]]
    """
    keys = [*by, "experiment", "condition", "set_size"]
    g = sim.groupby(keys, sort=True)
    out = g.agg(
        rt_ms=("rt_ms", "mean"),
        n_saccades=("n_saccades", "mean"),
        n=("rt_ms", "size"),
        rt_sd=("rt_ms", "std"),
    ).reset_index()
    out["sem_ms"] = out["rt_sd"].fillna(0.0) / np.sqrt(out["n"])
    return out.drop(columns="rt_sd")


def search_slope_table(
    sim: pd.DataFrame, human: pd.DataFrame, by: Sequence[str] = ("model",)
) -> pd.DataFrame:
    """Least-squares slope of mean RT on set size per condition (:func:`search_rt_table`, :func:`slopes_by`),
    next to the human slope (``human``: one ``human_slope_ms_per_item`` per experiment and condition).

    Example:
      >>> sim = pd.DataFrame({"model": "m", "experiment": 1, "condition": ["feature"] * 2 + ["conj"] * 2,
      ...                     "set_size": [4, 8] * 2, "rt_ms": [500.0, 520.0, 600.0, 800.0], "n_saccades": 1})
      >>> human = pd.DataFrame({"experiment": 1, "condition": ["feature", "conj"],
      ...                       "human_slope_ms_per_item": [2.0, 40.0]})
      >>> search_slope_table(sim, human)[["condition", "slope", "human_slope_ms_per_item"]]
        condition  slope  human_slope_ms_per_item
      0      conj   50.0                     40.0
      1   feature    5.0                      2.0
    """
    rts = search_rt_table(sim, by)
    keys = [*by, "experiment", "condition"]
    s = slopes_by(rts, by=keys, x="set_size", y="rt_ms")
    hs = human.groupby(["experiment", "condition"], as_index=False)["human_slope_ms_per_item"].first()
    return s.merge(hs, on=["experiment", "condition"], how="left")


def asymmetry_table(slopes: pd.DataFrame, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """Per (by..., experiment) of a :func:`search_slope_table`: the human and model slopes of the hard and the
    easy condition and both :func:`asymmetry_index` values; the hard condition is the one with the steeper
    HUMAN slope (Gupta et al. 2021).

    Example:
      >>> slopes = pd.DataFrame({"model": "m", "experiment": 1, "condition": ["Q in O", "O in Q"],
      ...                        "slope": [20.0, 5.0], "human_slope_ms_per_item": [30.0, 10.0]})
      >>> asymmetry_table(slopes)[["hard_condition", "human_index", "model_index"]]
        hard_condition  human_index  model_index
      0         Q in O          0.5          0.6
    """
    rows = []
    for keys, g in slopes.groupby([*by, "experiment"], sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        g = g.sort_values("human_slope_ms_per_item")
        easy, hard = g.iloc[0], g.iloc[-1]
        rows.append(
            {
                **dict(zip([*by, "experiment"], keys, strict=True)),
                "hard_condition": hard["condition"],
                "easy_condition": easy["condition"],
                "human_slope_hard": hard["human_slope_ms_per_item"],
                "human_slope_easy": easy["human_slope_ms_per_item"],
                "model_slope_hard": hard["slope"],
                "model_slope_easy": easy["slope"],
                "human_index": asymmetry_index(
                    hard["human_slope_ms_per_item"], easy["human_slope_ms_per_item"]
                ),
                "model_index": asymmetry_index(hard["slope"], easy["slope"]),
            }
        )
    return pd.DataFrame(rows)


def cowan_k(set_size: Any, hit_rate: Any, fa_rate: Any) -> Any:
    """Cowan's K = N (H - F) for single-probe change detection.

    Example:
      >>> round(float(cowan_k(5, 0.8, 0.2)), 2)
      3.0
    """
    return np.asarray(set_size) * (np.asarray(hit_rate) - np.asarray(fa_rate))


# ----------------------------------------------------------------------------------------- likelihoods
def binomial_loglik(k: Any, n: Any, p: Any) -> Any:
    """Binomial log-likelihood of ``k`` successes in ``n`` trials (works on numpy and jax arrays).

    The binomial coefficient is included, so values are comparable across models on the same data. ``p`` is
    clipped into ``[1e-9, 1 - 1e-9]`` (in float32: up to the largest float32 below 1), so ``p`` of 0 or 1
    gives a finite value.

    Example:
      >>> round(float(binomial_loglik(7, 10, 0.7)), 3)  # log(C(10, 7) 0.7^7 0.3^3)
      -1.321
      >>> round(float(binomial_loglik(3, 10, 0.0)), 1)  # p = 0 is clipped to 1e-9: finite
      -57.4
    """
    import jax.numpy as jnp
    from jax.scipy.special import gammaln

    p = jnp.asarray(p)
    p = p if jnp.issubdtype(p.dtype, jnp.floating) else p.astype(jnp.float32)
    # 1 - 1e-9 rounds to 1 in float32: the largest value below 1 of p's dtype keeps log1p(-p) finite
    p = jnp.clip(p, 1e-9, min(1 - 1e-9, 1 - float(jnp.finfo(p.dtype).epsneg)))
    k = jnp.asarray(k, jnp.float32)
    n = jnp.asarray(n, jnp.float32)
    logc = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    return logc + k * jnp.log(p) + (n - k) * jnp.log1p(-p)


@dataclasses.dataclass(frozen=True)
class MLEFit:
    """A maximum-likelihood fit: parameters in their natural space, the log-likelihood and AIC/BIC.

    Example:
      >>> fit = MLEFit(params={"p": 0.7}, loglik=-1.2, n_params=1, n_obs=10, converged=True)
      >>> round(fit.aic, 2), round(fit.bic, 2)  # 2k - 2 logL and k log(n) - 2 logL
      (4.4, 4.7)
    """

    params: dict[str, float]
    loglik: float
    n_params: int
    n_obs: int
    converged: bool

    @property
    def aic(self) -> float:
        return 2 * self.n_params - 2 * self.loglik

    @property
    def bic(self) -> float:
        return self.n_params * math.log(max(self.n_obs, 1)) - 2 * self.loglik


def fit_mle(
    neg_loglik: Callable[[Any], Any],
    init: Mapping[str, float],
    *,
    transforms: Mapping[str, str] | None = None,
    n_obs: int = 0,
    maxiter: int = 500,
) -> MLEFit:
    """Minimises ``neg_loglik(params)`` with L-BFGS on JAX gradients.

    Args:
      neg_loglik: a JAX-traceable function of a dict of parameters (natural space) -> scalar.
      init: starting values in the natural space.
      transforms: per parameter, ``"logit"`` (in (0, 1)), ``"log"`` (> 0) or ``"none"`` (default): the
        optimiser works in the unconstrained space.
      n_obs: number of observations, for BIC.
      maxiter: L-BFGS iteration cap.

    Returns:
      The fit; ``converged`` is False where L-BFGS failed, the objective at the result is not finite, or
      the optimiser stayed at the start because every step it tried gave a NaN or infinite objective.

    Raises:
      CogsimError: a transform is unknown or names no parameter of ``init``, or ``neg_loglik`` is not
        finite at ``init``.

    Example:
      >>> import jax.numpy as jnp
      >>> fit = fit_mle(lambda p: -binomial_loglik(7, 10, p["p"]), {"p": 0.5}, transforms={"p": "logit"})
      >>> round(fit.params["p"], 3)
      0.7
    """
    import jax
    import jax.numpy as jnp
    from scipy import optimize

    transforms = dict(transforms or {})
    names = list(init)
    unknown = sorted(set(transforms) - set(names), key=str)
    if unknown:
        raise CogsimError(f"fit_mle: transforms name {unknown}, not parameters of init; allowed: {names}")
    fwd = {"logit": lambda x: jnp.log(x) - jnp.log1p(-x), "log": jnp.log, "none": lambda x: x}
    inv = {"logit": jax.nn.sigmoid, "log": jnp.exp, "none": lambda x: x}
    for n in names:
        if transforms.get(n, "none") not in fwd:
            raise CogsimError(f"fit_mle: transform for {n!r} is {transforms[n]!r}; allowed: logit, log, none")

    def to_natural(z):
        return {n: inv[transforms.get(n, "none")](z[i]) for i, n in enumerate(names)}

    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    z0 = np.array([float(fwd[transforms.get(n, "none")](jnp.asarray(init[n], dtype))) for n in names])
    obj = jax.jit(jax.value_and_grad(lambda z: neg_loglik(to_natural(z))))

    bad_steps = []

    def f(z):
        v, g = obj(jnp.asarray(z, jnp.float32))
        v, g = float(v), np.asarray(g, np.float64)
        if not (math.isfinite(v) and np.isfinite(g).all()):
            bad_steps.append(z.copy())
        return v, g

    start = f(z0)[0]
    if not math.isfinite(start):
        raise CogsimError(f"fit_mle: neg_loglik is {start} at init={dict(init)!r}; start where it is finite")
    res = optimize.minimize(f, z0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
    params = {n: float(v) for n, v in to_natural(jnp.asarray(res.x, jnp.float32)).items()}
    # scipy reports success when a line search that met only NaN/inf gives up at the start
    stuck = bool(bad_steps) and np.array_equal(res.x, z0) and np.any(np.asarray(res.jac) != 0)
    ok = bool(res.success) and math.isfinite(float(res.fun)) and not stuck
    return MLEFit(params, float(-res.fun), len(names), n_obs, ok)


# Re-exported metric families, one private module each.
from cogsim._compare_linkpred import (  # noqa: E402, F401
    filtered_ranks,
    hits_at_k,
    link_prediction_metrics,
    mean_reciprocal_rank,
)
from cogsim._compare_scanpath import (  # noqa: E402, F401
    ScanpathScores,
    behaviour_delta,
    behaviour_vector,
    edit_distance,
    fixation_count_error,
    fixations_to_target,
    lcs_length,
    mean_pairwise,
    multimatch,
    object_multimatch,
    probability_mismatch,
    scanpath_behaviour,
    score_scanpaths,
    sequence_score,
    tfp_auc,
    tfp_curve,
)
