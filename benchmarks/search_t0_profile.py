"""One visual-search unit's log-likelihood along ``t0_s``, the other parameters at the unit's fitted values.

Fits the unit (``--starts``, ``--seed``, ``ci=None``), then evaluates the model's log-likelihood at ``t0_s``
on a grid from ``--low`` to ``--high`` seconds (``--step``), every other parameter held at its estimate, and
records for each grid point the log-likelihood and how many of the unit's RTs lie below ``t0_s`` (those
trials are left to the fixed contaminant). Prints the grid, the grid's local maxima and the RTs between them.

Usage::

    python benchmarks/search_t0_profile.py --data cogsim/data/visual_search_wolfe2010/trials.csv \\
        --task spatial_configuration --subject 6 [--model parallel] [--starts 16] [--seed 2] [--out x.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import at_least, paradigm_models, read_trials, writable  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--task", default="spatial_configuration")
    ap.add_argument("--subject", default="6")
    ap.add_argument("--model", default="parallel")
    ap.add_argument("--starts", type=int, default=16)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--low", type=float, default=0.30)
    ap.add_argument("--high", type=float, default=0.372)
    ap.add_argument("--step", type=float, default=0.0005)
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results" / "search_t0_profile.json")
    )
    args = ap.parse_args(argv)
    if not args.step > 0 or not args.high >= args.low:
        ap.error(f"--low {args.low} --high {args.high} --step {args.step}: need low <= high and step > 0")
    at_least(ap, starts=args.starts)
    par = paradigm_models(ap, "visual_search", args.model)
    writable(ap, args.out)
    trials = read_trials(ap, par, args.data)
    unit = trials[(trials["task"].astype(str) == args.task) & (trials["subject"].astype(str) == args.subject)]
    if unit.empty:
        ap.error(f"--task {args.task} --subject {args.subject}: no such trials in {args.data}")
    os.environ["COGSIM_COMPILATION_CACHE"] = "off"
    import jax
    import jax.numpy as jnp

    from cogsim import fit

    model = par.models[args.model]
    res = fit.fit(
        model, unit, by=("task", "subject"), n_starts=args.starts, ci=None, key=jax.random.key(args.seed)
    )
    est = res.estimates.set_index("parameter")["estimate"].astype(float).to_dict()
    cols = {c: jnp.asarray(unit[c].to_numpy()) for c in ("set_size", "target_present", "correct", "rt_ms")}
    point = {k: jnp.float32(v) for k, v in est.items()}
    loglik = jax.jit(lambda t0: model.loglik({**point, "t0_s": t0}, cols).sum())
    rt_s = np.sort(unit["rt_ms"].to_numpy()) / 1000.0
    grid = np.arange(args.low, args.high + 1e-9, args.step)
    values = [float(loglik(jnp.float32(t0))) for t0 in grid]
    below = [int((rt_s < t0).sum()) for t0 in grid]
    peaks = [i for i in range(1, len(grid) - 1) if values[i] > values[i - 1] and values[i] >= values[i + 1]]
    result = {
        "data": Path(args.data).name,
        "unit": {"task": args.task, "subject": args.subject, "n_trials": len(unit)},
        "model": args.model,
        "fit": {
            "starts": args.starts,
            "seed": args.seed,
            "loglik": float(res.summary["loglik"].iloc[0]),
            **est,
        },
        "fastest_rt_s": rt_s[:30].tolist(),
        "grid": [
            {"t0_s": float(t), "loglik": v, "rts_below": b}
            for t, v, b in zip(grid, values, below, strict=True)
        ],
        "local_maxima_t0_s": [float(grid[i]) for i in peaks],
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"fit: loglik {result['fit']['loglik']:.3f} at {est}")
    print("fastest RTs (s):", np.round(rt_s[:20], 3).tolist())
    for row in result["grid"]:
        print(f"t0_s {row['t0_s']:.3f}  loglik {row['loglik']:10.2f}  RTs below {row['rts_below']}")
    print("local maxima on the grid at t0_s:", [round(t, 3) for t in result["local_maxima_t0_s"]])
    return result


if __name__ == "__main__":
    main()
