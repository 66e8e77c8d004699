"""How many starts a fit needs: every unit's maximum log-likelihood at several start counts and root seeds.

Each (model, start count, seed) is one ``fit(..., ci=None)`` of all units in this process (compilation
cache off). A unit's reference is the highest log-likelihood any run reached on it; a run *misses* a unit
when its log-likelihood is more than ``--tol`` (default 0.1, the fitting acceptance's tolerance) below the
reference (``--with`` adds an earlier result's runs to the references and the count). The result records
every unit's log-likelihood, converged flag, and each run's CPU and wall time, and prints the misses per
model and start count.

Usage::

    python benchmarks/fit_starts.py --paradigm visual_search \\
        --data cogsim/data/visual_search_wolfe2010/trials.csv --by task,subject \\
        [--models cgs,serial,parallel] [--starts 4,16] [--seeds 0,1,2] [--out results/x.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import int_list, paradigm_models, read_trials, writable  # noqa: E402


def misses(runs: list[dict], tol: float) -> dict:
    """Per model and start count: the (unit, seed) pairs more than ``tol`` below the unit's best."""
    out = {}
    for model in dict.fromkeys(r["model"] for r in runs):
        mine = [r for r in runs if r["model"] == model]
        best = [max(vals) for vals in zip(*(r["loglik"] for r in mine), strict=True)]
        for r in mine:
            gaps = [b - v for b, v in zip(best, r["loglik"], strict=True)]
            row = out.setdefault(model, {}).setdefault(str(r["n_starts"]), {"missed": [], "largest_gap": 0.0})
            row["missed"] += [[r["units"][i], r["seed"], round(g, 4)] for i, g in enumerate(gaps) if g > tol]
            row["largest_gap"] = max(row["largest_gap"], max(gaps))
    return out


def _grad_norms(res, by: tuple[str, ...]) -> list:
    """Each row of ``res.summary``'s final gradient norm (the largest over its units), None where the result
    has none."""
    if "grad_norm" not in res.units.columns:
        return [None] * len(res.summary)
    worst = res.units.groupby(list(by), sort=False)["grad_norm"].max()
    return [float(worst.loc[k]) for k in res.summary.set_index(list(by)).index]


def fits(model, trials, by: tuple[str, ...], starts: str, seeds: str, extra=None) -> list[dict]:
    """One ``fit(..., ci=None)`` of all units per start count and seed (comma-separated), as run records;
    ``extra(result)`` adds entries to a record."""
    import jax

    from cogsim import fit

    runs = []
    for n in map(int, starts.split(",")):
        for seed in map(int, seeds.split(",")):
            c0, w0, utc = time.process_time(), time.perf_counter(), time.strftime("%H:%M:%S", time.gmtime())
            res = fit.fit(model, trials, by=by, n_starts=n, ci=None, key=jax.random.key(seed))
            r = {
                "model": model.name,
                "n_starts": n,
                "seed": seed,
                "utc_start": utc,
                "cpu_s": time.process_time() - c0,
                "wall_s": time.perf_counter() - w0,
                "units": res.summary[list(by)].astype(str).agg("/".join, axis=1).tolist(),
                "loglik": res.summary["loglik"].astype(float).tolist(),
                "converged": res.summary["converged"].astype(bool).tolist(),
                "grad_norm": _grad_norms(res, by),
                **(extra(res) if extra else {}),
            }
            runs.append(r)
            print(
                f"{model.name} starts {n} seed {seed}: loglik {sum(r['loglik']):.3f}, "
                f"{sum(r['converged'])}/{len(r['units'])} converged, CPU {r['cpu_s']:.1f} s, "
                f"wall {r['wall_s']:.1f} s",
                flush=True,
            )
    return runs


def check_runs(ap, args) -> None:
    """A usage error for ``--starts`` or ``--seeds`` that are not comma-separated whole numbers (starts at
    least 1) or an ``--out`` that cannot be written; before any fit."""
    int_list(ap, "--starts", args.starts)
    int_list(ap, "--seeds", args.seeds, low=0)
    writable(ap, args.out)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paradigm", default="visual_search")
    ap.add_argument("--data", required=True)
    ap.add_argument("--by", default="task,subject")
    ap.add_argument("--models", default="cgs,serial,parallel")
    ap.add_argument("--starts", default="4,16")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tol", type=float, default=0.1)
    ap.add_argument(
        "--with",
        dest="earlier",
        action="append",
        default=[],
        metavar="FILE.json",
        help="an earlier result of this script on the same data: its runs join the references and misses",
    )
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "fit_starts.json"))
    args = ap.parse_args(argv)
    par = paradigm_models(ap, args.paradigm, args.models)
    check_runs(ap, args)
    os.environ["COGSIM_COMPILATION_CACHE"] = "off"
    trials = read_trials(ap, par, args.data)
    by = tuple(args.by.split(","))
    runs = []
    for name in args.models.split(","):
        runs += fits(par.models[name], trials, by, args.starts, args.seeds)
    result = {"paradigm": args.paradigm, "data": Path(args.data).name, "by": list(by), "tol": args.tol}
    earlier = [r for f in args.earlier for r in json.loads(Path(f).read_text())["runs"]]
    mine = {r["model"] for r in runs}
    result["earlier"] = [Path(f).name for f in args.earlier]
    result["runs"], result["misses"] = (
        runs,
        misses([r for r in earlier if r["model"] in mine] + runs, args.tol),
    )
    Path(args.out).write_text(json.dumps(result, indent=1))
    for model, per in result["misses"].items():
        for n, row in per.items():
            print(f"{model} starts {n}: {len(row['missed'])} misses, largest gap {row['largest_gap']:.3f}")
    return result


if __name__ == "__main__":
    main()
