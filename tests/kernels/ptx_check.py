"""Compiles the Pallas attention kernels to PTX for sm_90a and sm_80 without a GPU and reads their resources.

For each configuration the kernels are lowered for CUDA (``lowering_platforms=("cuda",)``, which needs no
device), the Triton IR of every ``pallas_call`` is taken from the lowering, compiled by Triton's own
compiler (the ``triton`` package, which needs no GPU either) for the target architecture, and the PTX is
assembled by the ``ptxas`` that ships with it. ``cuobjdump`` reads the cubin: registers, stack and local
memory per thread (``-res-usage``) and the spill instructions (``STL``/``LDL`` in the SASS). Shared memory
is Triton's figure for the launch. The instruction mix counts tensor-core (``wgmma``, ``mma``) and scalar
(``fma``) instructions in the PTX.

Run ``python tests/kernels/ptx_check.py --set all --markdown`` for the table in docs/kernels.md; the test
(tests/kernels/test_compile.py) runs ``--set ci --set precision`` and asserts the budgets.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ARCHS = {"sm_90a": 90, "sm_80": 80}
SMEM_LIMIT = {"sm_90a": 232_448, "sm_80": 166_912}


@dataclasses.dataclass(frozen=True)
class Case:
    """One kernel configuration: a forward (and, when ``grads``, its backward) or a top-k selection."""

    name: str
    dtype: str = "float32"
    d: int = 64
    bias: bool = False
    mask: bool = False
    causal: bool = False
    stats: bool = False
    groups: int = 1
    grads: bool = True
    topk: int = 0
    fused: bool = False
    nq: int = 512
    nk: int = 512
    f32_precision: str = "tf32"
    archs: tuple[str, ...] = ()  # only these architectures (empty: every one asked for)


# What the models send (float32, small heads, bias/mask/stats), what the benchmark sends (bf16 and
# f32-with-bias at D = 64/128), the extremes of the supported range (D = 32 and 256, float16, GQA) and top-k.
CASES = {
    "ci": [
        Case(
            "f32-d128-bias-mask-stats-causal", "float32", 128, bias=True, mask=True, causal=True, stats=True
        ),
        Case("bf16-d128-causal", "bfloat16", 128, causal=True),
        Case("bf16-d128-causal-fused-bwd", "bfloat16", 128, causal=True, fused=True),
        Case("topk-f32-d32-bias-mask", "float32", 32, bias=True, mask=True, topk=8, grads=False),
    ],
}
# float32 dots per f32_precision: TF32 tensor cores for "tf32" (the default), none for "ieee" (one small
# forward each on sm_80, for tests/kernels/test_compile.py)
CASES["precision"] = [
    Case(f"f32-d32-fwd-{p}", "float32", 32, grads=False, nq=64, nk=64, f32_precision=p, archs=("sm_80",))
    for p in ("tf32", "tf32x3", "ieee")
]
CASES["all"] = CASES["ci"] + [
    Case("f32-d32-mask-stats", "float32", 32, mask=True, stats=True),
    Case("f32-d64-bias-stats-fused-bwd", "float32", 64, bias=True, stats=True, fused=True),
    Case("bf16-d256-bias", "bfloat16", 256, bias=True),
    Case("f16-d64-gqa", "float16", 64, groups=4, grads=False),
    Case("f32-d64-bias-causal-stats", "float32", 64, bias=True, causal=True, stats=True),
    Case("f32-d256-mask", "float32", 256, mask=True),
    Case("bf16-d64-causal", "bfloat16", 64, causal=True),
    Case("bf16-d128-bias-mask-stats", "bfloat16", 128, bias=True, mask=True, stats=True),
    Case("f16-d128-gqa-causal", "float16", 128, groups=2, causal=True),
    Case("topk-bf16-d64-top32", "bfloat16", 64, topk=32, grads=False),
]


def _toolchain() -> tuple[str, str]:
    """(triton version, the folder of its CUDA binaries); raises ImportError/FileNotFoundError otherwise."""
    import triton

    base = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
    if not (base / "cuobjdump").exists():
        raise FileNotFoundError(f"no cuobjdump in {base}")
    return triton.__version__, str(base)


# ------------------------------------------------------------------------------------------------ lowering
def lower(case: Case, cc: int) -> list[dict]:
    """Lowers ``case`` for CUDA compute capability ``cc``; returns each pallas_call's Triton IR and launch."""
    import jax
    import jax.numpy as jnp
    from jax._src.interpreters import mlir
    from jax._src.pallas.triton import pallas_call_registration as reg

    from cogsim.kernels import tiles
    from cogsim.kernels.flash_attention import flash_attention
    from cogsim.kernels.topk_attention import topk_attention

    kernels: list[dict] = []
    orig_lower, orig_call, orig_arch = (
        reg.lowering.lower_jaxpr_to_triton_module,
        mlir.custom_call,
        tiles.default_arch,
    )

    def lower_module(jaxpr, grid_mapping, platform, _cc, **kw):
        res = orig_lower(jaxpr, grid_mapping, platform, cc, **kw)
        kernels.append({"ir": res.module.operation.get_asm(enable_debug_info=False)})
        return res

    def custom_call(call_target_name, *args, backend_config=None, **kw):
        if call_target_name == "__gpu$xla.gpu.triton" and kernels and "name" not in kernels[-1]:
            kernels[-1]["name"] = backend_config["name"].value
            kernels[-1]["num_warps"] = backend_config["num_warps"].value
            kernels[-1]["num_stages"] = backend_config["num_stages"].value
        return orig_call(call_target_name, *args, backend_config=backend_config, **kw)

    dtype = jnp.dtype(case.dtype)
    b, hq = 1, 4
    hk = hq // case.groups
    shapes = [
        jax.ShapeDtypeStruct((b, case.nq, hq, case.d), dtype),
        jax.ShapeDtypeStruct((b, case.nk, hk, case.d), dtype),
        jax.ShapeDtypeStruct((b, case.nk, hk, case.d), dtype),
        jax.ShapeDtypeStruct((1, hq, case.nq, case.nk), jnp.float32) if case.bias else None,
        jax.ShapeDtypeStruct((b, 1, case.nq, case.nk), jnp.bool_) if case.mask else None,
    ]

    def fwd(q, k, v, bias, mask):
        if case.topk:
            return topk_attention(q, k, v, top_k=case.topk, bias=bias, mask=mask)[0].astype(jnp.float32).sum()
        res = flash_attention(
            q,
            k,
            v,
            bias=bias,
            mask=mask,
            is_causal=case.causal,
            return_stats=case.stats,
            fused_backward=case.fused,
            f32_precision=case.f32_precision,
        )
        if case.stats:
            return res[0].astype(jnp.float32).sum() + res[2].sum()
        return res.astype(jnp.float32).sum()

    fn = jax.grad(fwd, argnums=(0, 1, 2, 3) if case.bias else (0, 1, 2)) if case.grads else fwd
    reg.lowering.lower_jaxpr_to_triton_module = lower_module
    mlir.custom_call = custom_call
    tiles.default_arch = lambda: f"sm_{cc}"
    try:
        with _abstract_gpu(cc):
            jax.jit(fn).trace(*shapes).lower(lowering_platforms=("cuda",))
    finally:
        reg.lowering.lower_jaxpr_to_triton_module = orig_lower
        mlir.custom_call = orig_call
        tiles.default_arch = orig_arch
    return kernels


