"""sparse_factor_world: configuration checks, the sample-size criterion, a tiny run and its comparison."""

import dataclasses

import jax
import numpy as np
import pandas as pd
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
        "bottleneck selection precision above chance + 0.10",
        "bottleneck selection recall above chance + 0.10",
    }
    assert comp.with_context(data_kind="none").schema_problems() == []


def _constructed(gap_by_size: dict[int, float]):
    """Five seeds per size; bottleneck error = dense error + gap (per size), a small spread over seeds."""
    rows = []
    for n, gap in gap_by_size.items():
        for seed in range(5):
            for split in ("seen", "unseen"):
                dense = 0.8 + 0.01 * seed
                for model, e in (("bottleneck", dense + gap + 0.005 * seed), ("dense", dense)):
                    rows.append(
                        {
                            "model": model,
                            "n_train": n,
                            "seed": seed,
                            "split": split,
                            "nmse": e,
                            "precision": 0.8 + 0.01 * seed,
                            "recall": 0.8 - 0.01 * seed,
                            "precision_chance": 0.44 if model != "dense" else 1.0,
                            "recall_chance": 0.42 if model != "dense" else 1.0,
                        }
                    )
    return sfw.compare(pd.DataFrame(rows), sfw.reference().table)


def test_bottleneck_vs_dense_is_checked_at_every_training_size():
    # better at 16 and 64, worse at 256: a crossover that a pooled mean over sizes could hide
    comp = _constructed({16: -0.4, 64: -0.2, 256: 0.1})
    by = {c.name: c.passed for c in comp.checks}
    for split in ("trained", "unseen"):
        assert by[f"bottleneck error below dense on {split} factor pairs at n = 16"]
        assert by[f"bottleneck error below dense on {split} factor pairs at n = 64"]
        assert not by[f"bottleneck error below dense on {split} factor pairs at n = 256"]
    assert all(c.ci is not None for c in comp.checks)
