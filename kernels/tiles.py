"""Tile sizes of the attention kernels from a shared-memory and register budget.

Triton keeps the streamed tiles of a kernel (keys and values in the forward and ``dq`` kernels; queries and
output gradients in the ``dk``/``dv`` kernel; bias and mask tiles in all of them) in shared memory, one copy
per software-pipelining stage, and the accumulators and score tiles in registers. A configuration that
asks for more shared memory than the architecture gives one block does not compile; one whose live
values exceed the registers spills to local memory and runs slowly. :func:`choose` walks the candidate
tiles from the largest down and returns the first that fits both budgets for the given (kernel, dtype,
head dim, bias/mask/stats, arch). The estimates are checked against the compiler by the compile test
(tests/kernels/test_compile.py), which reads the real numbers from ``ptxas``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

__all__ = ["Tiles", "ARCH_SMEM", "choose", "smem_bytes", "live_values_per_thread", "default_arch"]

# Largest dynamic shared memory of one thread block (bytes), per architecture.
ARCH_SMEM = {"sm_80": 166_912, "sm_86": 101_376, "sm_89": 101_376, "sm_90": 232_448}
# Fraction of the budget the estimate may use (layout-conversion scratch and barriers come on top).
SMEM_MARGIN = 0.85
# 32-bit values a thread may hold live in tiles (of 255 registers, the rest go to addresses, indices, row
# statistics and the compiler's temporaries), per kernel; calibrated on ptxas (tests/kernels/ptx_check.py):
# bfloat16 D=128 forward at 128x64 tiles and 8 warps (160 by the estimate) used 230 registers without
# spills, the dk/dv kernel at 64x64 (144) spilled, and so did float32 dk/dv at 64x32 on sm_90a (152) and
# the fused backward in bfloat16 at 64x32 (136).
MAX_LIVE_VALUES = {"fwd": 160, "dq": 160, "dkdv": 128, "fused": 128, "topk": 112}

KINDS = ("fwd", "dq", "dkdv", "fused", "topk")


@dataclasses.dataclass(frozen=True)
class Tiles:
    """One kernel's tile shape and launch parameters."""

    block_q: int
    block_k: int
    num_warps: int
    num_stages: int


def default_arch() -> str:
    """``"sm_XY"`` of the first GPU, or ``"sm_90"`` (the target of the compile check) without one."""
    try:
        cc = getattr(jax.devices("gpu")[0], "compute_capability", None)
    except RuntimeError:
        cc = None
    if not cc:
        return "sm_90"
    major, _, minor = str(cc).partition(".")
    return f"sm_{major}{minor or 0}"


def _budget(arch: str) -> int:
    if arch in ARCH_SMEM:
        return ARCH_SMEM[arch]
    return ARCH_SMEM["sm_90"] if arch >= "sm_90" else min(ARCH_SMEM.values())


def smem_bytes(
    kind: str, t: Tiles, *, head_dim: int, itemsize: int, bias_itemsize: int | None, has_mask: bool
) -> int:
    """Estimated shared memory of one block: pipelined tiles times stages plus the resident operands."""
    bq, bk, d, s = t.block_q, t.block_k, head_dim, max(t.num_stages, 1)
    side = (bq * bk * bias_itemsize if bias_itemsize else 0) + (bq * bk if has_mask else 0)
    if kind in ("fwd", "dq", "topk"):
        streamed = bk * d * itemsize * (1 if kind == "topk" else 2) + side  # k (and v) per key block
        resident = bq * d * itemsize * (2 if kind == "dq" else 1)  # q (and do)
    else:  # dkdv: q and do stream past resident k and v
        streamed = 2 * bq * d * itemsize + side
        resident = 2 * bk * d * itemsize
    return s * streamed + resident + bq * bk * itemsize  # + p/ds for the second dot


