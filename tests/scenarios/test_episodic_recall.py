"""episodic_recall: scene generation and a short run of the protocol."""

import jax
import numpy as np
import pytest

from cogsim import config as cfglib
from cogsim.errors import ConfigError
from cogsim.scenarios import episodic_recall as er
from tests.scenarios.tiny import tiny


def test_scenes_follow_the_world_and_are_reproducible():
    cfg = tiny("episodic_recall")
    world = er.make_world(cfg, key=jax.random.key(0))
    assert world.shape == (cfg.n_entities, cfg.typical_per_subject, 2)
    assert np.all(world[:, :, 1] != np.arange(cfg.n_entities)[:, None])
    a = er.make_scenes(cfg, world, 5, key=jax.random.key(1))
    b = er.make_scenes(cfg, world, 5, key=jax.random.key(1))
    np.testing.assert_array_equal(a, b)
    assert sorted(set(a[:, 0].tolist())) == list(range(5))
    assert np.all(np.bincount(a[:, 0]) == cfg.triples_per_scene)


def test_short_run_and_comparison():
    sim = er.simulate(tiny("episodic_recall"), key=jax.random.key(0))
    assert {"episodic", "semantic_prior", "generic_hit@3"} <= set(sim["query"])
    assert sim[sim["query"] == "episodic"].value.between(0, 1).all()
    comp = er.compare(sim, er.reference().table)
    assert len(comp.checks) == 3
    wrapped = comp.with_context(data_kind=er.reference().kind)
    assert wrapped.schema_problems() == [] and wrapped.verdict == "demonstration"
    assert er.plot(sim, er.reference().table) is not None


def test_more_triples_per_scene_than_distinct_triples_is_refused():
    # make_scenes draws distinct triples until a scene is full: with too few of them it would never end
    with pytest.raises(ConfigError, match=r"'triples_per_scene': got 800; allowed: at most 792 .*n_entities"):
        cfglib.validate(er.Config(triples_per_scene=800))
    with pytest.raises(ConfigError, match=r"'triples_per_scene': got 50; allowed: at most 12 .*n_predicates"):
        cfglib.replace_from_strings(er.Config(), ["n_entities=2", "triples_per_scene=50"])
    with pytest.raises(ConfigError, match=r"triples_per_scene.*at most 24 .*typical_per_subject.*p_typical"):
        cfglib.validate(er.Config(p_typical=1.0, triples_per_scene=25))
    assert cfglib.validate(er.Config(triples_per_scene=792)).triples_per_scene == 792
    assert cfglib.validate(er.Config(p_typical=1.0, triples_per_scene=24)).triples_per_scene == 24


def test_more_typical_pairs_than_pairs_per_subject_is_refused():
    # make_world samples typical_per_subject of a subject's n_predicates x (n_entities - 1) pairs
    with pytest.raises(ConfigError, match=r"'typical_per_subject': got 67; allowed: at most .*n_predicates"):
        cfglib.validate(er.Config(typical_per_subject=67))
    assert cfglib.validate(er.Config(typical_per_subject=66)).typical_per_subject == 66


def test_n_episodes_needs_two_different_counts():
    # compare() fits recall against log2(n_episodes): one count (or one repeated) gives no slope
    with pytest.raises(ConfigError, match=r"'n_episodes': got \(8,\); allowed: at least two different"):
        cfglib.replace_from_strings(er.Config(), ["n_episodes=8"])
    with pytest.raises(ConfigError, match=r"'n_episodes': got \(8, 8\); allowed: distinct values"):
        cfglib.replace_from_strings(er.Config(), ["n_episodes=8,8"])
    assert cfglib.replace_from_strings(er.Config(), ["n_episodes=8,16"]).n_episodes == (8, 16)


def test_k_above_the_ranked_triples_is_refused():
    # recall@k takes the top k of the n_entities x n_predicates x n_entities tensor
    with pytest.raises(ConfigError, match=r"'k': got 865; allowed: at most .* = 864"):
        cfglib.validate(er.Config(k=865))
    assert cfglib.validate(er.Config(k=864)).k == 864
