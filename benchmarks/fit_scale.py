"""A load test of ``cogsim fit`` with many participants: van den Berg et al.'s (2012) 32 participants' trials
repeated under new participant ids (participant ``i`` holds the trials of original participant ``i % 32``)
up to ``--participants``, fitted by the whole command (every model, profile intervals, the compilation cache
off) in a fresh process. Reports wall and CPU time, peak memory, and how far apart the maxima of the copies
of one participant's trials are (each copy is fitted from its own random starts, keyed by its id): a check
that the maxima do not depend on the starts. The repeated file is a load test, not data: it is written to
a temporary folder and deleted.

Run: ``python benchmarks/fit_scale.py --participants 200 --out benchmarks/results/fit_scale.json``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from cogsim import data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import emit, machine, writable  # noqa: E402


def repeated(n: int) -> pd.DataFrame:
    trials = data.load("vandenberg2012_delayed_estimation")
    keys = trials[["experiment", "subject"]].drop_duplicates().reset_index(drop=True)
    parts = []
    for i in range(n):
        k = keys.iloc[i % len(keys)]
        unit = trials[(trials.experiment == k.experiment) & (trials.subject == k.subject)]
        parts.append(unit.assign(experiment="copies", subject=f"S{i:04d}"))
    return pd.concat(parts, ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200, help="participants in the file (>= 64)")
    parser.add_argument("--out", default=None, help="JSON file for the result")
    args = parser.parse_args(argv)
    if args.participants < 64:
        parser.error(f"--participants: got {args.participants}; allowed: >= 64 (two copies of each)")
    writable(parser, args.out)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "copies.csv"
        trials = repeated(args.participants)
        trials.to_csv(csv, index=False)
        env = {**os.environ, "COGSIM_COMPILATION_CACHE": "off"}
        cmd = [sys.executable, "-m", "cogsim", "fit", "delayed_estimation", "--data", str(csv), "--quiet"]
        t0 = time.perf_counter()
        res = subprocess.run([*cmd, "--out", str(Path(tmp) / "fit")], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
            raise SystemExit(res.returncode)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        models = pd.read_parquet(Path(tmp) / "fit" / "models.parquet")
    models["original"] = models.subject.str[1:].astype(int) % 32
    spread = models.groupby(["model", "original"]).loglik.agg(lambda x: float(x.max() - x.min()))
    result = {
        "participants": args.participants,
        "trials": len(trials),
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "models": {
            m: {
                "converged": int(g.converged.sum()),
                "units": len(g),
                "largest_spread_of_copies": round(float(spread[m].max()), 6),
                "copies_spread_above_0.1": int((spread[m] > 0.1).sum()),
            }
            for m, g in models.groupby("model")
        },
        "machine": machine(),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