def _abstract_gpu(cc: int):
    """jax >= 0.11 asks the (abstract) device which GPU it lowers for; 0.10 falls back to sm_90 itself."""
    import contextlib

    import jax

    if not hasattr(jax.sharding, "AbstractDevice"):
        return contextlib.nullcontext()
    kind = {80: "NVIDIA A100", 90: "NVIDIA H200"}[cc]
    device = jax.sharding.AbstractDevice(device_kind=kind, num_cores=None, platform="gpu")
    mesh = jax.sharding.AbstractMesh((1,), ("x",), abstract_device=device)
    return jax.sharding.use_abstract_mesh(mesh)


# ------------------------------------------------------------------------------------------- compile, read
_MIX = {
    "wgmma": r"\bwgmma\.mma_async",
    "mma": r"\bmma\.sync",
    "fma_f32": r"\bfma\.rn\.f32",
    "ex2": r"\bex2\.approx",
    "ld_global": r"\bld\.global",
    "st_global": r"\bst\.global",
    "cp_async": r"\bcp\.async\b|\bcp\.async\.bulk",
    "local": r"\b(ld|st)\.local",
}


def compile_one(job: dict) -> dict:
    """Triton IR -> PTX (Triton) -> ``ptxas -v``; returns the kernel's resources (runs in a worker)."""
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    import triton
    from triton.backends.compiler import GPUTarget

    bin_dir = _toolchain()[1]
    arch, cc = job["arch"], ARCHS[job["arch"]]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TRITON_CACHE_DIR"] = tmp
        src = Path(tmp) / "kernel.ttir"
        src.write_text(job["ir"])
        opts = {"num_warps": job["num_warps"], "num_stages": job["num_stages"]}
        compiled = triton.compile(str(src), target=GPUTarget("cuda", cc, 32), options=opts)
        ptx = compiled.asm["ptx"]
        cubin = Path(tmp) / "k.cubin"
        cubin.write_bytes(compiled.asm["cubin"])
        usage = _cuobjdump(bin_dir, "-res-usage", cubin)
        sass = _cuobjdump(bin_dir, "-sass", cubin)
    if f"sm_{cc}" not in re.sub(r"\.target\s+sm_(\d+)a?", r"sm_\1", ptx):
        raise RuntimeError(f"{job['name']}: PTX is not for sm_{cc}")

    def grab(key: str) -> int:
        m = re.search(rf"\b{key}:(\d+)", usage)
        return int(m.group(1)) if m else -1

    out = {k: job[k] for k in ("set", "case", "name", "arch", "num_warps", "num_stages", "dtype")}
    out.update(
        registers=grab("REG"),
        stack_bytes=grab("STACK"),
        local_bytes=grab("LOCAL"),
        spill_stores=len(re.findall(r"\bSTL(\.\S+)?\s", sass)),
        spill_loads=len(re.findall(r"\bLDL(\.\S+)?\s", sass)),
        smem_bytes=int(compiled.metadata.shared),
        smem_limit=SMEM_LIMIT[arch],
        mix={k: len(re.findall(p, ptx)) for k, p in _MIX.items()},
        tf32="tf32" in ptx,
    )
    return out


