"""The tensor brain: bottom-up/top-down operations, decoding order, episodic vs semantic memory."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.errors import CogsimError, ConfigError
from cogsim.models import tensor_brain as tb


def _small(**kw):
    cfg = tb.TensorBrainConfig(
        n_entities=5, n_predicates=3, n_labels=2, dim=8, wm_dim=8, init_scale=1.0, **kw
    )
    return cfg, tb.init_params(cfg, key=jax.random.key(0))


def test_bottom_up_is_a_softmax_and_integral_is_its_mean_embedding():
    cfg, p = _small(beta=2.0)
    q = jax.random.normal(jax.random.key(1), (3, cfg.dim))
    logp, integral = tb.bottom_up(p, cfg, q, "entity")
    probs = np.exp(np.asarray(logp))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    expected = jax.nn.softmax(2.0 * (jax.nn.sigmoid(q) @ p["entity"].T + p["entity_bias"]), axis=-1)
    np.testing.assert_allclose(probs, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(integral, probs @ np.asarray(p["entity"]), rtol=1e-4, atol=1e-5)
    with pytest.raises(CogsimError, match="index group"):
        tb.bottom_up(p, cfg, q, "colour")


def test_decoding_order_each_stage_conditions_on_the_earlier_ones():
    cfg, p = _small()
    q0 = jnp.broadcast_to(tb.semantic_context(p), (2, cfg.dim))
    out = tb.decode(p, cfg, q0, key=jax.random.key(0), mode="argmax")
    assert out["order"] == ("subject", "label", "object", "predicate")
    # P(s) does not depend on the object; P(o | s) depends on the subject, not on the object chosen later;
    # P(p | s, o) depends on both.
    a = tb.triple_log_probs(p, cfg, q0, jnp.array([0, 0]), jnp.array([1, 2]))
    b = tb.triple_log_probs(p, cfg, q0, jnp.array([3, 3]), jnp.array([1, 2]))
    np.testing.assert_allclose(a["subject"][0], a["subject"][1])
    np.testing.assert_allclose(a["object"][0], a["object"][1])  # same subject, different objects
    assert not np.allclose(a["object"][0], b["object"][0])  # different subjects
    assert not np.allclose(a["predicate"][0], a["predicate"][1])  # different objects
    assert not np.allclose(a["label"][0], b["label"][0])  # labels follow the embodied subject
    np.testing.assert_allclose(a["label"][0], a["label"][1])  # ...and come before the object


def test_teacher_forcing_and_selection_modes():
    cfg, p = _small()
    q0 = jnp.broadcast_to(tb.semantic_context(p), (4, cfg.dim))
    forced = tb.decode(
        p,
        cfg,
        q0,
        mode="teacher",
        teacher={"subject": jnp.array([0, 1, 2, 3]), "object": jnp.array([4, 4, 4, 4])},
    )
    assert forced["subject"].tolist() == [0, 1, 2, 3] and forced["object"].tolist() == [4] * 4
    s1 = tb.decode(p, cfg, q0, key=jax.random.key(5), mode="sample")
    s2 = tb.decode(p, cfg, q0, key=jax.random.key(5), mode="sample")
    assert s1["subject"].tolist() == s2["subject"].tolist()
    integ = tb.decode(p, cfg, q0, mode="integral")
    assert np.all(np.isfinite(integ["surprisal"]))
    with pytest.raises(ConfigError, match="mode"):
        tb.decode(p, cfg, q0, mode="greedy")
    with pytest.raises(CogsimError, match="needs a key"):
        tb.decode(p, cfg, q0, mode="sample")


def test_log_prob_tensor_is_a_normalised_distribution_over_triples():
    cfg, p = _small()
    t = tb.log_prob_tensor(p, cfg, tb.semantic_context(p))
    assert t.shape == (5, 3, 5)
    assert float(jnp.exp(t).sum()) == pytest.approx(1.0, abs=1e-4)


def test_embodiment_and_sensory_buffer():
    cfg = tb.TensorBrainConfig(retain=0.5, embody_gain=2.0)
    np.testing.assert_allclose(tb.embody(jnp.ones((1, 2)), jnp.full((1, 2), 3.0), cfg), [[6.5, 6.5]])
    t = jnp.array([-0.1, 0.0, 0.05, 0.15, 0.35])
    s = tb.buffer_strength(t, onset=0.0, offset=0.05, tau=0.1)
    np.testing.assert_allclose(s, [0.0, 1.0, 1.0, np.exp(-1.0), np.exp(-3.0)], rtol=1e-5)
    assert np.all(np.diff(np.asarray(s)[1:]) <= 0)


def test_episodic_vs_semantic_recall_on_a_tiny_graph_with_known_answers():
    # two episodes over entities 0..3 and predicates 0..1: t=0 "0 p0 1"; t=1 "2 p1 3"
    rows = np.array([[0, 0, 0, 1], [1, 2, 1, 3]])
    cfg = tb.TensorBrainConfig(n_entities=4, n_predicates=2, n_times=2, dim=8, wm_dim=16, init_scale=1.0)
    res = tb.train_memory(
        cfg, rows, key=jax.random.key(0), num_steps=400, batch_size=8, lr=0.03, log_every=200
    )
    assert res.history.loss.iloc[-1] < res.history.loss.iloc[0]
    params = res.params
    for t, (s, p, o) in enumerate([(0, 0, 1), (2, 1, 3)]):
        out = tb.decode(params, cfg, tb.episodic_context(params, jnp.array([t])), mode="argmax")
        assert (int(out["subject"][0]), int(out["predicate"][0]), int(out["object"][0])) == (s, p, o)
        assert float(out["surprisal"][0]) < 0.5  # the episode is recalled confidently
    # semantic memory (exact time marginal) holds both triples, about half each
    sem = np.exp(np.asarray(tb.marginal_log_prob_tensor(params, cfg)))
    assert sem[0, 0, 1] == pytest.approx(0.5, abs=0.1) and sem[2, 1, 3] == pytest.approx(0.5, abs=0.1)
    top2 = set(np.argsort(-sem.ravel())[:2].tolist())
    assert top2 == {np.ravel_multi_index(x, sem.shape) for x in [(0, 0, 1), (2, 1, 3)]}


def test_training_validates_its_input():
    cfg = tb.TensorBrainConfig(n_entities=3, n_predicates=1, dim=4, wm_dim=4)
    with pytest.raises(CogsimError, match=r"\(t, s, p, o\)"):
        tb.train_memory(cfg, np.zeros((2, 3), int), key=jax.random.key(1), num_steps=1)


def test_tucker_memory_decodes_the_object_given_subject_and_predicate():
    cfg = tb.TensorBrainConfig(
        n_entities=5, n_predicates=3, dim=8, wm_dim=8, init_scale=1.0, relational="tucker"
    )
    p = tb.init_params(cfg, key=jax.random.key(0))
    assert p["core"].shape == (8, 8, 8)
    q0 = jnp.broadcast_to(tb.semantic_context(p), (2, cfg.dim))
    s = jnp.array([0, 0])
    a = tb.triple_log_probs(p, cfg, q0, s, s, p=jnp.array([0, 1]))
    # the same model read the cheap way: the core per predicate, one context row for every triple
    fast = {**p, "core_by_predicate": tb.core_by_predicate(p)}
    b = tb.triple_log_probs(fast, cfg, tb.semantic_context(p), s, s, p=jnp.array([0, 1]))
    for stage in ("subject", "predicate", "object"):
        np.testing.assert_allclose(b[stage], a[stage], atol=1e-5)
    np.testing.assert_allclose(a["predicate"][0], a["predicate"][1])  # P(p | s) comes before the predicate
    assert not np.allclose(a["object"][0], a["object"][1])  # P(o | s, p) depends on the predicate
    t = tb.log_prob_tensor(p, cfg, tb.semantic_context(p))
    assert t.shape == (5, 3, 5) and float(jnp.exp(t).sum()) == pytest.approx(1.0, abs=1e-4)
    tails, heads = tb.link_scorers(p, cfg, tb.semantic_context(p))
    lt = np.asarray(t)
    np.testing.assert_allclose(  # tails rank objects as the joint does; heads are the joint
        tails(np.array([1]), np.array([2]))[0] - lt[1, 2],
        np.full(5, (tails(np.array([1]), np.array([2]))[0] - lt[1, 2])[0]),
        atol=1e-4,
    )
    np.testing.assert_allclose(heads(np.array([2]), np.array([3]))[0], lt[:, 2, 3], atol=1e-4)
    out = tb.decode(p, cfg, q0, key=jax.random.key(1))
    assert out["order"] == ("subject", "predicate", "object")
    with pytest.raises(CogsimError, match="pass p="):
        tb.triple_log_probs(p, cfg, q0, s, s)


def test_reciprocal_memory_learns_each_fact_from_both_ends_and_answers_heads_from_the_object():
    cfg = tb.TensorBrainConfig(
        n_entities=4, n_predicates=4, dim=8, wm_dim=8, relational="tucker", reciprocal=True
    )
    facts = np.array([[0, 0, 1], [2, 1, 3]])
    assert tb.n_relations(cfg) == 2
    assert tb.reciprocal_triples(facts, 2).tolist() == [[0, 0, 1], [2, 1, 3], [1, 2, 0], [3, 3, 2]]
    res = tb.train_semantic_memory(
        cfg, facts, key=jax.random.key(0), num_steps=300, batch_size=4, lr=0.05, log_every=300
    )
    x = tb.semantic_log_prob_tensor(res.params, cfg)
    tails, heads = tb.semantic_scorers(res.params, cfg)
    np.testing.assert_allclose(heads(np.array([0]), np.array([1]))[0], x[1, 2])  # (?, p, o) = (o, p^-1, ?)
    assert int(np.argmax(tails(np.array([0]), np.array([0]))[0])) == 1  # learned from the subject end
    assert int(np.argmax(heads(np.array([1]), np.array([3]))[0])) == 2  # and from the object end
    with pytest.raises(ConfigError, match="n_predicates"):
        tb.n_relations(tb.TensorBrainConfig(n_predicates=3, reciprocal=True))
    with pytest.raises(ConfigError, match="n_times"):
        tb.train_semantic_memory(
            dataclasses.replace(cfg, n_times=2), facts, key=jax.random.key(0), num_steps=1
        )
