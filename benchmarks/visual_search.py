"""eccNET search throughput: the batched fixation loop against the per-fixation Python loop, in one run.

    python benchmarks/visual_search.py [--ppd 15] [--trials 4] [--experiments 1 5] [--battery]
                                       [--out benchmarks/results/visual_search.json]

Both run the same model (the shipped diet-trained backbone, same displays, same settings) and must produce
the same saccade counts. The peer is structured like the original eccNET code: a Python loop over trials
and fixations with one jitted forward pass of the search crop per fixation and NumPy for the attention map,
inhibition of return and recognition. cogsim's search advances ``batch_size`` trials at once in a jitted,
masked scan and refills finished slots. Compilation is excluded (both are warmed up on the same shapes).
With ``--battery`` the full six-experiment quick preset of the visual_search_asymmetry scenario is also
timed (compilation included), as ``make run`` would see it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np
from cogsim.models import eccnet, eccnet_stimuli

RESULTS = Path(__file__).resolve().parent / "results"


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def bench_experiment(
    exp_no: int, *, ppd: float, n_trials: int, batch_sizes: list[int], segment: int, seed: int
) -> dict:
    exp = eccnet_stimuli.EXPERIMENTS[exp_no]
    extractor = eccnet.Extractor.shipped("diet_normal", eccnet.Geometry(ppd=ppd))
    trials = eccnet_stimuli.make_trials(exp, key=jax.random.key(seed), ppd=ppd, n_trials=n_trials)
    kernels = eccnet.target_kernels(extractor, trials)
    cfg = eccnet.SearchConfig(segment=segment)
    row = {
        "experiment": exp_no,
        "ppd": ppd,
        "trials": len(trials),
        "crop_px": 2 * (trials.layout.display + int(round(cfg.corner_bias_deg * ppd))),
    }
    eccnet.search_per_fixation(extractor, trials.select([0]), cfg, kernels=tuple(k[:1] for k in kernels))
    t0 = time.perf_counter()
    loop = eccnet.search_per_fixation(extractor, trials, cfg, kernels=kernels)
    row["loop_s"] = round(time.perf_counter() - t0, 3)
    # saccades actually computed (a trial not found is scored as the set size but searched to the budget)
    row["fixations"] = int(np.where(loop["found"], loop["n_saccades"], trials.layout.n_cells + 1).sum())
    row["loop_trials_per_s"] = round(len(trials) / row["loop_s"], 3)
    row["batched"] = []
    for b in batch_sizes:
        bcfg = dataclasses.replace(cfg, batch_size=b)
        warm = trials.select(np.arange(min(b, len(trials))))
        eccnet.search(extractor, warm, bcfg, kernels=tuple(k[: len(warm)] for k in kernels))
        t0 = time.perf_counter()
        res = eccnet.search(extractor, trials, bcfg, kernels=kernels)
        dt = time.perf_counter() - t0
        row["batched"].append(
            {
                "batch_size": b,
                "segment": segment,
                "seconds": round(dt, 3),
                "trials_per_s": round(len(trials) / dt, 3),
                "speedup_vs_loop": round(row["loop_s"] / dt, 3),
                "same_saccades_as_loop": bool(
                    np.array_equal(res["n_saccades"].values, loop["n_saccades"].values)
                ),
            }
        )
    return row


def bench_battery(seed: int) -> dict:
    from cogsim import runner

    t0 = time.perf_counter()
    cfg = runner.make_config("visual_search_asymmetry", preset="quick")
    from cogsim.scenarios import visual_search_asymmetry as vsa

    sim = vsa.simulate(cfg, key=jax.random.key(seed))
    wall = time.perf_counter() - t0
    return {
        "preset": "quick",
        "wall_s": round(wall, 1),
        "trials": len(sim),
        "rows_per_model": sim.groupby("model").size().to_dict(),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ppd", type=float, default=15.0)
    p.add_argument("--trials", type=int, default=4, help="displays per condition and set size")
    p.add_argument("--experiments", type=int, nargs="+", default=[1, 5])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--segment", type=int, default=1)
    p.add_argument("--battery", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "visual_search.json"))
    args = p.parse_args(argv)
    load0 = _load()
    rows = [
        bench_experiment(
            e,
            ppd=args.ppd,
            n_trials=args.trials,
            batch_sizes=args.batch_sizes,
            segment=args.segment,
            seed=args.seed,
        )
        for e in args.experiments
    ]
    for r in rows:
        print(json.dumps(r))
    tot_l = sum(r["loop_s"] for r in rows)
    per_b = {
        b: sum(next(x["seconds"] for x in r["batched"] if x["batch_size"] == b) for r in rows)
        for b in args.batch_sizes
    }
    best = min(per_b, key=per_b.get)
    out = {
        "benchmark": "eccNET batched search vs per-fixation loop (same model, same displays)",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "jax": jax.__version__,
            "device": str(jax.devices()[0]),
            "load_avg_1min_start": load0,
            "load_avg_1min_end": _load(),
        },
        "settings": {
            "ppd": args.ppd,
            "trials_per_cell": args.trials,
            "batch_sizes": args.batch_sizes,
            "segment": args.segment,
            "backbone": "diet_normal",
        },
        "experiments": rows,
        "total": {
            "loop_s": round(tot_l, 3),
            "batched_s": {str(b): round(v, 3) for b, v in per_b.items()},
            "best_batch_size": best,
            "speedup_best_vs_loop": round(tot_l / per_b[best], 3),
            "target_speedup": 10.0,
        },
    }
    if args.battery:
        out["battery_quick"] = bench_battery(args.seed)
        print(json.dumps(out["battery_quick"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"best batch size {best}: {out['total']['speedup_best_vs_loop']}x the loop -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
