"""developmental_diet: shipped diet backbones, seed validation, and a tiny run."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from cogsim import config as cfglib
from cogsim.models import eccnet
from cogsim.scenarios import developmental_diet as dd
from tests.scenarios.tiny import tiny


def test_shipped_backbones_exist_are_small_and_documented():
    total = 0
    for diet in dd.DIETS:
        for seed in dd.SHIPPED_SEEDS:
            path = eccnet.weights_dir() / f"{dd.shipped_name(diet, seed)}.npz"
            total += path.stat().st_size
            params, meta = eccnet.load_npz(path)
            assert meta["diet"] == diet and "command" in meta and meta["seed"] == seed
            assert eccnet.widths_of(params) == tuple(meta["config"]["widths"])
    assert total < 5e6


def test_seeds_are_validated():
    with pytest.raises(cfglib.ConfigError, match="seeds"):
        cfglib.replace(dd.PRESETS["quick"], seeds=(0, 7))  # not shipped, and train is off
    with pytest.raises(cfglib.ConfigError, match="seeds"):
        cfglib.replace(dd.PRESETS["quick"], seeds=(1, 1))
    assert cfglib.replace(dd.PRESETS["quick"], seeds=(0, 7), train=True).seeds == (0, 7)


def test_tiny_run_and_compare():
    sim = dd.simulate(tiny("developmental_diet"), key=jax.random.key(0))
    assert set(sim["diet"]) == {"normal", "rot90"} and set(sim["backbone_seed"]) == {0, 1}
    comp = dd.compare(sim, dd.reference().table)
    assert comp.key == "normal_mean_index"
    checks = {c.name: c for c in comp.checks}
    flip = checks["rotated diet flips the lighting asymmetry (rot90 minus normal Exp 2 index below 0)"]
    # the checks use the mean index over the backbone seeds
    per_seed = comp.tables["per_seed"].set_index(["diet", "backbone_seed", "experiment"])["model_index"]
    mean = {d: np.mean([per_seed[(d, s, 2)] for s in (0, 1)]) for d in ("normal", "rot90")}
    idx = comp.tables["per_diet"].set_index(["diet", "experiment"])["model_index"]
    assert idx[("normal", 2)] == pytest.approx(mean["normal"]) and idx[("rot90", 2)] == pytest.approx(
        mean["rot90"]
    )
    # a contrast over the seeds: rot90 minus normal, with its CI deciding the check
    assert flip.value == pytest.approx(mean["rot90"] - mean["normal"])
    if flip.ci is not None:
        assert flip.rule == "ci_below" and flip.passed == (flip.ci[1] < 0)
    else:  # no spread over the seeds: no CI, the point value decides
        assert flip.rule == "below" and flip.passed == (flip.value < 0)
    assert comp.with_context(data_kind="published_means").schema_problems() == []
    assert comp.metric("normal_exp2_index").human == pytest.approx(0.7006, abs=1e-3)
    fig = dd.plot(sim, dd.reference().table)
    assert len(fig.axes) == 3
