import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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


def test_comparison_uses_the_configs_deficit_margin(base):
    df, _, _ = base
    strict = ab.compare(df.assign(deficit_margin=0.9), ab.reference().table)
    sparing = [ch for ch in strict.checks if ch.name.startswith("lag-1 sparing")][0]
    assert sparing.threshold == 0.9 and not sparing.passed


def test_capacity_one_abolishes_lag1_sparing():
    """Lag-1 sparing needs room for T2 in T1's episode: a one-item workspace cannot spare it."""
    _, e, c = _curves(dataclasses.replace(CFG, top_k=1, lags=(1, 8)))
    assert e[1] < c[1] - 0.3


def test_no_consolidation_no_blink():
    _, e, c = _curves(dataclasses.replace(CFG, consolidation_ms=0.0, episode_ms=10.0, lags=(2, 3)))
    assert (c - e).max() < 0.15


def test_human_window_is_the_published_one():
    h = ab.reference().table
    assert (h.window_start_ms.iloc[0], h.window_end_ms.iloc[0]) == (180.0, 450.0)
    assert h.approx.iloc[0] != "computed_from_raw"  # flagged approximate in the data
