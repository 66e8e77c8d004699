"""Sweep executors: local throughput as the grid grows, and the Slurm executor's per-point overhead.

    .venv/bin/python benchmarks/sweeps.py [--out benchmarks/results/sweeps.json]
    .venv/bin/python benchmarks/sweeps.py --quick --out runs/bench/sweeps.json   # --quick needs --out

1. Local throughput (points/s) of ``change_detection``'s vectorised ``sweep_point`` as the grid grows from 1x
   (16 points) to 64x (1024 points), in this process, the store's bookkeeping included. "cold" includes the
   compilation (one per batch shape), "warm" repeats the same sweep into a fresh run folder with the compiled
   function cached. Linear scaling means a flat points/s; better than linear, a rising one.
2. The same grid through the slurm executor (a job array on the cluster this machine submits to) and through
   the local executor, each as a fresh ``cogsim sweep`` process, with their results checked equal; reported as
   the wall-time ratio and the extra seconds per point. Skipped, with the reason, where no Slurm answers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = "change_detection"


def _grid(scale: int) -> dict[str, list[float]]:
    n = 4 * scale
    return {"sim_K": [round(0.5 + 5.5 * i / max(n - 1, 1), 6) for i in range(n)]}


def local_scaling(scales, *, seeds: int = 4, chunk_size: int = 64) -> list[dict]:
    from cogsim import sweep

    rows = []
    for scale in scales:
        grid = _grid(scale)
        n = len(grid["sim_K"]) * seeds
        timings = {}
        for phase in ("cold", "warm"):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                store = sweep.run(
                    SCENARIO, grid=grid, seeds=seeds, out=tmp, chunk_size=chunk_size, log=lambda *_: None
                )
                timings[phase] = time.perf_counter() - t0
                assert store.counts()["done"] == n
        rows.append(
            {
                "scale": scale,
                "points": n,
                "cold_s": round(timings["cold"], 3),
                "warm_s": round(timings["warm"], 3),
                "cold_points_per_s": round(n / timings["cold"], 1),
                "warm_points_per_s": round(n / timings["warm"], 1),
            }
        )
        print(
            f"local {scale:>3}x {n:>5} points: cold {timings['cold']:.2f} s ({n / timings['cold']:.0f}/s), "
            f"warm {timings['warm']:.2f} s ({n / timings['warm']:.0f}/s)",
            flush=True,
        )
    return rows


def _slurm_reason() -> str | None:
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "Slurm is not installed here"
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0 or not out.stdout.split() or out.stdout.split()[0] not in ("idle", "mix", "alloc"):
        return f"no Slurm partition is up (sinfo: {out.stdout.strip() or out.stderr.strip()})"
    return None


def _cli(args: list[str]) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "cogsim", "sweep", *args], capture_output=True, text=True, timeout=1800
    )
    if out.returncode != 0:
        raise RuntimeError(f"cogsim sweep {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return time.perf_counter() - t0


def slurm_vs_local(*, scale: int, seeds: int, points_per_task: int) -> dict:
    import pandas as pd

    from cogsim.store import load

    reason = _slurm_reason()
    if reason:
        print(f"slurm: skipped ({reason})")
        return {"skipped": reason}
    grid = _grid(scale)
    n = len(grid["sim_K"]) * seeds
    args = [
        "--grid",
        "sim_K=" + ",".join(map(str, grid["sim_K"])),
        "--seeds",
        str(seeds),
        "--chunk-size",
        str(points_per_task),
    ]
    with tempfile.TemporaryDirectory(dir=os.getcwd(), prefix=".bench-sweeps-") as tmp:
        t_local = _cli([SCENARIO, *args, "--out", f"{tmp}/local"])
        t_slurm = _cli(
            [
                SCENARIO,
                *args,
                "--out",
                f"{tmp}/slurm",
                "--executor",
                "slurm",
                "--slurm-poll",
                "0.5",
                "--slurm-time",
                "30",
            ]
        )
        (a,) = Path(tmp, "local").iterdir()
        (b,) = Path(tmp, "slurm").iterdir()
        equal = load(a).to_pandas().equals(load(b).to_pandas())
        pd.testing.assert_frame_equal(load(a).to_pandas(), load(b).to_pandas())
    tasks = -(-n // points_per_task)
    row = {
        "points": n,
        "array_tasks": tasks,
        "points_per_task": points_per_task,
        "local_s": round(t_local, 2),
        "slurm_s": round(t_slurm, 2),
        "ratio_slurm_over_local": round(t_slurm / t_local, 2),
        "overhead_s_per_point": round((t_slurm - t_local) / n, 4),
        "overhead_s_per_task": round((t_slurm - t_local) / tasks, 2),
        "results_equal": bool(equal),
    }
    print(
        f"slurm vs local, {n} points in {tasks} array tasks: local {t_local:.1f} s, slurm {t_slurm:.1f} s "
        f"(x{t_slurm / t_local:.2f}; +{(t_slurm - t_local) / n * 1000:.0f} ms per point), equal: {equal}"
    )
    return row


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="scales 1x, 4x, 16x only, a smaller Slurm grid")
    p.add_argument("--out", default=None, help="result file (default results/sweeps.json; --quick: required)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _report import RESULTS, not_a_record, writable

    if args.quick:
        args.out = not_a_record(p, args.out, "--quick")
    else:
        args.out = writable(p, args.out or RESULTS / "sweeps.json")
    import jax

    scales = [1, 4, 16] if args.quick else [1, 2, 4, 8, 16, 32, 64]
    t0 = time.time()
    local = local_scaling(scales)
    first, last = local[0], local[-1]
    slurm = slurm_vs_local(scale=4 if args.quick else 16, seeds=4, points_per_task=16 if args.quick else 64)
    result = {
        "benchmark": "sweeps",
        "scenario": SCENARIO,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "jax": jax.__version__,
            "backend": jax.default_backend(),
            "load_average_at_start": os.getloadavg(),
        },
        "local_scaling": local,
        "local_scaling_summary": {
            "grid_growth": f"{first['scale']}x -> {last['scale']}x",
            "warm_throughput_ratio_last_over_first": round(
                last["warm_points_per_s"] / first["warm_points_per_s"], 2
            ),
            "cold_throughput_ratio_last_over_first": round(
                last["cold_points_per_s"] / first["cold_points_per_s"], 2
            ),
            "linear_or_better": bool(last["warm_points_per_s"] >= 0.9 * first["warm_points_per_s"]),
        },
        "slurm_vs_local": slurm,
        "notes": [
            "cold = the first sweep of that size in this process: it compiles once per batch shape (16, 32 "
            "and 64 points here; grids of 64 points or more run in chunks of 64 and reuse that compilation)",
            "warm = the same sweep again into a fresh run folder: evaluation plus the store's bookkeeping",
            "slurm vs local: both as fresh `cogsim sweep` processes on the same grid; the slurm time "
            "includes queueing, one Python + JAX start per array task and the driver's polling (0.5 s)",
            "timings from a shared machine; see load_average_at_start",
        ],
        "wall_s": round(time.time() - t0, 1),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
