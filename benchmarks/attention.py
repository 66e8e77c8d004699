"""Attention kernels side by side: cogsim's Pallas flash attention against its peers, in one run.

GPU (default)::

    python benchmarks/attention.py [--out benchmarks/results/attention_gpu.json] [--budget-s 270]
    python benchmarks/attention.py --dry-run --out /tmp/attention_dry.json   # --dry-run needs --out

Forward and forward+backward TFLOP/s of ``cogsim.kernels.flash_attention`` and, measured in the same
run, ``jax.nn.dot_product_attention`` (``implementation="xla"`` and ``"cudnn"``) and jax's bundled Pallas
``mha``, with the ratios to each peer, in two settings:

- ``bf16``: bfloat16, no bias, N in {512 .. 16k}, head_dim in {64, 128}, causal and not;
- ``f32_bias``: float32 with a float32 ``[1, H, N, N]`` bias, as the models call it (TF32 tensor cores),
  N up to 4096; the peers that take it: XLA in float32, and cuDNN on the same call cast to bfloat16
  (cuDNN has no float32 path; the bundled ``mha`` has no bias).

In both, the kernel with ``fused_backward=True`` (``cogsim_fused_bwd``: one FA2 backward kernel, ``dq`` by
atomic adds) runs beside the default two-kernel backward, so that the run says which is faster. In
``bf16``, ``cogsim.kernels.mosaic_attention`` (``cogsim_mosaic``: the Mosaic GPU forward for Hopper, Triton
backward) runs too, with jax's bundled Mosaic GPU FlashAttention-3 (``pallas_mgpu``, forward only; on the
inputs cast to float16, the only dtype its shared-memory tiles take in jax 0.11.2) as its closest peer; its
correctness rows (``bf16_mosaic``) come first like the Triton kernel's. The correctness reference runs at
``jax.default_matmul_precision("highest")`` (exact float32 dots; XLA's default is TF32 on a GPU).

FLOPs: forward ``4*B*H*N*N*D`` (halved when causal), backward 2.5x forward. The batch is chosen so that
``B*N = 16k`` tokens and ``H*D = 2048``. Everything runs inside the time budget: first a correctness check
of the compiled kernel against the reference on a few configurations, then the sweep in priority order
(head_dim 128 and long sequences first). The JSON is rewritten after every measurement, ratios and targets
included, so a run stopped by a timeout keeps what it measured; what did not fit is listed under
``skipped``. ``--dry-run`` runs the same code on the CPU with tiny sizes and the kernel in interpret mode
(for the test of this script; its times mean nothing).

CPU::

    python benchmarks/attention.py --cpu [--out benchmarks/results/attention_cpu.json]

Peak temporary memory (XLA's compiled ``memory_analysis``, deterministic) of the dense reference and of
the kernel in interpret mode as N grows (the kernel must not build the N x N matrix), and the errors of
the kernels against the references. No times: absolute times only come from a GPU.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import math
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RESULTS, at_least, not_a_record, writable  # noqa: E402

from cogsim.kernels import (
    flash_attention,
    mosaic_attention,
    reference_flash_attention,
    reference_topk_attention,
    topk_attention,
)

SEQ_LENS = (512, 1024, 2048, 4096, 8192, 16384)
HEAD_DIMS = (128, 64)
TOKENS = 16384
MODEL_DIM = 2048
KERNELS = ("cogsim", "cogsim_mosaic")  # ours: the Triton kernel and the Mosaic GPU forward
FWD_ONLY = ("pallas_mgpu",)  # peers without a backward for every case


def _meta() -> dict:
    dev = jax.devices()[0]
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        "device": getattr(dev, "device_kind", str(dev)),
    }


def _write(payload: dict, out: Path, extra_copy: str | None = None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=1, default=float)
    out.write_text(text + "\n")
    if extra_copy:
        Path(extra_copy).mkdir(parents=True, exist_ok=True)
        (Path(extra_copy) / out.name).write_text(text + "\n")


def _flops(b: int, h: int, n: int, d: int, causal: bool) -> float:
    return 4.0 * b * h * n * n * d / (2.0 if causal else 1.0)


# ------------------------------------------------------------------------------------------------ GPU


def _impls(d: int, causal: bool, setting: str, interpret: bool) -> dict:
    """name -> attention function (q, k, v, bias) -> out for this head_dim, causality and setting."""
    kernel = functools.partial(flash_attention, is_causal=causal, interpret=interpret)
    nn_attn = functools.partial(jax.nn.dot_product_attention, is_causal=causal)
    fns = {
        "cogsim": lambda q, k, v, bias: kernel(q, k, v, bias=bias),
        "xla": lambda q, k, v, bias: nn_attn(q, k, v, bias=bias, implementation="xla"),
    }
    mosaic = functools.partial(mosaic_attention, is_causal=causal, interpret=interpret)
    if setting == "bf16":
        fns["cogsim_mosaic"] = lambda q, k, v, bias: mosaic(q, k, v)
    if interpret:  # the dry run: no GPU peers
        return fns
    fused = functools.partial(flash_attention, is_causal=causal, fused_backward=True)
    fns["cogsim_fused_bwd"] = lambda q, k, v, bias: fused(q, k, v, bias=bias)  # FA2 backward, dq by atomics
    if setting == "bf16":
        fns["cudnn"] = lambda q, k, v, bias: nn_attn(q, k, v, bias=bias, implementation="cudnn")
        try:
            from jax.experimental.pallas.ops.gpu import attention as bundled

            fns["pallas_mha"] = lambda q, k, v, bias: bundled.mha(
                q, k, v, None, sm_scale=1.0 / math.sqrt(d), causal=causal
            )
        except Exception:  # noqa: BLE001 - a peer that cannot be imported is reported, not fatal
            pass
        try:
            from jax.experimental.pallas.ops.gpu import attention_mgpu as bundled_mgpu

            mgpu_cfg = bundled_mgpu.TuningConfig(
                block_q=64, block_kv=128, max_concurrent_steps=2, causal=causal
            )
            # jax 0.11.2's op passes bfloat16 through its dtype check but stages float16 shared-memory
            # tiles, so bfloat16 inputs fail in its TMA copy: it gets them cast to float16 (same tensor-core
            # rate; the casts are ~0.1 % of the time at N >= 8k)
            fns["pallas_mgpu"] = lambda q, k, v, bias: bundled_mgpu.attention(
                *(x.astype(jnp.float16) for x in (q, k, v)), mgpu_cfg
            ).astype(q.dtype)
        except Exception:  # noqa: BLE001
            pass
    else:  # float32 with a bias: cuDNN only takes 16-bit inputs, so it gets the call cast to bfloat16

        def cudnn_bf16(q, k, v, bias):
            cast = [x.astype(jnp.bfloat16) for x in (q, k, v, bias)]
            return nn_attn(*cast[:3], bias=cast[3], implementation="cudnn").astype(q.dtype)

        fns["cudnn"] = cudnn_bf16
    return fns


def _timed(fn, args, *, target_s: float = 0.4, max_reps: int = 50) -> tuple[float, float]:
    """(median seconds per call, compile seconds): AOT-compiled, warmed up, block_until_ready each call."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    first = time.perf_counter() - t0
    reps = int(min(max_reps, max(5, target_s / max(first, 1e-6))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), compile_s


def _fwd_bwd(fn):
    def run(q, k, v, bias, do):
        _, vjp = jax.vjp(lambda q, k, v: fn(q, k, v, bias), q, k, v)
        return vjp(do)

    return run


def _fwd_bwd_no_bias(fn):
    """``_fwd_bwd`` of an attention function ``(q, k, v) -> out``, as ``(q, k, v, do) -> grads``."""
    run = _fwd_bwd(lambda q, k, v, _bias: fn(q, k, v))
    return lambda q, k, v, do: run(q, k, v, None, do)


def _inputs(b, n, h, d, dtype=jnp.bfloat16, seed=0, bias=False):
    keys = jax.random.split(jax.random.key(seed), 5)
    q, k, v, do = [jax.random.normal(kk, (b, n, h, d), jnp.float32).astype(dtype) for kk in keys[:4]]
    bias_arr = jax.random.normal(keys[4], (1, h, n, n), jnp.float32) if bias else None
    return q, k, v, bias_arr, do


# (setting, dtype, bias, sequence lengths): what the sweep covers after the correctness check
SETTINGS = (
    ("bf16", jnp.bfloat16, False, SEQ_LENS),
    ("f32_bias", jnp.float32, True, tuple(n for n in SEQ_LENS if n <= 4096)),
)


def _correctness(interpret: bool, small: bool) -> list[dict]:
    """Compiled kernels against the dense reference on a few configurations, gradients included."""
    rows = []
    n, d = (40, 16) if small else (1000, 64)
    cases = [(setting, dtype, with_bias, flash_attention) for setting, dtype, with_bias, _ in SETTINGS]
    cases.append(("bf16_mosaic", jnp.bfloat16, False, mosaic_attention))  # Triton backward; takes no bias
    for setting, dtype, with_bias, kernel in cases:
        for causal in (True,) if small else (False, True):
            q, k, v, bias, do = _inputs(2, n, 4, d, dtype, seed=1, bias=with_bias)

            def kern(q, k, v, bias, c=causal, kernel=kernel):
                kw = {} if kernel is mosaic_attention else {"bias": bias}
                return kernel(q, k, v, **kw, is_causal=c, return_stats=True, interpret=interpret)

            def ref(q, k, v, bias, c=causal):
                with jax.default_matmul_precision("highest"):  # XLA's default float32 dot is TF32 on a GPU
                    return reference_flash_attention(q, k, v, bias=bias, is_causal=c, return_stats=True)

            got, want = jax.jit(kern)(q, k, v, bias), jax.jit(ref)(q, k, v, bias)
            gk = jax.jit(_fwd_bwd(lambda *a: kern(*a)[0]))(q, k, v, bias, do)
            gr = jax.jit(_fwd_bwd(lambda *a: ref(*a)[0]))(q, k, v, bias, do)
            row = {"setting": setting, "causal": causal, "N": n, "D": d}
            for name, a, b in zip(
                ("out", "lse", "entropy", "dq", "dk", "dv"), (*got, *gk), (*want, *gr), strict=True
            ):
                row[f"max_abs_err_{name}"] = float(
                    jnp.max(jnp.abs(a.astype(jnp.float32) - b.astype(jnp.float32)))
                )
            rows.append(row)
    return rows


def run_gpu(out: Path, budget_s: float, copy_to: str | None, dry_run: bool = False) -> dict:
    """Correctness first, then the sweep; the JSON is rewritten after each measurement."""
    start = time.perf_counter()
    payload: dict = {
        "meta": _meta(),
        "budget_s": budget_s,
        "dry_run": dry_run,
        "results": [],
        "skipped": [],
        "errors": [],
    }

    def left() -> float:
        return budget_s - (time.perf_counter() - start)

    def save():
        payload["elapsed_s"] = time.perf_counter() - start
        payload["ratios"], payload["targets"] = _ratios(payload["results"])
        _write(payload, out, copy_to)

    try:
        payload["correctness"] = _correctness(interpret=dry_run, small=dry_run)
    except Exception as e:  # noqa: BLE001
        payload["errors"].append(
            {"where": "correctness", "error": repr(e), "trace": traceback.format_exc()[-2000:]}
        )
    payload["correctness_s"] = time.perf_counter() - start
    save()

    # ---- the sweep, in priority order: head_dim 128 and long sequences first, each setting in turn
    order = []
    for d in (16,) if dry_run else HEAD_DIMS:
        for setting, dtype, with_bias, lens in SETTINGS:
            lens = (32,) if dry_run else lens
            for n in sorted(lens, key=lambda n: (n < 4096, -n if n >= 4096 else n)):
                for causal in (True,) if dry_run else (False, True):
                    order.append((d, setting, dtype, with_bias, n, causal))
    tokens, model_dim = (64, 32) if dry_run else (TOKENS, MODEL_DIM)
    for d, setting, dtype, with_bias, n, causal in order:
        b, h = max(1, tokens // n), max(1, model_dim // d)
        entry0 = {"setting": setting, "N": n, "D": d, "causal": causal, "B": b, "H": h}
        if left() < 5:
            payload["skipped"].append(entry0)
            continue
        fns = _impls(d, causal, setting, interpret=dry_run)
        q, k, v, bias, do = _inputs(b, n, h, d, dtype, bias=with_bias)
        flops = _flops(b, h, n, d, causal)
        for name, fn in fns.items():
            passes = (("fwd", fn, (q, k, v, bias), 1.0), ("fwd_bwd", _fwd_bwd(fn), (q, k, v, bias, do), 3.5))
            for pass_, f, args, mult in passes[:1] if name in FWD_ONLY else passes:
                entry = {"impl": name, "pass": pass_, **entry0}
                if left() < 5:
                    payload["skipped"].append(entry)
                    continue
                try:
                    t, c = _timed(f, args, target_s=0.05 if dry_run else 0.4, max_reps=3 if dry_run else 50)
                    entry.update(ms=t * 1e3, tflops=mult * flops / t / 1e12, compile_s=c)
                    payload["results"].append(entry)
                except Exception as e:  # noqa: BLE001
                    entry["error"] = repr(e)[:600]
                    payload["errors"].append(entry)
                save()
        del q, k, v, bias, do
    save()
    return payload


def _ratios(results: list[dict]) -> tuple[list[dict], list[dict]]:
    by = {(r["impl"], r["pass"], r["N"], r["D"], r["causal"], r["setting"]): r for r in results}
    ratios = []
    for (impl, pass_, n, d, causal, setting), r in sorted(
        by.items(), key=lambda x: (x[0][5], x[0][3], x[0][4], x[0][2], x[0][1])
    ):
        if impl not in KERNELS:
            continue
        row = {"impl": impl, "setting": setting, "pass": pass_, "N": n, "D": d, "causal": causal}
        row["tflops"] = r["tflops"]
        for peer in ("xla", "cudnn", "pallas_mha", "pallas_mgpu", "cogsim_fused_bwd", "cogsim"):
            p = by.get((peer, pass_, n, d, causal, setting))
            if p and peer != impl:
                row[f"vs_{peer}"] = r["tflops"] / p["tflops"]
        if pass_ == "fwd_bwd":  # backward alone: (fwd+bwd) - fwd, 2.5x the forward FLOPs
            mine_f = by.get((impl, "fwd", n, d, causal, setting))
            for peer in ("cudnn", "xla", "pallas_mha"):
                key = (n, d, causal, setting)
                pf, pb = by.get((peer, "fwd", *key)), by.get((peer, "fwd_bwd", *key))
                if mine_f and pf and pb and r["ms"] > mine_f["ms"] and pb["ms"] > pf["ms"]:
                    row[f"bwd_vs_{peer}"] = (pb["ms"] - pf["ms"]) / (r["ms"] - mine_f["ms"])
        ratios.append(row)

    def target(name, key, pass_, minimum, impl="cogsim"):
        rows = [
            x
            for x in ratios
            if x["impl"] == impl
            and x["setting"] == "bf16"
            and x["pass"] == pass_
            and x["D"] == 128
            and x["N"] >= 4096
            and key in x
        ]
        worst = min((x[key] for x in rows), default=None)
        return {
            "impl": impl,
            "target": name,
            "threshold": minimum,
            "worst": worst,
            "cases": len(rows),
            "met": None if worst is None else worst >= minimum,
        }

    targets = [
        target("forward >= 1.0x bundled Pallas mha (bf16, N >= 4k, D = 128)", "vs_pallas_mha", "fwd", 1.0),
        target("forward >= 0.7x cuDNN (bf16, N >= 4k, D = 128)", "vs_cudnn", "fwd", 0.7),
        target("backward >= 0.6x cuDNN (bf16, N >= 4k, D = 128)", "bwd_vs_cudnn", "fwd_bwd", 0.6),
        # the same forward goals for the Mosaic GPU forward (its backward is the Triton one)
        target(
            "forward >= 1.0x bundled Pallas mha (bf16, N >= 4k, D = 128)",
            "vs_pallas_mha",
            "fwd",
            1.0,
            "cogsim_mosaic",
        ),
        target("forward >= 0.7x cuDNN (bf16, N >= 4k, D = 128)", "vs_cudnn", "fwd", 0.7, "cogsim_mosaic"),
    ]
    return ratios, targets


# ------------------------------------------------------------------------------------------------ CPU


def _temp_bytes(fn, *shapes) -> dict:
    mem = jax.jit(fn).lower(*shapes).compile().memory_analysis()
    return {
        "temp_bytes": int(mem.temp_size_in_bytes),
        "argument_bytes": int(mem.argument_size_in_bytes),
        "output_bytes": int(mem.output_size_in_bytes),
    }


def _cpu_memory(seq_lens, b=1, h=2, d=64, top_k=8) -> list[dict]:
    rows = []
    for n in seq_lens:
        s = jax.ShapeDtypeStruct((b, n, h, d), jnp.float32)
        do = jax.ShapeDtypeStruct((b, n, h, d), jnp.float32)
        cases = {
            ("flash", "fwd", "reference"): (lambda q, k, v: reference_flash_attention(q, k, v), (s, s, s)),
            ("flash", "fwd", "kernel"): (lambda q, k, v: flash_attention(q, k, v, interpret=True), (s, s, s)),
            ("flash", "fwd_bwd", "reference"): (_fwd_bwd_no_bias(reference_flash_attention), (s, s, s, do)),
            (
                "flash",
                "fwd_bwd",
                "kernel",
            ): (_fwd_bwd_no_bias(functools.partial(flash_attention, interpret=True)), (s, s, s, do)),
            ("topk", "fwd", "reference"): (
                lambda q, k, v: reference_topk_attention(q, k, v, top_k=top_k),
                (s, s, s),
            ),
            ("topk", "fwd", "kernel"): (
                lambda q, k, v: topk_attention(q, k, v, top_k=top_k, interpret=True),
                (s, s, s),
            ),
        }
        for (op, pass_, impl), (fn, shapes) in cases.items():
            row = {"op": op, "pass": pass_, "impl": impl, "N": n, "B": b, "H": h, "D": d}
            if op == "topk":
                row["top_k"] = top_k
            row.update(_temp_bytes(fn, *shapes))
            row["n_by_n_float32_bytes"] = b * h * n * n * 4
            rows.append(row)
            print(
                f"  {op:5s} {pass_:7s} {impl:9s} N={n:5d}  temp {row['temp_bytes'] / 2**20:9.2f} MiB",
                flush=True,
            )
    return rows


def _max_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    fin = np.isfinite(b)
    if not (np.isfinite(a) == fin).all():
        return float("inf")  # a NaN/inf pattern that differs from the reference counts as a failure
    return float(np.abs(a[fin] - b[fin]).max()) if fin.any() else 0.0


def _cpu_case(nq, nk, causal, with_bias, with_mask, *, seed, top_k=8) -> list[dict]:
    """Flash (forward, statistics, gradients) and top-k (indices, output) against the references."""
    rng = np.random.default_rng(seed)
    b, hq, hk, d = 1, 4, 2, 64
    q = jnp.asarray(rng.standard_normal((b, nq, hq, d), np.float32))
    k = jnp.asarray(rng.standard_normal((b, nk, hk, d), np.float32))
    v = jnp.asarray(rng.standard_normal((b, nk, hk, d), np.float32))
    do = jnp.asarray(rng.standard_normal((b, nq, hq, d), np.float32))
    bias = jnp.asarray(rng.standard_normal((1, hq, nq, nk), np.float32)) if with_bias else None
    mask = jnp.asarray(rng.random((b, 1, nq, nk)) < 0.8) if with_mask else None
    argnums = (0, 1, 2, 3) if with_bias else (0, 1, 2)

    def kern(q, k, v, bias):
        return flash_attention(
            q, k, v, bias=bias, mask=mask, is_causal=causal, return_stats=True, interpret=True
        )

    def ref(q, k, v, bias):
        return reference_flash_attention(q, k, v, bias=bias, mask=mask, is_causal=causal, return_stats=True)

    def loss(fn, q, k, v, bias):
        out, lse, ent = fn(q, k, v, bias)
        return jnp.sum(out * do) + jnp.sum(ent) + jnp.sum(jnp.where(jnp.isfinite(lse), lse, 0.0))

    got, want = jax.jit(kern)(q, k, v, bias), jax.jit(ref)(q, k, v, bias)
    gk = jax.jit(jax.grad(functools.partial(loss, kern), argnums=argnums))(q, k, v, bias)
    gr = jax.jit(jax.grad(functools.partial(loss, ref), argnums=argnums))(q, k, v, bias)
    flash = {"op": "flash", "Nq": nq, "Nk": nk, "causal": causal, "bias": with_bias, "mask": with_mask}
    names = ("out", "lse", "entropy", "dq", "dk", "dv", "dbias")[: 3 + len(gk)]
    for name, a, b_ in zip(names, (*got, *gk), (*want, *gr), strict=True):
        flash[f"max_abs_err_{name}"] = _max_err(a, b_)

    topk_kernel = functools.partial(topk_attention, top_k=top_k, mask=mask, interpret=True)
    topk_ref = functools.partial(reference_topk_attention, top_k=top_k, mask=mask)
    ko, ki = jax.jit(lambda q, k, v, bias: topk_kernel(q, k, v, bias=bias))(q, k, v, bias)
    ro, ri = jax.jit(lambda q, k, v, bias: topk_ref(q, k, v, bias=bias))(q, k, v, bias)
    topk = {"op": "topk", "Nq": nq, "Nk": nk, "top_k": top_k, "bias": with_bias, "mask": with_mask}
    topk.update(
        indices_equal=bool((np.asarray(ki) == np.asarray(ri)).all()), max_abs_err_out=_max_err(ko, ro)
    )
    return [flash, topk]


def _cpu_correctness() -> list[dict]:
    rows = []
    cases = (
        (128, 128, False, False, False),
        (300, 300, True, True, False),
        (257, 100, True, False, True),
        (100, 513, False, True, True),
    )
    for seed, case in enumerate(cases):
        for row in _cpu_case(*case, seed=seed):
            rows.append(row)
            print("  ", row, flush=True)
    return rows


def run_cpu(out: Path, seq_lens) -> dict:
    start = time.perf_counter()
    payload = {
        "meta": _meta(),
        "memory_note": "XLA compiled memory_analysis(); temp = scratch beyond inputs/outputs",
    }
    print("memory (compile only):", flush=True)
    payload["memory"] = _cpu_memory(seq_lens)
    mem = {(r["op"], r["pass"], r["impl"], r["N"]): r["temp_bytes"] for r in payload["memory"]}
    payload["memory_ratio_reference_over_kernel"] = [
        {
            "op": op,
            "pass": p,
            "N": n,
            "ratio": mem[(op, p, "reference", n)] / max(1, mem[(op, p, "kernel", n)]),
        }
        for (op, p, impl, n) in mem
        if impl == "kernel"
    ]
    print("correctness (interpret mode vs reference, float32):", flush=True)
    payload["correctness"] = _cpu_correctness()
    payload["elapsed_s"] = time.perf_counter() - start
    _write(payload, out)
    return payload


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu", action="store_true", help="memory and correctness on the CPU (interpret mode)")
    ap.add_argument("--out", type=Path, default=None, help="JSON output path")
    ap.add_argument("--budget-s", type=float, default=270.0, help="GPU: wall-clock budget for the sweep")
    ap.add_argument("--copy-to", default=None, help="GPU: also copy the JSON into this folder")
    ap.add_argument(
        "--dry-run", action="store_true", help="the GPU run's code on the CPU, tiny and interpreted"
    )
    ap.add_argument("--seq-lens", type=int, nargs="*", default=None, help="CPU: sequence lengths for memory")
    args = ap.parse_args(argv)
    at_least(ap, seq_lens=args.seq_lens)
    if args.budget_s <= 0:
        ap.error(f"--budget-s {args.budget_s}: must be positive")
    if args.cpu:
        out = writable(ap, args.out or RESULTS / "attention_cpu.json")
        payload = run_cpu(out, args.seq_lens or (256, 512, 1024, 2048, 4096, 8192))
        ok = all(r.get("indices_equal", True) for r in payload["correctness"])
    else:
        if jax.default_backend() != "gpu" and not args.dry_run:
            print("no GPU: use --cpu for the memory/correctness run (or --dry-run)", file=sys.stderr)
            return 2
        if args.dry_run:
            out = not_a_record(ap, args.out, "--dry-run")
        else:
            out = writable(ap, args.out or RESULTS / "attention_gpu.json")
        payload = run_gpu(out, args.budget_s, args.copy_to, dry_run=args.dry_run)
        for t in payload.get("targets", []):
            print(f"{t['target']}: worst {t['worst']} over {t['cases']} cases -> met={t['met']}")
        ok = not payload["errors"]
    print(f"wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
