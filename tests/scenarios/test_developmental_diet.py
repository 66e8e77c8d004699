"""developmental_diet: shipped diet backbones, the rotation relation of the diet, and a tiny run."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from cogsim.models import eccnet_backbone, eccnet_diet
from cogsim.scenarios import developmental_diet as dd


def test_shipped_backbones_exist_are_small_and_documented():
    total = 0
    for diet in dd.DIETS:
        path = eccnet_backbone.weights_dir() / f"diet_{diet}.npz"
        total += path.stat().st_size
        params, meta = eccnet_backbone.load_npz(path)
        assert meta["diet"] == diet and "command" in meta and meta["seed"] == 0
        assert eccnet_backbone.widths_of(params) == tuple(meta["config"]["widths"])
    assert total < 5e6


def test_rotated_diet_is_the_normal_diet_turned_by_90_degrees():
    key = jax.random.key(3)
    for label in range(eccnet_diet.N_CLASSES):
        a = eccnet_diet.diet_image(key, label, eccnet_diet.DietConfig(diet="normal"))
        b = eccnet_diet.diet_image(key, label, eccnet_diet.DietConfig(diet="rot90"))
        np.testing.assert_allclose(np.rot90(np.asarray(a)), np.asarray(b), atol=1e-6)


def test_lighting_of_the_diets():
    cfg = eccnet_diet.DietConfig(image_size=48)
    n = cfg.image_size
    top = []
    for i in range(8):
        img = np.asarray(
            eccnet_diet.shaded_spheres(jax.random.key(i), n, dent=False, azimuth=0.0, n_spheres=1)
        )
        bg = img[0, 0]
        ys, xs = np.nonzero(np.abs(img - bg) > 1e-6)
        if len(ys) > 20:
            mid = np.median(ys)
            top.append(img[ys < mid, xs[ys < mid]].mean() > img[ys > mid, xs[ys > mid]].mean())
    assert np.mean(top) == 1.0  # a bump lit from above is brighter in its upper half


def test_tiny_run_and_compare():
    sim = dd.simulate(dd.PRESETS["test"], key=jax.random.key(0))
    assert set(sim["diet"]) == {"normal", "rot90"}
    comp = dd.compare(sim, dd.human())
    assert comp.key == "normal_mean_index"
    assert "rotated diet flips the lighting asymmetry (Exp 2 index < 0)" in [c.name for c in comp.checks]
    assert comp.metric("normal_exp2_index").human == pytest.approx(0.7006, abs=1e-3)
    fig = dd.plot(sim, dd.human())
    assert len(fig.axes) == 3
