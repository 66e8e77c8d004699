"""Parameter and model recovery of the working-memory models at scale (50 participants x 500 trials each).

Parameter recovery: for each model, ``cogsim.fit.recover`` draws every parameter uniformly from the range in
:data:`RANGES` (``cogsim.models.working_memory.RECOVERY_RANGES``, declared in docs/fitting.md, "Parameter and
model recovery", before the first run), simulates
the participants with the model's own trial design, refits them and reports, per parameter, the correlation
between true and fitted values, the bias and the RMSE. ``uniform`` has no parameter and is left out.

Model recovery: per paradigm, every model fitted to participants simulated from every model (the same
ranges; one shared trial design per paradigm: set sizes 1/2/4/6/8 with non-targets for delayed estimation,
set sizes 2/4/6/8 at base rates 0.3/0.5/0.7 for change detection); the confusion matrices (fraction of each
generating model's participants won by each fitted model) by AIC and by BIC.

Each model (or paradigm) is one call, so that the CPU-heavy runs can go one at a time; results are merged
into the JSON file (default ``benchmarks/results/recovery.json``) under the model's (paradigm's) name, with
the commit, date, sizes and wall time.

Usage::

    python benchmarks/recovery.py params mixture2p [--n-subjects 50 --n-trials 500]
    python benchmarks/recovery.py models change_detection [--n-subjects 50 --n-trials 500]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import jax

from cogsim import fit as fitlib
from cogsim.fit import _recovery
from cogsim.models import working_memory as wm
from cogsim.models.working_memory import _model

#: parameter -> (low, high) drawn uniformly per simulated participant: the declared table the recovery tests
#: read too (docs/fitting.md gives the sources)
RANGES = wm.RECOVERY_RANGES

MODELS = {**wm.DELAYED_ESTIMATION, **wm.CHANGE_DETECTION}
#: paradigm -> (its models, the trial design shared by all of them in model recovery)
PARADIGMS = {
    "delayed_estimation": (
        ["uniform", "mixture2p", "mixture3p", "slots_averaging", "vp", "workspace"],
        _model.delayed_estimation_design,
    ),
    "change_detection": (
        ["fixed_capacity", "sdt", "fixed_capacity_base_rate", "sdt_base_rate"],
        _model.change_detection_design,
    ),
}


def _design(paradigm: str):
    design = PARADIGMS[paradigm][1]
    return lambda n, *, key: design(n, key)


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _context(args, wall: float) -> dict:
    return {
        "n_subjects": args.n_subjects,
        "n_trials": args.n_trials,
        "n_starts": args.n_starts,
        "seed": args.seed,
        "wall_s": round(wall, 1),
        "commit": _commit(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
    }


def parameter_recovery(name: str, args) -> dict:
    model = MODELS[name]
    t = time.perf_counter()
    res = fitlib.recover(
        model,
        RANGES[name],
        args.n_trials,
        args.n_subjects,
        key=jax.random.key(args.seed),
        n_starts=args.n_starts,
    )
    wall = time.perf_counter() - t
    converged = float(res.fit.summary["converged"].mean())
    return {
        **_context(args, wall),
        "ranges": {k: list(v) for k, v in RANGES[name].items()},
        "converged_fraction": converged,
        "table": res.table.round(4).to_dict(orient="records"),
    }


def model_recovery(paradigm: str, args) -> dict:
    names = args.models.split(",") if args.models else PARADIGMS[paradigm][0]
    if not set(names) <= set(PARADIGMS[paradigm][0]) or len(names) < 2:
        raise SystemExit(f"--models {args.models!r}; allowed: two or more of {PARADIGMS[paradigm][0]}")
    t = time.perf_counter()
    scores = _recovery.model_recovery_scores(
        [MODELS[n] for n in names],
        args.n_trials,
        args.n_subjects,
        key=jax.random.key(args.seed),
        params={n: RANGES.get(n, {}) for n in names},
        design=_design(paradigm),
        n_starts=args.n_starts,
    )
    wall = time.perf_counter() - t
    out = _context(args, wall)
    for crit in ("aic", "bic"):
        m = _recovery.confusion(scores, crit).round(3)
        out[crit] = {"models": names, "matrix": m.to_numpy().tolist()}
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("params", "models"))
    ap.add_argument("name", help="a model (params) or a paradigm (models)")
    ap.add_argument("--n-subjects", type=int, default=50)
    ap.add_argument("--n-trials", type=int, default=500)
    ap.add_argument("--n-starts", type=int, default=wm.RECOVERY_STARTS)
    ap.add_argument("--seed", type=int, default=wm.RECOVERY_SEED)
    ap.add_argument("--models", default=None, help="model recovery: comma-separated subset of the paradigm's")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "recovery.json"))
    args = ap.parse_args(argv)
    if args.what == "params":
        if args.name not in RANGES:
            ap.error(f"model {args.name!r}; allowed: {', '.join(RANGES)}")
        entry = parameter_recovery(args.name, args)
    else:
        if args.name not in PARADIGMS:
            ap.error(f"paradigm {args.name!r}; allowed: {', '.join(PARADIGMS)}")
        entry = model_recovery(args.name, args)
    path = Path(args.out)
    results = json.loads(path.read_text()) if path.exists() else {}
    section = "parameter_recovery" if args.what == "params" else "model_recovery"
    full = (args.n_subjects, args.n_trials) == (50, 500)
    key = args.name if full else f"{args.name} ({args.n_subjects}x{args.n_trials})"
    results.setdefault(section, {})[key] = entry
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(entry, indent=1))
    return entry


if __name__ == "__main__":
    main()
