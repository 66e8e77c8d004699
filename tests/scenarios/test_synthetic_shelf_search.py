"""synthetic_shelf_search: generated displays, the similarity-guided searcher, the effects, a tiny run."""

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import config as cfglib
from cogsim.scenarios import _shelf_checks as sc
from cogsim.scenarios import _shelf_displays as sd
from cogsim.scenarios import synthetic_shelf_search as ss
from tests.scenarios.tiny import tiny


def test_displays_have_the_requested_similar_distractors():
    cfg = ss.PRESETS["quick"]
    d = ss.make_displays(cfg, 25, seed=1)
    sim = d.similarity()
    assert np.all((sim == 1.0).sum(1) == 1)  # only the target shares both features
    assert np.all(sim[np.arange(25), d.target] == 1.0)
    np.testing.assert_array_equal((sim == 0.5).sum(1), d.n_similar)
    assert set(d.n_similar) == set(cfg.similar_levels)
    # crops: the object's colour inside its shape, grey outside
    i, j = 0, int(d.target[0])
    mask = sd.shape_mask(ss.SHAPES[d.shape[i, j]], cfg.crop)
    inside = d.crops[i, j][mask].mean(0)
    np.testing.assert_allclose(inside, ss.COLOURS[d.colour[i, j]], atol=0.03)
    np.testing.assert_allclose(d.crops[i, j][~mask].mean(), 0.5, atol=0.03)
    masks = [sd.shape_mask(s, 14) for s in ss.SHAPES]
    assert all(not np.array_equal(a, b) for k, a in enumerate(masks) for b in masks[k + 1 :])


def test_searcher_is_guided_by_similarity():
    cfg = cfglib.replace(ss.PRESETS["quick"], similar_levels=(0, 16))
    d = ss.make_displays(cfg, 120, seed=2)
    paths = ss.searcher_scanpaths(d, cfg, 4, key=jax.random.key(0))
    for i, per in enumerate(paths):
        for p in per:
            assert p[-1] == d.target[i] and len(set(p)) == len(p)
    lengths = np.array([np.mean([len(p) for p in per]) for per in paths])
    assert lengths[d.n_similar == 16].mean() > lengths[d.n_similar == 0].mean() + 1
    sim = d.similarity()
    fixated = [sim[i, o] for i, per in enumerate(paths) for p in per for o in p[:-1] if d.n_similar[i] == 16]
    assert np.mean(np.array(fixated) == 0.5) > 16 / 23  # similar distractors drawn above their share


def test_effects_table():
    rows = []
    for s, (path, sims) in enumerate([([1, 2, 0], [0.5, 0.0, 1.0]), ([3, 0], [0.5, 1.0])]):
        for k, (o, v) in enumerate(zip(path, sims, strict=True)):
            rows.append(
                {
                    "method": "m",
                    "display": s,
                    "sample": 0,
                    "fixation_index": k,
                    "object_id": o,
                    "target_object_id": 0,
                    "n_similar": 4 * s,
                    "similarity": v,
                }
            )
    e = ss.effects(pd.DataFrame(rows), n_objects=5).set_index("method")
    assert e.loc["m", "similar_share"] == pytest.approx(2 / 3)  # fixations on 1, 2, 3: two similar
    assert e.loc["m", "chance_share"] == pytest.approx((0 + 0 + 1) / 3)  # n_similar / 4 distractors
    assert e.loc["m", "mean_length"] == 2.5


def test_end_to_end_tiny_run():
    cfg = tiny("synthetic_shelf_search")
    sim = ss.simulate(cfg, key=jax.random.key(0))
    # the test preset trains cnn only
    assert set(sim.method) == {"oat_cnn", "random", "centre_out", "nn_walk", "searcher", "layout"}
    n = sim[sim.method != "layout"].groupby("method").display.nunique()
    assert (n == cfg.n_eval_displays).all()
    assert sim.groupby(["method", "display"])["sample"].nunique()["oat_cnn"].eq(cfg.n_samples).all()
    comp = ss.compare(sim, ss.reference().table)
    assert comp.key_metric.name == "oat_cnn.similar_share"
    assert len(comp.checks) == 3  # the three comparisons with OAT without appearance need "none"
    assert comp.with_context(data_kind="none").schema_problems() == []
    assert comp.with_context(data_kind="none").verdict == "demonstration"
    assert len(sim.attrs["training"]["cnn"]["eval_nll_per_display"]) == cfg.n_eval_displays
    nll = {m.name: m.value for m in comp.metrics}["oat_cnn.nll"]
    assert np.isfinite(nll) and nll > 0  # teacher-forced NLL of the held-out searcher scanpaths
    assert {"methods", "effects"} <= set(comp.tables)
    ss.plot(sim, ss.reference().table)


def test_share_contrast_over_displays():
    n = 40
    rng = np.random.default_rng(0)
    guided = pd.DataFrame(
        {"similar": rng.binomial(10, 0.7, n), "chance": np.full(n, 4.0), "n": np.full(n, 10.0)}
    )
    at_chance = guided.assign(similar=rng.binomial(10, 0.4, n))
    d, lo, hi = sc.share_contrast(guided.astype(float))
    assert lo > 0 and d == pytest.approx(guided.similar.sum() / 400 - 0.4)
    d2, lo2, hi2 = sc.share_contrast(at_chance.astype(float))
    assert lo2 < 0 < hi2
    d3, lo3, _ = sc.share_contrast(guided.astype(float), at_chance.astype(float))  # paired by display
    assert lo3 > 0
