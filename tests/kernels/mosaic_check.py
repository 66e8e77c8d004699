"""Lowers the Mosaic GPU attention forward for Hopper (sm_90) without a GPU and reads what it contains.

Pallas' Mosaic GPU lowering runs in Python: it builds the kernel's MLIR (``gpu.launch`` with NVVM ops and
inline PTX) for the GPU it asks jax about, and, without one, for compute capability 9.0 (H100/H200). The
module travels serialized inside the ``mosaic_gpu_v2`` custom call; the rest (LLVM, PTX, ``ptxas``) runs in
the CUDA plugin's custom-call compiler on a GPU machine, so this stops at the MLIR: it deserializes it and
counts the tensor-core products (``wgmma`` shapes), TMA copies, mbarrier waits, ``setmaxnreg`` and the
dynamic shared memory of the launch.

    python tests/kernels/mosaic_check.py [--json out.json]     # any interpreter with jax and cogsim
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys

import jax
import jax.numpy as jnp

SM90_SMEM_LIMIT = 232_448  # bytes per block, opt-in (H100/H200)

# name -> (dtype, head_dim, is_causal, return_stats, q_len, k_len, heads, kv_heads)
CONFIGS = {
    "bf16-d64": ("bfloat16", 64, False, False, 512, 512, 4, 4),
    "bf16-d128-causal": ("bfloat16", 128, True, False, 512, 512, 4, 4),
    "f16-d128-causal-stats-gqa": ("float16", 128, True, True, 512, 512, 4, 2),
    "bf16-d256-causal": ("bfloat16", 256, True, False, 256, 256, 2, 2),
    "bf16-d32-unaligned": ("bfloat16", 32, True, True, 100, 300, 2, 1),
}


def kernel_module_text(lowered) -> str:
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
    if len(blobs) != 1:
        raise AssertionError(f"expected one Mosaic GPU custom call, found {len(blobs)}")
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


def inspect_case(name: str) -> dict:
    """Lowers one configuration for CUDA and returns what its kernel module holds."""
    from cogsim.kernels.mosaic_attention import mosaic_attention

    dtype, d, causal, stats, nq, nk, hq, hk = CONFIGS[name]
    q = jax.ShapeDtypeStruct((2, nq, hq, d), jnp.dtype(dtype))
    kv = jax.ShapeDtypeStruct((2, nk, hk, d), jnp.dtype(dtype))

    def f(q, k, v):
        return mosaic_attention(q, k, v, is_causal=causal, return_stats=stats)

    text = kernel_module_text(jax.jit(f).trace(q, kv, kv).lower(lowering_platforms=("cuda",)))
    ops = collections.Counter(re.findall(r"(nvvm\.[a-z_.0-9]+)", text))
    tag = {"bfloat16": "bf16", "float16": "f16"}[dtype]
    launch = re.search(
        r"gpu\.launch .*?threads\(.*?\) in \(%\w+ = %c(\d+).*?dynamic_shared_memory_size (%\w+)", text
    )
    size = launch and re.search(rf"{re.escape(launch.group(2))} = arith\.constant (\d+) : i32", text)
    return {
        "case": name,
        "jax": jax.__version__,
        "dtype": dtype,
        "head_dim": d,
        "k_len": nk,
        "wgmma_n": sorted(
            {
                int(n)
                for n in re.findall(
                    rf"wgmma\.mma_async\.sync\.aligned\.m64n(\d+)k16\.f32\.{tag}\.{tag}", text
                )
            }
        ),
        "tma_loads": ops["nvvm.cp.async.bulk.tensor.shared.cluster.global"],
        "tma_stores": ops["nvvm.cp.async.bulk.tensor.global.shared.cta"],
        # NVVM ops under jax 0.10, inline PTX under 0.11: count the mnemonic either way
        "mbarrier_waits": len(re.findall(r"mbarrier[._]try_wait", text)),
        "wgmma_waits": len(re.findall(r"wgmma[._]wait[._]group", text)),
        "setmaxnreg": len(re.findall(r"nvvm\.setmaxregister|setmaxnreg\.(?:inc|dec)", text)),
        "threads": int(launch.group(1)) if launch else None,
        "smem_bytes": int(size.group(1)) if size else None,
        "smem_limit": SM90_SMEM_LIMIT,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the findings here")
    args = ap.parse_args(argv)
    found = [inspect_case(name) for name in CONFIGS]
    for row in found:
        print(json.dumps(row))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(found, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
