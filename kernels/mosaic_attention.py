"""FlashAttention forward for Hopper (sm_90a) in Pallas' Mosaic GPU backend, FA3 style.

Each program handles one 128-row query tile of one (batch, head) with three warpgroups: two compute
warpgroups (64 query rows each) and one producer warpgroup that streams key/value tiles from global to
shared memory with TMA (``cp.async.bulk.tensor``) into a ring of ``num_stages`` slots guarded by
mbarriers. The compute warpgroups run ``q k^T`` and ``p v`` on ``wgmma`` (asynchronous warpgroup MMA,
operands in swizzled shared memory, ``p`` from registers) and keep an online softmax in registers (running
max, denominator and, for statistics, the entropy sum, all in base 2). A shared "turn" barrier makes the two
compute warpgroups alternate, so one's softmax overlaps the other's matmuls (FlashAttention-3's ping-pong).

Inputs: bfloat16/float16 only (``wgmma`` takes 16-bit register operands and Mosaic transposes 16-bit
shared-memory operands only; float32, bias and mask calls go to the Triton kernel). Head dims up to 256
(padded to 64/128/256), any lengths (padded keys are masked), causal (bottom-right aligned), grouped-query
attention. The forward returns the logsumexp (and the entropy with ``return_stats``); the backward is the
Triton kernels' (:mod:`cogsim.kernels.flash_attention`) on these residuals, so no forward is recomputed.

``interpret=True`` runs a jnp emulation of the kernel's schedule (same 64-row tiles, key-block loops and
base-2 online softmax): Mosaic GPU kernels run on Hopper only, so the tests lower the compiled kernel and
``benchmarks/gpu_check.sh`` checks it against the reference on a GPU.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from cogsim.errors import CogsimError
from cogsim.kernels import _common, tiles
from cogsim.kernels._common import MASK_VALUE, MAX_HEAD_DIM, fit_block, next_pow2
from cogsim.kernels.flash_attention import _Config as _TritonConfig
from cogsim.kernels.flash_attention import _flash_bwd as _triton_backward

__all__ = ["mosaic_attention", "MOSAIC_DTYPES", "mosaic_supports"]

MOSAIC_DTYPES = (jnp.bfloat16, jnp.float16)
LOG2E = math.log2(math.e)
LN2 = math.log(2.0)
WG_ROWS = 64  # query rows per compute warpgroup (wgmma's M)
COMPUTE_WGS = 2


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Static description of one call after padding (hashable: a custom_vjp argument)."""

    scale: float
    causal: bool
    nq: int
    nk: int
    nq_pad: int
    nk_pad: int
    head_dim: int  # padded
    groups: int
    block_k: int
    num_stages: int
    return_stats: bool
    interpret: bool

    @property
    def offset(self) -> int:
        return self.nk - self.nq

    @property
    def kv_padded(self) -> bool:
        return self.nk != self.nk_pad


def mosaic_supports(q, k, v, bias=None, mask=None) -> bool:
    """Whether the Mosaic kernel takes a call: 16-bit inputs of one dtype, head_dim <= 256, no bias or mask.

    Example:
      >>> import jax.numpy as jnp
      >>> x = jnp.zeros((1, 8, 1, 64), jnp.bfloat16)
      >>> mosaic_supports(x, x, x), mosaic_supports(x.astype(jnp.float32), x, x)
      (True, False)
    """
    return (
        q.dtype in MOSAIC_DTYPES
        and q.dtype == k.dtype == v.dtype
        and q.shape[-1] <= MAX_HEAD_DIM
        and bias is None
        and mask is None
    )


