"""Search-RT fitting benchmark: Competitive Guided Search fitted to Wolfe et al. (2010) participants through
``cogsim.fit`` (one jitted, vmapped batch) vs a per-participant ``scipy.optimize.minimize`` loop over the
same likelihood (``benchmarks/fit.py`` runs both sides in one process, same starts and coordinates).

Usage::

    python benchmarks/search_rt.py [--task conjunction] [--trials 1000] [--n-starts 1]
    python benchmarks/search_rt.py --eccnet [--displays 4] [--ppd 10]

Writes ``benchmarks/results/search_rt.json`` (times, ratios, agreement of the maximum log-likelihoods).

With ``--eccnet``: eccNET's trials/s on this scenario's displays (the three tasks' target-present displays,
set sizes 3, 6, 12, 18, ``--displays`` each, searched as the scenario does: shipped ``diet_normal`` backbone,
fixating items only) with the batched search (:func:`cogsim.models.eccnet.search`, the scenario's default
settings) against the per-fixation loop (:func:`cogsim.models.eccnet.search_per_fixation`), on the same
displays in one run; both must give the same fixation sequences. Compilation is excluded (both paths are
warmed up on the same shapes first). Writes ``benchmarks/results/search_rt_eccnet.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="conjunction")
    ap.add_argument("--trials", type=int, default=1000, help="first N trials per participant (0: all)")
    ap.add_argument("--n-starts", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--eccnet", action="store_true", help="eccNET trials/s instead of the CGS fit")
    ap.add_argument("--displays", type=int, default=4, help="eccNET: displays per task and set size")
    ap.add_argument("--ppd", type=float, default=10.0, help="eccNET: pixels per degree")
    args = ap.parse_args(argv)
    if args.eccnet:
        out = args.out or str(HERE / "results" / "search_rt_eccnet.json")
        return eccnet_bench(args.displays, args.ppd, args.seed, out)
    args.out = args.out or str(HERE / "results" / "search_rt.json")
    sys.path.insert(0, str(HERE))
    import fit as fit_bench  # benchmarks/fit.py

    fit_bench._xla_threads("fit")  # XLA's CPU pool as fit.main sets it, before building the trials computes
    from cogsim.scenarios import search_rt_distributions as srd

    t = srd.trials(srd.Config(tasks=(args.task,), max_trials=args.trials))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trials.csv"
        t.to_csv(path, index=False)
        res = fit_bench.main(
            ["--paradigm", "visual_search", "--data", str(path), "--by", "task,subject", "--models", "cgs",
             "--n-starts", str(args.n_starts), "--seed", str(args.seed), "--out", args.out]
        )  # fmt: skip
    res["per_unit_calls"] = per_unit_calls(t, args.n_starts, args.seed)
    row = res["models"][0]
    res["per_unit_calls"]["ratio_cold"] = row["scipy_s"] / res["per_unit_calls"]["cold_s"]
    res["per_unit_calls"]["ratio_warm"] = row["scipy_s"] / res["per_unit_calls"]["warm_s"]
    print("cogsim.fit once per participant:", res["per_unit_calls"], flush=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return res


def per_unit_calls(t, n_starts: int, seed: int) -> dict:
    """``cogsim.fit`` called once per participant with one model object (its compiled solver is cached and
    reused for equal shapes), so no participant waits for the slowest one; cold (compilation included) and
    warm wall times, and the summed maximum log-likelihood."""
    import jax

    from cogsim import fit as fitlib
    from cogsim import fitting_command
    from cogsim.fit._applies import choose

    par = fitting_command._paradigm("visual_search")
    model = choose(par, t, "cgs")[0]["cgs"]
    units = [g for _, g in t.groupby(["task", "subject"], sort=True)]
    out = {}
    for label in ("cold", "warm"):
        t0 = time.perf_counter()
        ll = [
            float(fitlib.fit(model, g, by=("task", "subject"), n_starts=n_starts, ci=None,
                             key=jax.random.key(seed)).units["loglik"].iloc[0])
            for g in units
        ]  # fmt: skip
        out[f"{label}_s"] = time.perf_counter() - t0
    out["loglik"] = sum(ll)
    out["units"] = len(units)
    return out


def eccnet_bench(displays: int, ppd: float, seed: int, out: str) -> dict:
    """Batched search against the per-fixation loop on the scenario's displays (see the module docstring)."""
    import jax

    from cogsim.models import eccnet
    from cogsim.tasks import wolfe_displays as wd

    ex = eccnet.Extractor.shipped("diet_normal", eccnet.Geometry(ppd=ppd))
    cfg = eccnet.SearchConfig(items_only=True)
    rows = []
    for i, task in enumerate(wd.TASKS):
        spec = wd.DisplaySpec(ppd=ppd)
        trials = wd.eccnet_trials(task, [3, 6, 12, 18] * displays, seed=seed + i, spec=spec)
        kernels = eccnet.target_kernels(ex, trials)
        one = trials.select([0])
        k1 = tuple(k[:1] for k in kernels)
        eccnet.search(ex, one, cfg, kernels=k1)  # warm-up: compile both paths on these shapes
        eccnet.search_per_fixation(ex, one, cfg, kernels=k1)
        t0 = time.perf_counter()
        a = eccnet.search(ex, trials, cfg, kernels=kernels, return_paths=True)
        t_batched = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = eccnet.search_per_fixation(ex, trials, cfg, kernels=kernels, return_paths=True)
        t_loop = time.perf_counter() - t0
        rows.append(
            {"task": task, "trials": len(trials), "fixations": int(a.n_saccades.sum()),
             "batched_trials_per_s": len(trials) / t_batched,
             "per_fixation_trials_per_s": len(trials) / t_loop,
             "ratio": t_loop / t_batched, "same_fixations": a.fixations.tolist() == b.fixations.tolist()}
        )  # fmt: skip
        print(rows[-1], flush=True)
    res = {
        "benchmark": "search_rt_eccnet",
        "ppd": ppd,
        "displays_per_set_size": displays,
        "settings": "SearchConfig(items_only=True): batch_size 1, local stem, 2 host threads",
        "peer": "search_per_fixation: Python loop, one jitted forward pass of the full crop per fixation",
        "tasks": rows,
        "total_ratio": sum(r["trials"] / r["per_fixation_trials_per_s"] for r in rows)
        / sum(r["trials"] / r["batched_trials_per_s"] for r in rows),
        "machine": {"python": platform.python_version(), "jax": jax.__version__,
                    "backend": jax.default_backend(), "cpus": os.cpu_count(),
                    "load_1min": os.getloadavg()[0]},
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }  # fmt: skip
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
