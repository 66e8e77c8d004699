"""Reddy's in-context classification task, the attention-only network and its training."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim import config
from cogsim.errors import ConfigError
from cogsim.models import induction as ind

TASK = ind.TaskConfig(K=64, L=8, N=4, D=15, N_max=6, B=2)


@pytest.fixture(scope="module")
def world():
    return ind.make_world(jax.random.key(0), TASK)


@pytest.fixture(scope="module")
def batches(world):
    """One compiled sampler call per mode (the modes share shapes)."""
    f = jax.jit(
        lambda k, pb, pc, sw: ind.sample_sequences(k, world, TASK, 400, pb, pc, sw, ind.class_log_probs(TASK))
    )
    return {
        m: jax.tree_util.tree_map(np.asarray, f(jax.random.key(1), *ind.mode_settings(TASK, m)))
        for m in ind.MODES
    }


def _items(b, N):
    return b["token_ids"][:, 0 : 2 * N : 2], b["token_ids"][:, 2 * N]


def test_bursty_context_repeats_each_class_B_times_with_distinct_labels(batches):
    b = batches["train"]
    ctx, q = _items(b, TASK.N)
    for row, qc, labs in zip(ctx, q, b["ctx_labels"], strict=False):
        classes, counts = np.unique(row, return_counts=True)
        assert (counts == TASK.B).all()
        assert len(classes) == TASK.N // TASK.B
        assert qc in classes
        assert len(np.unique(labs)) == TASK.N // TASK.B  # distinct labels per class


def test_labels_follow_class_mod_L_and_tokens_carry_label_vectors(batches, world):
    b = batches["train"]
    ctx, _ = _items(b, TASK.N)
    np.testing.assert_array_equal(b["ctx_labels"], ctx % TASK.L)
    np.testing.assert_array_equal(b["target"], b["query_class"] % TASK.L)
    P = TASK.n_pos
    label_tokens = b["tokens"][:, 1 : 2 * TASK.N : 2, P:]
    np.testing.assert_allclose(label_tokens, np.asarray(world.label_vecs)[b["ctx_labels"]], atol=1e-6)


def test_items_are_noisy_class_means(batches, world):
    b = batches["iw"]
    P = TASK.n_pos
    q = b["tokens"][:, -1, P:]
    mu = np.asarray(world.class_means)[b["query_class"]]
    resid = q * math.sqrt(1 + TASK.eps**2) - mu
    # eps * eta with eta ~ N(0, I/D): per-coordinate variance eps^2 / D
    assert abs(resid.var() - TASK.eps**2 / TASK.D) < 0.2 * TASK.eps**2 / TASK.D


def test_one_hot_positions_are_consecutive_after_a_random_shift(batches):
    pos = batches["train"]["tokens"][:, :, : TASK.n_pos]
    idx = pos.argmax(-1)
    assert (pos.sum(-1) == 1).all()
    assert (np.diff(idx, axis=1) == 1).all()
    assert len(np.unique(idx[:, 0])) > 1  # shifts vary
    assert idx[:, -1].max() <= TASK.n_pos - 1


def test_ic2_swaps_labels_and_scores_the_swapped_label(batches):
    b = batches["ic2"]
    ctx, _ = _items(b, TASK.N)
    np.testing.assert_array_equal(b["ctx_labels"], (ctx + 1) % TASK.L)
    np.testing.assert_array_equal(b["target"], (b["query_class"] + 1) % TASK.L)


def test_ic_uses_novel_classes_whose_label_is_in_context(batches):
    b = batches["ic"]
    assert (b["query_class"] == -1).all()
    assert all(t in labs for t, labs in zip(b["target"], b["ctx_labels"], strict=False))
    ctx, q = _items(b, TASK.N)
    assert (ctx >= TASK.K).all() and (q >= TASK.K).all()


def test_iw_contexts_are_iid_and_query_usually_absent(batches):
    b = batches["iw"]
    ctx, q = _items(b, TASK.N)
    present = np.mean([qc in row for qc, row in zip(q, ctx, strict=False)])
    assert present < 0.35  # about 1 - (1 - 1/K)^N ~ 0.06 for uniform classes


def test_zipf_frequencies():
    task = dataclasses.replace(TASK, K=8, alpha=1.0)
    w = ind.make_world(jax.random.key(0), task)
    b = jax.jit(lambda k: ind.sample_batch(k, w, task, 6000, mode="iw"))(jax.random.key(3))
    freq = np.bincount(np.asarray(b["query_class"]), minlength=8) / 6000
    p = 1 / np.arange(1, 9)
    np.testing.assert_allclose(freq, p / p.sum(), atol=0.02)
    assert freq[0] > 2.5 * freq[-1]


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="K"):
        config.validate(ind.TaskConfig(K=60, L=8))
    with pytest.raises(ConfigError, match="B"):
        config.validate(ind.TaskConfig(N=8, B=3))
    with pytest.raises(ConfigError, match="mode"):
        ind.sample_batch(jax.random.key(0), ind.make_world(jax.random.key(0), TASK), TASK, 2, mode="x")


def test_network_shapes_and_named_attention(world):
    from cogsim import probes

    net = ind.NetConfig(item_embedding=True)
    p = jax.jit(lambda k: ind.init_params(k, TASK, net))(jax.random.key(0))
    d = TASK.token_dim
    assert d == 2 * TASK.N_max + 1 + TASK.D
    assert all(layer[n].shape == (d, d) for layer in p["attn"] for n in ("Wq", "Wk", "Wv"))
    assert [m["W"].shape for m in p["mlp"]] == [(d, d)] * 3
    assert p["readout"].shape == (d, TASK.L)
    E = np.asarray(p["item_embed"])
    np.testing.assert_allclose(E @ E.T, np.eye(TASK.D), atol=1e-4)
    b = jax.jit(lambda k: ind.sample_batch(k, world, TASK, 5))(jax.random.key(2))
    logits, cap = jax.jit(lambda p, t: probes.run_with_capture(ind.forward, p, t, TASK, net))(p, b["tokens"])
    assert logits.shape == (5, TASK.L)
    assert cap["layer0"]["probs"].shape == (5, 1, TASK.seq_len, TASK.seq_len)
    assert cap["resid2"].shape == (5, TASK.seq_len, d)
    # causal: no attention to later tokens
    assert float(jnp.triu(cap["layer1"]["probs"][0, 0], 1).sum()) == 0.0


def test_shared_bias_is_one_bias_per_classifier_layer(world):
    shared_net = ind.NetConfig(shared_bias=True)
    shared = ind.init_params(jax.random.key(0), TASK, shared_net)
    unit = ind.init_params(jax.random.key(0), TASK)
    assert [m["b"].shape for m in shared["mlp"]] == [(1,)] * 3
    assert [m["b"].shape for m in unit["mlp"]] == [(TASK.token_dim,)] * 3
    b = ind.sample_batch(jax.random.key(2), world, TASK, 32)
    # the same function at init (zero biases); the shared bias's gradient is the sum over the layer's units
    g_shared, _ = jax.grad(ind.make_loss_fn(TASK, shared_net), has_aux=True)(shared, b, None)
    g_unit, _ = jax.grad(ind.make_loss_fn(TASK), has_aux=True)(unit, b, None)
    for gs, gu in zip(g_shared["mlp"], g_unit["mlp"], strict=True):
        np.testing.assert_allclose(gs["W"], gu["W"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(gs["b"], [float(gu["b"].sum())], rtol=1e-4, atol=1e-6)
        assert float(jnp.std(gu["b"])) > 0  # per-unit biases get different gradients


def test_item_embedding_changes_only_item_tokens(world):
    net = ind.NetConfig(item_embedding=True)
    p = jax.jit(lambda k: ind.init_params(k, TASK, net))(jax.random.key(0))
    b = jax.jit(lambda k: ind.sample_batch(k, world, TASK, 3))(jax.random.key(2))
    e = np.asarray(jax.jit(lambda p, t: ind.embed(p, t, TASK))(p, b["tokens"]))
    t = np.asarray(b["tokens"])
    np.testing.assert_array_equal(e[:, 1::2], t[:, 1::2])  # labels untouched
    assert not np.allclose(e[:, 0::2, TASK.n_pos :], t[:, 0::2, TASK.n_pos :])
    np.testing.assert_allclose(
        np.linalg.norm(e[:, 0::2], axis=-1), np.linalg.norm(t[:, 0::2], axis=-1), rtol=1e-4
    )


def test_forgetting_schedule_resets_at_the_right_steps():
    net = ind.NetConfig(item_embedding=True)
    p = jax.jit(lambda k: ind.init_params(k, TASK, net))(jax.random.key(0))
    active = ind.make_post_update(TASK, ind.ForgetSchedule(10, -1))
    temp = ind.make_post_update(TASK, ind.ForgetSchedule(10, 25))
    never = ind.make_post_update(TASK, ind.ForgetSchedule(0, -1))
    k = jax.random.key(5)
    changed = lambda f, s: not np.allclose(jax.jit(f)(p, jnp.int32(s), k)["item_embed"], p["item_embed"])
    assert changed(active, 9) and changed(active, 99) and not changed(active, 10)
    assert changed(temp, 19) and not changed(temp, 29)
    assert not changed(never, 9)


def test_phenomenological_model_plateau_then_jump_and_fit():
    c = np.asarray(ind.phenomenological_curve(jnp.array([-3.0, 0.5, 0.05]), 0.05, 3000, N=8, L=32))
    assert c[0] == pytest.approx(math.log(32), abs=0.05)
    assert c[-1] < 0.2
    # slow decline, then a fast drop: the steepest step comes late, after most of the time on the plateau
    drop = -np.diff(c)
    assert np.argmax(drop) > 500
    assert c[500] > 2.5 and c[1500] < 0.5
    fit = ind.fit_phenomenological(np.arange(0, 3001, 100), c[::100], N=8, L=32)
    assert fit.rmse < 0.15


def test_short_training_run_learns_in_context():
    task = ind.TaskConfig(K=256, L=8, N=4, D=15, N_max=4, B=2)
    tc = ind.TrainConfig(lr=0.1, batch_size=64, num_steps=300, log_every=150, n_test=256, eval_chunk=256)
    run = jax.jit(lambda k: ind.run(k, task, ind.NetConfig(), tc)[1])
    h = {k: np.asarray(v) for k, v in run(jax.random.key(0)).items()}
    assert h["step"].tolist() == [0, 150, 300]
    assert h["loss"][-1] < math.log(8) - 0.3
    # picks labels present in the context far above chance (2 of 8 labels in context -> 0.25)
    assert h["ctx_label_acc"][-1] > 0.6
    assert h["ic_acc"][-1] > 1 / 8 + 0.1
    # same key, same numbers
    np.testing.assert_allclose(np.asarray(run(jax.random.key(0))["ic_acc"]), h["ic_acc"])


def test_traced_K_and_B_match_static_settings():
    base = ind.TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2, K_max=128)
    w = ind.make_world(jax.random.key(0), base)
    f = jax.jit(lambda K, B: ind.sample_batch(jax.random.key(1), w, dataclasses.replace(base, K=K, B=B), 300))
    b = jax.tree_util.tree_map(np.asarray, f(jnp.int32(32), jnp.int32(4)))
    ctx, q = _items(b, 4)
    assert ctx.max() < 32  # only the first K classes
    assert all(len(np.unique(r)) == 1 for r in ctx)  # B = 4 = N: one class per context


def test_distinct_label_sampler_matches_sequential_draws_from_the_restricted_law():
    task = ind.TaskConfig(K=16, L=4, N=4, D=7, N_max=4, B=1, alpha=1.0)
    w = ind.make_world(jax.random.key(0), task)
    ids = np.asarray(jax.jit(lambda k: ind.sample_batch(k, w, task, 8000))(jax.random.key(1))["token_ids"])
    ids = ids[:, 0:8:2]
    assert all(len(set(r)) == 4 for r in ids % 4)
    P = 1 / np.arange(1, 17)
    P /= P.sum()
    rng = np.random.default_rng(0)
    ref = np.zeros(16)
    for _ in range(3000):
        used: set[int] = set()
        for _ in range(4):
            q = np.array([0.0 if k % 4 in used else P[k] for k in range(16)])
            c = rng.choice(16, p=q / q.sum())
            used.add(c % 4)
            ref[c] += 1
    emp = np.bincount(ids.ravel(), minlength=16) / ids.size
    np.testing.assert_allclose(emp, ref / ref.sum(), atol=0.015)


def test_samples_and_init_do_not_depend_on_vmap():
    """A seed alone and the same seed inside a vmapped batch of seeds see the same data and weights."""
    keys = jax.random.split(jax.random.key(3), 3)

    def one(k):
        w = ind.make_world(k, TASK)
        return ind.sample_batch(k, w, TASK, 16)["target"], ind.init_params(k, TASK)["attn"][0]["Wq"]

    batched = jax.jit(jax.vmap(one))(keys)
    alone = jax.jit(one)(keys[2])
    np.testing.assert_array_equal(np.asarray(batched[0][2]), np.asarray(alone[0]))
    np.testing.assert_allclose(np.asarray(batched[1][2]), np.asarray(alone[1]), rtol=1e-6, atol=1e-7)


def test_last_only_forward_gives_the_same_logits(batches):
    p = ind.init_params(jax.random.key(0), TASK)
    tokens = jnp.asarray(batches["train"]["tokens"][:32])
    f = jax.jit(lambda p, t: (ind.forward(p, t, TASK), ind.forward(p, t, TASK, last_only=True)))
    full, last = f(p, tokens)
    np.testing.assert_allclose(np.asarray(full), np.asarray(last), rtol=1e-5, atol=1e-5)


def test_static_branch_skipping_keeps_the_numbers(world):
    """Training batches with concrete p_B = 1 and p_C = 0 skip the unused branches but equal the traced
    (all-branch) sampler."""
    logits = ind.class_log_probs(TASK)
    key = jax.random.key(4)
    static = jax.jit(lambda: ind.sample_sequences(key, world, TASK, 64, 1.0, 0.0, 0, logits))()
    traced = jax.jit(lambda pb, pc: ind.sample_sequences(key, world, TASK, 64, pb, pc, 0, logits))(
        jnp.float32(1.0), jnp.float32(0.0)
    )
    for k in static:
        a, b = np.asarray(static[k]), np.asarray(traced[k])
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=k)
        else:
            np.testing.assert_array_equal(a, b, err_msg=k)


@pytest.mark.parametrize("n", [1, 5, 32, 64, 65])
def test_small_argsort_is_the_stable_argsort(n):
    """The sampler's comparison-count shuffle gives jnp.argsort's permutation: random values, ties (kept
    in index order), infinities and signed zeros."""
    u = jax.random.uniform(jax.random.key(n), (300, n))
    coarse = jnp.round(u * 4) / 4  # many ties
    special = jnp.where(u < 0.2, jnp.inf, jnp.where(u < 0.4, -jnp.inf, jnp.where(u < 0.6, -0.0, 0.0)))
    f = jax.jit(jax.vmap(ind._argsort_small))
    for v in (u, coarse, -coarse, special):
        np.testing.assert_array_equal(np.asarray(f(v)), np.asarray(jnp.argsort(v, axis=-1)))
