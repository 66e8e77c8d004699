"""Probes on constructed attention patterns whose scores are known, and on hooked attention calls."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim import probes
from cogsim.attention import dot_product_attention
from cogsim.errors import CogsimError


def _rows_to(cols, T):
    """Attention matrix [1, 1, T, T] with each row i putting all mass on cols[i]."""
    return jnp.zeros((T, T)).at[jnp.arange(T), jnp.asarray(cols)].set(1.0)[None, None]


def test_previous_token_score_on_constructed_patterns():
    T = 6
    perfect = _rows_to(np.maximum(np.arange(T) - 1, 0), T)
    assert float(probes.previous_token_score(perfect, rows=jnp.arange(1, T))[0]) == pytest.approx(1.0)
    # over all rows, row 0 (which attends to itself) contributes 0: score = (T - 1) / T
    assert float(probes.previous_token_score(perfect)[0]) == pytest.approx((T - 1) / T)
    uniform_causal = jnp.tril(jnp.ones((T, T))) / jnp.arange(1, T + 1)[:, None]
    expected = np.mean([0.0] + [1 / (i + 1) for i in range(1, T)])
    assert float(probes.previous_token_score(uniform_causal[None, None])[0]) == pytest.approx(expected)
    diag = _rows_to(np.arange(T), T)
    assert float(probes.previous_token_score(diag)[0]) == 0.0


def test_masks_follow_the_transformerlens_definitions():
    tokens = jnp.array([[7, 3, 9, 7, 3, 9]])
    dup = np.asarray(probes.duplicate_token_mask(tokens))[0]
    assert dup[3, 0] == 1 and dup[4, 1] == 1 and dup[5, 2] == 1
    assert dup.sum() == 3 and np.triu(dup).sum() == 0
    ind = np.asarray(probes.induction_mask(tokens))[0]
    # the token after the earlier copy: 7@3 -> 3@1, 3@4 -> 9@2, 9@5 -> 7@3
    assert ind[3, 1] == 1 and ind[4, 2] == 1 and ind[5, 3] == 1
    assert ind.sum() == 3


def test_induction_duplicate_and_prefix_scores_on_repeated_random_tokens():
    P = 5
    tokens = probes.repeated_random_tokens(jax.random.key(0), 3, P, 10_000)
    T = tokens.shape[1]
    cols = np.where(np.arange(T) >= P, np.arange(T) - P + 1, 0)
    induction = jnp.broadcast_to(_rows_to(cols, T), (3, 1, T, T))
    rows = jnp.arange(P, T)
    assert float(probes.induction_score(induction, tokens, rows=rows)[0]) == pytest.approx(1.0)
    assert float(probes.prefix_matching_score(induction, P)[0]) == pytest.approx(1.0)
    assert float(probes.duplicate_token_score(induction, tokens, rows=rows)[0]) == pytest.approx(0.0)
    dup_cols = np.where(np.arange(T) >= P, np.arange(T) - P, 0)
    duplicate = jnp.broadcast_to(_rows_to(dup_cols, T), (3, 1, T, T))
    assert float(probes.duplicate_token_score(duplicate, tokens, rows=rows)[0]) == pytest.approx(1.0)
    assert float(probes.induction_score(duplicate, tokens, rows=rows)[0]) == pytest.approx(0.0)
    # half-and-half mix -> 0.5 on both
    mix = 0.5 * (induction + duplicate)
    assert float(probes.induction_score(mix, tokens, rows=rows)[0]) == pytest.approx(0.5)
    # with a BOS token the prefix-matching positions shift by one
    tb = probes.repeated_random_tokens(jax.random.key(1), 1, P, 100, bos=0)
    Tb = tb.shape[1]
    cols_b = np.where(np.arange(Tb) >= P + 1, np.arange(Tb) - P + 1, 0)
    assert float(probes.prefix_matching_score(_rows_to(cols_b, Tb), P, offset=1)[0]) == pytest.approx(1.0)


def test_head_score_excludes_bos_and_current_token_options():
    A = jnp.full((1, 1, 4, 4), 0.25)
    M = jnp.eye(4, k=-1)
    plain = float(probes.head_score(A, M)[0])
    assert plain == pytest.approx(3 * 0.25 / 4)
    # BOS excluded: row 1's only previous token is BOS, so 0.25 + 0.25 of the remaining 4 * 0.75
    assert float(probes.head_score(A, M, exclude_bos=True)[0]) == pytest.approx(0.5 / 3.0)
    # direct check: row 1's only previous token is BOS, which is excluded
    rows = jnp.arange(2, 4)
    assert float(probes.head_score(A, M, rows=rows, exclude_bos=True)[0]) == pytest.approx(1 / 3)
    assert float(probes.head_score(A, M, rows=rows, exclude_current_token=True)[0]) == pytest.approx(1 / 3)


def test_retrieval_score_counts_copies_from_the_needle():
    ctx = jnp.array([[1, 2, 3, 4, 5, 6]])
    needle = jnp.array([[False, False, True, True, True, False]])
    emitted = jnp.array([[3, 4, 5]])
    copy = jnp.zeros((1, 3, 3, 6))
    copy = copy.at[0, 0, jnp.arange(3), jnp.array([2, 3, 4])].set(1.0)  # head 0 copies the needle
    copy = copy.at[0, 1, jnp.arange(3), jnp.array([0, 0, 0])].set(1.0)  # head 1 looks at position 0
    copy = copy.at[0, 2, jnp.arange(3), jnp.array([2, 2, 5])].set(1.0)  # head 2: one correct copy
    s = np.asarray(probes.retrieval_score(copy, ctx, emitted, needle))
    np.testing.assert_allclose(s, [1.0, 0.0, 1 / 3])


def _two_layer(x, w):
    h = dot_product_attention(x, x, x * w, is_causal=True, name="l0")
    probes.record("mid", h)
    return dot_product_attention(h, h, h, is_causal=True, name="l1")


def test_run_with_capture_records_attention_and_activations_under_jit():
    x = jax.random.normal(jax.random.key(0), (2, 5, 3, 4))
    out, cap = jax.jit(lambda x: probes.run_with_capture(_two_layer, x, 2.0))(x)
    assert set(cap) == {"l0", "mid", "l1"}
    assert cap["l0"]["probs"].shape == (2, 3, 5, 5) and cap["l1"]["out"].shape == (2, 5, 3, 4)
    np.testing.assert_allclose(np.asarray(cap["l1"]["out"]), np.asarray(out), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(cap["l0"]["probs"]).sum(-1), 1.0, rtol=1e-5)
    _, only = probes.run_with_capture(_two_layer, x, 2.0, names=["l1"])
    assert set(only) == {"l1"}
    # record is a no-op without a capture
    assert probes.record("x", 3) == 3


def test_ablation_zero_and_mean_and_patching():
    x = jax.random.normal(jax.random.key(0), (4, 5, 2, 4))
    clean = jax.jit(_two_layer)(x, 1.0)
    with probes.ablate({"l1": 1}):
        z = _two_layer(x, 1.0)
    np.testing.assert_allclose(np.asarray(z[:, :, 1]), 0.0)
    np.testing.assert_allclose(np.asarray(z[:, :, 0]), np.asarray(clean[:, :, 0]), rtol=1e-6)
    with probes.ablate({"l1": None}, mode="mean"):
        m = _two_layer(x, 1.0)
    np.testing.assert_allclose(
        np.asarray(m), np.broadcast_to(np.asarray(clean).mean(0), m.shape), rtol=1e-5, atol=1e-6
    )
    # patching layer 0 from a run on other input changes layer 1 but patching everything reproduces the source
    x2 = jax.random.normal(jax.random.key(1), x.shape)
    src_out, src = probes.run_with_capture(_two_layer, x2, 1.0)
    with probes.patch(src, {"l0": None}):
        patched = _two_layer(x, 1.0)
    np.testing.assert_allclose(np.asarray(patched), np.asarray(src_out), rtol=1e-5, atol=1e-6)
    with probes.patch(src, {"l0": 0}, positions=jnp.array([4])):
        partial = _two_layer(x, 1.0)
    np.testing.assert_allclose(np.asarray(partial[:, :4]), np.asarray(clean[:, :4]), rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(partial[:, 4]), np.asarray(clean[:, 4]))
    with pytest.raises(CogsimError, match="mode"):
        with probes.ablate({"l0": 0}, mode="resample"):
            pass


def test_head_effects_table():
    x = jax.random.normal(jax.random.key(0), (2, 4, 2, 3))
    df = probes.head_effects(lambda x: _two_layer(x, 1.0), [x], lambda o: jnp.abs(o).sum(), {"l1": 2})
    assert list(df.columns) == ["name", "head", "clean", "ablated", "effect"]
    assert len(df) == 2 and (df["ablated"] < df["clean"]).all()


def test_interventions_refuse_unknown_names_and_out_of_range_heads_and_positions():
    # before: JAX dropped the out-of-range updates and unknown names matched nothing, so nothing changed
    x = jax.random.normal(jax.random.key(0), (2, 5, 2, 4))
    with pytest.raises(CogsimError, match=r"heads \[5\] of 'l1' are out of range; 'l1' has 2 heads"):
        with probes.ablate({"l1": 5}):
            _two_layer(x, 1.0)
    with pytest.raises(CogsimError, match=r"names \['l2'\] but no attention call.*'l0', 'l1'"):
        with probes.ablate({"l2": 0}):
            _two_layer(x, 1.0)
    with pytest.raises(CogsimError, match="out of range"):
        probes.head_effects(lambda x: _two_layer(x, 1.0), [x], lambda o: o.sum(), {"l1": 4})
    _, src = probes.run_with_capture(_two_layer, x, 1.0)
    with pytest.raises(CogsimError, match=r"positions \[7\] are out of range for 'l0'.*0\.\.4"):
        with probes.patch(src, {"l0": 0}, positions=jnp.array([7])):
            _two_layer(x, 1.0)
    with probes.ablate({"l1": -1}):  # a negative head counts from the end, as in indexing
        z = _two_layer(x, 1.0)
    np.testing.assert_array_equal(np.asarray(z[:, :, 1]), 0.0)


def test_scores_refuse_a_bad_period_or_mask_shape():
    A = jnp.eye(6)[None, None]
    for period in (0, -2, 6):  # before: 0.0, 0.0 and nan
        with pytest.raises(CogsimError, match=f"period={period} is not allowed.*1..5"):
            probes.prefix_matching_score(A, period)
    with pytest.raises(CogsimError, match=r"mask of shape \(4, 4\) do not fit"):
        probes.head_score(A, jnp.eye(4))


def test_capture_and_ablation_reach_an_already_compiled_function():
    x = jax.random.normal(jax.random.key(2), (2, 5, 2, 4))
    fwd = jax.jit(_two_layer)
    clean = fwd(x, 1.0)  # compiled and cached before any probe is active
    out, cap = probes.run_with_capture(fwd, x, 1.0)
    assert set(cap) == {"l0", "mid", "l1"}
    np.testing.assert_allclose(np.asarray(cap["l1"]["out"]), np.asarray(clean), rtol=1e-6)
    with probes.ablate({"l1": 0}):
        z = fwd(x, 1.0)
    np.testing.assert_array_equal(np.asarray(z[:, :, 0]), 0.0)
    # leaving the context restores the un-hooked function
    np.testing.assert_array_equal(np.asarray(fwd(x, 1.0)), np.asarray(clean))


def _scanned(x):
    def step(h, _):
        h = dot_product_attention(h, h, h, is_causal=True, name="step")
        return h, None

    return jax.lax.scan(step, x, None, length=3)[0]


def test_capture_inside_lax_scan_is_stacked_over_the_steps():
    x = jax.random.normal(jax.random.key(3), (1, 4, 2, 4))
    out, cap = probes.run_with_capture(jax.jit(_scanned), x)
    assert cap["step"]["probs"].shape == (3, 1, 2, 4, 4)
    h = x
    for t in range(3):  # the steps one by one, outside any scan
        h = dot_product_attention(h, h, h, is_causal=True)
        np.testing.assert_allclose(cap["step"]["out"][t], np.asarray(h), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out), np.asarray(h), rtol=1e-5, atol=1e-6)


def test_attention_scan_returns_captures_through_an_enclosing_jit():
    from cogsim.attention import scan

    def step(h, _):
        h = dot_product_attention(h, h, h, is_causal=True, name="step")
        return h, probes.record("norm", jnp.sum(h**2))

    def f(x):
        return scan(step, x, None, length=3)

    x = jax.random.normal(jax.random.key(4), (1, 4, 2, 4))
    (_, norms), cap = jax.jit(lambda x: probes.run_with_capture(f, x))(x)
    assert isinstance(cap["step"]["out"], jax.Array) and cap["step"]["out"].shape == (3, 1, 4, 2, 4)
    np.testing.assert_allclose(np.asarray(cap["norm"]), np.asarray(norms), rtol=1e-6)
    # without a capture it is lax.scan, bit for bit
    np.testing.assert_array_equal(np.asarray(f(x)[0]), np.asarray(jax.lax.scan(step, x, None, length=3)[0]))
