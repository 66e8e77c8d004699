"""The Pallas flash-attention kernel against its jnp reference (interpret mode on the CPU).

Each check compiles one function returning the forward outputs (out, logsumexp, entropy) and, where asked,
the gradients of a loss touching all three, for the kernel and for the reference, and compares them.
Compilation dominates the run time, so configurations are combined rather than crossed.

Set ``COGSIM_TEST_COMPILED=1`` on a GPU machine to run the same tests on the compiled (Triton) kernels.
There the float32 checks run the kernels at ``f32_precision="ieee"`` and the reference at XLA's "highest"
precision (both exact, as interpreted on the CPU), and the TF32 modes are checked against the bounds
declared in tests/kernels/tf32_bounds.py.
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
from cogsim.kernels import flash_attention
from cogsim.kernels import reference_flash_attention as _reference_flash_attention
from tests.kernels.tf32_bounds import TF32_GRAD_TOL, TF32_TOL, exact_on_gpu

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a test extra
    given = None

COMPILED = os.environ.get("COGSIM_TEST_COMPILED", "") == "1"
INTERPRET = not COMPILED
if COMPILED and jax.default_backend() != "gpu":
    pytest.skip("COGSIM_TEST_COMPILED=1 needs a GPU", allow_module_level=True)
# Compiled: exact float32 dots on both sides (the kernels' default is TF32, XLA's too); interpreted: the
# kernels' defaults, whose dots interpret mode computes exactly.
EXACT = {"f32_precision": "ieee"} if COMPILED else {}
reference_flash_attention = exact_on_gpu(_reference_flash_attention, on=COMPILED)

# Error bounds relative to the largest reference magnitude. Interpret-mode float32 errors are ~1e-6;
# bfloat16 and float16 keep 8 and 11 mantissa bits, so the bounds are a few units in the last place.
TOL = {"float32": 2e-5, "bfloat16": 2e-2, "float16": 4e-3}
GRAD_TOL = {"float32": 5e-5, "bfloat16": 5e-2, "float16": 1e-2}


def _inputs(seed, b, nq, nk, hq, hk, d, dtype=jnp.float32):
    rng = np.random.default_rng(seed)
    return tuple(
        jnp.asarray(rng.standard_normal(shape, np.float32), dtype)
        for shape in ((b, nq, hq, d), (b, nk, hk, d), (b, nk, hk, d))
    )


def _bias(seed, shape, dtype=jnp.float32):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape, np.float32), dtype)


def _mask(seed, shape, p=0.7):
    return np.random.default_rng(seed).random(shape) < p


def _close(got, want, tol, what=""):
    got = np.asarray(jnp.asarray(got, jnp.float32))
    want = np.asarray(jnp.asarray(want, jnp.float32))
    assert got.shape == want.shape, (what, got.shape, want.shape)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isfinite(got), finite, err_msg=f"{what}: non-finite pattern differs")
    if finite.any():
        scale = max(1.0, float(np.abs(want[finite]).max()))
        err = float(np.abs(got[finite] - want[finite]).max())
        assert err <= tol * scale, f"{what}: max abs error {err:.3g} > {tol:.3g} * {scale:.3g}"


def _attention(q, k, v, bias, mask, *, is_causal, kernel, precision=None, **blocks):
    if kernel:
        return flash_attention(
            q,
            k,
            v,
            bias=bias,
            mask=mask,
            is_causal=is_causal,
            return_stats=True,
            interpret=INTERPRET,
            **({"f32_precision": precision} if precision else EXACT),
            **blocks,
        )
    return reference_flash_attention(q, k, v, bias=bias, mask=mask, is_causal=is_causal, return_stats=True)


def _loss(q, k, v, bias, mask, *, is_causal, kernel, precision=None):
    """Touches every output, the logsumexp and the entropy; returns them as auxiliary data."""
    out, lse, ent = _attention(q, k, v, bias, mask, is_causal=is_causal, kernel=kernel, precision=precision)
    w = jnp.cos(jnp.arange(out.size, dtype=jnp.float32).reshape(out.shape))
    total = jnp.sum(out.astype(jnp.float32) * w)
    total = total + 0.3 * jnp.sum(jnp.where(jnp.isfinite(lse), lse, 0.0)) + 0.7 * jnp.sum(ent)
    return total, (out, lse, ent)


@functools.partial(jax.jit, static_argnames=("is_causal", "kernel", "grads", "blocks", "precision"))
def _evaluate(q, k, v, bias, mask, *, is_causal, kernel, grads, blocks=(), precision=None):
    if not grads:
        fwd = _attention(
            q, k, v, bias, mask, is_causal=is_causal, kernel=kernel, precision=precision, **dict(blocks)
        )
        return fwd, ()
    argnums = (0, 1, 2) if bias is None else (0, 1, 2, 3)
    f = functools.partial(_loss, is_causal=is_causal, kernel=kernel, precision=precision)
    (_, fwd), g = jax.value_and_grad(f, argnums=argnums, has_aux=True)(q, k, v, bias, mask)
    return fwd, g


def _check(
    q, k, v, bias=None, mask=None, *, is_causal=False, grads=True, blocks=(), precision=None, tols=None
):
    """Compares kernel and reference: forward (out, lse, entropy) and, with ``grads``, all gradients.

    ``precision`` sets the kernel's ``f32_precision`` (default: exact, see ``EXACT``) and ``tols`` the
    (forward, gradient) bounds (default: the dtype's).
    """
    dtype = q.dtype.name
    tol, grad_tol = tols or (TOL[dtype], GRAD_TOL[dtype])
    got, got_g = _evaluate(
        q, k, v, bias, mask, is_causal=is_causal, kernel=True, grads=grads, blocks=blocks, precision=precision
    )
    want, want_g = _evaluate(q, k, v, bias, mask, is_causal=is_causal, kernel=False, grads=grads)
    out, lse, ent = got
    assert out.dtype == q.dtype and out.shape == q.shape
    assert lse.shape == ent.shape == (q.shape[0], q.shape[2], q.shape[1])
    assert lse.dtype == ent.dtype == jnp.float32
    for name, g, w in zip(("out", "lse", "entropy"), got, want, strict=True):
        _close(g, w, tol, name)
    assert len(got_g) == len(want_g)
    for name, g, w in zip(("dq", "dk", "dv", "dbias")[: len(got_g)], got_g, want_g, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, name
        _close(g, w, grad_tol, name)
    return got, got_g


# ------------------------------------------------------------------------------ lengths and alignment


@pytest.mark.parametrize(
    "nq,nk,causal,grads",
    [
        (1, 1, False, True),
        (7, 7, False, True),
        (100, 129, True, True),
        (129, 100, True, True),  # nq > nk: the first 29 queries see no key
        (257, 257, False, False),
        (1, 257, True, False),
    ],
)
def test_lengths(nq, nk, causal, grads):
    q, k, v = _inputs(nq * 1000 + nk, 2, nq, nk, 2, 2, 16)
    (out, lse, ent), _ = _check(q, k, v, is_causal=causal, grads=grads)
    if causal and nq > nk:
        rows = nq - nk
        np.testing.assert_array_equal(np.asarray(out[:, :rows]), 0.0)
        assert np.isneginf(np.asarray(lse[:, :, :rows])).all()
        np.testing.assert_array_equal(np.asarray(ent[:, :, :rows]), 0.0)


def test_causal_is_bottom_right_aligned():
    """With nq < nk the last query sees every key, the first sees nk - nq + 1 of them."""
    nq, nk = 5, 12
    q, k, v = _inputs(1, 1, nq, nk, 1, 1, 16)
    (out, _, _), _ = _check(q, k, v, is_causal=True, grads=False)
    full = reference_flash_attention(q[:, -1:], k, v)
    first = reference_flash_attention(q[:, :1], k[:, : nk - nq + 1], v[:, : nk - nq + 1])
    _close(out[:, -1:], full, TOL["float32"], "last row")
    _close(out[:, :1], first, TOL["float32"], "first row")


# -------------------------------------------------------------------------------- bias, mask, heads


@pytest.mark.parametrize(
    "bias_shape,mask_shape,causal",
    [((1, 1), (2, 1), False), ((2, 3), None, True), ((1, 3), (2, 3), True), (None, (1, 1), False)],
)
def test_bias_and_mask_broadcast(bias_shape, mask_shape, causal):
    b, h, nq, nk = 2, 3, 33, 47
    q, k, v = _inputs(2, b, nq, nk, h, h, 16)
    bias = None if bias_shape is None else _bias(3, (*bias_shape, nq, nk))
    mask = None if mask_shape is None else _mask(4, (*mask_shape, nq, nk))
    _check(q, k, v, bias, mask, is_causal=causal)


def test_fully_masked_rows_with_gqa_bias_and_padding_of_head_dim():
    b, hq, hk, nq, nk, d = 2, 4, 2, 40, 23, 80  # d=80 is zero-padded to 128 inside
    q, k, v = _inputs(5, b, nq, nk, hq, hk, d)
    mask = _mask(6, (b, hq, nq, nk))
    mask[:, :, 3] = False
    mask[1, 2, 30] = False
    bias = _bias(7, (1, hq, nq, nk))
    (out, lse, ent), grads = _check(q, k, v, bias, mask, is_causal=True)  # also: first 17 rows see nothing
    np.testing.assert_array_equal(np.asarray(out[:, 3]), 0.0)
    np.testing.assert_array_equal(np.asarray(out[1, 30, 2]), 0.0)
    assert np.isneginf(np.asarray(lse[:, :, 3])).all() and np.isneginf(float(lse[1, 2, 30]))
    np.testing.assert_array_equal(np.asarray(ent[:, :, 3]), 0.0)
    assert all(np.isfinite(np.asarray(g)).all() for g in grads)


def test_grouped_query_attention_one_kv_head():
    q, k, v = _inputs(8, 2, 33, 40, 4, 1, 24)
    _check(q, k, v, is_causal=True)


@pytest.mark.parametrize("dtype,grads", [(jnp.bfloat16, True), (jnp.float16, False)])
def test_low_precision(dtype, grads):
    q, k, v = _inputs(11, 2, 70, 90, 4, 2, 32, dtype)
    bias = _bias(12, (2, 1, 70, 90), dtype)
    _check(q, k, v, bias, _mask(13, (1, 4, 70, 90)), is_causal=True, grads=grads)


def test_uniform_attention_statistics():
    """Identical keys: uniform attention, entropy log(n), logsumexp log(n) + score."""
    n = 50
    q, k = jnp.ones((1, 3, 1, 16)), jnp.ones((1, n, 1, 16))
    v = _inputs(0, 1, n, n, 1, 1, 16)[2]
    fn = jax.jit(
        functools.partial(flash_attention, scale=0.25, return_stats=True, interpret=INTERPRET, **EXACT)
    )
    out, lse, ent = fn(q, k, v)
    np.testing.assert_allclose(np.asarray(ent), np.log(n), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(lse), np.log(n) + 0.25 * 16, rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(out[0, :, 0]), np.broadcast_to(v[0, :, 0].mean(0), (3, 16)), atol=1e-5
    )


def test_explicit_blocks_agree_with_reference():
    q, k, v = _inputs(31, 1, 70, 90, 2, 2, 16)
    _check(q, k, v, is_causal=True, grads=False, blocks=(("block_q", 16), ("block_k", 32)))


if given is not None:

    @settings(max_examples=4, deadline=None, derandomize=True)
    @given(
        b=st.integers(1, 2),
        nq=st.integers(1, 70),
        nk=st.integers(1, 70),
        hk=st.integers(1, 2),
        groups=st.integers(1, 2),
        d=st.sampled_from([16, 24, 32]),
        causal=st.booleans(),
        with_bias=st.booleans(),
        with_mask=st.booleans(),
    )
    def test_hypothesis_shapes(b, nq, nk, hk, groups, d, causal, with_bias, with_mask):
        hq = hk * groups
        q, k, v = _inputs(nq * 101 + nk, b, nq, nk, hq, hk, d)
        bias = _bias(1, (1, hq, nq, nk)) if with_bias else None
        mask = _mask(2, (b, 1, nq, nk)) if with_mask else None
        _check(q, k, v, bias, mask, is_causal=causal, grads=False)


# ------------------------------------------------------------------------------------------ transforms


def test_vmap_and_jit():
    q, k, v = _inputs(30, 3, 17, 21, 2, 1, 16)
    q, k, v = q[:, None], k[:, None], v[:, None]  # the leading axis is vmapped

    def run(kernel):
        def one(q, k, v):
            return jax.value_and_grad(
                functools.partial(_loss, is_causal=True, kernel=kernel), argnums=(0, 1, 2), has_aux=True
            )(q, k, v, None, None)

        return jax.jit(jax.vmap(one))(q, k, v)

    (_, got), got_g = run(True)
    (_, want), want_g = run(False)
    for g, w in zip((*got, *got_g), (*want, *want_g), strict=True):
        _close(g, w, GRAD_TOL["float32"])


# ---------------------------------------------------------------------------------- TF32 modes (compiled)

# The bounds of each mode, declared in tests/kernels/tf32_bounds.py before any GPU run (not yet run on one).
F32_MODES = {"tf32": (TF32_TOL, TF32_GRAD_TOL), "tf32x3": (TOL["float32"], GRAD_TOL["float32"])}


@pytest.mark.skipif(not COMPILED, reason="interpret mode computes every f32_precision exactly")
@pytest.mark.parametrize("precision", list(F32_MODES))
@pytest.mark.parametrize("case", ["ragged-causal", "gqa-bias-mask-padded-head"])
def test_tf32_modes_within_their_declared_bounds(precision, case):
    """The compiled kernels' TF32 dots (the float32 default) against the exact reference."""
    if case == "ragged-causal":
        q, k, v = _inputs(100 * 1000 + 129, 2, 100, 129, 2, 2, 16)
        bias = mask = None
    else:
        q, k, v = _inputs(5, 2, 40, 23, 4, 2, 80)
        mask = _mask(6, (2, 4, 40, 23))
        bias = _bias(7, (1, 4, 40, 23))
    _check(q, k, v, bias, mask, is_causal=True, precision=precision, tols=F32_MODES[precision])


def test_the_compiled_runs_reference_has_exact_dots_forward_and_backward():
    """What the compiled runs compare against: every dot of the reference and of its gradient at HIGHEST
    (XLA's DEFAULT float32 dot is TF32 on the GPU)."""
    x = jax.ShapeDtypeStruct((1, 20, 2, 16), jnp.float32)
    ref = exact_on_gpu(_reference_flash_attention, on=True)

    def loss(q, k, v):
        out, lse, ent = ref(q, k, v, is_causal=True, return_stats=True)
        return jnp.sum(jnp.sin(out)) + jnp.sum(ent) + jnp.sum(jnp.where(jnp.isfinite(lse), lse, 0.0))

    text = jax.jit(jax.grad(loss, argnums=(0, 1, 2))).trace(x, x, x).lower(lowering_platforms=("cuda",))
    dots = [ln for ln in text.as_text().splitlines() if "dot_general" in ln]
    assert len(dots) >= 5 and all("precision = [HIGHEST, HIGHEST]" in ln for ln in dots), dots


# ---------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("name", ["block_q", "block_k", "block_q_bwd", "block_k_bwd"])
@pytest.mark.parametrize("value", [48, 8, 512, 100, 0, True])
def test_block_sizes_must_be_powers_of_two(name, value):
    x = jnp.ones((1, 8, 1, 16))
    with pytest.raises(CogsimError, match=rf"{name}={value!r}.*powers of two"):
        flash_attention(x, x, x, interpret=True, **{name: value})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(q=jnp.ones((1, 4, 2, 16), jnp.int32)), "q has dtype int32"),
        (dict(k=jnp.ones((1, 4, 2, 16), jnp.bfloat16)), "share a dtype"),
        (dict(q=jnp.ones((1, 4, 3, 16))), r"q heads \(3\) must be a multiple of k/v heads \(2\)"),
        (
            dict(q=jnp.ones((1, 4, 2, 512)), k=jnp.ones((1, 4, 2, 512)), v=jnp.ones((1, 4, 2, 512))),
            "head_dim=512",
        ),
        (dict(q=jnp.ones((4, 2, 16))), "q must be"),
        (dict(bias=jnp.ones((1, 2, 3, 4))), "bias shape"),
        (dict(bias=jnp.ones((1, 2, 4))), "bias must be"),
        (dict(mask=jnp.ones((2, 1, 4, 4), bool)), r"mask shape .* \(axis 0\)"),
        (dict(mask=jnp.ones((1, 1, 4, 4), jnp.float32)), "mask must be a boolean"),
        (dict(num_warps=0), "num_warps=0"),
    ],
)
def test_bad_input_raises_clear_error(kwargs, match):
    args = dict(q=jnp.ones((1, 4, 2, 16)), k=jnp.ones((1, 4, 2, 16)), v=jnp.ones((1, 4, 2, 16)))
    args.update(kwargs)
    q, k, v = args.pop("q"), args.pop("k"), args.pop("v")
    with pytest.raises(CogsimError, match=match):
        flash_attention(q, k, v, interpret=True, **args)


