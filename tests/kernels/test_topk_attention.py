"""The top-k attention kernel against its dense jnp reference (interpret mode on the CPU).

Set ``COGSIM_TEST_COMPILED=1`` on a GPU machine to run the same tests on the compiled (Triton) kernel.
There the float32 checks run the selection at ``f32_precision="ieee"`` and the references at XLA's "highest"
precision (both exact, as interpreted), and the TF32 modes are checked against the score error declared in
tests/kernels/tf32_bounds.py.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.errors import CogsimError
from cogsim.kernels import reference_flash_attention as _reference_flash_attention
from cogsim.kernels import reference_topk_attention as _reference_topk_attention
from cogsim.kernels import topk_attention
from tests.kernels.tf32_bounds import exact_on_gpu, tf32_score_error

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a test extra
    given = None

COMPILED = os.environ.get("COGSIM_TEST_COMPILED", "") == "1"
INTERPRET = not COMPILED
if COMPILED and jax.default_backend() != "gpu":
    pytest.skip("COGSIM_TEST_COMPILED=1 needs a GPU", allow_module_level=True)
# Compiled: exact float32 dots on both sides (the kernel's default is TF32, XLA's too); interpreted: the
# kernel's defaults, whose dots interpret mode computes exactly.
EXACT = {"f32_precision": "ieee"} if COMPILED else {}
reference_flash_attention = exact_on_gpu(_reference_flash_attention, on=COMPILED)
reference_topk_attention = exact_on_gpu(_reference_topk_attention, on=COMPILED)

TOL = {"float32": 2e-5, "bfloat16": 2e-2}
GRAD_TOL = 5e-5


def _inputs(seed, b, nq, nk, hq, hk, d, dtype=jnp.float32, integer=False):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal(s, np.float32) for s in ((b, nq, hq, d), (b, nk, hk, d), (b, nk, hk, d)))
    if integer:  # small integers: scores are exact in float32 and tie often
        q, k = np.round(q), np.round(k)
    return jnp.asarray(q, dtype), jnp.asarray(k, dtype), jnp.asarray(v, dtype)


def _random(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape, np.float32))


def _mask(seed, shape, p):
    return np.random.default_rng(seed).random(shape) < p


def _close(got, want, tol, what=""):
    got, want = np.asarray(got, np.float32), np.asarray(want, np.float32)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(got - want).max())
    assert err <= tol * scale, f"{what}: max abs error {err:.3g} > {tol:.3g} * {scale:.3g}"


def _attention(q, k, v, bias, mask, *, top_k, kernel):
    fn = (
        functools.partial(topk_attention, interpret=INTERPRET, **EXACT)
        if kernel
        else reference_topk_attention
    )
    return fn(q, k, v, top_k=top_k, bias=bias, mask=mask)


@functools.partial(jax.jit, static_argnames=("top_k", "kernel", "grads"))
def _evaluate(q, k, v, bias, mask, *, top_k, kernel, grads):
    if not grads:
        return _attention(q, k, v, bias, mask, top_k=top_k, kernel=kernel), ()

    def loss(q, k, v, bias):
        out, idx = _attention(q, k, v, bias, mask, top_k=top_k, kernel=kernel)
        w = jnp.cos(jnp.arange(out.size, dtype=jnp.float32).reshape(out.shape))
        return jnp.sum(out.astype(jnp.float32) * w), (out, idx)

    argnums = (0, 1, 2) if bias is None else (0, 1, 2, 3)
    (_, fwd), g = jax.value_and_grad(loss, argnums=argnums, has_aux=True)(q, k, v, bias)
    return fwd, g


def _check(q, k, v, bias=None, mask=None, *, top_k, grads=False):
    (out, idx), got_g = _evaluate(q, k, v, bias, mask, top_k=top_k, kernel=True, grads=grads)
    (rout, ridx), want_g = _evaluate(q, k, v, bias, mask, top_k=top_k, kernel=False, grads=grads)
    assert idx.shape == (q.shape[0], q.shape[2], q.shape[1], top_k) and idx.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(idx), np.asarray(ridx))
    assert out.shape == q.shape and out.dtype == q.dtype
    _close(out, rout, TOL[q.dtype.name], "out")
    assert len(got_g) == len(want_g)
    for name, g, w in zip(("dq", "dk", "dv", "dbias")[: len(got_g)], got_g, want_g, strict=True):
        assert g.shape == w.shape, name
        _close(g, w, GRAD_TOL, name)
    return (out, idx), got_g


@pytest.mark.parametrize("nq,nk,top_k", [(1, 1, 1), (7, 7, 3), (257, 100, 1), (33, 129, 16)])
def test_lengths(nq, nk, top_k):
    q, k, v = _inputs(nq * 1000 + nk, 2, nq, nk, 2, 2, 16)
    _check(q, k, v, top_k=top_k)


def test_ties_go_to_the_lower_index():
    q, k, v = _inputs(1, 1, 40, 70, 2, 2, 16, integer=True)
    _check(q, k, v, top_k=6)
    scores = np.einsum("bqhd,bkhd->bhqk", np.asarray(q), np.asarray(k)).reshape(-1, 70)
    assert any(len(set(row)) < len(row) for row in scores.tolist())  # the data really has ties
    # All scores equal: keys 0..top_k-1, in order.
    ones = jnp.ones((1, 3, 1, 16))
    _, idx = jax.jit(functools.partial(topk_attention, top_k=4, interpret=INTERPRET, **EXACT))(
        ones, jnp.ones((1, 20, 1, 16)), jnp.ones((1, 20, 1, 16))
    )
    np.testing.assert_array_equal(np.asarray(idx)[0, 0], np.tile(np.arange(4), (3, 1)))


def test_bias_mask_gqa_short_rows_and_gradients():
    b, hq, hk, nq, nk = 2, 4, 2, 30, 45
    q, k, v = _inputs(2, b, nq, nk, hq, hk, 24)
    bias = _random(3, (1, hq, nq, nk))
    mask = _mask(4, (b, 1, nq, nk), 0.5)
    mask[:, :, 0] = False  # no visible key
    mask[:, :, 1] = False
    mask[:, :, 1, 7] = True  # exactly one visible key
    (out, idx), grads = _check(q, k, v, bias, mask, top_k=5, grads=True)
    np.testing.assert_array_equal(np.asarray(out[:, 0]), 0.0)
    np.testing.assert_array_equal(np.asarray(idx[:, :, 0]), -1)
    np.testing.assert_array_equal(np.asarray(idx[:, :, 1]), np.broadcast_to([7, -1, -1, -1, -1], (b, hq, 5)))
    _close(out[:, 1], jnp.repeat(v[:, 7], 2, axis=1), 1e-6, "single key: its value")
    # Gradients reach the selected keys and biases only.
    selected = np.zeros((b, hq, nq, nk), bool)
    ii = np.asarray(idx)
    for index in np.ndindex(b, hq, nq):
        chosen = ii[index][ii[index] >= 0]
        selected[index][chosen] = True
    dbias = np.asarray(grads[3])[0]  # bias broadcasts over the batch: summed
    assert np.all(dbias[~selected.any(0)] == 0) and np.abs(dbias[selected.any(0)]).max() > 0


def test_top_k_equal_to_k_len_is_dense_attention():
    q, k, v = _inputs(5, 1, 20, 24, 2, 2, 16)
    (out, _), _ = _evaluate(q, k, v, None, None, top_k=24, kernel=True, grads=False)
    _close(out, reference_flash_attention(q, k, v), TOL["float32"], "dense")


def test_bfloat16():
    q, k, v = _inputs(6, 1, 50, 80, 2, 2, 32, jnp.bfloat16)
    _check(q, k, v, top_k=4)


def test_vmap_and_jit():
    q, k, v = _inputs(10, 3, 12, 30, 1, 1, 16)
    q, k, v = q[:, None], k[:, None], v[:, None]
    got = jax.jit(jax.vmap(lambda q, k, v: topk_attention(q, k, v, top_k=3, interpret=INTERPRET, **EXACT)))(
        q, k, v
    )
    want = jax.vmap(lambda q, k, v: reference_topk_attention(q, k, v, top_k=3))(q, k, v)
    np.testing.assert_array_equal(np.asarray(got[1]), np.asarray(want[1]))
    _close(got[0], want[0], TOL["float32"])


if given is not None:

    @settings(max_examples=3, deadline=None, derandomize=True)
    @given(
        nq=st.integers(1, 60),
        nk=st.integers(1, 90),
        top_k=st.integers(1, 12),
        groups=st.integers(1, 2),
        with_mask=st.booleans(),
        integer=st.booleans(),
    )
    def test_hypothesis_shapes(nq, nk, top_k, groups, with_mask, integer):
        top_k = min(top_k, nk)
        q, k, v = _inputs(nq * 7 + nk, 1, nq, nk, groups, 1, 16, integer=integer)
        mask = _mask(nk, (1, 1, nq, nk), 0.6) if with_mask else None
        _check(q, k, v, None, mask, top_k=top_k)


@pytest.mark.skipif(not COMPILED, reason="interpret mode computes every f32_precision exactly")
@pytest.mark.parametrize("precision", ["tf32", "tf32x3"])
def test_tf32_selection_ranks_keys_within_the_declared_score_error(precision):
    """A TF32 selection may swap keys whose exact scores are closer than their score bounds together
    (tests/kernels/tf32_bounds.py), nothing else; the attention over the chosen keys is exact."""
    b, nq, nk, h, d, top_k = 2, 60, 150, 2, 32, 8
    q, k, v = _inputs(21, b, nq, nk, h, h, d)
    mask = _mask(22, (b, 1, nq, nk), 0.8)
    mask[:, :, 0, : nk - 3] = False  # a row with fewer visible keys than top_k
    fn = functools.partial(topk_attention, top_k=top_k, mask=mask, f32_precision=precision)
    out, idx = (np.asarray(x, np.float64) for x in jax.jit(fn)(q, k, v))
    idx = idx.astype(int)
    scale = 1.0 / np.sqrt(d)
    s = np.einsum("bqhd,bkhd->bhqk", np.asarray(q, np.float64), np.asarray(k, np.float64)) * scale
    err = tf32_score_error(q, k, scale, precision)
    visible = np.broadcast_to(mask, s.shape)
    vv = np.asarray(v, np.float64)
    want = np.zeros_like(out)
    for bi, hi, qi in np.ndindex(b, h, nq):
        row = idx[bi, hi, qi]
        chosen = row[row >= 0]
        n_visible = int(visible[bi, hi, qi].sum())
        assert len(chosen) == min(top_k, n_visible) and np.all(row[len(chosen) :] == -1), row
        assert visible[bi, hi, qi, chosen].all() and len(set(chosen)) == len(chosen), row
        if not len(chosen):
            continue  # no visible key: zeros
        lo, hi_ = (
            s[bi, hi, qi, chosen] - err[bi, hi, qi, chosen],
            s[bi, hi, qi, chosen] + err[bi, hi, qi, chosen],
        )
        assert np.all(hi_[:-1] >= lo[1:]), f"order beyond the score error: {row}"  # best first
        rest = visible[bi, hi, qi].copy()
        rest[chosen] = False
        if rest.any():
            best_left = np.max(s[bi, hi, qi, rest] - err[bi, hi, qi, rest])
            assert hi_.min() >= best_left, f"a key left out beats a chosen one beyond the score error: {row}"
        p = np.exp(s[bi, hi, qi, chosen] - s[bi, hi, qi, chosen].max())
        want[bi, qi, hi] = (p / p.sum()) @ vv[bi, chosen, hi]
    _close(out, want, TOL["float32"], "out over the chosen keys")


@pytest.mark.parametrize("top_k,nk", [(0, 8), (9, 8), (2.0, 8), (True, 8), (300, 400)])
def test_top_k_out_of_range_raises(top_k, nk):
    q = jnp.ones((1, 4, 1, 16))
    k = jnp.ones((1, nk, 1, 16))
    got = f"topk_attention: got top_k={top_k!r}; allowed: an integer from 1 to"
    limit = f" {min(nk, 256)} (k_len={nk}, kernel limit 256)"
    with pytest.raises(CogsimError, match=re.escape(got + limit) + "$"):
        topk_attention(q, k, k, top_k=top_k, interpret=True)
    if top_k != 300:
        with pytest.raises(CogsimError, match=re.escape(f"{got} {nk}") + "$"):
            reference_topk_attention(q, k, k, top_k=top_k)


def test_block_sizes_must_be_powers_of_two():
    q = jnp.ones((1, 4, 1, 16))
    with pytest.raises(CogsimError, match="block_k=24"):
        topk_attention(q, q, q, top_k=2, block_k=24, interpret=True)


def test_gpu_path_lowers_to_triton():
    shapes = [
        jax.ShapeDtypeStruct((2, 100, 4, 64), jnp.bfloat16),
        jax.ShapeDtypeStruct((2, 300, 2, 64), jnp.bfloat16),
        jax.ShapeDtypeStruct((2, 300, 2, 64), jnp.bfloat16),
        jax.ShapeDtypeStruct((1, 4, 100, 300), jnp.bfloat16),
        jax.ShapeDtypeStruct((2, 1, 100, 300), jnp.bool_),
    ]

    def loss(q, k, v, bias, mask):
        return jnp.sum(topk_attention(q, k, v, top_k=5, bias=bias, mask=mask)[0].astype(jnp.float32))

    text = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3))).trace(*shapes).lower(lowering_platforms=("cuda",))
    assert len(re.findall(r"custom_call @__gpu\$xla\.gpu\.triton", text.as_text())) == 1


@pytest.mark.slow
def test_docstring_examples():
    module = importlib.import_module("cogsim.kernels.topk_attention")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
