"""FlashAttention in Pallas (Triton lowering): online-softmax forward, statistics, custom-VJP backward.

The forward streams key/value blocks through an online softmax (FlashAttention-2), accumulating in float32,
so the ``q_len x k_len`` score matrix is never built. In the same pass it produces the natural-log
logsumexp and the Shannon entropy of every query's attention distribution. The backward recomputes the
probabilities block by block from the saved logsumexp and computes ``dq`` in one kernel and ``dk``, ``dv``
(and ``dbias`` when a bias is given) in another.

Internally scores are kept in base 2 (``exp2`` is the native GPU instruction): the score scale is folded
with ``log2(e)`` and converted back at the end.

Inputs of any length are padded to the block sizes and the padding is masked, so ``q_len`` and ``k_len``
need not be multiples of anything; head dimensions that are not a power of two are zero-padded. On the
GPU the kernels are compiled by Triton, which needs power-of-two block sizes of at least 16; the wrapper
checks this in interpret mode too, so a configuration that passes on the CPU also lowers on the GPU.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero
from jax.experimental import pallas as pl
from jaxtyping import Array, Bool, Float, Int

from cogsim.errors import CogsimError
from cogsim.kernels import tiles
from cogsim.kernels._common import (
    MASK_VALUE,
    MAX_HEAD_DIM,
    MIN_BLOCK,
    SUPPORTED_DTYPES,
    check_block,
    check_f32_precision,
    check_kernel_call,
    empty_attention,
    fit_block,
    full_rows,
    idiv,
    mask_int8,
    next_pow2,
)

try:  # jax 0.10 / 0.11: the Triton-specific Pallas API
    from jax.experimental.pallas import triton as _pltriton
except ImportError:  # pragma: no cover - older layouts exported it as pallas.gpu
    from jax.experimental.pallas import gpu as _pltriton  # type: ignore[no-redef]

__all__ = ["flash_attention", "SUPPORTED_DTYPES", "MAX_HEAD_DIM"]

LOG2E = math.log2(math.e)
LN2 = math.log(2.0)
# Below this log2-probability exp2 underflows to 0 in float32; clamping keeps 0 * log(p) finite.
_LOG2P_FLOOR = -200.0


# --------------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Config:
    """Static (hashable) description of one attention call, after padding."""

    scale: float
    causal: bool
    nq: int  # true lengths
    nk: int
    nq_pad: int
    nk_pad: int
    groups: int  # q heads per k/v head
    block_q: int
    block_k: int
    block_q_bwd: int
    block_k_bwd: int
    num_warps: int
    num_stages: int
    num_warps_bwd: int
    num_stages_bwd: int
    fused_bwd: bool  # one backward kernel: dk, dv and dq (by atomic adds), 5 matmuls per tile
    f32_precision: str | None  # float32 inputs: "tf32", "tf32x3" or "ieee"; None for 16-bit inputs
    return_stats: bool
    interpret: bool

    @property
    def offset(self) -> int:
        """Causal offset: query ``i`` sees keys ``j <= i + offset`` (bottom-right aligned)."""
        return self.nk - self.nq

    @property
    def kv_padded(self) -> bool:
        return self.nk != self.nk_pad


def _compiler_params(num_warps: int, num_stages: int):
    return _pltriton.CompilerParams(num_warps=num_warps, num_stages=num_stages)


def dot_precision(f32_precision: str | None, interpret: bool):
    """The ``precision`` of a kernel dot: TF32 tensor cores for float32 (one or three products), exact
    (IEEE) for ``"ieee"`` and in interpret mode (the CPU has no TF32), the input type for 16-bit inputs."""
    if f32_precision is None:
        return None
    if interpret or f32_precision == "ieee":
        return lax.Precision.HIGHEST
    if f32_precision == "tf32":
        return lax.DotAlgorithmPreset.TF32_TF32_F32
    return lax.DotAlgorithmPreset.TF32_TF32_F32_X3


def _dot(a, b, cfg: _Config, *, trans_a: bool = False, trans_b: bool = False):
    """2-D matmul with float32 accumulation on tensor cores (TF32 or 3xTF32 for float32 inputs)."""
    dims = (((0 if trans_a else 1,), (1 if trans_b else 0,)), ((), ()))
    precision = dot_precision(cfg.f32_precision, cfg.interpret)
    return lax.dot_general(a, b, dims, precision=precision, preferred_element_type=jnp.float32)


def _bcast_index(size: int, index):
    """Block index along a bias/mask axis that may be broadcast (size 1)."""
    return 0 if size == 1 else index


# --------------------------------------------------------------------------------------------------------
# Score tile: q.k^T, scale, bias, masks (shared by every kernel, so all passes scale and mask alike)
# --------------------------------------------------------------------------------------------------------


def _scores(q, k, bias_blk, mask_blk, q_pos, k_pos, *, masked: bool, cfg: _Config):
    """Base-2 scores of a [bq, bk] tile; masked entries are MASK_VALUE when ``masked``."""
    s = _dot(q, k, cfg, trans_b=True) * (cfg.scale * LOG2E)
    if bias_blk is not None:
        s = s + bias_blk.astype(jnp.float32) * LOG2E
        s = jnp.maximum(s, MASK_VALUE)  # a -inf bias entry acts as a masked key, never NaN
    if masked:
        valid = None
        if cfg.causal:
            valid = k_pos[None, :] <= q_pos[:, None] + cfg.offset
        if cfg.kv_padded:
            in_range = jnp.broadcast_to(k_pos[None, :] < cfg.nk, s.shape)
            valid = in_range if valid is None else valid & in_range
        if mask_blk is not None:
            keep = mask_blk != 0
            valid = keep if valid is None else valid & keep
        if valid is not None:
            s = jnp.where(valid, s, MASK_VALUE)
    return s


def _forward_kv_range(qb, cfg: _Config, bq: int, bk: int, has_mask: bool):
    """For query block ``qb``: (number of leading key blocks needing no mask, number of key blocks)."""
    nkb = cfg.nk_pad // bk
    if cfg.causal:
        # Last row (qb*bq + bq - 1) sees keys <= row + offset; first row sees keys <= qb*bq + offset.
        hi = jnp.clip(idiv(jnp.maximum(qb * bq + bq + cfg.offset, 0) + bk - 1, bk), 0, nkb)
        full = jnp.clip(idiv(jnp.maximum(qb * bq + cfg.offset + 1, 0), bk), 0, nkb)
    else:
        hi = jnp.int32(nkb)
        full = jnp.int32(nkb)
    if cfg.kv_padded:
        full = jnp.minimum(full, cfg.nk // bk)
    if has_mask:
        full = jnp.int32(0)
    return jnp.minimum(full, hi), hi


def _q_block_index(i, cfg: _Config, nqb: int):
    # Causal: heavy (late) query blocks first, for better load balance on the GPU.
    return nqb - 1 - i if cfg.causal else i


# --------------------------------------------------------------------------------------------------------
# Forward
# --------------------------------------------------------------------------------------------------------


def _fwd_kernel(*refs, cfg: _Config, has_bias: bool, has_mask: bool):
    it = iter(refs)
    q_ref, k_ref, v_ref = next(it), next(it), next(it)
    bias_ref = next(it) if has_bias else None
    mask_ref = next(it) if has_mask else None
    o_ref, lse_ref = next(it), next(it)
    ent_ref = next(it) if cfg.return_stats else None

    bq, bk = cfg.block_q, cfg.block_k
    nqb = cfg.nq_pad // bq
    qb = _q_block_index(pl.program_id(0), cfg, nqb)
    q = q_ref[...]
    q_pos = qb * bq + lax.iota(jnp.int32, bq)
    d_pad = q.shape[-1]

    def body(kb, carry, *, masked):
        acc, m_prev, l_prev, u_prev = carry
        ks = pl.ds(kb * bk, bk)
        k = k_ref[ks, :]
        v = v_ref[ks, :]
        bias_blk = bias_ref[:, ks] if has_bias else None
        mask_blk = mask_ref[:, ks] if (has_mask and masked) else None
        k_pos = kb * bk + lax.iota(jnp.int32, bk)
        s = _scores(q, k, bias_blk, mask_blk, q_pos, k_pos, masked=masked, cfg=cfg)
        m_new = jnp.maximum(m_prev, jnp.max(s, axis=1))
        alpha = jnp.exp2(m_prev - m_new)
        p = jnp.exp2(s - m_new[:, None])
        l_new = alpha * l_prev + jnp.sum(p, axis=1)
        if cfg.return_stats:
            # u = sum_j p_j (s_j - m), rescaled to the new running max (alpha*l is 0 whenever m jumps
            # from MASK_VALUE, so the product stays finite).
            u_new = (
                alpha * u_prev + (alpha * l_prev) * (m_prev - m_new) + jnp.sum(p * (s - m_new[:, None]), 1)
            )
        else:
            u_new = u_prev
        acc = acc * alpha[:, None] + _dot(p.astype(v.dtype), v, cfg)
        return acc, m_new, l_new, u_new

    full, hi = _forward_kv_range(qb, cfg, bq, bk, has_mask)
    carry = (
        jnp.zeros((bq, d_pad), jnp.float32),
        jnp.full((bq,), MASK_VALUE, jnp.float32),
        jnp.zeros((bq,), jnp.float32),
        jnp.zeros((bq,), jnp.float32),
    )
    carry = lax.fori_loop(0, full, functools.partial(body, masked=False), carry)
    acc, m, denom, u = lax.fori_loop(full, hi, functools.partial(body, masked=True), carry)

    empty = m <= MASK_VALUE  # every key masked: the running max never left MASK_VALUE
    l_safe = jnp.where(empty, 1.0, denom)
    out = jnp.where(empty[:, None], 0.0, acc / l_safe[:, None])
    o_ref[...] = out.astype(o_ref.dtype)
    lse_ref[...] = jnp.where(empty, -jnp.inf, (m + jnp.log2(l_safe)) * LN2)
    if cfg.return_stats:
        ent = jnp.log(l_safe) - LN2 * u / l_safe
        ent_ref[...] = jnp.where(empty, 0.0, jnp.maximum(ent, 0.0))


def _query_grid_inputs(q, k, v, bias, mask, *, bq: int, groups: int, qi):
    """BlockSpecs and arguments for a grid over (query block, batch, head): one query block, all keys."""
    d_pad, nk_pad = q.shape[-1], k.shape[1]
    in_specs = [
        pl.BlockSpec((None, bq, None, d_pad), lambda i, bi, h: (bi, qi(i), h, 0)),
        pl.BlockSpec((None, nk_pad, None, d_pad), lambda i, bi, h: (bi, 0, h // groups, 0)),
        pl.BlockSpec((None, nk_pad, None, d_pad), lambda i, bi, h: (bi, 0, h // groups, 0)),
    ]
    args = [q, k, v]
    for x in (bias, mask):
        if x is not None:
            bb, bh = x.shape[0], x.shape[1]
            in_specs.append(
                pl.BlockSpec(
                    (None, None, bq, nk_pad),
                    lambda i, bi, h, bb=bb, bh=bh: (_bcast_index(bb, bi), _bcast_index(bh, h), qi(i), 0),
                )
            )
            args.append(x)
    return in_specs, args


def _forward(q, k, v, bias, mask, cfg: _Config):
    b, nq_pad, hq, d_pad = q.shape
    nk_pad = k.shape[1]
    bq, g = cfg.block_q, cfg.groups
    nqb = nq_pad // bq
    qi = functools.partial(_q_block_index, cfg=cfg, nqb=nqb)

    in_specs, args = _query_grid_inputs(q, k, v, bias, mask, bq=bq, groups=g, qi=qi)
    out_shape = [
        jax.ShapeDtypeStruct(q.shape, q.dtype),
        jax.ShapeDtypeStruct((b, hq, nq_pad), jnp.float32),
    ]
    out_specs = [
        pl.BlockSpec((None, bq, None, d_pad), lambda i, bi, h: (bi, qi(i), h, 0)),
        pl.BlockSpec((None, None, bq), lambda i, bi, h: (bi, h, qi(i))),
    ]
    if cfg.return_stats:
        out_shape.append(jax.ShapeDtypeStruct((b, hq, nq_pad), jnp.float32))
        out_specs.append(pl.BlockSpec((None, None, bq), lambda i, bi, h: (bi, h, qi(i))))
    kernel = functools.partial(_fwd_kernel, cfg=cfg, has_bias=bias is not None, has_mask=mask is not None)
    flops = 4 * b * hq * nq_pad * nk_pad * d_pad // (2 if cfg.causal else 1)
    outs = pl.pallas_call(
        kernel,
        grid=(nqb, b, hq),
        in_specs=in_specs,
        out_specs=out_specs,
        out_shape=out_shape,
        compiler_params=_compiler_params(cfg.num_warps, cfg.num_stages),
        interpret=cfg.interpret,
        name="cogsim_flash_fwd",
        cost_estimate=pl.CostEstimate(
            flops=flops,
            transcendentals=b * hq * nq_pad * nk_pad,
            bytes_accessed=sum(x.size * x.dtype.itemsize for x in args) + q.size * q.dtype.itemsize,
        ),
    )(*args)
    if cfg.return_stats:
        return outs[0], outs[1], outs[2]
    return outs[0], outs[1], None


# --------------------------------------------------------------------------------------------------------
# Backward
# --------------------------------------------------------------------------------------------------------


def _ds_block(s, lse2, c, dp, h_ent, d_ent, cfg: _Config):
    """Probabilities and dL/ds (natural units) of a tile from the saved base-2 logsumexp."""
    if cfg.return_stats:
        t = jnp.maximum(s - lse2[:, None], _LOG2P_FLOOR)  # log2 p, bounded so 0 * log p stays finite
        p = jnp.exp2(t)
        # d lse / ds = p;  d H / ds_j = -p_j (log p_j + H)
        ds = p * (dp - c[:, None] - d_ent[:, None] * (t * LN2 + h_ent[:, None]))
    else:
        p = jnp.exp2(s - lse2[:, None])
        ds = p * (dp - c[:, None])
    return p, ds


def _bwd_inputs(refs, cfg: _Config, has_bias: bool, has_mask: bool):
    """Split a backward kernel's refs into its inputs (absent ones None) and an iterator over its outputs."""
    it = iter(refs)
    q_ref, k_ref, v_ref = next(it), next(it), next(it)
    bias_ref = next(it) if has_bias else None
    mask_ref = next(it) if has_mask else None
    do_ref, lse_ref, c_ref = next(it), next(it), next(it)
    h_ref, dh_ref = (next(it), next(it)) if cfg.return_stats else (None, None)
    return it, (q_ref, k_ref, v_ref, bias_ref, mask_ref, do_ref, lse_ref, c_ref, h_ref, dh_ref)


