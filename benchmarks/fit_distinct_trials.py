"""Distinct trials counted once (``fit(compress=True)``, the default) against every trial evaluated
(``compress=False``): each model's first fit in a fresh process (compilation included, ``cold``) and the
same fit again (``warm``), process CPU and wall time, every unit's maximum log-likelihood and converged flag.

The two sides run in separate fresh processes alternated off, on, off, on (``--rounds`` pairs), one after
the other, so both see the same load; the 1-minute load average is recorded before each process. The
persistent compilation cache is off in the children.

Usage::

    python benchmarks/fit_distinct_trials.py --data trials.csv --by experiment,subject \\
        [--models mixture2p,slots_averaging,vp,workspace] [--rounds 2] [--out results/x.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import at_least, child_output, paradigm_models, writable  # noqa: E402

MODELS = "mixture2p,slots_averaging,vp,workspace"


def child(
    data: str, by: tuple[str, ...], models: list[str], compress: bool, n_starts: int, seed: int
) -> dict:
    """Cold and warm fits of each model in this process."""
    import jax

    from cogsim import fit
    from cogsim.models import paradigms

    par = paradigms.get("delayed_estimation")
    trials = par.read(data)
    out = {}
    for name in models:
        runs = []
        for _ in range(2):
            c0, w0 = time.process_time(), time.perf_counter()
            res = fit.fit(
                par.models[name],
                trials,
                by=by,
                n_starts=n_starts,
                ci=None,
                compress=compress,
                key=jax.random.key(seed),
            )
            runs.append((time.process_time() - c0, time.perf_counter() - w0))
        out[name] = {
            "cold_cpu": runs[0][0],
            "cold_wall": runs[0][1],
            "warm_cpu": runs[1][0],
            "warm_wall": runs[1][1],
            "loglik": res.units["loglik"].tolist(),
            "converged": res.units["converged"].astype(bool).tolist(),
            "distinct_trials": res.settings.get("distinct_trials"),
            "n_trials": int(res.units["n_trials"].sum()),
        }
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--by", default="experiment,subject")
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--n-starts", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--child", choices=("off", "on"), default=None, help=argparse.SUPPRESS)
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results" / "fit_distinct_trials.json")
    )
    args = ap.parse_args(argv)
    at_least(ap, rounds=args.rounds, n_starts=args.n_starts)
    by, models = tuple(args.by.split(",")), args.models.split(",")
    if not args.child:
        paradigm_models(ap, "delayed_estimation", args.models)
        if not Path(args.data).is_file():
            ap.error(f"--data {args.data}: no such file")
        writable(ap, args.out)
    if args.child:
        res = child(args.data, by, models, args.child == "on", args.n_starts, args.seed)
        print(json.dumps(res))
        return res
    env = dict(os.environ, COGSIM_COMPILATION_CACHE="off")
    runs = []
    for r in range(args.rounds):
        for side in ("off", "on"):
            load = os.getloadavg()[0]
            cmd = [sys.executable, __file__, "--child", side, "--data", args.data, "--by", args.by]
            cmd += ["--models", args.models, "--n-starts", str(args.n_starts), "--seed", str(args.seed)]
            t = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
            out = child_output(cmd, env=env)
            runs.append(
                {"round": r, "compress": side, "utc": t, "load_1min": load, "models": json.loads(out)}
            )
            summary = {m: round(v["cold_cpu"], 2) for m, v in runs[-1]["models"].items()}
            print(f"round {r} compress {side} load {load:.1f}: cold CPU {summary}", flush=True)
    result = {"data": Path(args.data).name, "by": list(by), "n_starts": args.n_starts, "seed": args.seed}
    result["runs"] = runs
    for side in ("off", "on"):
        mine = [x["models"] for x in runs if x["compress"] == side]
        result[side] = {
            m: {
                k: sum(x[m][k] for x in mine) / len(mine)
                for k in ("cold_cpu", "cold_wall", "warm_cpu", "warm_wall")
            }
            for m in models
        }
        result[side]["total"] = {k: sum(result[side][m][k] for m in models) for k in result[side][models[0]]}
    off, on = runs[0]["models"], runs[1]["models"]
    result["largest_loglik_difference"] = {
        m: max(abs(a - b) for a, b in zip(off[m]["loglik"], on[m]["loglik"], strict=True)) for m in models
    }
    result["converged_lost"] = {
        m: sum(a and not b for a, b in zip(off[m]["converged"], on[m]["converged"], strict=True))
        for m in models
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    for side in ("off", "on"):
        t = result[side]["total"]
        print(f"compress {side}: total cold CPU {t['cold_cpu']:.2f} s, warm CPU {t['warm_cpu']:.2f} s")
    print("largest |loglik off - on| per model:", result["largest_loglik_difference"])
    print("converged off, unconverged on:", result["converged_lost"])
    return result


if __name__ == "__main__":
    main()
