"""The Pallas flash-attention kernel against its jnp reference (interpret mode on the CPU).

Set ``COGSIM_TEST_COMPILED=1`` on a GPU machine to run the same tests on the compiled (Triton) kernels.
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
from hypothesis import given, settings
from hypothesis import strategies as st

from cogsim.errors import CogsimError
from cogsim.kernels import flash_attention, reference_flash_attention

COMPILED = os.environ.get("COGSIM_TEST_COMPILED", "") == "1"
INTERPRET = not COMPILED
if COMPILED and jax.default_backend() != "gpu":
    pytest.skip("COGSIM_TEST_COMPILED=1 needs a GPU", allow_module_level=True)

# Absolute tolerances, relative to the largest reference magnitude (errors measured in interpret mode are
# ~1e-6 for float32; bfloat16/float16 keep 8/11 mantissa bits, so a few units in the last place).
TOL = {"float32": 2e-5, "bfloat16": 2e-2, "float16": 4e-3}
GRAD_TOL = {"float32": 5e-5, "bfloat16": 5e-2, "float16": 1e-2}


def _inputs(seed, b, nq, nk, hq, hk, d, dtype=jnp.float32):
    kq, kk, kv = jax.random.split(jax.random.key(seed), 3)
    q = jax.random.normal(kq, (b, nq, hq, d), jnp.float32).astype(dtype)
    k = jax.random.normal(kk, (b, nk, hk, d), jnp.float32).astype(dtype)
    v = jax.random.normal(kv, (b, nk, hk, d), jnp.float32).astype(dtype)
    return q, k, v


def _bias(seed, shape, dtype=jnp.float32):
    return jax.random.normal(jax.random.key(seed), shape, jnp.float32).astype(dtype)


def _mask(seed, shape, p=0.7):
    return jax.random.uniform(jax.random.key(seed), shape) < p


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


@functools.partial(jax.jit, static_argnames=("is_causal", "return_stats", "kernel", "block_q", "block_k"))
def _run(q, k, v, bias, mask, *, is_causal, return_stats, kernel, block_q=None, block_k=None):
    if kernel:
        return flash_attention(
            q, k, v, bias=bias, mask=mask, is_causal=is_causal, return_stats=return_stats,
            block_q=block_q, block_k=block_k, interpret=INTERPRET,
        )
    return reference_flash_attention(
        q, k, v, bias=bias, mask=mask, is_causal=is_causal, return_stats=return_stats
    )


def _loss(q, k, v, bias, mask, *, is_causal, kernel, stats):
    """A loss touching every output (and, with ``stats``, the logsumexp and entropy)."""
    res = _run(q, k, v, bias, mask, is_causal=is_causal, return_stats=stats, kernel=kernel)
    out = res[0] if stats else res
    w = jnp.cos(jnp.arange(out.size, dtype=jnp.float32).reshape(out.shape))
    total = jnp.sum(out.astype(jnp.float32) * w)
    if stats:
        lse, ent = res[1], res[2]
        total = total + 0.3 * jnp.sum(jnp.where(jnp.isfinite(lse), lse, 0.0)) + 0.7 * jnp.sum(ent)
    return total


@functools.partial(jax.jit, static_argnames=("is_causal", "kernel", "stats", "with_bias"))
def _grads(q, k, v, bias, mask, *, is_causal, kernel, stats, with_bias):
    argnums = (0, 1, 2, 3) if with_bias else (0, 1, 2)
    f = functools.partial(_loss, is_causal=is_causal, kernel=kernel, stats=stats)
    return jax.grad(f, argnums=argnums)(q, k, v, bias, mask)


def _check_forward(q, k, v, bias=None, mask=None, *, is_causal=False, tol=None):
    tol = tol or TOL[q.dtype.name]
    got = _run(q, k, v, bias, mask, is_causal=is_causal, return_stats=True, kernel=True)
    want = _run(q, k, v, bias, mask, is_causal=is_causal, return_stats=True, kernel=False)
    assert got[0].dtype == q.dtype and got[0].shape == q.shape
    assert got[1].shape == got[2].shape == (q.shape[0], q.shape[2], q.shape[1])
    for name, g, w in zip(("out", "lse", "entropy"), got, want, strict=True):
        _close(g, w, tol, name)
    return got


def _check_grads(q, k, v, bias=None, mask=None, *, is_causal=False, stats=True, tol=None):
    tol = tol or GRAD_TOL[q.dtype.name]
    kw = dict(is_causal=is_causal, stats=stats, with_bias=bias is not None)
    got = _grads(q, k, v, bias, mask, kernel=True, **kw)
    want = _grads(q, k, v, bias, mask, kernel=False, **kw)
    for name, g, w in zip(("dq", "dk", "dv", "dbias"), got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, name
        _close(g, w, tol, name)


# ---------------------------------------------------------------------------------------------- forward


@pytest.mark.parametrize("nq,nk", [(1, 1), (7, 7), (100, 100), (129, 257), (257, 129), (1, 100)])
def test_forward_odd_lengths(nq, nk):
    q, k, v = _inputs(0, 2, nq, nk, 2, 2, 32)
    _check_forward(q, k, v)


@pytest.mark.parametrize("nq,nk", [(7, 100), (100, 7), (129, 129)])
def test_forward_causal_bottom_right(nq, nk):
    q, k, v = _inputs(1, 1, nq, nk, 2, 2, 16)
    out, lse, ent = _check_forward(q, k, v, is_causal=True)
    if nq > nk:  # the first nq - nk queries see no key at all
        rows = nq - nk
        np.testing.assert_array_equal(np.asarray(out[:, :rows]), 0.0)
        assert np.all(np.isneginf(np.asarray(lse[:, :, :rows])))
        np.testing.assert_array_equal(np.asarray(ent[:, :, :rows]), 0.0)
    # The last query sees every key in every alignment with nq <= nk.
    if nq <= nk:
        full = _run(q[:, -1:], k, v, None, None, is_causal=False, return_stats=False, kernel=False)
        _close(out[:, -1:], full, TOL["float32"], "last row")


@pytest.mark.parametrize(
    "bias_shape,mask_shape",
    [((1, 1), None), ((2, 1), (1, 3)), ((1, 3), (2, 3)), ((2, 3), (1, 1)), (None, (2, 1))],
)
def test_forward_bias_and_mask_broadcast(bias_shape, mask_shape):
    b, h, nq, nk = 2, 3, 37, 53
    q, k, v = _inputs(2, b, nq, nk, h, h, 16)
    bias = None if bias_shape is None else _bias(3, (*bias_shape, nq, nk))
    mask = None if mask_shape is None else _mask(4, (*mask_shape, nq, nk))
    _check_forward(q, k, v, bias, mask)


def test_forward_fully_masked_rows_are_zero_not_nan():
    b, h, nq, nk = 1, 2, 20, 45
    q, k, v = _inputs(5, b, nq, nk, h, h, 16)
    mask = _mask(6, (b, h, nq, nk)).at[:, :, 3].set(False).at[:, 1, 11].set(False)
    bias = _bias(7, (1, h, nq, nk))
    out, lse, ent = _check_forward(q, k, v, bias, mask, is_causal=True)
    assert np.all(np.isfinite(np.asarray(out)))
    np.testing.assert_array_equal(np.asarray(out[:, 3]), 0.0)
    np.testing.assert_array_equal(np.asarray(out[:, 11, 1]), 0.0)
    assert np.isneginf(np.asarray(lse[:, :, 3])).all() and np.isneginf(float(lse[0, 1, 11]))
    assert float(jnp.abs(ent[:, :, 3]).max()) == 0.0


@pytest.mark.parametrize("hq,hk", [(4, 1), (4, 2), (6, 3)])
def test_forward_grouped_query_attention(hq, hk):
    q, k, v = _inputs(8, 2, 33, 40, hq, hk, 16)
    _check_forward(q, k, v, is_causal=True)


@pytest.mark.parametrize("d", [16, 24, 64, 80, 128])
def test_forward_head_dims(d):
    q, k, v = _inputs(9, 1, 20, 30, 2, 2, d)
    _check_forward(q, k, v, bias=_bias(10, (1, 1, 20, 30)))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_forward_low_precision(dtype):
    q, k, v = _inputs(11, 2, 70, 90, 4, 2, 32, dtype)
    bias = _bias(12, (2, 1, 70, 90), dtype)
    _check_forward(q, k, v, bias, _mask(13, (1, 4, 70, 90)), is_causal=True)


def test_forward_uniform_attention_statistics():
    """Identical keys: uniform attention, entropy log(n), logsumexp log(n) + score."""
    n = 50
    q = jnp.ones((1, 3, 1, 16))
    k = jnp.ones((1, n, 1, 16))
    v = jax.random.normal(jax.random.key(0), (1, n, 1, 16))
    out, lse, ent = flash_attention(q, k, v, scale=0.25, return_stats=True, interpret=INTERPRET)
    np.testing.assert_allclose(np.asarray(ent), np.log(n), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(lse), np.log(n) + 0.25 * 16, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(out[0, :, 0]), np.broadcast_to(v[0, :, 0].mean(0), (3, 16)), atol=1e-5)


@settings(max_examples=6, deadline=None, derandomize=True)
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
def test_forward_hypothesis_shapes(b, nq, nk, hk, groups, d, causal, with_bias, with_mask):
    hq = hk * groups
    q, k, v = _inputs(nq * 101 + nk, b, nq, nk, hq, hk, d)
    bias = _bias(1, (1, hq, nq, nk)) if with_bias else None
    mask = _mask(2, (b, 1, nq, nk)) if with_mask else None
    _check_forward(q, k, v, bias, mask, is_causal=causal)


# -------------------------------------------------------------------------------------------- gradients


@pytest.mark.parametrize(
    "nq,nk,causal", [(7, 7, False), (100, 129, True), (129, 100, True), (1, 257, False), (257, 1, True)]
)
def test_gradients_odd_lengths(nq, nk, causal):
    q, k, v = _inputs(20, 1, nq, nk, 2, 2, 16)
    _check_grads(q, k, v, is_causal=causal, stats=False)


@pytest.mark.parametrize("bias_shape,mask_shape", [((1, 1), (2, 1)), ((2, 3), None), ((1, 3), (2, 3))])
def test_gradients_bias_mask_broadcast(bias_shape, mask_shape):
    b, h, nq, nk = 2, 3, 33, 47
    q, k, v = _inputs(21, b, nq, nk, h, h, 16)
    bias = _bias(22, (*bias_shape, nq, nk))
    mask = None if mask_shape is None else _mask(23, (*mask_shape, nq, nk))
    _check_grads(q, k, v, bias, mask, is_causal=True)


def test_gradients_fully_masked_rows_gqa_and_stats():
    b, hq, hk, nq, nk = 2, 4, 2, 40, 23
    q, k, v = _inputs(24, b, nq, nk, hq, hk, 24)
    mask = _mask(25, (b, 1, nq, nk)).at[1, :, 5].set(False)
    bias = _bias(26, (1, hq, nq, nk))
    _check_grads(q, k, v, bias, mask, is_causal=True, stats=True)  # nq > nk: leading rows see nothing
    grads = _grads(q, k, v, bias, mask, is_causal=True, kernel=True, stats=True, with_bias=True)
    assert all(np.isfinite(np.asarray(g)).all() for g in grads)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_gradients_low_precision(dtype):
    q, k, v = _inputs(27, 1, 50, 70, 4, 2, 32, dtype)
    _check_grads(q, k, v, _bias(28, (1, 4, 50, 70), dtype), is_causal=True, stats=False)


def test_gradients_of_statistics_only():
    """d(entropy)/d(q, k) alone: checks the statistics' backward terms in isolation."""
    q, k, v = _inputs(29, 1, 19, 31, 2, 2, 16)

    def ent_sum(q, k, kernel):
        if kernel:
            _, lse, ent = flash_attention(q, k, v, return_stats=True, interpret=INTERPRET)
        else:
            _, lse, ent = reference_flash_attention(q, k, v, return_stats=True)
        return jnp.sum(ent * jnp.arange(19.0)) - jnp.sum(lse)

    got = jax.jit(jax.grad(functools.partial(ent_sum, kernel=True), argnums=(0, 1)))(q, k)
    want = jax.jit(jax.grad(functools.partial(ent_sum, kernel=False), argnums=(0, 1)))(q, k)
    for g, w in zip(got, want, strict=True):
        _close(g, w, GRAD_TOL["float32"])