def _dq_kernel(*refs, cfg: _Config, has_bias: bool, has_mask: bool):
    it, (q_ref, k_ref, v_ref, bias_ref, mask_ref, do_ref, lse_ref, c_ref, h_ref, dh_ref) = _bwd_inputs(
        refs, cfg, has_bias, has_mask
    )
    dq_ref = next(it)

    bq, bk = cfg.block_q_bwd, cfg.block_k_bwd
    nqb = cfg.nq_pad // bq
    qb = _q_block_index(pl.program_id(0), cfg, nqb)
    q = q_ref[...]
    do = do_ref[...]
    lse2 = lse_ref[...]
    c = c_ref[...]
    h_ent = h_ref[...] if cfg.return_stats else None
    d_ent = dh_ref[...] if cfg.return_stats else None
    q_pos = qb * bq + lax.iota(jnp.int32, bq)

    def body(kb, dq, *, masked):
        ks = pl.ds(kb * bk, bk)
        k = k_ref[ks, :]
        v = v_ref[ks, :]
        bias_blk = bias_ref[:, ks] if has_bias else None
        mask_blk = mask_ref[:, ks] if (has_mask and masked) else None
        k_pos = kb * bk + lax.iota(jnp.int32, bk)
        s = _scores(q, k, bias_blk, mask_blk, q_pos, k_pos, masked=masked, cfg=cfg)
        dp = _dot(do, v, cfg, trans_b=True)
        _, ds = _ds_block(s, lse2, c, dp, h_ent, d_ent, cfg)
        return dq + _dot(ds.astype(k.dtype), k, cfg)

    full, hi = _forward_kv_range(qb, cfg, bq, bk, has_mask)
    dq = jnp.zeros(q.shape, jnp.float32)
    dq = lax.fori_loop(0, full, functools.partial(body, masked=False), dq)
    dq = lax.fori_loop(full, hi, functools.partial(body, masked=True), dq)
    dq_ref[...] = (dq * cfg.scale).astype(dq_ref.dtype)