def _cuobjdump(bin_dir: str, flag: str, cubin: Path) -> str:
    res = subprocess.run(
        [str(Path(bin_dir) / "cuobjdump"), flag, str(cubin)], capture_output=True, text=True, timeout=120
    )
    if res.returncode != 0:
        raise RuntimeError(f"cuobjdump {flag} failed: {res.stderr[-1000:]}")
    return res.stdout


def run(case_sets: list[str], archs: list[str], jobs: int, only: str | None = None) -> dict:
    """Lowers and compiles the cases of ``case_sets`` (in one process: one import of JAX, one pool of
    compile workers) for ``archs``; each kernel's record names its ``set``."""
    version, _ = _toolchain()
    todo = []
    for case_set in case_sets:
        for case in CASES[case_set]:
            if only and only not in case.name:
                continue
            for arch in archs:
                if case.archs and arch not in case.archs:
                    continue
                for k in lower(case, ARCHS[arch]):
                    todo.append(dict(k, case=case.name, arch=arch, dtype=case.dtype, set=case_set))
    ctx = __import__("multiprocessing").get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        results = list(pool.map(compile_one, todo))
    import jax

    return {"triton": version, "jax": jax.__version__, "python": sys.version.split()[0], "kernels": results}


def markdown(report: dict) -> str:
    head = ["configuration", "kernel", "arch", "warps/stages", "registers", "spills (STL/LDL)", "local bytes"]
    head += ["shared memory", "wgmma", "mma", "fma.f32", "ex2"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["kernels"]:
        m = r["mix"]
        cells = [
            r["case"],
            r["name"].removeprefix("cogsim_"),
            r["arch"],
            f"{r['num_warps']}/{r['num_stages']}",
        ]
        cells += [r["registers"], f"{r['spill_stores']}/{r['spill_loads']}", r["local_bytes"]]
        cells += [f"{r['smem_bytes']:,} of {r['smem_limit']:,}", m["wgmma"], m["mma"], m["fma_f32"], m["ex2"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=sorted(CASES), help="repeatable (default: ci)")
    parser.add_argument("--arch", action="append", choices=sorted(ARCHS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", help="only the configurations whose name contains this")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    report = run(args.set or ["ci"], args.arch or list(ARCHS), args.jobs, args.only)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(markdown(report) if args.markdown else json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
