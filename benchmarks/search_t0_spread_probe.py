"""Probe: the parallel search model with a uniform spread of its shift (``st0_s``), against the saw-tooth.

Not a package model. ``ParallelSpread`` is ``cogsim.models.search.Parallel`` with the RT's shift drawn
uniformly from ``[t0_s, t0_s + st0_s]`` (as the diffusion model's non-decision-time variability), so
the density of an RT is ``p_obs * (F(rt - t0_s) - F(rt - t0_s - st0_s)) / st0_s`` with ``F`` the gamma CDF
of shape ``k_yes`` / ``k_no`` and scale ``scale_s``: continuous in ``t0_s``, where the plain model's density
jumps when ``t0_s`` passes an RT. The same fixed contaminant is mixed in. The probe fits every unit at each
start count and seed (as ``benchmarks/fit_starts.py``) and writes the runs and misses in that script's format.

Usage::

    python benchmarks/search_t0_spread_probe.py --data cogsim/data/visual_search_wolfe2010/trials.csv \\
        [--starts 4,16] [--seeds 0,1,2] [--out results/x.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def spread_model():
    """The probe model (imports JAX and cogsim, so built after the environment is set)."""
    import jax.numpy as jnp
    from jax.scipy.special import gammainc, gammaincc

    from cogsim.fit import Param
    from cogsim.models.search._baselines import Parallel, _p_correct
    from cogsim.models.search._timing import _contaminated, responded_present

    class ParallelSpread(Parallel):
        name = "parallel_spread"
        params = (*Parallel.params, Param("st0_s", 0.0, 0.5, default=0.05, doc="spread of the shift, s"))

        def loglik(self, p, t):
            rt = t["rt_ms"] / 1000.0
            shape = jnp.where(responded_present(t) == 1, p["k_yes"], p["k_no"])
            hi = jnp.maximum(rt - p["t0_s"], 0.0) / p["scale_s"]
            lo = jnp.maximum(rt - p["t0_s"] - p["st0_s"], 0.0) / p["scale_s"]
            upper = lo > shape  # past the mode: the upper tails' difference keeps its digits
            mass = jnp.where(
                upper, gammaincc(shape, lo) - gammaincc(shape, hi), gammainc(shape, hi) - gammainc(shape, lo)
            )
            dens = jnp.log(jnp.maximum(mass, 1e-30)) - jnp.log(p["st0_s"]) + jnp.log(_p_correct(p, t))
            return _contaminated(jnp.where(mass > 0, dens, -jnp.inf), rt)

    return ParallelSpread()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--by", default="task,subject")
    ap.add_argument("--starts", default="4,16")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tol", type=float, default=0.1)
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results" / "search_t0_spread.json")
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _report import paradigm_models, read_trials
    from fit_starts import check_runs, fits, misses

    check_runs(ap, args)
    trials = read_trials(ap, paradigm_models(ap, "visual_search"), args.data)
    os.environ["COGSIM_COMPILATION_CACHE"] = "off"
    by = tuple(args.by.split(","))
    st0 = lambda res: {
        "st0_s": res.estimates.query("parameter == 'st0_s'")["estimate"].astype(float).tolist()
    }
    runs = fits(spread_model(), trials, by, args.starts, args.seeds, extra=st0)
    result = {"data": Path(args.data).name, "by": list(by), "tol": args.tol, "runs": runs}
    result["misses"] = misses(runs, args.tol)
    Path(args.out).write_text(json.dumps(result, indent=1))
    for n, row in result["misses"]["parallel_spread"].items():
        print(
            f"parallel_spread starts {n}: {len(row['missed'])} misses, largest gap {row['largest_gap']:.3f}"
        )
    return result


if __name__ == "__main__":
    main()
