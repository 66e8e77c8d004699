"""The deficit window's edges read off a lag curve, and the fit of the consolidation time to its end.

The deficit at a lag is the control's P(T2) minus the experimental P(T2 | T1). The window *onset* is where the
deficit first rises above the margin and its *end* where it last falls below it, both by linear
interpolation between neighbouring lags (so they are continuous, not tied to the 90-ms lag grid).

The published window (180-450 ms after T1, from the text of Raymond, Shapiro & Arnell 1992) names the first
and the last impaired probe delays; the probes one SOA earlier (90 ms: lag-1 sparing) and one SOA later
(540 ms) were not impaired. So the margin crossings of the human curve lie in ``(180 - soa, 180)`` and
``(450, 450 + soa)``; the fit aims the model's end crossing at the middle of the latter (declared in
docs/scenarios/attentional_blink.md before the run).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from cogsim.errors import ConfigError


def window_edges(delays: np.ndarray, deficit: np.ndarray, margin: float) -> tuple[float, float]:
    """Onset and end (ms) of the deficit window: where ``deficit`` crosses ``margin`` going up and down.

    A deficit already at the first lag gives an onset of ``-inf`` (before the lags run), one that lasts to
    the last lag an end of ``+inf``; no deficit at all gives NaN for both.

    Example:
      >>> window_edges(np.array([90.0, 180, 270, 360]), np.array([0.0, 0.6, 0.3, 0.0]), 0.1)
      (105.0, 330.0)
    """
    delays = np.asarray(delays, float)
    deficit = np.asarray(deficit, float)
    above = np.flatnonzero(deficit > margin)
    if len(above) == 0:
        return float("nan"), float("nan")
    f, last = int(above[0]), int(above[-1])
    onset, end = float("-inf"), float("inf")
    if f > 0:
        d0, d1 = deficit[f - 1], deficit[f]
        onset = float(delays[f - 1] + (margin - d0) / (d1 - d0) * (delays[f] - delays[f - 1]))
    if last < len(delays) - 1:
        d0, d1 = deficit[last], deficit[last + 1]
        end = float(delays[last] + (d0 - margin) / (d0 - d1) * (delays[last + 1] - delays[last]))
    return onset, end


def fit_on_profile(grid: np.ndarray, ends: np.ndarray, target: float, *, step: float = 1.0) -> float:
    """The grid value whose window end is nearest ``target``: least squares on the profile ``ends(grid)``
    linearly interpolated between grid points (``step`` apart); NaN ends are left out.

    Example:
      >>> fit_on_profile(np.array([300.0, 400, 500]), np.array([420.0, 480, 540]), 495.0)
      425.0
    """
    grid, ends = np.asarray(grid, float), np.asarray(ends, float)
    ok = np.isfinite(ends)
    if ok.sum() == 0:
        return float("nan")
    if ok.sum() == 1:
        return float(grid[ok][0])
    fine = np.arange(grid[ok][0], grid[ok][-1] + step / 2, step)
    pred = np.interp(fine, grid[ok], ends[ok])
    return float(fine[np.argmin((pred - target) ** 2)])


def curve_deficit(
    t1_ok: np.ndarray,
    t2_ok: np.ndarray,
    ctrl_t2: np.ndarray,
    cells: np.ndarray,
    ctrl_cells: np.ndarray,
    n: int,
) -> np.ndarray:
    """Deficit per lag: control P(T2) minus experimental P(T2 | T1).

    Args:
      t1_ok, t2_ok: ``[..., trials]`` experimental outcomes (leading axes broadcast, e.g. grid values).
      ctrl_t2: ``[..., trials]`` control T2 outcomes.
      cells, ctrl_cells: ``[trials]`` lag index (0..n-1) of each experimental and control trial.
      n: number of lags.
    """
    both = t1_ok & t2_ok
    out = []
    for i in range(n):
        e = cells == i
        k1 = t1_ok[..., e].sum(-1)
        p_exp = np.where(k1 > 0, both[..., e].sum(-1) / np.maximum(k1, 1), np.nan)
        out.append(ctrl_t2[..., ctrl_cells == i].mean(-1) - p_exp)
    return np.stack(out, -1)


def bootstrap_fit(
    grid: np.ndarray,
    t1_ok: np.ndarray,
    t2_ok: np.ndarray,
    ctrl_t2: np.ndarray,
    cells: np.ndarray,
    ctrl_cells: np.ndarray,
    delays: np.ndarray,
    margin: float,
    target: float,
    *,
    n_boot: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The profile (window end at each grid value) and ``n_boot`` refits on trials resampled within lags.

    The grid runs share their random numbers (trial ``j`` sees the same stream and noise at every grid
    value), so a resample takes the same trials at every grid value.

    Returns:
      ``(ends, fits)``: ``[grid]`` window ends of the full sample and ``[n_boot]`` fitted values.
    """
    n = len(delays)
    dfc = curve_deficit(t1_ok, t2_ok, ctrl_t2, cells, ctrl_cells, n)
    ends = np.array([window_edges(delays, row, margin)[1] for row in dfc])
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(cells == i) for i in range(n)]
    cgroups = [np.flatnonzero(ctrl_cells == i) for i in range(n)]
    fits = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(g, len(g)) for g in groups])
        cidx = np.concatenate([rng.choice(g, len(g)) for g in cgroups])
        d = curve_deficit(t1_ok[:, idx], t2_ok[:, idx], ctrl_t2[:, cidx], cells[idx], ctrl_cells[cidx], n)
        e = np.array([window_edges(delays, row, margin)[1] for row in d])
        fits[b] = fit_on_profile(grid, e, target)
    return ends, fits