# ------------------------------------------------------------------------------------------ transforms


def test_vmap_and_jit():
    q, k, v = _inputs(30, 3, 17, 21, 2, 1, 16)  # leading axis is vmapped; batch of 1 inside
    q, k, v = q[:, None], k[:, None], v[:, None]

    def one(kernel, q, k, v):
        return _run(q, k, v, None, None, is_causal=True, return_stats=True, kernel=kernel)

    got = jax.jit(jax.vmap(functools.partial(one, True)))(q, k, v)
    want = jax.vmap(functools.partial(one, False))(q, k, v)
    for g, w in zip(got, want, strict=True):
        _close(g, w, TOL["float32"])
    gk = jax.jit(jax.grad(lambda q: jnp.sum(jax.vmap(functools.partial(one, True))(q, k, v)[0] ** 2)))(q)
    gr = jax.grad(lambda q: jnp.sum(jax.vmap(functools.partial(one, False))(q, k, v)[0] ** 2))(q)
    _close(gk, gr, GRAD_TOL["float32"])


def test_explicit_blocks_agree_with_defaults():
    q, k, v = _inputs(31, 1, 70, 90, 2, 2, 16)
    a = _run(q, k, v, None, None, is_causal=True, return_stats=False, kernel=True, block_q=16, block_k=32)
    b = _run(q, k, v, None, None, is_causal=True, return_stats=False, kernel=False)
    _close(a, b, TOL["float32"])


