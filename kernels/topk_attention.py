"""Top-k attention: each query attends, with a softmax, only to its ``top_k`` best-scoring keys.

This is the capacity-limited workspace of the consciousness-prior models: a few keys win the competition
for each query and the rest get exactly zero weight.

Two passes:

1. **Selection** (Pallas kernel, Triton lowering): for a block of queries, stream key blocks, compute
   scores in float32 and merge each block into a running top-k list held in registers, so the
   ``q_len x k_len`` matrix is never built. Ties go to the lower key index, exactly as ``lax.top_k``.
2. **Attention over the selection** (plain JAX): gather the selected keys and values, recompute their
   scores, softmax over the ``top_k`` of them and mix the values. Gradients flow through the selected
   scores (and into the selected keys and values); the selection itself is piecewise constant.

Pass 2 holds ``[batch, heads, q_len, top_k, head_dim]`` gathered keys and values, so it is meant for the
small ``top_k`` of a bottleneck (up to 256).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jaxtyping import Array, Bool, Float, Int

from cogsim.errors import check_count
from cogsim.kernels import tiles
from cogsim.kernels._common import (
    MAX_BLOCK,
    MIN_BLOCK,
    check_block,
    check_f32_precision,
    check_kernel_call,
    fit_block,
    full_rows,
    mask_int8,
    next_pow2,
)
from cogsim.kernels.flash_attention import _compiler_params, dot_precision

__all__ = ["topk_attention", "MAX_TOP_K"]

MAX_TOP_K = 256
_NO_INDEX = 2**30  # larger than any key index


@dataclasses.dataclass(frozen=True)
class _SelectConfig:
    scale: float
    top_k: int
    k_pad: int  # top_k rounded up to a power of two (Triton tensor sizes)
    nk: int
    nk_pad: int
    nq_pad: int
    groups: int
    block_q: int
    block_k: int
    num_warps: int
    num_stages: int
    f32_precision: str | None
    interpret: bool


def _select_kernel(*refs, cfg: _SelectConfig, has_bias: bool, has_mask: bool):
    it = iter(refs)
    q_ref, k_ref = next(it), next(it)
    bias_ref = next(it) if has_bias else None
    mask_ref = next(it) if has_mask else None
    idx_ref = next(it)

    bq, bk, kp, top_k = cfg.block_q, cfg.block_k, cfg.k_pad, cfg.top_k
    q = q_ref[...]
    slot = lax.broadcasted_iota(jnp.int32, (bq, kp), 1)
    precision = dot_precision(cfg.f32_precision, cfg.interpret)
    neg_inf = jnp.float32(-jnp.inf)

    def merge(t, state, ci, ri):
        """Moves the best remaining (score desc, index asc) entry of the union into slot t.

        ``cv``/``ci`` are the block's scores and key indices, ``rv``/``ri`` the running list; a taken entry
        is set to -inf so it is not taken again.
        """
        new_v, new_i, cv, rv = state
        m_c = jnp.max(cv, axis=1)
        m_r = jnp.max(rv, axis=1)
        j_c = jnp.min(jnp.where(cv == m_c[:, None], ci, _NO_INDEX), axis=1)
        j_r = jnp.min(jnp.where(rv == m_r[:, None], ri, _NO_INDEX), axis=1)
        take_r = (m_r > m_c) | ((m_r == m_c) & (j_r < j_c))
        val = jnp.where(take_r, m_r, m_c)
        jj = jnp.where(take_r, j_r, j_c)
        here = slot == t
        new_v = jnp.where(here, val[:, None], new_v)
        new_i = jnp.where(here, jj[:, None], new_i)
        cv = jnp.where((ci == jj[:, None]) & ~take_r[:, None], neg_inf, cv)
        rv = jnp.where((ri == jj[:, None]) & take_r[:, None], neg_inf, rv)
        return new_v, new_i, cv, rv

    def body(kb, carry):
        run_v, run_i = carry
        ks = pl.ds(kb * bk, bk)
        k = k_ref[ks, :]
        s = lax.dot_general(
            q, k, (((1,), (1,)), ((), ())), precision=precision, preferred_element_type=jnp.float32
        )
        s = s * cfg.scale
        if has_bias:
            s = s + bias_ref[:, ks].astype(jnp.float32)
        k_pos = kb * bk + lax.broadcasted_iota(jnp.int32, (bq, bk), 1)
        valid = s > neg_inf
        if cfg.nk != cfg.nk_pad:
            valid = valid & (k_pos < cfg.nk)
        if has_mask:
            valid = valid & (mask_ref[:, ks] != 0)
        s = jnp.where(valid, s, neg_inf)
        # Merge only when some key of this block beats the current k-th best (strictly: on a tie the
        # earlier, lower-index key already held stays).
        kth = jnp.min(jnp.where(slot < top_k, run_v, jnp.inf), axis=1)
        improves = jnp.max((jnp.max(s, axis=1) > kth).astype(jnp.int32))

        def do_merge(carry):
            run_v, run_i = carry
            init = (jnp.full((bq, kp), neg_inf), jnp.full((bq, kp), _NO_INDEX, jnp.int32), s, run_v)
            step = functools.partial(merge, ci=k_pos, ri=run_i)
            new_v, new_i, _, _ = lax.fori_loop(0, top_k, step, init)
            return new_v, new_i

        return lax.cond(improves > 0, do_merge, lambda c: c, (run_v, run_i))

    init = (jnp.full((bq, kp), neg_inf), jnp.full((bq, kp), _NO_INDEX, jnp.int32))
    run_v, run_i = lax.fori_loop(0, cfg.nk_pad // bk, body, init)
    idx_ref[...] = jnp.where(run_v > neg_inf, run_i, -1)


def _select(q, k, bias, mask, cfg: _SelectConfig):
    b, nq_pad, hq, d_pad = q.shape
    nk_pad = k.shape[1]
    bq, g = cfg.block_q, cfg.groups
    in_specs = [
        pl.BlockSpec((None, bq, None, d_pad), lambda i, bi, h: (bi, i, h, 0)),
        pl.BlockSpec((None, nk_pad, None, d_pad), lambda i, bi, h: (bi, 0, h // g, 0)),
    ]
    args = [q, k]
    for x in (bias, mask):
        if x is not None:
            bb, bh = x.shape[0], x.shape[1]
            in_specs.append(
                pl.BlockSpec(
                    (None, None, bq, nk_pad),
                    lambda i, bi, h, bb=bb, bh=bh: (0 if bb == 1 else bi, 0 if bh == 1 else h, i, 0),
                )
            )
            args.append(x)
    return pl.pallas_call(
        functools.partial(_select_kernel, cfg=cfg, has_bias=bias is not None, has_mask=mask is not None),
        grid=(nq_pad // bq, b, hq),
        in_specs=in_specs,
        out_specs=pl.BlockSpec((None, None, bq, cfg.k_pad), lambda i, bi, h: (bi, h, i, 0)),
        out_shape=jax.ShapeDtypeStruct((b, hq, nq_pad, cfg.k_pad), jnp.int32),
        compiler_params=_compiler_params(cfg.num_warps, cfg.num_stages),
        interpret=cfg.interpret,
        name="cogsim_topk_select",
    )(*args)


def _attend_selected(q, k, v, idx, bias, scale: float):
    """Softmax attention over the selected keys only (differentiable; plain JAX)."""
    b, nq, hq, d = q.shape
    hk = k.shape[2]
    chosen = idx >= 0  # [b, h, q, t]
    safe = jnp.where(chosen, idx, 0)
    head = jnp.arange(hq) // (hq // hk)  # k/v head of every q head
    kt = jnp.take(k, head, axis=2).transpose(0, 2, 1, 3)  # [b, hq, nk, d]
    vt = jnp.take(v, head, axis=2).transpose(0, 2, 1, 3)
    gather = jax.vmap(jax.vmap(lambda x, i: x[i]))  # over batch and heads: [nk, d][q, t] -> [q, t, d]
    kg = gather(kt, safe).astype(jnp.float32)
    vg = gather(vt, safe).astype(jnp.float32)
    qt = q.transpose(0, 2, 1, 3).astype(jnp.float32)  # [b, hq, q, d]
    s = jnp.einsum("bhqd,bhqtd->bhqt", qt, kg, precision=lax.Precision.HIGHEST) * scale
    if bias is not None:
        full = jnp.broadcast_to(bias, (b, hq, nq, bias.shape[-1])).astype(jnp.float32)
        s = s + jnp.take_along_axis(full, safe, axis=-1)
    s = jnp.where(chosen, s, 0.0)
    m = jax.lax.stop_gradient(jnp.max(jnp.where(chosen, s, -jnp.inf), axis=-1, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    e = jnp.where(chosen, jnp.exp(s - m), 0.0)
    denom = jnp.sum(e, axis=-1, keepdims=True)
    p = e / jnp.where(denom > 0, denom, 1.0)
    out = jnp.einsum("bhqt,bhqtd->bqhd", p, vg, precision=lax.Precision.HIGHEST)
    return out.astype(q.dtype)


def topk_attention(
    q: Float[Array, "batch q_len heads head_dim"],
    k: Float[Array, "batch k_len kv_heads head_dim"],
    v: Float[Array, "batch k_len kv_heads head_dim"],
    *,
    top_k: int,
    bias: Float[Array, "#batch #heads q_len k_len"] | None = None,
    mask: Bool[Array, "#batch #heads q_len k_len"] | None = None,
    scale: float | None = None,
    block_q: int | None = None,
    block_k: int | None = None,
    f32_precision: str = "tf32",
    interpret: bool = False,
) -> tuple[Float[Array, "batch q_len heads head_dim"], Int[Array, "batch heads q_len top_k"]]:
    """Top-k attention: a softmax over each query's ``top_k`` highest-scoring keys, zero weight elsewhere.

    Scores are ``scale * q.k + bias``; masked keys (and keys whose bias is ``-inf``) are never selected;
    ties go to the lower key index. If fewer than ``top_k`` keys are visible the spare slots hold index
    ``-1`` and weight 0, and a query with no visible key returns zeros.

    Args:
      q: queries ``[batch, q_len, heads, head_dim]`` (float32, bfloat16 or float16).
      k: keys ``[batch, k_len, kv_heads, head_dim]``; ``heads`` must be a multiple of ``kv_heads``.
      v: values, same shape and dtype as ``k``.
      top_k: keys kept per query, an integer (Python or NumPy) in ``[1, min(k_len, 256)]``.
      bias: additive float bias broadcastable to ``[batch, heads, q_len, k_len]``; differentiable.
      mask: boolean or integer mask (nonzero = may be selected), broadcastable like ``bias``.
      scale: score scale, a finite number >= 0 (not a traced value); defaults to ``1/sqrt(head_dim)``.
      block_q: query block of the selection kernel (power of two in [16, 256]).
      block_k: key block of the selection kernel (power of two in [16, 256]).
      f32_precision: dots of float32 inputs in the selection kernel: ``"tf32"``, ``"tf32x3"`` or ``"ieee"``
        (see :func:`cogsim.kernels.flash_attention`); the attention over the selection is exact.
      interpret: run the selection kernel in Pallas interpret mode (any device).

    Returns:
      ``(out, indices)``: ``out`` ``[batch, q_len, heads, head_dim]`` in the input dtype and the selected
      key indices ``[batch, heads, q_len, top_k]`` (int32), best first; empty when ``batch``, ``q_len`` or
      ``heads`` is 0.

    Raises:
      CogsimError: on shapes that do not fit, unsupported dtypes, block sizes, ``top_k`` or ``scale``, or a
        compiled call (``interpret=False``) made off the GPU.

    Example:
      >>> import jax.numpy as jnp
      >>> from cogsim.kernels import topk_attention
      >>> q = jnp.ones((1, 1, 1, 16)); k = jnp.arange(5.0)[None, :, None, None] * jnp.ones((1, 5, 1, 16))
      >>> out, idx = topk_attention(q, k, k, top_k=2, interpret=True)
      >>> idx.tolist()
      [[[[4, 3]]]]
    """
    where = "topk_attention"
    q, k, v, bias, mask, scale = check_kernel_call(
        where, q, k, v, bias, mask, scale=scale, interpret=interpret
    )
    nk = k.shape[1]
    detail = f" (k_len={nk}, kernel limit {MAX_TOP_K})"
    top_k = check_count(where, "top_k", top_k, high=min(nk, MAX_TOP_K), detail=detail)
    check_f32_precision(where, f32_precision)
    check_block(where, "block_q", block_q)
    check_block(where, "block_k", block_k)
    b, nq, hq, d = q.shape
    if 0 in (b, nq, hq):
        return jnp.zeros(q.shape, q.dtype), jnp.zeros((b, hq, nq, top_k), jnp.int32)
    d_pad = max(MIN_BLOCK, next_pow2(d))
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    bias, mask = full_rows(bias, nq, nk), full_rows(mask, nq, nk)
    k_pad = next_pow2(top_k)
    # The running list is [block_q, k_pad]: the tiles come from the register and shared-memory budget.
    t = tiles.choose(
        "topk",
        head_dim=d_pad,
        dtype=q.dtype,
        bias_dtype=None if bias is None else bias.dtype,
        has_mask=mask is not None,
        f32_precision=f32_precision,
        top_k=top_k,
    )
    bq = block_q if block_q is not None else fit_block(t.block_q, nq)
    bk = block_k if block_k is not None else fit_block(t.block_k, nk)
    bq, bk = min(bq, MAX_BLOCK), min(bk, MAX_BLOCK)
    nq_pad = -(-nq // bq) * bq
    nk_pad = -(-nk // bk) * bk
    cfg = _SelectConfig(
        scale=scale,
        top_k=top_k,
        k_pad=k_pad,
        nk=nk,
        nk_pad=nk_pad,
        nq_pad=nq_pad,
        groups=hq // k.shape[2],
        block_q=bq,
        block_k=bk,
        num_warps=t.num_warps,
        num_stages=t.num_stages,
        f32_precision=f32_precision if q.dtype == jnp.float32 else None,
        interpret=bool(interpret),
    )

    def pad(x, spec):
        widths = [(0, 0)] * x.ndim
        for axis, target in spec:
            widths[axis] = (0, target - x.shape[axis])
        return jnp.pad(x, widths) if any(w != (0, 0) for w in widths) else x

    sg = lax.stop_gradient
    qp = pad(sg(q), ((1, nq_pad), (3, d_pad)))
    kp = pad(sg(k), ((1, nk_pad), (3, d_pad)))
    biasp = None if bias is None else pad(sg(bias), ((2, nq_pad), (3, nk_pad)))
    maskp = None if mask is None else pad(mask_int8(mask), ((2, nq_pad), (3, nk_pad)))
    idx = _select(qp, kp, biasp, maskp, cfg)[:, :, :nq, :top_k]
    out = _attend_selected(q, k, v, idx, bias, scale)
    return out, idx