# ------------------------------------------------------------------------------- memory and GPU lowering


def test_kernel_does_not_materialise_the_score_matrix():
    n, d = 2048, 32
    q = jax.ShapeDtypeStruct((1, n, 1, d), jnp.float32)
    kern = jax.jit(lambda q: flash_attention(q, q, q, is_causal=True, interpret=INTERPRET))
    ref = jax.jit(lambda q: reference_flash_attention(q, q, q, is_causal=True))
    temp_kernel = kern.trace(q).lower().compile().memory_analysis().temp_size_in_bytes
    temp_ref = ref.trace(q).lower().compile().memory_analysis().temp_size_in_bytes
    assert temp_ref >= n * n * 4  # the reference holds at least one n x n float32 matrix
    assert temp_kernel < n * n * 4 // 16, (temp_kernel, temp_ref)


@pytest.mark.parametrize(
    "dtype,d,causal,with_bias,with_mask",
    [
        (jnp.bfloat16, 64, True, True, True),
        (jnp.bfloat16, 128, True, False, False),
        (jnp.float32, 256, False, False, True),
    ],
)
def test_gpu_path_lowers_to_triton(dtype, d, causal, with_bias, with_mask):
    """Lowers forward and backward for the GPU (without one): catches Triton-only constraints."""
    b, nq, nk, hq, hk = 2, 100, 257, 4, 2
    shapes = [
        jax.ShapeDtypeStruct((b, nq, hq, d), dtype),
        jax.ShapeDtypeStruct((b, nk, hk, d), dtype),
        jax.ShapeDtypeStruct((b, nk, hk, d), dtype),
        jax.ShapeDtypeStruct((1, hq, nq, nk), dtype) if with_bias else None,
        jax.ShapeDtypeStruct((b, 1, nq, nk), jnp.bool_) if with_mask else None,
    ]

    def loss(q, k, v, bias, mask):
        out, _, ent = flash_attention(q, k, v, bias=bias, mask=mask, is_causal=causal, return_stats=True)
        return jnp.sum(out.astype(jnp.float32)) + jnp.sum(ent)

    grad = jax.grad(loss, argnums=(0, 1, 2, 3) if with_bias else (0, 1, 2))
    text = jax.jit(grad).trace(*shapes).lower(lowering_platforms=("cuda",)).as_text()
    assert len(re.findall(r"custom_call @__gpu\$xla\.gpu\.triton", text)) == 3  # forward, dq, dk/dv(/dbias)