# ---------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("name", ["block_q", "block_k", "block_q_bwd", "block_k_bwd"])
@pytest.mark.parametrize("value", [48, 8, 512, 100, 0, True])
def test_block_sizes_must_be_powers_of_two(name, value):
    q, k, v = _inputs(0, 1, 8, 8, 1, 1, 16)
    with pytest.raises(CogsimError, match=rf"{name}={value!r}.*powers of two"):
        flash_attention(q, k, v, interpret=True, **{name: value})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(q=jnp.ones((1, 4, 2, 16), jnp.int32)), "q has dtype int32"),
        (dict(k=jnp.ones((1, 4, 2, 16), jnp.bfloat16)), "share a dtype"),
        (dict(q=jnp.ones((1, 4, 3, 16))), r"q heads \(3\) must be a multiple of k/v heads \(2\)"),
        (dict(q=jnp.ones((1, 4, 2, 512)), k=jnp.ones((1, 4, 2, 512)), v=jnp.ones((1, 4, 2, 512))),
         "head_dim=512"),
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
    kern = jax.jit(lambda q: flash_attention(q, q, q, is_causal=True, interpret=True))
    ref = jax.jit(lambda q: reference_flash_attention(q, q, q, is_causal=True))
    temp_kernel = kern.trace(q).lower().compile().memory_analysis().temp_size_in_bytes
    temp_ref = ref.trace(q).lower().compile().memory_analysis().temp_size_in_bytes
    assert temp_ref >= n * n * 4  # the reference holds at least one n x n float32 matrix
    assert temp_kernel < n * n * 4 // 16, (temp_kernel, temp_ref)


