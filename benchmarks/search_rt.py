"""Search-RT fitting benchmark: Competitive Guided Search fitted to Wolfe et al. (2010) participants through
``cogsim.fit`` (one jitted, vmapped batch) vs a per-participant ``scipy.optimize.minimize`` loop over the
same likelihood (``benchmarks/fit.py`` runs both sides in one process, same starts and coordinates).

Usage::

    python benchmarks/search_rt.py [--task conjunction] [--trials 1000] [--n-starts 1]

Writes ``benchmarks/results/search_rt.json`` (times, ratios, agreement of the maximum log-likelihoods).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="conjunction")
    ap.add_argument("--trials", type=int, default=1000, help="first N trials per participant (0: all)")
    ap.add_argument("--n-starts", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "results" / "search_rt.json"))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import fit as fit_bench  # benchmarks/fit.py

    from cogsim.scenarios import search_rt_distributions as srd

    t = srd.trials(srd.Config(tasks=(args.task,), max_trials=args.trials))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trials.csv"
        t.to_csv(path, index=False)
        return fit_bench.main(
            ["--paradigm", "visual_search", "--data", str(path), "--by", "task,subject", "--models", "cgs",
             "--n-starts", str(args.n_starts), "--seed", str(args.seed), "--out", args.out]
        )  # fmt: skip


if __name__ == "__main__":
    main()
