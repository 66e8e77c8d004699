"""eccNET search throughput: the batched fixation loop against the per-fixation Python loop, in one run.

    python benchmarks/visual_search.py [--ppd P] [--trials 4] [--experiments 2 3 5] [--threads 2]
                                       [--battery] [--out benchmarks/results/visual_search.json]

All paths run the same model (the shipped diet-trained backbone, same displays, same settings) and must
produce the same saccade counts. The peer is structured like the original eccNET code: a Python loop over
trials and fixations with one jitted forward pass of the full search crop per fixation and NumPy for the
attention map, inhibition of return and recognition (target kernels are computed once per trial and passed
in, for the peer as for cogsim). cogsim's search advances ``batch_size`` trials at once in a jitted, masked
scan (a whole trial per call at batch size 1; refilling finished slots every saccade at larger batches),
either on the full crop every fixation (``scan_full_crop``) or with the translation-equivariant stem
computed only around the display (``scan_local_stem``, the default), each with one host thread; the
default path is also timed with its trials split over ``--threads`` host threads (the scenarios' default,
``SearchConfig.threads = 2``). The peer runs in one host thread (XLA uses every core inside each call, for
the peer as for cogsim). Compilation is excluded (every path is warmed up on the same shapes).
Experiments default to 2, 3 and 5 at the quick preset's resolutions. For each, ``step_profile`` holds one
saccade of the default path and of the full crop as single jitted calls (FLOPs from XLA's cost analysis,
time, rate) and the time and arithmetic rate per saccade that the 10x target would need, next to a
2048^3 matmul's rate (``machine.matmul_2048_gflop_per_s``). With ``--battery`` the full
six-experiment quick preset of the visual_search_asymmetry scenario is also timed (compilation included),
as ``make run`` would see it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

from cogsim.models import eccnet
from cogsim.models.eccnet import _search, _stem, _trial
from cogsim.tasks import search_displays as sd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import at_least, known, writable  # noqa: E402
from _timing import fastest  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = 10.0  # trials/s of the batched search over the per-fixation loop


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


PATHS = (
    ("scan_full_crop", {"local_stem": False}),
    ("scan_local_stem", {"local_stem": True}),
)


def matmul_gflop_per_s(m: int = 2048) -> float:
    """XLA's rate on one large f32 matmul (``m^3``): the machine's practical arithmetic peak."""
    a = jax.numpy.ones((m, m), jax.numpy.float32) * 1e-3
    return 2 * m**3 / fastest(jax.jit(lambda x: x @ x), a, repeats=5) / 1e9


def profile_step(extractor, trials, kernels, cfg) -> dict:
    """One saccade of the first trial at batch size 1, as one jitted call: its FLOPs (XLA's cost analysis)
    and time, with the local stem, head windows and block-1 canvas (the default path) and on the full crop
    (the work of one forward pass of the per-fixation loop)."""
    lay = trials.layout
    side, cb = _trial._crop_side(trials, cfg)
    c = _trial._constants(extractor, trials, cfg)
    kern_np = [np.asarray(k) for k in kernels]
    st = _search._empty_state(1, lay.display, kern_np)
    _search._start_trial(st, 0, trials, kern_np, 0)
    base = _search._device_state(st)
    out = {}
    for name, stem in (
        ("default", _stem._stem_plan(extractor, lay.display, side, cb, cfg, cell=lay.cell)),
        ("full_crop", None),
    ):
        s, bg = base, None
        if stem is not None:
            bg = _search._bg_stem_jit(extractor, extractor.params, c, side, stem.n3)
            canvas = jax.jit(
                lambda im, v, stem=stem: _stem._block1_canvas(extractor, extractor.params, im, v, c, stem)
            )
            s = s._replace(b1=canvas(s.image[0], s.visited[0])[None])
        step = jax.jit(
            lambda s, stem=stem, bg=bg: _search._step(extractor, side, cb, stem, extractor.params, s, c, bg)
        )
        cost = step.lower(s).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        sec = fastest(step, s, repeats=20)
        out[name] = {
            "gflop_per_saccade": float(cost["flops"]) / 1e9,
            "ms_per_saccade_one_call": 1e3 * sec,
            "gflop_per_s": float(cost["flops"]) / sec / 1e9,
        }
    return out


def bench_experiment(
    exp_no: int, *, ppd: float, n_trials: int, batch_sizes: list[int], threads: list[int], seed: int
) -> dict:
    exp = sd.EXPERIMENTS[exp_no]
    extractor = eccnet.Extractor.shipped("diet_normal", eccnet.Geometry(ppd=ppd))
    trials = sd.make_trials(exp, key=jax.random.key(seed), ppd=ppd, n_trials=n_trials)
    kernels = eccnet.target_kernels(extractor, trials)
    cfg = eccnet.SearchConfig()
    side, cb = _trial._crop_side(trials, cfg)
    row = {"experiment": exp_no, "ppd": ppd, "trials": len(trials), "crop_px": side}
    stem = _stem._stem_plan(extractor, trials.layout.display, side, cb, cfg, cell=trials.layout.cell)
    row["local_stem_patch_px"] = None if stem is None else stem.side
    eccnet.search_per_fixation(extractor, trials.select([0]), cfg, kernels=tuple(k[:1] for k in kernels))
    t0 = time.perf_counter()
    loop = eccnet.search_per_fixation(extractor, trials, cfg, kernels=kernels)
    row["loop_s"] = round(time.perf_counter() - t0, 3)
    # saccades actually computed (a trial not found is scored as the set size but searched to the budget)
    row["fixations"] = int(np.where(loop["found"], loop["n_saccades"], trials.layout.n_cells + 1).sum())
    row["loop_ms_per_fixation"] = round(1e3 * row["loop_s"] / row["fixations"], 2)
    row["batched"] = []
    row["step_profile"] = profile_step(extractor, trials, kernels, cfg)
    # the rate that the default path's arithmetic would have to reach for the target speed-up
    need_ms = row["loop_ms_per_fixation"] / TARGET
    row["step_profile"]["ms_per_saccade_for_target"] = round(need_ms, 2)
    row["step_profile"]["gflop_per_s_for_target"] = (
        row["step_profile"]["default"]["gflop_per_saccade"] / need_ms * 1e3
    )
    variants = [(path, opts, b, 1) for path, opts in PATHS for b in batch_sizes]
    variants += [("scan_local_stem", {"local_stem": True}, 1, t) for t in threads if t > 1]
    for path, opts, b, t in variants:
        # one trial per jitted call at batch size 1; larger batches refill finished slots every saccade
        bcfg = dataclasses.replace(cfg, batch_size=b, segment=cfg.segment if b == 1 else 1, threads=t, **opts)
        warm = trials.select(np.arange(min(b * t, len(trials))))
        eccnet.search(extractor, warm, bcfg, kernels=tuple(k[: len(warm)] for k in kernels))
        t0 = time.perf_counter()
        res = eccnet.search(extractor, trials, bcfg, kernels=kernels)
        dt = time.perf_counter() - t0
        row["batched"].append(
            {
                "path": path,
                "batch_size": b,
                "threads": t,
                "segment": bcfg.segment,
                "seconds": round(dt, 3),
                "ms_per_fixation": round(1e3 * dt / row["fixations"], 2),
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
    p.add_argument("--ppd", type=float, default=None, help="one resolution (default: the quick preset's)")
    p.add_argument("--trials", type=int, default=4, help="displays per condition and set size")
    p.add_argument("--experiments", type=int, nargs="+", default=[2, 3, 5])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    p.add_argument("--threads", type=int, nargs="+", default=[2], help="host threads of the default path")
    p.add_argument("--battery", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "visual_search.json"))
    args = p.parse_args(argv)
    known(p, "--experiments", [str(e) for e in args.experiments], [str(e) for e in sd.EXPERIMENTS])
    at_least(p, trials=args.trials, batch_sizes=args.batch_sizes, threads=args.threads)
    if args.ppd is not None and not args.ppd > 0:
        p.error(f"--ppd {args.ppd}: must be positive")
    writable(p, args.out)
    load0 = _load()
    rows = []
    for e in args.experiments:
        rows.append(
            bench_experiment(
                e,
                ppd=args.ppd or sd.QUICK_PPD[e - 1],
                n_trials=args.trials,
                batch_sizes=args.batch_sizes,
                threads=args.threads,
                seed=args.seed,
            )
        )
        print(json.dumps(rows[-1]), flush=True)
        partial = Path(args.out).with_suffix(".partial.json")  # what is done, should the run be stopped
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"experiments": rows, "load_avg_1min_start": load0}, indent=2) + "\n")
    tot_l = sum(r["loop_s"] for r in rows)
    totals = {}
    for r in rows:
        for x in r["batched"]:
            k = f"{x['path']}/batch{x['batch_size']}/threads{x['threads']}"
            totals[k] = totals.get(k, 0.0) + x["seconds"]
    best = min(totals, key=totals.get)
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
            "matmul_2048_gflop_per_s": round(matmul_gflop_per_s(), 1),
        },
        "settings": {
            "ppd": args.ppd,
            "trials_per_cell": args.trials,
            "batch_sizes": args.batch_sizes,
            "threads": args.threads,
            "backbone": "diet_normal",
            "quick_ppd": "per experiment as in the quick preset of visual_search_asymmetry",
        },
        "experiments": rows,
        "total": {
            "loop_s": round(tot_l, 3),
            "batched_s": {k: round(v, 3) for k, v in totals.items()},
            "speedup_vs_loop": {k: round(tot_l / v, 3) for k, v in totals.items()},
            "best": best,
            "speedup_best_vs_loop": round(tot_l / totals[best], 3),
            "target_speedup": TARGET,
        },
    }
    if args.battery:
        out["battery_quick"] = bench_battery(args.seed)
        print(json.dumps(out["battery_quick"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    Path(args.out).with_suffix(".partial.json").unlink(missing_ok=True)
    mm = out["machine"]["matmul_2048_gflop_per_s"]
    for r in rows:
        p, d = r["step_profile"], r["step_profile"]["default"]
        print(
            f"Exp {r['experiment']}: one saccade {d['gflop_per_saccade']:.3f} GFLOP in "
            f"{d['ms_per_saccade_one_call']:.2f} ms ({d['gflop_per_s']:.0f} GFLOP/s; full crop "
            f"{p['full_crop']['gflop_per_saccade']:.3f} GFLOP); {TARGET:g}x needs "
            f"{p['ms_per_saccade_for_target']} ms per saccade, {p['gflop_per_s_for_target']:.0f} GFLOP/s "
            f"(2048^3 matmul: {mm} GFLOP/s)"
        )
    print(f"best {best}: {out['total']['speedup_best_vs_loop']}x the loop -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