@pytest.mark.slow
def test_docstring_examples():
    for name in ("cogsim.kernels.flash_attention", "cogsim.kernels.reference"):
        module = importlib.import_module(name)  # (the package attribute flash_attention is the function)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, name


def test_no_bias_gradient_work_when_the_bias_needs_none():
    """custom_vjp with symbolic zeros: a constant bias gets no [B, H, Nq, Nk] dbias output."""
    rng = np.random.default_rng(3)
    q = jnp.asarray(rng.standard_normal((1, 20, 2, 16), np.float32))
    k = jnp.asarray(rng.standard_normal((1, 24, 2, 16), np.float32))
    bias = jnp.asarray(rng.standard_normal((1, 2, 20, 24), np.float32))

    def loss(fn, q, bias, **kw):
        out, _, ent = fn(q, k, 0.5 * k, bias=bias, is_causal=True, return_stats=True, **kw)
        return jnp.sum(jnp.sin(out)) + jnp.sum(ent)

    def dkdv_outputs(argnums):
        grad = jax.grad(functools.partial(loss, flash_attention), argnums=argnums)
        text = jax.jit(grad).trace(q, bias).lower(lowering_platforms=("cuda",)).as_text()
        [line] = [ln for ln in text.splitlines() if '"cogsim_flash_bwd_dkdv"' in ln]
        return line.rsplit("->", 1)[1].count("tensor<")

    assert dkdv_outputs((0,)) == 2  # dk, dv
    assert dkdv_outputs((0, 1)) == 3  # dk, dv, dbias
    got = jax.jit(jax.grad(functools.partial(loss, flash_attention, interpret=INTERPRET, **EXACT)))(q, bias)
    want = jax.grad(functools.partial(loss, reference_flash_attention))(q, bias)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=GRAD_TOL["float32"])


