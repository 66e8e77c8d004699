"""sparse_factor_world: configuration checks, the sample-size criterion, a tiny run and its comparison."""

import dataclasses

import jax
import numpy as np
import pytest

from cogsim import config as cfglib
from cogsim.errors import ConfigError
from cogsim.scenarios import sparse_factor_world as sfw
from tests.scenarios.tiny import tiny


def test_bad_configs_are_refused():
    with pytest.raises(ConfigError, match="top_k"):
        cfglib.validate(dataclasses.replace(tiny("sparse_factor_world"), top_k=20))
    with pytest.raises(ConfigError, match="models"):
        cfglib.validate(dataclasses.replace(tiny("sparse_factor_world"), models=("nope",)))


def test_samples_to_reach():
    assert sfw.samples_to_reach([10, 100], [0.4, 0.3], 0.5) == 10
    assert np.isnan(sfw.samples_to_reach([10, 100], [0.9, 0.8], 0.5))


def test_simulate_and_compare_on_a_tiny_world():
    cfg = dataclasses.replace(tiny("sparse_factor_world"), models=("bottleneck",), seeds=2)
    df = sfw.simulate(cfg, key=jax.random.key(0))
    assert len(df) == 2 * 2 * 2  # sizes x seeds x splits
    assert np.all(np.isfinite(df.nmse)) and df.precision.between(0, 1).all()
    comp = sfw.compare(df, sfw.reference().table)
    assert comp.key == "bottleneck.precision"
    assert {c.name for c in comp.checks} == {
        "bottleneck selection precision above chance",
        "bottleneck selection recall above chance",
    }