def _lowers_to_triton(fn, *shapes) -> int:
    try:
        lowered = jax.jit(fn).trace(*shapes).lower(lowering_platforms=("cuda",))
    except Exception as e:  # pragma: no cover - only where the CUDA lowering is not importable
        if "Unable to" in str(e) or "not supported" in str(e).lower() and "platform" in str(e).lower():
            pytest.skip(f"CUDA lowering unavailable here: {e}")
        raise
    return len(re.findall(r"custom_call @__gpu\$xla\.gpu\.triton", lowered.as_text()))


@pytest.mark.parametrize(
    "dtype,d,causal,with_bias,with_mask,stats",
    [
        (jnp.bfloat16, 64, True, True, True, True),
        (jnp.bfloat16, 128, True, False, False, False),
        (jnp.float16, 80, False, True, False, False),
        (jnp.bfloat16, 256, False, False, True, True),
        (jnp.float32, 16, True, False, False, True),
    ],
)
def test_gpu_path_lowers_to_triton(dtype, d, causal, with_bias, with_mask, stats):
    """Cross-lowers forward and backward for the GPU on this machine: catches Triton-only constraints."""
    b, nq, nk, hq, hk = 2, 100, 257, 4, 2
    shapes = [
        jax.ShapeDtypeStruct((b, nq, hq, d), dtype),
        jax.ShapeDtypeStruct((b, nk, hk, d), dtype),
        jax.ShapeDtypeStruct((b, nk, hk, d), dtype),
        jax.ShapeDtypeStruct((1, hq, nq, nk), dtype) if with_bias else None,
        jax.ShapeDtypeStruct((b, 1, nq, nk), jnp.bool_) if with_mask else None,
    ]

    def loss(q, k, v, bias, mask):
        res = flash_attention(q, k, v, bias=bias, mask=mask, is_causal=causal, return_stats=stats)
        out = res[0] if stats else res
        total = jnp.sum(out.astype(jnp.float32))
        return total + jnp.sum(res[2]) if stats else total

    grad = jax.grad(loss, argnums=(0, 1, 2, 3) if with_bias else (0, 1, 2))
    assert _lowers_to_triton(grad, *shapes) == 3  # forward, dq, dk/dv(/dbias)


def test_docstring_examples():
    for name in ("cogsim.kernels.flash_attention", "cogsim.kernels.reference"):
        m = importlib.import_module(name)  # (the package attribute flash_attention is the function)
        result = doctest.testmod(m, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, m.__name__
