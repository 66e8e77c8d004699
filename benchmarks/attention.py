"""Attention kernels side by side: cogsim's Pallas flash attention against its peers, in one run.

GPU (default)::

    python benchmarks/attention.py [--out benchmarks/results/attention_gpu.json] [--budget-s 270]

Forward and forward+backward TFLOP/s of ``cogsim.kernels.flash_attention`` and, measured in the same
run, ``jax.nn.dot_product_attention`` (``implementation="xla"`` and ``"cudnn"``) and jax's bundled Pallas
``mha``, for N in {512 .. 16k}, head_dim in {64, 128}, causal and not, bfloat16, with the ratios to each
peer. FLOPs: forward ``4*B*H*N*N*D`` (halved when causal), backward 2.5x forward. The batch is chosen so
that ``B*N = 16k`` tokens and ``H*D = 2048``. The run has a time budget: entries are measured in priority
order (head_dim 128 and long sequences first) and what does not fit is listed under ``skipped``.

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

from cogsim.kernels import (
    flash_attention,
    reference_flash_attention,
    reference_topk_attention,
    topk_attention,
)

RESULTS = Path(__file__).resolve().parent / "results"
SEQ_LENS = (512, 1024, 2048, 4096, 8192, 16384)
HEAD_DIMS = (128, 64)
TOKENS = 16384
MODEL_DIM = 2048

# Forward and backward kernel settings tried before the sweep at N=4096 (the first entry is the default).
FWD_CANDIDATES = (
    dict(),
    dict(block_q=128, block_k=128, num_warps=8, num_stages=2),
    dict(block_q=128, block_k=64, num_warps=4, num_stages=3),
    dict(block_q=64, block_k=64, num_warps=4, num_stages=3),
)
BWD_CANDIDATES = (
    dict(),
    dict(block_q_bwd=32, block_k_bwd=64, num_warps_bwd=4, num_stages_bwd=2),
    dict(block_q_bwd=64, block_k_bwd=128, num_warps_bwd=8, num_stages_bwd=2),
)


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


def _impls(d: int, causal: bool, cfg: dict) -> dict:
    """name -> attention function (q, k, v) -> out for this head_dim / causality."""
    fns = {
        "cogsim": functools.partial(flash_attention, is_causal=causal, **cfg),
        "xla": functools.partial(jax.nn.dot_product_attention, is_causal=causal, implementation="xla"),
        "cudnn": functools.partial(jax.nn.dot_product_attention, is_causal=causal, implementation="cudnn"),
    }
    try:
        from jax.experimental.pallas.ops.gpu import attention as bundled

        fns["pallas_mha"] = lambda q, k, v: bundled.mha(
            q, k, v, None, sm_scale=1.0 / math.sqrt(d), causal=causal
        )
    except Exception:  # noqa: BLE001 - a peer that cannot be imported is reported, not fatal
        pass
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
    def run(q, k, v, do):
        _, vjp = jax.vjp(fn, q, k, v)
        return vjp(do)

    return run


def _inputs(b, n, h, d, dtype=jnp.bfloat16, seed=0):
    keys = jax.random.split(jax.random.key(seed), 4)
    return [jax.random.normal(kk, (b, n, h, d), jnp.float32).astype(dtype) for kk in keys]


def _gpu_correctness() -> dict:
    """Compiled kernel against the dense reference at a moderate size (bf16 and f32)."""
    report = {}
    for dtype in (jnp.bfloat16, jnp.float32):
        q, k, v, do = _inputs(2, 1000, 4, 64, dtype, seed=1)
        for causal in (False, True):
            got = jax.jit(lambda q, k, v, c=causal: flash_attention(q, k, v, is_causal=c, return_stats=True))(
                q, k, v
            )
            want = jax.jit(
                lambda q, k, v, c=causal: reference_flash_attention(q, k, v, is_causal=c, return_stats=True)
            )(q, k, v)
            gk = jax.jit(_fwd_bwd(functools.partial(flash_attention, is_causal=causal)))(q, k, v, do)
            gr = jax.jit(_fwd_bwd(functools.partial(reference_flash_attention, is_causal=causal)))(
                q, k, v, do
            )
            errs = {
                name: float(jnp.max(jnp.abs(a.astype(jnp.float32) - b.astype(jnp.float32))))
                for name, a, b in zip(
                    ("out", "lse", "entropy", "dq", "dk", "dv"), (*got, *gk), (*want, *gr), strict=True
                )
            }
            report[f"{jnp.dtype(dtype).name}_{'causal' if causal else 'full'}"] = errs
    return report


def run_gpu(out: Path, budget_s: float, copy_to: str | None) -> dict:
    start = time.perf_counter()
    payload: dict = {
        "meta": _meta(),
        "budget_s": budget_s,
        "tuning": [],
        "chosen": {},
        "results": [],
        "skipped": [],
        "errors": [],
    }

    def left() -> float:
        return budget_s - (time.perf_counter() - start)

    def save():
        payload["elapsed_s"] = time.perf_counter() - start
        _write(payload, out, copy_to)

    try:
        payload["correctness"] = _gpu_correctness()
    except Exception as e:  # noqa: BLE001
        payload["errors"].append(
            {"where": "correctness", "error": repr(e), "trace": traceback.format_exc()[-2000:]}
        )
    save()

    # ---- pick kernel settings at N=4096, D=128 (forward, then backward with the chosen forward)
    chosen = {d: dict() for d in HEAD_DIMS}
    d, n = 128, 4096
    b, h = TOKENS // n, MODEL_DIM // d
    q, k, v, do = _inputs(b, n, h, d)
    best = None
    for cand in FWD_CANDIDATES:
        try:
            t, c = _timed(functools.partial(flash_attention, **cand), (q, k, v))
            tf = _flops(b, h, n, d, False) / t / 1e12
            payload["tuning"].append(
                {"D": d, "N": n, "pass": "fwd", "config": cand, "ms": t * 1e3, "tflops": tf}
            )
            if best is None or t < best[0]:
                best = (t, cand)
        except Exception as e:  # noqa: BLE001
            payload["errors"].append({"where": f"tune fwd {cand}", "error": repr(e)[:2000]})
    fwd_cfg = best[1] if best else {}
    best = None
    for cand in BWD_CANDIDATES:
        try:
            cfg = {**fwd_cfg, **cand}
            t, c = _timed(_fwd_bwd(functools.partial(flash_attention, **cfg)), (q, k, v, do))
            tf = 3.5 * _flops(b, h, n, d, False) / t / 1e12
            payload["tuning"].append(
                {"D": d, "N": n, "pass": "fwd_bwd", "config": cfg, "ms": t * 1e3, "tflops": tf}
            )
            if best is None or t < best[0]:
                best = (t, cfg)
        except Exception as e:  # noqa: BLE001
            payload["errors"].append({"where": f"tune bwd {cand}", "error": repr(e)[:2000]})
    chosen[128] = best[1] if best else fwd_cfg
    payload["chosen"] = {str(k_): v_ for k_, v_ in chosen.items()}
    del q, k, v, do
    save()

    # ---- the sweep, in priority order
    order = []
    for d in HEAD_DIMS:
        for n in sorted(SEQ_LENS, key=lambda n: (n < 4096, -n if n >= 4096 else n)):
            for causal in (False, True):
                order.append((d, n, causal))
    for d, n, causal in order:
        b, h = TOKENS // n, MODEL_DIM // d
        fns = _impls(d, causal, chosen[d])
        q, k, v, do = _inputs(b, n, h, d)
        flops = _flops(b, h, n, d, causal)
        for name, fn in fns.items():
            for pass_, f, args, mult in (
                ("fwd", fn, (q, k, v), 1.0),
                ("fwd_bwd", _fwd_bwd(fn), (q, k, v, do), 3.5),
            ):
                entry = {"impl": name, "pass": pass_, "N": n, "D": d, "causal": causal, "B": b, "H": h}
                if left() < 5:
                    payload["skipped"].append(entry)
                    continue
                try:
                    t, c = _timed(f, args)
                    entry.update(ms=t * 1e3, tflops=mult * flops / t / 1e12, compile_s=c)
                    payload["results"].append(entry)
                except Exception as e:  # noqa: BLE001
                    entry["error"] = repr(e)[:600]
                    payload["errors"].append(entry)
        del q, k, v, do
        save()

    payload["ratios"], payload["targets"] = _ratios(payload["results"])
    save()
    return payload


def _ratios(results: list[dict]) -> tuple[list[dict], list[dict]]:
    by = {(r["impl"], r["pass"], r["N"], r["D"], r["causal"]): r for r in results}
    ratios = []
    for (impl, pass_, n, d, causal), r in sorted(
        by.items(), key=lambda x: (x[0][3], x[0][4], x[0][2], x[0][1])
    ):
        if impl != "cogsim":
            continue
        row = {"pass": pass_, "N": n, "D": d, "causal": causal, "tflops": r["tflops"]}
        for peer in ("xla", "cudnn", "pallas_mha"):
            p = by.get((peer, pass_, n, d, causal))
            if p:
                row[f"vs_{peer}"] = r["tflops"] / p["tflops"]
        if pass_ == "fwd_bwd":  # backward alone: (fwd+bwd) - fwd, 2.5x the forward FLOPs
            mine_f = by.get(("cogsim", "fwd", n, d, causal))
            for peer in ("cudnn", "xla", "pallas_mha"):
                pf, pb = by.get((peer, "fwd", n, d, causal)), by.get((peer, "fwd_bwd", n, d, causal))
                if mine_f and pf and pb and r["ms"] > mine_f["ms"] and pb["ms"] > pf["ms"]:
                    row[f"bwd_vs_{peer}"] = (pb["ms"] - pf["ms"]) / (r["ms"] - mine_f["ms"])
        ratios.append(row)

    def target(name, key, pass_, minimum):
        rows = [x for x in ratios if x["pass"] == pass_ and x["D"] == 128 and x["N"] >= 4096 and key in x]
        worst = min((x[key] for x in rows), default=None)
        return {
            "target": name,
            "threshold": minimum,
            "worst": worst,
            "cases": len(rows),
            "met": None if worst is None else worst >= minimum,
        }

    targets = [
        target("forward >= 1.0x bundled Pallas mha (N >= 4k, D = 128)", "vs_pallas_mha", "fwd", 1.0),
        target("forward >= 0.7x cuDNN (N >= 4k, D = 128)", "vs_cudnn", "fwd", 0.7),
        target("backward >= 0.6x cuDNN (N >= 4k, D = 128)", "bwd_vs_cudnn", "fwd_bwd", 0.6),
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
            ("flash", "fwd_bwd", "reference"): (_fwd_bwd(reference_flash_attention), (s, s, s, do)),
            (
                "flash",
                "fwd_bwd",
                "kernel",
            ): (_fwd_bwd(functools.partial(flash_attention, interpret=True)), (s, s, s, do)),
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
    ap.add_argument("--seq-lens", type=int, nargs="*", default=None, help="CPU: sequence lengths for memory")
    args = ap.parse_args(argv)
    if args.cpu:
        out = args.out or RESULTS / "attention_cpu.json"
        payload = run_cpu(out, args.seq_lens or (256, 512, 1024, 2048, 4096, 8192))
        ok = all(r.get("indices_equal", True) for r in payload["correctness"])
    else:
        if jax.default_backend() != "gpu":
            print("no GPU: use --cpu for the memory/correctness run", file=sys.stderr)
            return 2
        out = args.out or RESULTS / "attention_gpu.json"
        payload = run_gpu(out, args.budget_s, args.copy_to)
        for t in payload.get("targets", []):
            print(f"{t['target']}: worst {t['worst']} over {t['cases']} cases -> met={t['met']}")
        ok = not payload["errors"]
    print(f"wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
