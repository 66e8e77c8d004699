"""The Mosaic GPU forward lowers for Hopper (sm_90a) without a GPU, with TMA, wgmma and warp specialization.

Pallas' Mosaic GPU lowering runs in Python: it builds the kernel's MLIR (``gpu.launch`` with NVVM ops and
inline PTX) for the GPU it asks jax about, and, without one, for sm_90 (compute capability 9.0, the
H100/H200). The module travels serialized inside the ``mosaic_gpu_v2`` custom call; the rest (LLVM, PTX,
``ptxas``) runs inside the CUDA plugin's custom-call compiler on a GPU machine, so here the check stops at
the MLIR: it deserializes it and asserts, per configuration, the tensor-core products (``wgmma`` m64nNk16 of
the input dtype into float32, for ``q k^T`` and for ``p v``), TMA loads (``cp.async.bulk.tensor``, global to
shared) and stores, mbarrier waits, the register split of the warp specialization (``setmaxnreg``) and the
dynamic shared memory within the H100/H200 per-block limit.
"""

from __future__ import annotations

import collections
import re

import jax
import jax.numpy as jnp
import pytest

from cogsim.kernels.mosaic_attention import mosaic_attention

SM90_SMEM_LIMIT = 232_448  # bytes per block, opt-in (H100/H200)

# (dtype, head_dim, is_causal, return_stats, q_len, k_len, heads, kv_heads)
CONFIGS = {
    "bf16-d64": (jnp.bfloat16, 64, False, False, 512, 512, 4, 4),
    "bf16-d128-causal": (jnp.bfloat16, 128, True, False, 512, 512, 4, 4),
    "f16-d128-causal-stats-gqa": (jnp.float16, 128, True, True, 512, 512, 4, 2),
    "bf16-d256-causal": (jnp.bfloat16, 256, True, False, 256, 256, 2, 2),
    "bf16-d32-unaligned": (jnp.bfloat16, 32, True, True, 100, 300, 2, 1),
}


def _kernel_module_text(lowered) -> str:
    """The Mosaic GPU module carried by the lowering's custom call, as text (NVVM + inline PTX)."""
    from jax._src.interpreters import mlir as jax_mlir
    from jax._src.lib import mosaic_gpu_dialect
    from jax._src.lib.mlir import ir, passmanager

    blobs = []

    def walk(op):
        for region in op.regions:
            for block in region.blocks:
                for inner in block.operations:
                    if inner.operation.name == "stablehlo.custom_call":
                        config = inner.operation.attributes["mhlo.backend_config"]
                        blobs.append(bytes(ir.StringAttr(config["module"]).value_bytes))
                    walk(inner.operation)

    walk(lowered.compiler_ir("stablehlo").operation)
    assert len(blobs) == 1, f"expected one Mosaic GPU custom call, found {len(blobs)}"
    ctx = jax_mlir.make_ir_context()
    with ctx, ir.Location.unknown():
        mosaic_gpu_dialect.register_dialect(ctx)
        ctx.allow_unregistered_dialects = True  # the serialized form renames the dialects
        module = ir.Module.parse(blobs[0])
        passmanager.PassManager.parse("builtin.module(mosaic_gpu-serde{serialize=false})", ctx).run(
            module.operation
        )
        ctx.allow_unregistered_dialects = False
        module.operation.verify()
        return module.operation.get_asm(enable_debug_info=False)


def _lower(dtype, d, causal, stats, nq, nk, hq, hk) -> str:
    q = jax.ShapeDtypeStruct((2, nq, hq, d), dtype)
    kv = jax.ShapeDtypeStruct((2, nk, hk, d), dtype)

    def f(q, k, v):
        return mosaic_attention(q, k, v, is_causal=causal, return_stats=stats)

    lowered = jax.jit(f).trace(q, kv, kv).lower(lowering_platforms=("cuda",))
    return _kernel_module_text(lowered)


@pytest.mark.parametrize("case", list(CONFIGS))
def test_mosaic_forward_lowers_for_sm90_with_tma_and_wgmma(case):
    dtype, d, causal, stats, nq, nk, hq, hk = CONFIGS[case]
    text = _lower(dtype, d, causal, stats, nq, nk, hq, hk)
    ops = collections.Counter(re.findall(r"(nvvm\.[a-z_.0-9]+)", text))
    d_pad = max(64, 1 << (d - 1).bit_length())
    block_k = 128 if d_pad <= 128 else 64
    tag = {jnp.bfloat16: "bf16", jnp.float16: "f16"}[dtype]
    shapes = set(re.findall(rf"wgmma\.mma_async\.sync\.aligned\.m64n(\d+)k16\.f32\.{tag}\.{tag}", text))
    assert {str(block_k), str(d_pad)} <= shapes, f"wgmma shapes {shapes}"  # q k^T and p v
    assert ops["nvvm.cp.async.bulk.tensor.shared.cluster.global"] >= 3  # TMA loads of q, k, v
    assert ops["nvvm.cp.async.bulk.tensor.global.shared.cta"] >= 1  # TMA stores (out and statistics)
    assert ops["nvvm.mbarrier.try_wait.parity"] > 0 and ops["nvvm.wgmma.wait.group.sync.aligned"] > 0
    assert ops["nvvm.setmaxregister"] == 2  # compute warpgroups up, producer down
    launch = re.search(r"gpu\.launch .*?dynamic_shared_memory_size (%[\w]+)", text)
    assert launch, "no gpu.launch with dynamic shared memory"
    size = re.search(rf"{re.escape(launch.group(1))} = arith\.constant (\d+) : i32", text)
    assert size, "dynamic shared memory size is not a constant"
    smem = int(size.group(1))
    ring = 2 * min(2, -(-nk // block_k)) * block_k * d_pad * 2  # k and v slots
    assert ring < smem <= SM90_SMEM_LIMIT