def _key_steps(plan: _Plan, q_base):
    """For 64 query rows from ``q_base``: (leading key blocks needing no mask, key blocks to visit).

    Without causal masking both are Python ints (static loop bounds, which Mosaic lowers as such).
    """
    bk, nkb = plan.block_k, plan.nk_pad // plan.block_k
    if not plan.causal:
        return (plan.nk // bk if plan.kv_padded else nkb), nkb
    # the last row (q_base + 63) sees keys <= row + offset; the first row keys <= q_base + offset
    steps = jnp.clip(_common.idiv(jnp.maximum(q_base + WG_ROWS + plan.offset, 0) + bk - 1, bk), 0, nkb)
    full = jnp.clip(_common.idiv(jnp.maximum(q_base + plan.offset + 1, 0), bk), 0, nkb)
    if plan.kv_padded:
        full = jnp.minimum(full, plan.nk // bk)
    return jnp.minimum(full, steps).astype(jnp.int32), steps.astype(jnp.int32)


def _valid(plan: _Plan, q_pos, k_pos):
    """Key positions a query may see (causal, padding); None when nothing is masked."""
    valid = None
    if plan.causal:
        valid = k_pos <= q_pos + plan.offset
    if plan.kv_padded:
        in_range = k_pos < plan.nk
        valid = in_range if valid is None else valid & in_range
    return valid


def _softmax_step(plan: _Plan, s, m, den, u):
    """One online-softmax update on base-2 scores ``s`` [rows, bk]; returns (p, alpha, m, den, u)."""
    m_new = jnp.maximum(m, s.max(axis=1))
    alpha = jnp.exp2(m - m_new)
    m_b = lax.broadcast_in_dim(m_new, s.shape, [0])
    p = jnp.exp2(s - m_b)
    if plan.return_stats:  # u = sum_j p_j (s_j - m); alpha * den is 0 whenever m leaves MASK_VALUE
        u = alpha * u + (alpha * den) * (m - m_new) + (p * (s - m_b)).sum(axis=1)
    den = alpha * den + p.sum(axis=1)
    return p, alpha, m_new, den, u


def _finish(m, den, u):
    """(1 / denominator or 0, natural logsumexp, entropy in nats) from the running row statistics."""
    empty = m <= MASK_VALUE  # every key masked: the running max never left MASK_VALUE
    l_safe = jnp.where(empty, 1.0, den)
    inv = jnp.where(empty, 0.0, 1.0 / l_safe)
    lse = jnp.where(empty, -jnp.inf, (m + jnp.log2(l_safe)) * LN2)
    ent = jnp.where(empty, 0.0, jnp.maximum(jnp.log(l_safe) - LN2 * u / l_safe, 0.0))
    return inv, lse, ent


# The Mosaic GPU kernel
def _mosaic_forward(q, k, v, plan: _Plan):
    import jax.experimental.pallas as pl
    import jax.experimental.pallas.mosaic_gpu as plgpu

    b, nq_pad, hq, d = q.shape
    bk, stages = plan.block_k, plan.num_stages
    dtype = q.dtype
    c = plan.scale * LOG2E
    wgmma = plgpu.Layout.WGMMA
    row = wgmma.reduce(1)

    def compute(refs, scratch, wg, tile_steps):
        q_ref, out_ref, lse_ref, ent_ref = refs
        (qo_smem2, k_smem, v_smem, lse_smem2, ent_smem2), (k_ready, v_ready, q_ready), frees, turn = scratch
        k_free, v_free = frees
        batch, head = lax.axis_index("batch"), lax.axis_index("heads")
        q_base = lax.axis_index("tiles") * (COMPUTE_WGS * WG_ROWS) + wg * WG_ROWS
        full, steps = _key_steps(plan, q_base)
        qo_smem = qo_smem2.at[wg]

        def take_turn():
            plgpu.barrier_arrive(turn)
            plgpu.barrier_wait(turn)

        plgpu.set_max_registers(232, action="increase")
        plgpu.copy_gmem_to_smem(q_ref.at[batch, pl.ds(q_base, WG_ROWS), head], qo_smem, q_ready.at[wg])
        plgpu.barrier_wait(q_ready.at[wg])
        m = plgpu.layout_cast(jnp.full((WG_ROWS,), MASK_VALUE, jnp.float32), row)
        den = plgpu.layout_cast(jnp.zeros((WG_ROWS,), jnp.float32), row)
        u = plgpu.layout_cast(jnp.zeros((WG_ROWS,), jnp.float32), row)
        acc = plgpu.layout_cast(jnp.zeros((WG_ROWS, d), jnp.float32), wgmma)

        @pl.when(steps > 0)
        def _():
            plgpu.barrier_wait(k_ready.at[0])

        pl.when(wg == 1)(take_turn)  # warpgroup 0 starts on the tensor cores

        def step(kb, carry, *, masked: bool):
            acc, m, den, u = carry
            slot = lax.rem(kb, jnp.int32(stages))

            def qk_product(acc_ref):
                plgpu.wgmma(acc_ref, qo_smem, plgpu.transpose_ref(k_smem.at[slot], (1, 0)))
                take_turn()
                return acc_ref[...]

            s = pl.run_scoped(qk_product, plgpu.ACC((WG_ROWS, bk), jnp.float32)) * c
            plgpu.barrier_arrive(k_free.at[slot])
            if masked:
                q_pos = q_base + plgpu.broadcasted_iota(jnp.int32, (WG_ROWS, bk), 0, layout=wgmma)
                k_pos = kb * bk + plgpu.broadcasted_iota(jnp.int32, (WG_ROWS, bk), 1, layout=wgmma)
                valid = _valid(plan, q_pos, k_pos)
                if valid is not None:
                    s = jnp.where(valid, s, MASK_VALUE)
            p, alpha, m, den, u = _softmax_step(plan, s, m, den, u)
            acc = acc * lax.broadcast_in_dim(alpha, acc.shape, [0])
            p16 = p.astype(dtype)
            acc, m, den, u, p16 = lax.optimization_barrier((acc, m, den, u, p16))
            plgpu.barrier_arrive(turn)  # softmax done: the other warpgroup may issue its matmul
            plgpu.barrier_wait(v_ready.at[slot])
            plgpu.barrier_wait(turn)

            def pv_product(acc_ref):
                plgpu.wgmma(acc_ref, p16, v_smem.at[slot])
                nxt = kb + 1

                @pl.when(nxt < steps)
                def _():
                    plgpu.barrier_wait(k_ready.at[lax.rem(nxt, jnp.int32(stages))])

            acc = pl.run_state(pv_product)(plgpu.ACC.init(acc))
            plgpu.barrier_arrive(v_free.at[slot])
            return acc, m, den, u

        carry = (acc, m, den, u)
        carry = lax.fori_loop(0, full, functools.partial(step, masked=False), carry)
        acc, m, den, u = lax.fori_loop(full, steps, functools.partial(step, masked=True), carry)

        def drain(kb, _):  # key blocks the other warpgroup still needs: release the slots, keep the turns
            slot = lax.rem(kb, jnp.int32(stages))
            plgpu.barrier_arrive(k_free.at[slot])
            plgpu.barrier_arrive(v_free.at[slot])
            take_turn()
            take_turn()

        lax.fori_loop(steps, tile_steps, drain, None)
        pl.when(wg == 0)(take_turn)

        inv, lse, ent = _finish(m, den, u)
        qo_smem[...] = (acc * lax.broadcast_in_dim(inv, acc.shape, [0])).astype(dtype)
        lse_smem2.at[wg][...] = lse
        if plan.return_stats:
            ent_smem2.at[wg][...] = ent
        plgpu.commit_smem()
        plgpu.copy_smem_to_gmem(qo_smem, out_ref.at[batch, pl.ds(q_base, WG_ROWS), head])
        plgpu.copy_smem_to_gmem(lse_smem2.at[wg], lse_ref.at[batch, head, pl.ds(q_base, WG_ROWS)])
        if plan.return_stats:
            plgpu.copy_smem_to_gmem(ent_smem2.at[wg], ent_ref.at[batch, head, pl.ds(q_base, WG_ROWS)])
        plgpu.wait_smem_to_gmem(0)

    def produce(k_ref, v_ref, scratch, tile_steps):
        (_, k_smem, v_smem, _, _), (k_ready, v_ready, _), (k_free, v_free), _ = scratch
        plgpu.set_max_registers(40, action="decrease")
        batch = lax.axis_index("batch")
        kv_head = lax.div(lax.axis_index("heads"), jnp.int32(plan.groups))

        def load(kb, slot):
            rows = (batch, pl.ds(kb * bk, bk), kv_head)
            plgpu.copy_gmem_to_smem(k_ref.at[rows], k_smem.at[slot], k_ready.at[slot])
            plgpu.copy_gmem_to_smem(v_ref.at[rows], v_smem.at[slot], v_ready.at[slot])

        for i in range(stages):
            pl.when(i < tile_steps)(functools.partial(load, i, i))  # a bool without causal masking

        def refill(kb, _):
            slot = lax.rem(kb, jnp.int32(stages))
            plgpu.barrier_wait(k_free.at[slot])
            plgpu.barrier_wait(v_free.at[slot])
            load(kb + stages, slot)

        lax.fori_loop(0, tile_steps - stages, refill, None)

    def body(q_ref, k_ref, v_ref, out_ref, lse_ref, *rest):
        ent_ref = rest[0] if plan.return_stats else None

        def scoped(*scratch):
            wg = lax.axis_index("wg")
            tile_base = lax.axis_index("tiles") * (COMPUTE_WGS * WG_ROWS)
            _, tile_steps = _key_steps(plan, tile_base + WG_ROWS)  # the later warpgroup needs the most
            pl.when(wg < COMPUTE_WGS)(
                lambda: compute((q_ref, out_ref, lse_ref, ent_ref), scratch, wg, tile_steps)
            )
            pl.when(wg == COMPUTE_WGS)(lambda: produce(k_ref, v_ref, scratch, tile_steps))

        swizzled = (plgpu.TilingTransform((8, 64)), plgpu.SwizzleTransform(128))
        stats = plgpu.SMEM((COMPUTE_WGS, WG_ROWS), jnp.float32)
        pl.run_scoped(
            scoped,
            (
                plgpu.SMEM((COMPUTE_WGS, WG_ROWS, d), dtype, transforms=swizzled),
                plgpu.SMEM((stages, bk, d), dtype, transforms=swizzled),
                plgpu.SMEM((stages, bk, d), dtype, transforms=swizzled),
                stats,
                stats if plan.return_stats else None,
            ),
            (
                plgpu.Barrier(num_barriers=stages),
                plgpu.Barrier(num_barriers=stages),
                plgpu.Barrier(num_barriers=COMPUTE_WGS),
            ),
            (plgpu.Barrier(num_arrivals=COMPUTE_WGS, num_barriers=stages),) * 2,
            plgpu.Barrier(num_arrivals=COMPUTE_WGS),
            collective_axes="wg",
        )

    stat = jax.ShapeDtypeStruct((b, hq, nq_pad), jnp.float32)
    out_type = [jax.ShapeDtypeStruct(q.shape, dtype), stat] + ([stat] if plan.return_stats else [])
    res = plgpu.kernel(
        body,
        out_type=out_type,
        grid=(hq, nq_pad // (COMPUTE_WGS * WG_ROWS), b),
        grid_names=("heads", "tiles", "batch"),
        num_threads=COMPUTE_WGS + 1,
        thread_name="wg",
        compiler_params=plgpu.CompilerParams(approx_math=True),
    )(q, k, v)
    out, lse = res[0], res[1]
    ent = res[2] if plan.return_stats else jnp.zeros_like(lse)
    return out, lse, ent


# jnp emulation of the kernel's schedule (interpret=True)
def _emulated_forward(q, k, v, plan: _Plan):
    """The kernel's arithmetic in jnp: per 64-row tile, the unmasked then the masked key-block loop."""
    b, nq_pad, hq, d = q.shape
    bk = plan.block_k
    k = jnp.repeat(k, plan.groups, axis=2) if plan.groups > 1 else k
    v = jnp.repeat(v, plan.groups, axis=2) if plan.groups > 1 else v
    c = plan.scale * LOG2E

    def tile(q_t, k_h, v_h, q_base):  # q_t [64, d]; k_h, v_h [nk_pad, d]
        full, steps = _key_steps(plan, q_base)

        def step(kb, carry, *, masked: bool):
            acc, m, den, u = carry
            k_t = lax.dynamic_slice_in_dim(k_h, kb * bk, bk)
            v_t = lax.dynamic_slice_in_dim(v_h, kb * bk, bk)
            s = jnp.dot(q_t, k_t.T, preferred_element_type=jnp.float32) * c
            if masked:
                q_pos = q_base + lax.broadcasted_iota(jnp.int32, s.shape, 0)
                k_pos = kb * bk + lax.broadcasted_iota(jnp.int32, s.shape, 1)
                valid = _valid(plan, q_pos, k_pos)
                if valid is not None:
                    s = jnp.where(valid, s, MASK_VALUE)
            p, alpha, m, den, u = _softmax_step(plan, s, m, den, u)
            acc = acc * alpha[:, None] + jnp.dot(p.astype(q.dtype), v_t, preferred_element_type=jnp.float32)
            return acc, m, den, u

        rows = jnp.zeros((WG_ROWS,), jnp.float32)
        carry = (jnp.zeros((WG_ROWS, d), jnp.float32), rows + MASK_VALUE, rows, rows)
        carry = lax.fori_loop(0, full, functools.partial(step, masked=False), carry)
        acc, m, den, u = lax.fori_loop(full, steps, functools.partial(step, masked=True), carry)
        inv, lse, ent = _finish(m, den, u)
        return (acc * inv[:, None]).astype(q.dtype), lse, ent

    ntiles = nq_pad // WG_ROWS
    q_tiles = q.reshape(b, ntiles, WG_ROWS, hq, d).transpose(0, 3, 1, 2, 4)  # [b, h, t, 64, d]
    bases = jnp.arange(ntiles, dtype=jnp.int32) * WG_ROWS
    per_tile = jax.vmap(tile, in_axes=(0, None, None, 0))
    per_head = jax.vmap(per_tile, in_axes=(0, 1, 1, None))
    out, lse, ent = jax.vmap(per_head, in_axes=(0, 0, 0, None))(q_tiles, k, v, bases)
    out = out.transpose(0, 2, 3, 1, 4).reshape(b, nq_pad, hq, d)
    return out, lse.reshape(b, hq, nq_pad), ent.reshape(b, hq, nq_pad)


def _forward(q, k, v, plan: _Plan):
    return (_emulated_forward if plan.interpret else _mosaic_forward)(q, k, v, plan)


# custom_vjp: the Triton backward on the Mosaic forward's residuals
def _triton_config(plan: _Plan, dtype) -> _TritonConfig:
    """The Triton kernels' configuration for the backward on the Mosaic padding (blocks divide it)."""
    dq_t, kv_t = (tiles.choose(kind, head_dim=plan.head_dim, dtype=dtype) for kind in ("dq", "dkdv"))
    bq_b = min(fit_block(min(dq_t.block_q, kv_t.block_q), plan.nq), COMPUTE_WGS * WG_ROWS)
    bk_b = min(fit_block(min(dq_t.block_k, kv_t.block_k), plan.nk), plan.block_k)
    return _TritonConfig(
        scale=plan.scale,
        causal=plan.causal,
        nq=plan.nq,
        nk=plan.nk,
        nq_pad=plan.nq_pad,
        nk_pad=plan.nk_pad,
        groups=plan.groups,
        block_q=bq_b,
        block_k=bk_b,
        block_q_bwd=bq_b,
        block_k_bwd=bk_b,
        num_warps=max(dq_t.num_warps, kv_t.num_warps),
        num_stages=min(dq_t.num_stages, kv_t.num_stages),
        num_warps_bwd=max(dq_t.num_warps, kv_t.num_warps),
        num_stages_bwd=min(dq_t.num_stages, kv_t.num_stages),
        fused_bwd=False,
        f32_precision=None,
        return_stats=plan.return_stats,
        interpret=plan.interpret,
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _attention(q, k, v, plan: _Plan):
    return _forward(q, k, v, plan)


def _attention_fwd(q, k, v, plan: _Plan):
    out, lse, ent = _forward(q, k, v, plan)
    return (out, lse, ent), (q, k, v, out, lse, ent)


def _attention_bwd(plan: _Plan, res, cotangents):
    q, k, v, out, lse, ent = res
    cfg = _triton_config(plan, q.dtype)
    dq, dk, dv, _, _ = _triton_backward(cfg, (q, k, v, None, None, out, lse, ent, None), cotangents)
    return dq, dk, dv


_attention.defvjp(_attention_fwd, _attention_bwd)


# Public entry point


def mosaic_attention(
    q: Float[Array, "batch q_len heads head_dim"],
    k: Float[Array, "batch k_len kv_heads head_dim"],
    v: Float[Array, "batch k_len kv_heads head_dim"],
    *,
    is_causal: bool = False,
    scale: float | None = None,
    return_stats: bool = False,
    block_k: int | None = None,
    num_stages: int = 2,
    interpret: bool = False,
):
    """FlashAttention forward on Hopper tensor cores (Mosaic GPU, FA3 style) with the Triton backward.

    Args:
      q: queries ``[batch, q_len, heads, head_dim]``, bfloat16 or float16, ``head_dim <= 256``.
      k: keys ``[batch, k_len, kv_heads, head_dim]``; ``heads`` a multiple of ``kv_heads``.
      v: values, same shape and dtype as ``k``.
      is_causal: causal masking, bottom-right aligned (query ``i`` sees keys ``j <= i + k_len - q_len``).
      scale: score scale, a finite number >= 0 (not a traced value); defaults to ``1/sqrt(head_dim)``.
      return_stats: also return the natural-log logsumexp and the entropy (nats) per query,
        ``[batch, heads, q_len]`` float32 (``-inf`` and 0 for rows with no visible key).
      block_k: key rows per pipelined tile, 64 or 128; default 128 up to head_dim 128, else 64.
      num_stages: key/value tiles in flight (shared-memory ring slots), >= 1.
      interpret: run the jnp emulation of the kernel's schedule (any device) instead of the kernel.

    Returns:
      ``out`` ``[batch, q_len, heads, head_dim]``, or ``(out, lse, entropy)`` with ``return_stats``
      (empty when ``batch``, ``q_len`` or ``heads`` is 0).

    Raises:
      CogsimError: on shapes or dtypes the kernel does not take, a bad ``scale``, ``block_k`` or flag, or
        a compiled call (``interpret=False``) made off the GPU.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from cogsim.kernels import mosaic_attention
      >>> q = k = v = jax.random.normal(jax.random.key(0), (1, 100, 2, 64), jnp.bfloat16)
      >>> out, lse, ent = mosaic_attention(q, k, v, is_causal=True, return_stats=True, interpret=True)
      >>> out.shape, lse.shape, float(ent[0, 0, 0])
      ((1, 100, 2, 64), (1, 2, 100), 0.0)
    """
    where = "mosaic_attention"
    flags = dict(is_causal=is_causal, return_stats=return_stats)
    q, k, v, _, _, scale = _common.check_kernel_call(
        where, q, k, v, None, None, scale=scale, interpret=interpret, **flags
    )
    if q.dtype not in MOSAIC_DTYPES:
        raise CogsimError(
            f"{where}: q has dtype {q.dtype}; allowed: bfloat16, float16 (float32 runs on the Triton kernel)"
        )
    b, nq, hq, d = q.shape
    nk, hk = k.shape[1], k.shape[2]
    d_pad = max(64, next_pow2(d))
    if block_k is None:
        block_k = 128 if d_pad <= 128 else 64
    if not isinstance(block_k, int) or isinstance(block_k, bool) or block_k not in (64, 128):
        raise CogsimError(f"{where}: block_k={block_k!r} is not allowed; use 64 or 128")
    if not isinstance(num_stages, int) or isinstance(num_stages, bool) or num_stages < 1:
        raise CogsimError(f"{where}: num_stages={num_stages!r} is not allowed; use a positive integer")
    if 0 in (b, nq, hq):
        return _common.empty_attention(q, return_stats)
    tile_q = COMPUTE_WGS * WG_ROWS
    nq_pad, nk_pad = -(-nq // tile_q) * tile_q, -(-nk // block_k) * block_k
    plan = _Plan(
        scale=1.0 / math.sqrt(d) if scale is None else scale,
        causal=bool(is_causal),
        nq=nq,
        nk=nk,
        nq_pad=nq_pad,
        nk_pad=nk_pad,
        head_dim=d_pad,
        groups=hq // hk,
        block_k=block_k,
        num_stages=min(num_stages, nk_pad // block_k),
        return_stats=bool(return_stats),
        interpret=bool(interpret),
    )

    def pad(x, length):
        return jnp.pad(x, ((0, 0), (0, length - x.shape[1]), (0, 0), (0, d_pad - d)))

    out, lse, ent = _attention(pad(q, nq_pad), pad(k, nk_pad), pad(v, nk_pad), plan)
    out = out[:, :nq, :, :d]
    if not return_stats:
        return out
    return out, lse[:, :, :nq], ent[:, :, :nq]
