"""Bootstrap CIs of scanpath metrics over displays (collages): the behaviour delta and ratios of mean scores.

The displays are the units a scanpath claim generalises over, so both helpers resample whole displays
(with replacement) and recompute the statistic on the pooled scanpaths of the resampled displays.

- :func:`behaviour_delta_ci`: the behaviour delta of :func:`cogsim._compare_scanpath.behaviour_delta`
  (model scanpaths against human scanpaths), or its difference from a baseline's, with a percentile CI.
- :func:`ratio_ci`: ``mean(a) / mean(b)`` over displays with a percentile CI, e.g. a model's Sequence Score as
  a fraction of the human-human noise ceiling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from jaxtyping import Float

from cogsim._compare_scanpath import BEHAVIOUR_KEYS, behaviour_delta, scanpath_behaviour
from cogsim.errors import CogsimError, check_count, check_level


def _sums(paths: Mapping[object, Sequence[Sequence[int]]], targets: Mapping[object, int], keys: list):
    """Per display: the sums and counts of the finite behaviour values of its scanpaths, ``[K, 5]`` each."""
    sums = np.zeros((len(keys), len(BEHAVIOUR_KEYS)))
    counts = np.zeros_like(sums)
    for i, k in enumerate(keys):
        for p in paths[k]:
            b = scanpath_behaviour(p, targets[k])
            v = np.array([b[n] for n in BEHAVIOUR_KEYS], float)
            ok = np.isfinite(v)
            sums[i, ok] += v[ok]
            counts[i, ok] += 1
    return sums, counts


def _deltas(m_mean: np.ndarray, h_mean: np.ndarray) -> np.ndarray:
    """Row-wise behaviour delta of ``[B, 5]`` model and human means (terms with human 0 or NaN skipped)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.abs(m_mean - h_mean) / np.abs(h_mean)
    ok = (h_mean != 0) & np.isfinite(h_mean) & np.isfinite(m_mean)
    n = ok.sum(1)
    out = np.where(ok, terms, 0.0).sum(1) / np.maximum(n, 1)
    return np.where(n > 0, out, np.nan)


def behaviour_delta_ci(
    model: Mapping[object, Sequence[Sequence[int]]],
    human: Mapping[object, Sequence[Sequence[int]]],
    targets: Mapping[object, int],
    *,
    baseline: Mapping[object, Sequence[Sequence[int]]] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The behaviour delta of ``model`` against ``human`` scanpaths with a bootstrap CI over displays; with
    ``baseline``, the difference ``delta(model) - delta(baseline)`` on the same resampled displays.

    Args:
      model: display key -> model scanpaths.
      human: display key -> human scanpaths (the displays all inputs hold are used).
      targets: display key -> target object index.
      baseline: display key -> scanpaths of a method to contrast with (paired over displays).
      n_boot: bootstrap resamples.
      level: the CI's coverage.
      seed: the NumPy seed of the resampling.

    Returns:
      ``(value, low, high)``; without ``baseline`` the value equals the delta of
      :func:`cogsim._compare_scanpath.score_scanpaths`.

    Raises:
      CogsimError: no display has both model and human scanpaths, ``n_boot`` is not an integer >= 1 or
        ``level`` not in (0, 1).

    Example:
      >>> h = {1: [[0, 9]], 2: [[3, 3, 9]], 3: [[1, 2, 9]]}
      >>> behaviour_delta_ci(h, h, {1: 9, 2: 9, 3: 9}, n_boot=50)
      (0.0, 0.0, 0.0)
      >>> d, lo, hi = behaviour_delta_ci(h, h, {1: 9, 2: 9, 3: 9}, baseline={k: [[9]] for k in h}, n_boot=50)
      >>> d < 0
      True
    """
    where = "behaviour_delta_ci"
    n_boot, level = check_count(where, "n_boot", n_boot), check_level(where, level)
    keys = [k for k in human if k in model and (baseline is None or k in baseline)]
    if not keys:
        raise CogsimError("behaviour_delta_ci: no display has both model and human scanpaths")
    hs, hc = _sums(human, targets, keys)
    ms, mc = _sums(model, targets, keys)
    bs, bc = _sums(baseline, targets, keys) if baseline is not None else (None, None)

    def delta(s, c, hs_, hc_) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            m, h = s.sum(0) / c.sum(0), hs_.sum(0) / hc_.sum(0)
        return behaviour_delta(
            dict(zip(BEHAVIOUR_KEYS, m, strict=True)), dict(zip(BEHAVIOUR_KEYS, h, strict=True))
        )

    est = delta(ms, mc, hs, hc) - (delta(bs, bc, hs, hc) if bs is not None else 0.0)
    if len(keys) < 2:
        return est, math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, len(keys), (n_boot, len(keys)))
    with np.errstate(divide="ignore", invalid="ignore"):
        h_b = hs[idx].sum(1) / hc[idx].sum(1)
        d = _deltas(ms[idx].sum(1) / mc[idx].sum(1), h_b)
        if bs is not None:
            d = d - _deltas(bs[idx].sum(1) / bc[idx].sum(1), h_b)
    d = d[np.isfinite(d)]
    if not d.size:
        return est, math.nan, math.nan
    a = (1 - level) / 2
    return est, float(np.quantile(d, a)), float(np.quantile(d, 1 - a))


def ratio_ci(
    a: Float[np.ndarray, " displays"] | Sequence[float],
    b: Float[np.ndarray, " displays"] | Sequence[float],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``mean(a) / mean(b)`` over paired displays with a percentile bootstrap CI (displays resampled).

    Displays where ``a`` or ``b`` is not finite are left out; resamples whose ratio is not finite are
    dropped (NaN limits when none is left).

    Raises:
      CogsimError: ``a`` and ``b`` are not paired 1-D arrays, ``n_boot`` is not an integer >= 1 or
        ``level`` not in (0, 1).

    Example:
      >>> r, lo, hi = ratio_ci([0.10, 0.12, 0.14, 0.16], [0.20, 0.20, 0.20, 0.20], n_boot=200)
      >>> round(r, 3), lo < r < hi
      (0.65, True)
    """
    n_boot, level = check_count("ratio_ci", "n_boot", n_boot), check_level("ratio_ci", level)
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise CogsimError(f"ratio_ci: a and b must be paired 1-D arrays, got shapes {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if not a.size or b.mean() == 0:
        return math.nan, math.nan, math.nan
    est = float(a.mean() / b.mean())
    if a.size < 2:
        return est, math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, a.size, (n_boot, a.size))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a[idx].mean(1) / b[idx].mean(1)
    r = r[np.isfinite(r)]
    if not r.size:
        return est, math.nan, math.nan
    q = (1 - level) / 2
    return est, float(np.quantile(r, q)), float(np.quantile(r, 1 - q))