def _dkdv_kernel(*refs, cfg: _Config, has_bias: bool, has_mask: bool, write_dbias: bool):
    it, (q_ref, k_ref, v_ref, bias_ref, mask_ref, do_ref, lse_ref, c_ref, h_ref, dh_ref) = _bwd_inputs(
        refs, cfg, has_bias, has_mask
    )
    if cfg.fused_bwd:
        next(it)  # the float32 dq accumulator's input side (aliased to the output below)
    dk_ref, dv_ref = next(it), next(it)
    dbias_ref = next(it) if write_dbias else None
    dq_ref = next(it) if cfg.fused_bwd else None

    bq, bk = cfg.block_q_bwd, cfg.block_k_bwd
    nqb = cfg.nq_pad // bq
    kb = pl.program_id(0)
    k = k_ref[...]
    v = v_ref[...]
    k_pos = kb * bk + lax.iota(jnp.int32, bk)

    def body(ib, carry, *, masked):
        dk, dv = carry
        qs = pl.ds(ib * bq, bq)
        q = q_ref[qs, :]
        do = do_ref[qs, :]
        lse2 = lse_ref[qs]
        c = c_ref[qs]
        h_ent = h_ref[qs] if cfg.return_stats else None
        d_ent = dh_ref[qs] if cfg.return_stats else None
        bias_blk = bias_ref[qs, :] if has_bias else None
        mask_blk = mask_ref[qs, :] if (has_mask and masked) else None
        q_pos = ib * bq + lax.iota(jnp.int32, bq)
        s = _scores(q, k, bias_blk, mask_blk, q_pos, k_pos, masked=masked, cfg=cfg)
        dp = _dot(do, v, cfg, trans_b=True)
        p, ds = _ds_block(s, lse2, c, dp, h_ent, d_ent, cfg)
        if write_dbias:
            dbias_ref[qs, :] = ds.astype(dbias_ref.dtype)
        dv = dv + _dot(p.astype(do.dtype), do, cfg, trans_a=True)
        dk = dk + _dot(ds.astype(q.dtype), q, cfg, trans_a=True)
        if cfg.fused_bwd:  # FA2: this key block's share of dq, added atomically across key blocks
            dq_part = _dot(ds.astype(k.dtype), k, cfg) * cfg.scale
            _pltriton.atomic_add(dq_ref, (qs, slice(None)), dq_part)
        return dk, dv

    # Query blocks that see key block kb: rows i with i + offset >= kb*bk. Blocks from `mid` on see every
    # key of the block (no mask needed) unless the block holds padded keys or a mask is given.
    if cfg.causal:
        lo = jnp.minimum(idiv(jnp.maximum(kb * bk - cfg.offset, 0), bq), nqb)
        mid = idiv(jnp.maximum(kb * bk + bk - 1 - cfg.offset, 0) + bq - 1, bq)
        mid = jnp.clip(mid, lo, nqb)
    else:
        lo = jnp.int32(0)
        mid = jnp.int32(0)
    if cfg.kv_padded:
        mid = jnp.where(kb * bk + bk > cfg.nk, nqb, mid)
    if has_mask:
        mid = jnp.int32(nqb)
    if write_dbias and cfg.causal:  # rows that never see this key block get a zero bias gradient

        def zero(ib, carry):
            dbias_ref[pl.ds(ib * bq, bq), :] = jnp.zeros((bq, bk), dbias_ref.dtype)
            return carry

        lax.fori_loop(0, lo, zero, jnp.zeros((), jnp.int32))
    d_pad = k.shape[-1]
    carry = (jnp.zeros((bk, d_pad), jnp.float32), jnp.zeros((bk, d_pad), jnp.float32))
    carry = lax.fori_loop(lo, mid, functools.partial(body, masked=True), carry)
    dk, dv = lax.fori_loop(mid, nqb, functools.partial(body, masked=False), carry)
    dk_ref[...] = (dk * cfg.scale).astype(dk_ref.dtype)
    dv_ref[...] = dv.astype(dv_ref.dtype)


