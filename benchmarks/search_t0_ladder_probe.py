"""Probe: do the visual-search fits find each unit's best maximum when started with ``t0_s`` below each of
its fastest RTs in turn?

The likelihood along ``t0_s`` has a tooth just below each of a unit's fastest RTs
(``benchmarks/search_t0_profile.py``). For each rung ``j`` of ``--ladder`` this fits every unit (``ci=None``,
``--starts``, ``--seed``) with the model's data-informed start changed in one value: ``t0_s`` 1 ms below the
unit's ``j``-th fastest RT (the other values of that start as the model computes them). A unit's *ladder*
value is its highest log-likelihood over the rungs. Both are compared with the references: the highest
log-likelihood any run of ``--with`` (results of ``benchmarks/fit_starts.py``) reached on the unit. Nothing
in the package changes; this measures whether such starts would find the units' best maxima.

Usage::

    python benchmarks/search_t0_ladder_probe.py --data cogsim/data/visual_search_wolfe2010/trials.csv \\
        --models parallel,serial,cgs --ladder 1,2,3,5,8,12,20,40 \\
        --with benchmarks/results/fit_starts_wolfe2010.json,... [--out results/x.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

STEP_BELOW_S = 0.001  # the start's t0_s lies this far below the rung's RT


def laddered(model, rung: int):
    """A copy of ``model`` whose ``initial(trials)`` puts ``t0_s`` ``STEP_BELOW_S`` below the ``rung``-th
    fastest RT of the unit."""
    base = model.initial
    out = copy.copy(model)

    def initial(trials):
        p = dict(base(trials))
        rt = np.sort(np.asarray(trials["rt_ms"], float)) / 1000.0
        p["t0_s"] = float(np.clip(rt[min(rung, rt.size) - 1] - STEP_BELOW_S, 0.01, 1.9))
        return p

    out.initial = initial
    return out


def references(paths: list[str]) -> dict:
    """Per model, unit -> the highest log-likelihood any run of the results reached."""
    best: dict = {}
    for path in paths:
        for r in json.loads(Path(path).read_text())["runs"]:
            mine = best.setdefault(r["model"], {})
            for u, v in zip(r["units"], r["loglik"], strict=True):
                mine[u] = max(mine.get(u, -np.inf), v)
    return best


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", default="parallel,serial,cgs")
    ap.add_argument("--ladder", default="1,2,3,5,8,12,20,40")
    ap.add_argument("--starts", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=0.1)
    ap.add_argument("--with", dest="with_", default="", help="comma-separated fit_starts.py results")
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results" / "search_t0_ladder_probe.json")
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _report import at_least, int_list, paradigm_models, read_trials, writable

    par = paradigm_models(ap, "visual_search", args.models)
    rungs_given = int_list(ap, "--ladder", args.ladder)
    at_least(ap, starts=args.starts)
    missing = [p for p in args.with_.split(",") if p and not Path(p).is_file()]
    if missing:
        ap.error(f"--with {','.join(missing)}: no such file")
    writable(ap, args.out)
    os.environ["COGSIM_COMPILATION_CACHE"] = "off"
    import jax

    from cogsim import fit

    trials = read_trials(ap, par, args.data)
    by = ("task", "subject")
    refs = references([p for p in args.with_.split(",") if p])
    result = {"data": Path(args.data).name, "starts": args.starts, "seed": args.seed, "tol": args.tol}
    result["step_below_s"], result["models"] = STEP_BELOW_S, {}
    for name in args.models.split(","):
        rungs, units = {}, None
        for j in rungs_given:
            c0, w0, utc = time.process_time(), time.perf_counter(), time.strftime("%H:%M:%S", time.gmtime())
            model = laddered(par.models[name], j)
            res = fit.fit(model, trials, by=by, n_starts=args.starts, ci=None, key=jax.random.key(args.seed))
            units = res.summary[list(by)].astype(str).agg("/".join, axis=1).tolist()
            t0 = res.estimates.query("parameter == 't0_s'")["estimate"].astype(float).tolist()
            rungs[str(j)] = {
                "utc_start": utc,
                "cpu_s": time.process_time() - c0,
                "wall_s": time.perf_counter() - w0,
                "loglik": res.summary["loglik"].astype(float).tolist(),
                "t0_s": t0,
            }
            r = rungs[str(j)]
            print(f"{name} rung {j}: summed {sum(r['loglik']):.2f} ({r['wall_s']:.1f} s)")
        values = np.array([r["loglik"] for r in rungs.values()])
        ladder = values.max(axis=0)
        ref = np.array([refs.get(name, {}).get(u, -np.inf) for u in units])
        per_rung_miss = {j: int(np.sum(ref - np.array(r["loglik"]) > args.tol)) for j, r in rungs.items()}
        result["models"][name] = {
            "units": units,
            "rungs": rungs,
            "ladder": ladder.tolist(),
            "best_rung": [list(rungs)[i] for i in values.argmax(axis=0)],
            "reference": ref.tolist(),
            "ladder_misses": [
                [u, round(float(g), 4)] for u, g in zip(units, ref - ladder, strict=True) if g > args.tol
            ],
            "ladder_above_reference": [
                [u, round(float(g), 4)] for u, g in zip(units, ladder - ref, strict=True) if g > args.tol
            ],
            "misses_per_rung": per_rung_miss,
        }
        m = result["models"][name]
        print(
            f"{name}: ladder misses {len(m['ladder_misses'])} of {len(units)} (largest "
            f"{max([g for _, g in m['ladder_misses']], default=0.0):.2f}); above the reference on "
            f"{len(m['ladder_above_reference'])}; misses per rung {per_rung_miss}"
        )
    Path(args.out).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
