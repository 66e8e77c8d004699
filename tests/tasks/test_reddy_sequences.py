"""Reddy's in-context classification sequences."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim import config as cfglib
from cogsim.errors import ConfigError
from cogsim.tasks import reddy_sequences as rs

TASK = rs.TaskConfig(K=64, L=8, N=4, D=15, N_max=6, B=2)


@pytest.fixture(scope="module")
def world():
    return rs.make_world(jax.random.key(0), TASK)


@pytest.fixture(scope="module")
def batches(world):
    """One compiled sampler call per mode (the modes share shapes)."""
    f = jax.jit(
        lambda k, pb, pc, sw: rs.sample_sequences(k, world, TASK, 400, pb, pc, sw, rs.class_log_probs(TASK))
    )
    return {
        m: jax.tree_util.tree_map(np.asarray, f(jax.random.key(1), *rs.mode_settings(TASK, m)))
        for m in rs.MODES
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
    w = rs.make_world(jax.random.key(0), task)
    b = jax.jit(lambda k: rs.sample_batch(k, w, task, 6000, mode="iw"))(jax.random.key(3))
    freq = np.bincount(np.asarray(b["query_class"]), minlength=8) / 6000
    p = 1 / np.arange(1, 9)
    np.testing.assert_allclose(freq, p / p.sum(), atol=0.02)
    assert freq[0] > 2.5 * freq[-1]


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="K"):
        cfglib.validate(rs.TaskConfig(K=60, L=8))
    with pytest.raises(ConfigError, match="B"):
        cfglib.validate(rs.TaskConfig(N=8, B=3))
    with pytest.raises(ConfigError, match="mode"):
        rs.sample_batch(jax.random.key(0), rs.make_world(jax.random.key(0), TASK), TASK, 2, mode="x")


def test_traced_K_and_B_match_static_settings():
    base = rs.TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2, K_max=128)
    w = rs.make_world(jax.random.key(0), base)
    f = jax.jit(lambda K, B: rs.sample_batch(jax.random.key(1), w, dataclasses.replace(base, K=K, B=B), 300))
    b = jax.tree_util.tree_map(np.asarray, f(jnp.int32(32), jnp.int32(4)))
    ctx, q = _items(b, 4)
    assert ctx.max() < 32  # only the first K classes
    assert all(len(np.unique(r)) == 1 for r in ctx)  # B = 4 = N: one class per context


def test_distinct_label_sampler_matches_sequential_draws_from_the_restricted_law():
    task = rs.TaskConfig(K=16, L=4, N=4, D=7, N_max=4, B=1, alpha=1.0)
    w = rs.make_world(jax.random.key(0), task)
    ids = np.asarray(jax.jit(lambda k: rs.sample_batch(k, w, task, 8000))(jax.random.key(1))["token_ids"])
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


def test_static_branch_skipping_keeps_the_numbers(world):
    """Training batches with concrete p_B = 1 and p_C = 0 skip the unused branches but equal the traced
    (all-branch) sampler."""
    logits = rs.class_log_probs(TASK)
    key = jax.random.key(4)
    static = jax.jit(lambda: rs.sample_sequences(key, world, TASK, 64, 1.0, 0.0, 0, logits))()
    traced = jax.jit(lambda pb, pc: rs.sample_sequences(key, world, TASK, 64, pb, pc, 0, logits))(
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
    f = jax.jit(jax.vmap(rs._argsort_small))
    for v in (u, coarse, -coarse, special):
        np.testing.assert_array_equal(np.asarray(f(v)), np.asarray(jnp.argsort(v, axis=-1)))


def test_direct_construction_checks_the_fields_together_and_logits_need_one_entry_per_class():
    with pytest.raises(ConfigError, match="'K': got 65; allowed: a multiple of L = 8"):  # before: constructed
        rs.TaskConfig(K=65, L=8)
    w = rs.make_world(jax.random.key(0), TASK)
    with pytest.raises(
        ConfigError, match=r"'class_logits'.*\(10,\).*shape \(64,\)"
    ):  # before: a JAX TypeError
        rs.sample_batch(jax.random.key(0), w, TASK, 3, class_logits=jnp.zeros(10))