def _dq_pass(q, k, v, bias, mask, do, row_stats, cfg: _Config, *, qi, params):
    """The second backward pass: dq on a grid over query blocks (3 matmuls per tile)."""
    b, nq_pad, hq, d_pad = q.shape
    bq, g = cfg.block_q_bwd, cfg.groups
    nqb = nq_pad // bq
    has_bias, has_mask = bias is not None, mask is not None
    in_specs, args = _query_grid_inputs(q, k, v, bias, mask, bq=bq, groups=g, qi=qi)
    in_specs.append(pl.BlockSpec((None, bq, None, d_pad), lambda i, bi, h: (bi, qi(i), h, 0)))
    args.append(do)
    for x in row_stats:
        in_specs.append(pl.BlockSpec((None, None, bq), lambda i, bi, h: (bi, h, qi(i))))
        args.append(x)
    return pl.pallas_call(
        functools.partial(_dq_kernel, cfg=cfg, has_bias=has_bias, has_mask=has_mask),
        grid=(nqb, b, hq),
        in_specs=in_specs,
        out_specs=pl.BlockSpec((None, bq, None, d_pad), lambda i, bi, h: (bi, qi(i), h, 0)),
        out_shape=jax.ShapeDtypeStruct(q.shape, q.dtype),
        compiler_params=params,
        interpret=cfg.interpret,
        name="cogsim_flash_bwd_dq",
    )(*args)