def test_fused_backward_matches_the_reference():
    """FA2-structured backward: one kernel, dq by atomic adds; bias, mask, causal, statistics and GQA."""
    rng = np.random.default_rng(4)
    q = jnp.asarray(rng.standard_normal((2, 37, 4, 16), np.float32))
    k = jnp.asarray(rng.standard_normal((2, 45, 2, 16), np.float32))
    v = jnp.asarray(rng.standard_normal((2, 45, 2, 16), np.float32))
    bias = jnp.asarray(rng.standard_normal((1, 4, 37, 45), np.float32))
    mask = jnp.asarray(rng.random((2, 1, 37, 45)) < 0.8)

    def loss(fn, q, k, v, bias, **kw):
        out, lse, ent = fn(q, k, v, bias=bias, mask=mask, is_causal=True, return_stats=True, **kw)
        return jnp.sum(jnp.sin(out)) + jnp.sum(ent) + jnp.sum(jnp.where(jnp.isfinite(lse), lse, 0.0))

    fused = functools.partial(loss, flash_attention, fused_backward=True, interpret=INTERPRET, **EXACT)
    got = jax.jit(jax.grad(fused, argnums=(0, 1, 2, 3)))(q, k, v, bias)
    want = jax.grad(functools.partial(loss, reference_flash_attention), argnums=(0, 1, 2, 3))(q, k, v, bias)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=GRAD_TOL["float32"])
    grad = jax.grad(functools.partial(loss, flash_attention, fused_backward=True), argnums=(0, 1, 2, 3))
    text = jax.jit(grad).trace(q, k, v, bias).lower(lowering_platforms=("cuda",)).as_text()
    assert len(re.findall(r"custom_call @__gpu\$xla\.gpu\.triton", text)) == 2  # forward, fused backward
