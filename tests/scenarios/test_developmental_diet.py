"""developmental_diet: shipped diet backbones, the rotation relation of the diet, and a tiny run."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim import config
from cogsim.models import eccnet_backbone, eccnet_diet
from cogsim.scenarios import developmental_diet as dd


def test_shipped_backbones_exist_are_small_and_documented():
    total = 0
    for diet in dd.DIETS:
        for seed in dd.SHIPPED_SEEDS:
            path = eccnet_backbone.weights_dir() / f"{dd.shipped_name(diet, seed)}.npz"
            total += path.stat().st_size
            params, meta = eccnet_backbone.load_npz(path)
            assert meta["diet"] == diet and "command" in meta and meta["seed"] == seed
            assert eccnet_backbone.widths_of(params) == tuple(meta["config"]["widths"])
    assert total < 5e6


def test_seeds_are_validated():
    with pytest.raises(config.ConfigError, match="seeds"):
        config.replace(dd.PRESETS["quick"], seeds=(0, 7))  # not shipped, and train is off
    with pytest.raises(config.ConfigError, match="seeds"):
        config.replace(dd.PRESETS["quick"], seeds=(1, 1))
    assert config.replace(dd.PRESETS["quick"], seeds=(0, 7), train=True).seeds == (0, 7)


def test_rotated_diet_is_the_normal_diet_turned_by_90_degrees():
    labels = jnp.arange(eccnet_diet.N_CLASSES)
    keys = jax.random.split(jax.random.key(3), eccnet_diet.N_CLASSES)
    imgs = {}
    for diet in ("normal", "rot90"):
        cfg = eccnet_diet.DietConfig(diet=diet, image_size=32)
        imgs[diet] = np.asarray(
            jax.jit(jax.vmap(lambda k, y, c=cfg: eccnet_diet.diet_image(k, y, c)))(keys, labels)
        )
    np.testing.assert_allclose(np.rot90(imgs["normal"], axes=(1, 2)), imgs["rot90"], atol=1e-6)


def test_a_bump_lit_from_above_is_brighter_on_top_and_a_dent_below():
    n = 48
    for dent in (False, True):
        f = jax.jit(
            jax.vmap(lambda k, d=dent: eccnet_diet.shaded_spheres(k, n, dent=d, azimuth=0.0, n_spheres=1))
        )
        imgs = np.asarray(f(jax.random.split(jax.random.key(0), 8)))
        for img in imgs:
            ys, xs = np.nonzero(np.abs(img - img[0, 0]) > 1e-6)
            mid = np.median(ys)
            upper = img[ys[ys < mid], xs[ys < mid]].mean()
            lower = img[ys[ys > mid], xs[ys > mid]].mean()
            assert (upper > lower) != dent


def test_tiny_run_and_compare():
    sim = dd.simulate(dd.PRESETS["test"], key=jax.random.key(0))
    assert set(sim["diet"]) == {"normal", "rot90"} and set(sim["backbone_seed"]) == {0, 1}
    comp = dd.compare(sim, dd.human())
    assert comp.key == "normal_mean_index"
    checks = {c.name: c for c in comp.checks}
    flip = checks["rotated diet flips the lighting asymmetry (Exp 2 index of the opposite sign)"]
    # the checks use the mean index over the backbone seeds
    per_seed = comp.tables["per_seed"].set_index(["diet", "backbone_seed", "experiment"])["model_index"]
    mean = {d: np.mean([per_seed[(d, s, 2)] for s in (0, 1)]) for d in ("normal", "rot90")}
    idx = comp.tables["per_diet"].set_index(["diet", "experiment"])["model_index"]
    assert idx[("normal", 2)] == pytest.approx(mean["normal"]) and idx[("rot90", 2)] == pytest.approx(
        mean["rot90"]
    )
    assert flip.passed == (mean["normal"] * mean["rot90"] < 0)
    assert comp.metric("normal_exp2_index").human == pytest.approx(0.7006, abs=1e-3)
    fig = dd.plot(sim, dd.human())
    assert len(fig.axes) == 3