def _backward(q, k, v, bias, mask, do, lse, c, h_ent, d_ent, cfg: _Config, *, need_dbias: bool):
    b, nq_pad, hq, d_pad = q.shape
    nk_pad = k.shape[1]
    bq, bk, g = cfg.block_q_bwd, cfg.block_k_bwd, cfg.groups
    nqb, nkb = nq_pad // bq, nk_pad // bk
    has_bias, has_mask = bias is not None, mask is not None
    params = _compiler_params(cfg.num_warps_bwd, cfg.num_stages_bwd)
    row_stats = [lse, c] + ([h_ent, d_ent] if cfg.return_stats else [])

    # ---- dq: grid over query blocks, loop over key blocks (or, fused, by atomics in the dk/dv kernel)
    qi = functools.partial(_q_block_index, cfg=cfg, nqb=nqb)
    if cfg.fused_bwd:
        dq = None
    else:
        dq = _dq_pass(q, k, v, bias, mask, do, row_stats, cfg, qi=qi, params=params)

    # ---- dk, dv (, dbias) (, dq): grid over key blocks, loop over query blocks
    in_specs = [
        pl.BlockSpec((None, nq_pad, None, d_pad), lambda j, bi, h: (bi, 0, h, 0)),
        pl.BlockSpec((None, bk, None, d_pad), lambda j, bi, h: (bi, j, h // g, 0)),
        pl.BlockSpec((None, bk, None, d_pad), lambda j, bi, h: (bi, j, h // g, 0)),
    ]
    args = [q, k, v]
    for x in (bias, mask):
        if x is not None:
            bb, bh = x.shape[0], x.shape[1]
            in_specs.append(
                pl.BlockSpec(
                    (None, None, nq_pad, bk),
                    lambda j, bi, h, bb=bb, bh=bh: (_bcast_index(bb, bi), _bcast_index(bh, h), 0, j),
                )
            )
            args.append(x)
    in_specs.append(pl.BlockSpec((None, nq_pad, None, d_pad), lambda j, bi, h: (bi, 0, h, 0)))
    args.append(do)
    for x in row_stats:
        in_specs.append(pl.BlockSpec((None, None, nq_pad), lambda j, bi, h: (bi, h, 0)))
        args.append(x)
    kv_dtype = k.dtype if g == 1 else jnp.float32  # grouped heads are summed afterwards
    out_shape = [
        jax.ShapeDtypeStruct((b, nk_pad, hq, d_pad), kv_dtype),
        jax.ShapeDtypeStruct((b, nk_pad, hq, d_pad), kv_dtype),
    ]
    out_specs = [
        pl.BlockSpec((None, bk, None, d_pad), lambda j, bi, h: (bi, j, h, 0)),
        pl.BlockSpec((None, bk, None, d_pad), lambda j, bi, h: (bi, j, h, 0)),
    ]
    write_dbias = has_bias and need_dbias
    if write_dbias:
        out_shape.append(jax.ShapeDtypeStruct((b, hq, nq_pad, nk_pad), jnp.float32))
        out_specs.append(pl.BlockSpec((None, None, nq_pad, bk), lambda j, bi, h: (bi, h, 0, j)))
    aliases = {}
    if cfg.fused_bwd:  # every key-block program adds into the whole [nq_pad, d] dq of its (batch, head)
        dq_spec = pl.BlockSpec((None, nq_pad, None, d_pad), lambda j, bi, h: (bi, 0, h, 0))
        aliases = {len(args): len(out_shape)}
        in_specs.append(dq_spec)
        args.append(jnp.zeros(q.shape, jnp.float32))
        out_shape.append(jax.ShapeDtypeStruct(q.shape, jnp.float32))
        out_specs.append(dq_spec)
    outs = pl.pallas_call(
        functools.partial(
            _dkdv_kernel, cfg=cfg, has_bias=has_bias, has_mask=has_mask, write_dbias=write_dbias
        ),
        grid=(nkb, b, hq),
        in_specs=in_specs,
        out_specs=out_specs,
        out_shape=out_shape,
        compiler_params=params,
        interpret=cfg.interpret,
        input_output_aliases=aliases,
        name="cogsim_flash_bwd_fused" if cfg.fused_bwd else "cogsim_flash_bwd_dkdv",
    )(*args)
    dk, dv = outs[0], outs[1]
    if cfg.fused_bwd:
        dq = outs[-1].astype(q.dtype)
    if g > 1:
        hk = hq // g
        dk = dk.reshape(b, nk_pad, hk, g, d_pad).sum(axis=3).astype(k.dtype)
        dv = dv.reshape(b, nk_pad, hk, g, d_pad).sum(axis=3).astype(v.dtype)
    dbias = None
    if write_dbias:
        dbias = outs[2]
        axes = tuple(ax for ax in (0, 1) if bias.shape[ax] == 1)
        if axes:
            dbias = dbias.sum(axis=axes, keepdims=True)
        dbias = dbias.astype(bias.dtype)
    return dq, dk, dv, dbias


# --------------------------------------------------------------------------------------------------------
# custom_vjp on padded, aligned inputs
# --------------------------------------------------------------------------------------------------------


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _flash(q, k, v, bias, mask, cfg: _Config):
    return _forward(q, k, v, bias, mask, cfg)


def _flash_fwd(q, k, v, bias, mask, cfg: _Config):
    # symbolic zeros: each argument arrives as CustomVJPPrimal(value, perturbed)
    need_dbias = bias is not None and bias.perturbed
    q, k, v, bias, mask = (None if x is None else x.value for x in (q, k, v, bias, mask))
    out, lse, ent = _forward(q, k, v, bias, mask, cfg)
    flag = jnp.zeros((), jnp.int8) if need_dbias else None  # a pytree-static "bias needs a gradient"
    return (out, lse, ent), (q, k, v, bias, mask, out, lse, ent, flag)


def _dense(ct, like):
    """A cotangent as an array: symbolic zeros (an output nobody used) become zeros."""
    if ct is None or isinstance(ct, SymbolicZero):
        return None if like is None else jnp.zeros(like.shape, like.dtype)
    return ct


def _flash_bwd(cfg: _Config, res, cotangents):
    q, k, v, bias, mask, out, lse, ent, flag = res
    do, dlse, dent = (_dense(ct, x) for ct, x in zip(cotangents, (out, lse, ent), strict=True))
    do = do.astype(q.dtype)
    # delta_i = sum_j p_ij dp_ij = <o_i, do_i>
    delta = jnp.einsum(
        "bqhd,bqhd->bhq", out.astype(jnp.float32), do.astype(jnp.float32), precision=lax.Precision.HIGHEST
    )
    lse2 = jnp.where(jnp.isfinite(lse), lse, 0.0) * LOG2E  # fully masked rows: p = exp2(MASK - 0) = 0
    if cfg.return_stats:
        c = delta - dlse
        h_ent, d_ent = ent, dent
    else:
        c, h_ent, d_ent = delta, None, None
    dq, dk, dv, dbias = _backward(
        q, k, v, bias, mask, do, lse2, c, h_ent, d_ent, cfg, need_dbias=flag is not None
    )
    return dq, dk, dv, dbias, None


_flash.defvjp(_flash_fwd, _flash_bwd, symbolic_zeros=True)


# --------------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------------


def flash_attention(
    q: Float[Array, "batch q_len heads head_dim"],
    k: Float[Array, "batch k_len kv_heads head_dim"],
    v: Float[Array, "batch k_len kv_heads head_dim"],
    *,
    bias: Float[Array, "#batch #heads q_len k_len"] | None = None,
    mask: Bool[Array, "#batch #heads q_len k_len"] | Int[Array, "#batch #heads q_len k_len"] | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    return_stats: bool = False,
    block_q: int | None = None,
    block_k: int | None = None,
    block_q_bwd: int | None = None,
    block_k_bwd: int | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
    num_warps_bwd: int | None = None,
    num_stages_bwd: int | None = None,
    f32_precision: str = "tf32",
    fused_backward: bool = False,
    interpret: bool = False,
):
    """Memory-efficient scaled dot-product attention (Pallas kernel with a custom VJP).

    Computes ``softmax(scale * q k^T + bias, masked) v`` without building the ``q_len x k_len`` matrix,
    with the conventions of :func:`jax.nn.dot_product_attention`.

    Args:
      q: queries ``[batch, q_len, heads, head_dim]`` (float32, bfloat16 or float16; head_dim <= 256).
      k: keys ``[batch, k_len, kv_heads, head_dim]``; ``heads`` must be a multiple of ``kv_heads``
        (grouped-query attention).
      v: values, same shape and dtype as ``k``.
      bias: additive float bias broadcastable to ``[batch, heads, q_len, k_len]`` (any axis may be 1);
        differentiable (a broadcast bias gets its gradient summed back to its shape).
      mask: boolean or integer mask (nonzero = attend), broadcastable like ``bias``. Rows with no visible
        key return zeros.
      is_causal: causal masking, aligned to the bottom-right when ``q_len != k_len`` (query ``i`` sees
        keys ``j <= i + k_len - q_len``).
      scale: score scale, a finite number >= 0 (not a traced value: the kernel needs it concrete);
        defaults to ``1/sqrt(head_dim)``.
      return_stats: also return the natural-log logsumexp and the entropy (nats) of each query's
        attention distribution, both ``[batch, heads, q_len]`` float32 (``-inf`` and 0 for rows with no
        visible key). Gradients flow through them too.
      block_q: forward query block (power of two in [16, 256]); default: :func:`cogsim.kernels.tiles.choose`.
      block_k: forward key block (power of two in [16, 256]); default: :func:`cogsim.kernels.tiles.choose`.
      block_q_bwd: backward query block; default: :func:`cogsim.kernels.tiles.choose`.
      block_k_bwd: backward key block; default: :func:`cogsim.kernels.tiles.choose`.
      num_warps: Triton warps of the forward kernel; default: :func:`cogsim.kernels.tiles.choose`.
      num_stages: pipelining stages of the forward kernel; default: :func:`cogsim.kernels.tiles.choose`.
      num_warps_bwd: Triton warps of the backward kernels; default: :func:`cogsim.kernels.tiles.choose`.
      num_stages_bwd: pipelining stages of the backward kernels; default: :func:`cogsim.kernels.tiles.choose`.
      f32_precision: dots of float32 inputs: ``"tf32"`` (one TF32 tensor-core product, 10-bit mantissa,
        the fastest), ``"tf32x3"`` (three products, error close to float32; more registers, so smaller
        tiles) or ``"ieee"`` (exact, no tensor cores). Interpret mode computes exactly whatever is chosen.
      fused_backward: one backward kernel in the FlashAttention-2 structure (5 matmuls per tile: scores,
        ``dp``, ``dv``, ``dk`` and ``dq``, the last added atomically into a float32 buffer) instead of a
        ``dk``/``dv`` kernel and a second ``dq`` pass (7 matmuls). Atomic float32 adds make ``dq``'s
        rounding depend on the order the GPU runs the key blocks in.
      interpret: run the kernels in Pallas interpret mode (any device, slow; for tests and the CPU).

    Returns:
      ``out`` ``[batch, q_len, heads, head_dim]`` in the input dtype, or ``(out, lse, entropy)`` when
      ``return_stats``. A zero ``batch``, ``q_len`` or ``heads`` gives empty results of these shapes.

    Raises:
      CogsimError: on shapes that do not fit (``k_len`` or ``head_dim`` 0), unsupported dtypes or block
        sizes, a ``scale`` that is traced or not a finite number >= 0, flags that are not bools, or a
        compiled call (``interpret=False``) made off the GPU.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from cogsim.kernels import flash_attention
      >>> q = k = v = jax.random.normal(jax.random.key(0), (1, 7, 2, 16))
      >>> out, lse, ent = flash_attention(q, k, v, is_causal=True, return_stats=True, interpret=True)
      >>> out.shape, lse.shape, float(ent[0, 0, 0])
      ((1, 7, 2, 16), (1, 2, 7), 0.0)
    """
    where = "flash_attention"
    q, k, v, bias, mask, scale = check_kernel_call(
        where,
        q,
        k,
        v,
        bias,
        mask,
        scale=scale,
        interpret=interpret,
        is_causal=is_causal,
        return_stats=return_stats,
        fused_backward=fused_backward,
    )
    for name, value in (
        ("block_q", block_q),
        ("block_k", block_k),
        ("block_q_bwd", block_q_bwd),
        ("block_k_bwd", block_k_bwd),
    ):
        check_block("flash_attention", name, value)
    for name, value in (
        ("num_warps", num_warps),
        ("num_stages", num_stages),
        ("num_warps_bwd", num_warps_bwd),
        ("num_stages_bwd", num_stages_bwd),
    ):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise CogsimError(f"flash_attention: {name}={value!r} is not allowed; use a positive integer")
    check_f32_precision(where, f32_precision)

    b, nq, hq, d = q.shape
    nk, hk = k.shape[1], k.shape[2]
    if 0 in (b, nq, hq):
        return empty_attention(q, return_stats)
    d_pad = max(MIN_BLOCK, next_pow2(d))
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    bias, mask = full_rows(bias, nq, nk), full_rows(mask, nq, nk)

    budget = dict(
        head_dim=d_pad,
        dtype=q.dtype,
        bias_dtype=None if bias is None else bias.dtype,
        has_mask=mask is not None,
        f32_precision=f32_precision,
    )
    fwd, dq_t, kv_t = (tiles.choose(kind, **budget) for kind in ("fwd", "dq", "dkdv"))
    if fused_backward:
        dq_t = kv_t = tiles.choose("fused", **budget)
    f_bq, f_bk, f_warps, f_stages = fwd.block_q, fwd.block_k, fwd.num_warps, fwd.num_stages
    b_bq, b_bk = min(dq_t.block_q, kv_t.block_q), min(dq_t.block_k, kv_t.block_k)
    b_warps, b_stages = max(dq_t.num_warps, kv_t.num_warps), min(dq_t.num_stages, kv_t.num_stages)
    bq = block_q if block_q is not None else fit_block(f_bq, nq)
    bk = block_k if block_k is not None else fit_block(f_bk, nk)
    bq_b = block_q_bwd if block_q_bwd is not None else fit_block(b_bq, nq)
    bk_b = block_k_bwd if block_k_bwd is not None else fit_block(b_bk, nk)
    nq_pad = -(-nq // max(bq, bq_b)) * max(bq, bq_b)
    nk_pad = -(-nk // max(bk, bk_b)) * max(bk, bk_b)

    cfg = _Config(
        scale=scale,
        causal=bool(is_causal),
        nq=nq,
        nk=nk,
        nq_pad=nq_pad,
        nk_pad=nk_pad,
        groups=hq // hk,
        block_q=bq,
        block_k=bk,
        block_q_bwd=bq_b,
        block_k_bwd=bk_b,
        num_warps=num_warps or f_warps,
        num_stages=num_stages or f_stages,
        num_warps_bwd=num_warps_bwd or b_warps,
        num_stages_bwd=num_stages_bwd or b_stages,
        fused_bwd=bool(fused_backward),
        f32_precision=f32_precision if q.dtype == jnp.float32 else None,
        return_stats=bool(return_stats),
        interpret=bool(interpret),
    )

    def pad(x, axis_len: tuple[tuple[int, int], ...]):
        widths = [(0, 0)] * x.ndim
        changed = False
        for axis, target in axis_len:
            if x.shape[axis] != target:
                widths[axis] = (0, target - x.shape[axis])
                changed = True
        return jnp.pad(x, widths) if changed else x

    qp = pad(q, ((1, nq_pad), (3, d_pad)))
    kp = pad(k, ((1, nk_pad), (3, d_pad)))
    vp = pad(v, ((1, nk_pad), (3, d_pad)))
    biasp = None if bias is None else pad(bias, ((2, nq_pad), (3, nk_pad)))
    maskp = None if mask is None else pad(mask_int8(mask), ((2, nq_pad), (3, nk_pad)))

    out, lse, ent = _flash(qp, kp, vp, biasp, maskp, cfg)
    out = out[:, :nq, :, :d]
    if not return_stats:
        return out
    return out, lse[:, :, :nq], ent[:, :, :nq]
