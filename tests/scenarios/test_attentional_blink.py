import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim import config as cfglib
from cogsim.errors import ConfigError
from cogsim.scenarios import _attentional_blink_fit as abfit
from cogsim.scenarios import attentional_blink as ab
from tests.scenarios.tiny import tiny

CFG = tiny("attentional_blink")


def _curves(cfg):
    df = ab.simulate(cfg, key=jax.random.key(0))
    e = df[df.condition == "experimental"].set_index("lag").t2_given_t1
    c = df[df.condition == "control"].set_index("lag").t2_given_t1
    return df, e, c


@pytest.fixture(scope="module")
def base():
    return _curves(CFG)


def test_trace_is_masked_by_the_next_item():
    onsets = jnp.array([0.0, 90.0, 180.0])
    s = np.asarray(ab.trace_strength(jnp.float32(85.0), onsets, 90.0, 30.0))
    assert s.tolist() == [1.0, 0.0, 0.0]
    later = np.asarray(ab.trace_strength(jnp.float32(150.0), onsets, 90.0, 30.0))
    assert 0 < later[0] < 0.2 and later[1] == 1.0


def test_lag1_sparing_dip_and_recovery(base):
    _, e, c = base
    assert e[1] > e[2] + 0.2  # lag-1 sparing
    assert min(e[2], e[3]) < c[[2, 3]].min() - 0.3  # the blink
    assert abs(e[8] - c[8]) < 0.15  # recovered


def test_ignore_t1_control_has_no_dip(base):
    _, _, c = base
    assert c.max() - c.min() < 0.15


def test_comparison_checks_the_shape(base):
    df, _, _ = base
    comp = ab.compare(df, ab.reference().table)
    passed = {ch.name.split(" (")[0]: ch.passed for ch in comp.checks}
    assert passed["lag-1 sparing"] and passed["blink: T2 deficit at lags 2-5"]
    assert comp.key_metric.human == 270.0
    assert comp.with_context(data_kind="published_means").schema_problems() == []
    window = [ch for ch in comp.checks if ch.name.startswith("deficit window")]
    assert [ch.threshold for ch in window] == [(90.0, 180.0), (450.0, 540.0)]
    assert all(ch.rule == "ci_within" and ch.ci is not None for ch in window)


def test_consolidation_is_fitted_with_a_ci(base):
    df, _, _ = base
    rows = df[df.condition == "experimental"]
    cons, lo, hi = rows[["consolidation_ms", "consolidation_low", "consolidation_high"]].iloc[0]
    assert lo <= cons <= hi and hi > lo
    assert rows.fit_target_ms.iloc[0] == 495.0  # half an SOA after the published 450 ms
    profile = df[df.condition == "fit_profile"]
    assert profile.consolidation_ms.tolist() == list(CFG.fit_grid_ms)
    assert profile.delay_ms.is_monotonic_increasing  # longer consolidation, later window end


def test_window_edges_interpolate_the_margin_crossings():
    delays = np.array([90.0, 180.0, 270.0, 360.0])
    assert abfit.window_edges(delays, np.array([0.0, 0.6, 0.3, 0.0]), 0.1) == (105.0, 330.0)
    onset, end = abfit.window_edges(delays, np.array([0.5, 0.6, 0.3, 0.2]), 0.1)
    assert onset == -np.inf and end == np.inf  # the deficit starts and ends outside the lags run
    assert np.isnan(abfit.window_edges(delays, np.zeros(4), 0.1)).all()


def test_fit_recovers_the_consolidation_of_a_known_profile():
    """Synthetic outcomes whose deficit crosses the margin at 300 + 0.5 x consolidation: aimed at 525 ms,
    the fit must find 450 (within sampling noise) and its bootstrap CI must contain its value."""
    rng = np.random.default_rng(0)
    grid = np.array([300.0, 400.0, 500.0, 600.0])
    delays = np.array([90.0, 180.0, 270.0, 360.0, 450.0, 540.0, 630.0])
    cells = np.repeat(np.arange(len(delays)), 20_000)
    d = delays[cells]
    deficit = np.stack([np.where(d > 90, 0.1 + (300 + 0.5 * g - d) / 1000, -0.2) for g in grid])
    t2 = rng.random(cells.size) < 0.5 - deficit  # control P(T2) = 0.5
    ctrl = np.broadcast_to(rng.random(cells.size) < 0.5, t2.shape)
    t1 = np.ones_like(t2)
    ends, fits = abfit.bootstrap_fit(grid, t1, t2, ctrl, cells, cells, delays, 0.1, 525.0, n_boot=20, seed=0)
    assert np.all(np.diff(ends) > 0)
    value = abfit.fit_on_profile(grid, ends, 525.0)
    assert abs(value - 450.0) < 40.0
    assert np.percentile(fits, 2.5) <= value <= np.percentile(fits, 97.5)


def test_capacity_one_abolishes_lag1_sparing():
    """Lag-1 sparing needs room for T2 in T1's episode: a one-item workspace cannot spare it."""
    _, e, c = _curves(dataclasses.replace(CFG, top_k=1, lags=(1, 8), consolidation_ms=350.0))
    assert e[1] < c[1] - 0.3


def test_no_consolidation_no_blink():
    df, e, c = _curves(dataclasses.replace(CFG, consolidation_ms=0.0, episode_ms=10.0, lags=(2, 3)))
    assert (c - e).max() < 0.15
    assert "fit_profile" not in set(df.condition)  # a consolidation time given by hand skips the fit


def test_human_window_is_the_published_one():
    h = ab.reference().table
    assert (h.window_start_ms.iloc[0], h.window_end_ms.iloc[0]) == (180.0, 450.0)
    assert h.approx.iloc[0] != "computed_from_raw"  # flagged approximate in the data


def test_a_reversed_t1_range_is_refused():
    # T1 is drawn from first to last, both included: one position is a range, a reversed one is empty
    with pytest.raises(ConfigError, match=r"'t1_positions': got \(15, 7\); allowed: a range first,last"):
        cfglib.replace_from_strings(ab.Config(), ["t1_positions=15,7"])
    assert cfglib.replace_from_strings(ab.Config(), ["t1_positions=7,7"]).t1_positions == (7, 7)


@pytest.mark.parametrize("lags", ["3,3", "20", "1,3,2"])
def test_lags_that_give_no_lag_curve_are_refused(lags):
    # the deficit window is read between neighbouring lags: at least two, increasing, each once
    with pytest.raises(ConfigError, match=r"'lags': got .*; allowed: at least two lags in increasing order"):
        cfglib.replace_from_strings(ab.Config(), [f"lags={lags}", "t1_positions=40,40"])
    assert cfglib.replace_from_strings(ab.Config(), ["lags=19,20", "t1_positions=40,40"]).lags == (19, 20)