def fit_consolidation(
    config, run: Callable, d: dict[str, np.ndarray], target: float, *, key: jax.Array
) -> dict[str, object]:
    """Fits ``consolidation_ms`` to the published window end (docs/scenarios/attentional_blink.md, fit).

    Runs the experiment at every value of ``config.fit_grid_ms`` with the same trials and noise, reads the
    window end off each lag curve (:func:`window_edges`), and takes
    the value whose end lies nearest the target (least squares on the interpolated profile); the CI is the
    2.5-97.5 percentile range of ``config.fit_boot`` refits on trials resampled within each lag.

    Args:
      config: the scenario's config (lags, SOA, margin, grid, resamples).
      run: ``run(types, templates, key, consolidation_ms)`` -> ``[trials, items]`` entered (jitted once).
      d: the fit's own trial layout (``make_streams``).
      target: the window end (ms) the fit aims at.
      key: PRNG key of the fit's runs and resamples.

    Returns:
      ``value``, ``ci`` (low, high), ``target_ms`` and the profile (``grid``, ``ends``).
    """
    k_run = jax.random.fold_in(key, 1)
    exp, ctrl = d["condition"] == 0, d["condition"] == 1
    idx = np.arange(len(d["lag"]))
    types, templates = jnp.asarray(d["types"]), jnp.asarray(d["templates"])
    lags = np.asarray(config.lags)
    cell = np.searchsorted(lags, d["lag"])
    t1s, t2s, c2s = [], [], []
    for c in config.fit_grid_ms:
        entered = np.asarray(run(types, templates, k_run, jnp.float32(c)))
        t1s.append(entered[idx, d["t1"]][exp])
        t2 = entered[idx, d["t1"] + d["lag"]]
        t2s.append(t2[exp])
        c2s.append(t2[ctrl])
    grid = np.asarray(config.fit_grid_ms, float)
    ends, fits = bootstrap_fit(
        grid,
        np.stack(t1s),
        np.stack(t2s),
        np.stack(c2s),
        cell[exp],
        cell[ctrl],
        lags * config.soa_ms,
        config.deficit_margin,
        target,
        n_boot=config.fit_boot,
        seed=int(np.asarray(jax.random.key_data(key)).sum()),
    )
    value = fit_on_profile(grid, ends, target)
    if not np.isfinite(value):
        raise ConfigError(
            "fit_grid_ms",
            config.fit_grid_ms,
            "a grid whose lag curves have a deficit window that ends in range",
        )
    ok = fits[np.isfinite(fits)]
    ci = (float(np.percentile(ok, 2.5)), float(np.percentile(ok, 97.5))) if len(ok) else (np.nan, np.nan)
    return {"value": value, "ci": ci, "target_ms": target, "grid": grid, "ends": ends}