def live_values_per_thread(
    kind: str, t: Tiles, *, head_dim: int, itemsize: int, arch: str, f32_precision: str | None, top_k: int = 0
) -> int:
    """Estimated 32-bit values live per thread: float32 accumulators and score tiles, plus the dot operands
    held in registers (the resident tile; on sm_8x ``mma`` also the streamed one), doubled by TF32x3's
    hi/lo splits."""
    bq, bk, d = t.block_q, t.block_k, head_dim
    words = itemsize / 4
    if kind == "fwd":
        live, resident, streamed = bq * d + 2 * bq * bk, bq * d, bk * d
    elif kind == "dq":
        live, resident, streamed = bq * d + 3 * bq * bk, 2 * bq * d, 2 * bk * d
    elif kind in ("dkdv", "fused"):
        live, resident, streamed = 2 * bk * d + 3 * bq * bk, 2 * bk * d, 2 * bq * d
        if kind == "fused":
            live += bq * d  # the dq share added atomically
    else:  # topk: scores, the running list (values and indices) and its merge copies
        live, resident, streamed = 3 * bq * bk + 4 * bq * next_pow2(max(top_k, 1)), bq * d, bk * d
    # mma (sm_8x) takes both operands from registers; so do the transposed products of the dk/dv kernel
    operands = resident + (streamed if arch < "sm_90" or kind in ("dkdv", "fused") else 0)
    if f32_precision == "tf32x3":
        operands *= 2
        live += bq * bk
    return int(-(-(live + operands * words) // (32 * t.num_warps)))


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _candidates(kind: str, head_dim: int):
    warps = 4 if head_dim <= 64 else 8
    if kind == "fwd":
        shapes = [(128, 64), (128, 32), (64, 64), (64, 32), (32, 32), (32, 16), (16, 16)]
    elif kind == "topk":
        shapes = [(64, 64), (32, 64), (32, 32), (16, 64), (16, 32), (16, 16)]
        warps = 4
    else:
        shapes = [(64, 64), (64, 32), (32, 64), (32, 32), (32, 16), (16, 16)]
    for bq, bk in shapes:  # pipelined first (largest tiles first), then unpipelined
        for stages in (3, 2) if kind == "fwd" else (2,):
            yield Tiles(bq, bk, warps, stages)
    for bq, bk in shapes:
        yield Tiles(bq, bk, warps, 1)


def choose(
    kind: str,
    *,
    head_dim: int,
    dtype,
    bias_dtype=None,
    has_mask: bool = False,
    arch: str | None = None,
    f32_precision: str | None = "tf32",
    top_k: int = 0,
) -> Tiles:
    """The largest candidate tiles of kernel ``kind`` that fit the shared-memory and register budgets.

    Args:
      kind: ``"fwd"``, ``"dq"``, ``"dkdv"``, ``"fused"`` (dk, dv and dq in one backward kernel) or
        ``"topk"``.
      head_dim: the padded head dimension (a power of two).
      dtype: the dtype of q, k and v.
      bias_dtype: the bias dtype, or None without a bias.
      has_mask: whether a (int8) mask tile is streamed.
      arch: ``"sm_80"``, ``"sm_90"``, ...; default :func:`default_arch`.
      f32_precision: ``"tf32"``, ``"tf32x3"`` or ``"ieee"`` for float32 inputs.
      top_k: the keys kept per query (``kind="topk"``).

    Example:
      >>> import jax.numpy as jnp
      >>> choose("fwd", head_dim=128, dtype=jnp.bfloat16, arch="sm_90")
      Tiles(block_q=128, block_k=64, num_warps=8, num_stages=3)
    """
    arch = arch or default_arch()
    budget = _budget(arch) * SMEM_MARGIN
    itemsize = jnp.dtype(dtype).itemsize
    bias_itemsize = None if bias_dtype is None else jnp.dtype(bias_dtype).itemsize
    precision = f32_precision if itemsize == 4 else None
    last = None
    for t in _candidates(kind, head_dim):
        last = t
        smem = smem_bytes(
            kind, t, head_dim=head_dim, itemsize=itemsize, bias_itemsize=bias_itemsize, has_mask=has_mask
        )
        live = live_values_per_thread(
            kind, t, head_dim=head_dim, itemsize=itemsize, arch=arch, f32_precision=precision, top_k=top_k
        )
        if smem <= budget and live <= MAX_LIVE_VALUES[kind]:
            return t
    return last
