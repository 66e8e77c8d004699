"""Edge cases every kernel shares with its jnp reference (interpret mode on the CPU, tiny shapes).

Broadcast masks and biases (with their gradients), rows the scores mask out (``-inf`` or very negative
bias), NaN inputs, integer masks, ``jax_enable_x64``, empty inputs, and the argument checks of the public
kernel functions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.errors import CogsimError
from cogsim.kernels import (
    flash_attention,
    mosaic_attention,
    reference_flash_attention,
    reference_topk_attention,
    topk_attention,
)

if jax.default_backend() == "gpu":  # pragma: no cover - these check the interpreted kernels
    pytest.skip("interpret-mode edge cases (CPU)", allow_module_level=True)


def _qkv(seed=0, b=2, nq=5, nk=6, h=2, d=8, dtype=jnp.float32):
    ks = jax.random.split(jax.random.key(seed), 3)
    return tuple(jax.random.normal(kk, (b, n, h, d), dtype) for kk, n in zip(ks, (nq, nk, nk), strict=True))


def _close(got, want, tol=2e-5):
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g, np.float32), np.asarray(w, np.float32), rtol=tol, atol=tol)


def _flash(q, k, v, **kw):
    return flash_attention(q, k, v, interpret=True, **kw)


# ----------------------------------------------------------------------------------- broadcast mask/bias
def test_flash_takes_masks_and_biases_broadcast_over_q_len_forward_and_gradients():
    q, k, v = _qkv()
    mask = jnp.array([[1, 1, 0, 1, 1, 1], [1, 0, 1, 1, 0, 1]], bool)[:, None, None, :]  # [b, 1, 1, k]
    bias = jnp.linspace(-1.0, 1.0, 6)[None, None, None, :]  # [1, 1, 1, k]

    def loss(fn):
        def f(q, k, v, bias):
            out, lse, ent = fn(q, k, v, bias=bias, mask=mask, is_causal=True, return_stats=True)
            return jnp.sum(out * jnp.cos(out)) + jnp.sum(jnp.where(jnp.isfinite(lse), lse, 0.0)) + ent.sum()

        return f

    _close(
        _flash(q, k, v, bias=bias, mask=mask, return_stats=True),
        reference_flash_attention(q, k, v, bias=bias, mask=mask, return_stats=True),
    )
    got = jax.grad(loss(_flash), argnums=(0, 1, 2, 3))(q, k, v, bias)
    want = jax.grad(loss(reference_flash_attention), argnums=(0, 1, 2, 3))(q, k, v, bias)
    assert got[3].shape == bias.shape
    _close(got, want, 5e-5)


def test_topk_takes_masks_and_biases_broadcast_over_q_len_forward_and_gradients():
    q, k, v = _qkv(1)
    mask = jnp.array([[1, 1, 0, 1, 1, 1], [1, 0, 1, 1, 0, 1]], bool)[:, None, None, :]
    bias = jnp.linspace(-1.0, 1.0, 6)[None, None, None, :]
    got = topk_attention(q, k, v, top_k=3, bias=bias, mask=mask, interpret=True)
    want = reference_topk_attention(q, k, v, top_k=3, bias=bias, mask=mask)
    _close(got, want)

    def loss(fn):
        return lambda v, bias: jnp.sum(fn(q, k, v, top_k=3, bias=bias, mask=mask)[0] ** 2)

    got = jax.grad(loss(lambda *a, **kw: topk_attention(*a, interpret=True, **kw)), argnums=(0, 1))(v, bias)
    want = jax.grad(loss(reference_topk_attention), argnums=(0, 1))(v, bias)
    assert got[1].shape == bias.shape
    _close(got, want, 5e-5)


# --------------------------------------------------------------------------------------- masked by scores
@pytest.mark.parametrize("fill", [-jnp.inf, float(jnp.finfo(jnp.float32).min)])
def test_rows_whose_bias_masks_every_key_give_zeros_and_zero_gradients_in_kernel_and_reference(fill):
    q, k, v = _qkv(2, b=1)
    bias = jnp.zeros((1, 1, 5, 6)).at[:, :, 0, :].set(fill)

    def loss(fn):
        return lambda q, k, v, bias: jnp.sum(fn(q, k, v, bias=bias) ** 2)

    for fn in (_flash, reference_flash_attention):
        out = fn(q, k, v, bias=bias)
        assert not jnp.any(out[:, 0]), fn  # no visible key: zeros (not the uniform mean)
        grads = jax.grad(loss(fn), argnums=(0, 1, 2, 3))(q, k, v, bias)
        assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads), fn
        assert not jnp.any(grads[0][:, 0]) and not jnp.any(grads[3][:, :, 0]), fn
    _close(_flash(q, k, v, bias=bias), reference_flash_attention(q, k, v, bias=bias))


def test_topk_reference_gradients_stay_finite_for_a_row_with_every_key_masked_by_bias():
    q, k, v = _qkv(3, b=1)
    bias = jnp.zeros((1, 1, 5, 6)).at[:, :, 0, :].set(-jnp.inf)
    grads = jax.grad(
        lambda q, k, v, b: jnp.sum(reference_topk_attention(q, k, v, top_k=2, bias=b)[0] ** 2), (0, 1, 2, 3)
    )(q, k, v, bias)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)


@pytest.mark.parametrize("where", ["q", "k"])
def test_nan_inputs_propagate_in_the_reference_as_in_the_kernel(where):
    q, k, v = _qkv(4, b=1)
    if where == "q":
        q = q.at[0, 0, 0, 0].set(jnp.nan)  # query row 0 of head 0
    else:
        k = k.at[0, 0, 0, 0].set(jnp.nan)  # a key every query of head 0 sees
    got = jnp.isnan(_flash(q, k, v)).any(axis=-1)
    want = jnp.isnan(reference_flash_attention(q, k, v)).any(axis=-1)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert bool(want[0, 0, 0]) and not bool(want[0, :, 1].any())


def test_integer_masks_attend_wherever_nonzero():
    q, k, v = _qkv(5, b=1)
    mask = jnp.full((1, 1, 5, 6), 256, jnp.int32).at[:, :, :, 1].set(0)
    want = reference_flash_attention(q, k, v, mask=mask != 0)
    _close(_flash(q, k, v, mask=mask), want)
    got = topk_attention(q, k, v, top_k=2, mask=mask, interpret=True)
    _close(got, reference_topk_attention(q, k, v, top_k=2, mask=mask != 0))


# ------------------------------------------------------------------------------------------------ x64
def test_causal_kernels_run_under_jax_enable_x64_forward_and_gradient():
    q, k, v = _qkv(6, b=1, nq=5, nk=7)
    want = reference_flash_attention(q, k, v, is_causal=True)
    want_dq = jax.grad(lambda q: reference_flash_attention(q, k, v, is_causal=True).sum())(q)
    with jax.enable_x64(True):
        _close(_flash(q, k, v, is_causal=True), want)
        _close(jax.grad(lambda q: _flash(q, k, v, is_causal=True).sum())(q), want_dq, 5e-5)
        qb, kb, vb = (x.astype(jnp.bfloat16) for x in (q, k, v))
        out = mosaic_attention(qb, kb, vb, is_causal=True, interpret=True)
        dq = jax.grad(
            lambda q: mosaic_attention(q, kb, vb, is_causal=True, interpret=True).astype(jnp.float32).sum()
        )(qb)
    _close(out, want, 3e-2)
    _close(dq, want_dq, 1e-1)


# --------------------------------------------------------------------------------------------- empty
@pytest.mark.parametrize("shape", [(1, 0, 2, 8), (0, 5, 2, 8)])
def test_no_query_rows_give_empty_results_of_the_right_shapes(shape):
    q = jnp.ones(shape)
    k = v = jnp.ones((shape[0], 6, 2, 8))
    out, lse, ent = _flash(q, k, v, return_stats=True)
    assert out.shape == shape and lse.shape == ent.shape == (shape[0], 2, shape[1])
    out, idx = topk_attention(q, k, v, top_k=2, interpret=True)
    assert out.shape == shape and idx.shape == (shape[0], 2, shape[1], 2) and idx.dtype == jnp.int32
    qb, kb = q.astype(jnp.bfloat16), k.astype(jnp.bfloat16)
    assert mosaic_attention(qb, kb, kb, interpret=True).shape == shape
    assert reference_flash_attention(q, k, v).shape == shape


# ------------------------------------------------------------------------------------- argument checks
X = jnp.ones((1, 4, 2, 16))
XB = X.astype(jnp.bfloat16)
KERNELS = {
    "flash_attention": lambda q, k, v, **kw: flash_attention(q, k, v, **{"interpret": True, **kw}),
    "topk_attention": lambda q, k, v, **kw: topk_attention(q, k, v, **{"top_k": 2, "interpret": True, **kw}),
    "mosaic_attention": lambda q, k, v, **kw: mosaic_attention(q, k, v, **{"interpret": True, **kw}),
}


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        ((jnp.ones((1, 4, 2, 0)),) * 3, {}, r"head_dim is 0"),
        ((), {"scale": "a"}, r"scale='a' is not allowed; use None"),
        ((), {"scale": float("nan")}, r"scale=nan is not allowed"),
        ((), {"scale": -1.0}, r"scale=-1.0 is not allowed"),
        (
            (),
            {"interpret": False},
            r"the compiled kernel needs a GPU .* interpret=True .*dot_product_attention",
        ),
        ((X.tolist(), "abc", X.tolist()), {}, r"k of type str is not an array"),
    ],
)
def test_public_kernels_raise_clear_errors(name, args, kwargs, match):
    fn = KERNELS[name]
    args = args or ((XB,) * 3 if name == "mosaic_attention" else (X,) * 3)
    if name == "mosaic_attention":
        args = tuple(a.astype(jnp.bfloat16) if isinstance(a, jax.Array) else a for a in args)
    with pytest.raises(CogsimError, match=rf"^{name}: {match}"):
        fn(*args, **kwargs)


@pytest.mark.parametrize("name", ["flash_attention", "mosaic_attention"])  # top-k takes no is_causal
def test_a_non_bool_is_causal_is_refused(name):
    with pytest.raises(CogsimError, match=rf"^{name}: is_causal=1 is not allowed; use True or False"):
        KERNELS[name](*((XB,) * 3 if name == "mosaic_attention" else (X,) * 3), is_causal=1)


@pytest.mark.parametrize("name", list(KERNELS))
def test_a_traced_scale_is_refused_with_the_way_out(name):
    x = XB if name == "mosaic_attention" else X
    with pytest.raises(CogsimError, match=r"scale is a traced value .* implementation='xla'"):
        jax.jit(lambda s: KERNELS[name](x, x, x, scale=s))(0.5)


def test_kernel_argument_types_are_checked_before_use():
    with pytest.raises(CogsimError, match=r"block_k=64.0 is not allowed"):
        mosaic_attention(XB, XB, XB, block_k=64.0, interpret=True)
    with pytest.raises(CogsimError, match=r"return_stats=1 is not allowed"):
        flash_attention(X, X, X, return_stats=1, interpret=True)
    # lists are converted as in cogsim.attention; numpy integers are integers
    out = flash_attention(X.tolist(), X.tolist(), X.tolist(), is_causal=np.bool_(True), interpret=True)
    assert out.shape == X.shape
    for fn in (lambda **kw: topk_attention(X, X, X, interpret=True, **kw), reference_topk_attention):
        idx = fn(top_k=np.int64(2)) if fn is not reference_topk_attention else fn(X, X, X, top_k=np.int64(2))
        assert idx[1].shape[-1] == 2
    refused = r"topk_attention: got top_k=np.True_; allowed: an integer from 1 to 4$"
    with pytest.raises(CogsimError, match=refused):
        reference_topk_attention(X, X, X, top_k=np.True_)
