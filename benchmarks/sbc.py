"""Simulation-based calibration (Talts et al. 2018) of ``cogsim.fit.sample``.

Talts, Betancourt, Simpson, Vehtari and Gelman (2018, arXiv:1804.06788). Each of ``--n-subjects`` simulated
participants gets its parameters drawn from the prior the sampler is given
(:data:`PRIORS`), ``--n-trials`` trials simulated by the model at one set size, and its posterior sampled;
the rank of the true value among ``--n-ranks`` draws spread evenly over the chains' draws (thinned, so that
they are nearly independent) is uniform on 0..n_ranks when the sampler draws from the posterior. Reported per
parameter: the ranks' histogram in ``--bins`` bins, the chi-square test of uniformity (its p-value), and the
units' convergence (R-hat, ESS, divergences). The pass rule is declared in docs/fitting.md, "Posterior
sampling", before the first run.

Usage::

    python benchmarks/sbc.py --model mixture2p [--n-subjects 200 --n-trials 100 --seed 0 --n-temperatures 1
        --even-ladder]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import at_least, emit, machine, writable  # noqa: E402

from cogsim import fit  # noqa: E402
from cogsim.models import paradigms  # noqa: E402

#: per model: parameter -> (log-density for the sampler, draw from the same prior for the truth); a parameter
#: left out has two finite bounds and takes the sampler's default, uniform between them
PRIORS = {
    "mixture2p": {
        "sd_rad": (
            lambda x: jax.scipy.stats.norm.logpdf(x, 0.0, 1.0) + jnp.log(2.0),  # half-normal(1)
            lambda rng, n: np.abs(rng.normal(0.0, 1.0, n)),
        )
    },
    "slots_averaging": {},  # K and sd1_rad: two finite bounds each, uniform between them
}


def truth_table(model, n: int, rng) -> pd.DataFrame:
    """``n`` participants' true values, each parameter from its prior restricted to the parameter's bounds
    (the sampler's support: a given prior's draws outside them are drawn again), uniform between two bounds
    where none is given."""
    given = PRIORS.get(model.name, {})
    cols = {"subject": np.arange(1, n + 1)}
    for p in model.params:
        if p.name not in given:
            cols[p.name] = rng.uniform(p.low, p.high, n)
            continue
        x = given[p.name][1](rng, n)
        while (out := (x <= p.low) | (x >= p.high)).any():
            x[out] = given[p.name][1](rng, int(out.sum()))
        cols[p.name] = x
    return pd.DataFrame(cols)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mixture2p", choices=sorted(PRIORS))
    ap.add_argument("--n-subjects", type=int, default=200)
    ap.add_argument("--n-trials", type=int, default=100)
    ap.add_argument("--set-size", type=int, default=4)
    ap.add_argument("--n-warmup", type=int, default=500)
    ap.add_argument("--n-samples", type=int, default=1000)
    ap.add_argument("--n-chains", type=int, default=4)
    ap.add_argument("--n-temperatures", type=int, default=1, help="replicas per chain (1: plain HMC)")
    ap.add_argument("--even-ladder", action="store_true", help="keep the ladder even in log beta (no tuning)")
    ap.add_argument("--n-ranks", type=int, default=99)
    ap.add_argument("--bins", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    at_least(ap, **{k: v for k, v in vars(args).items() if k.startswith(("n_", "set_size", "bins"))})
    writable(ap, args.out)
    model = paradigms.get("delayed_estimation").models[args.model]
    rng = np.random.default_rng(args.seed)
    truth = truth_table(model, args.n_subjects, rng)
    design = lambda n, *, key: {"set_size": jnp.full((n,), args.set_size, jnp.int32)}  # noqa: E731
    key = jax.random.key(args.seed)
    data = fit.simulate_data(model, truth, args.n_trials, key=jax.random.fold_in(key, 0), design=design)
    prior = {name: pair[0] for name, pair in PRIORS[args.model].items()}
    t0, c0 = time.perf_counter(), time.process_time()
    res = fit.sample(
        model, data, prior=prior, n_chains=args.n_chains, n_warmup=args.n_warmup, n_samples=args.n_samples,
        n_temperatures=args.n_temperatures, adapt_ladder=not args.even_ladder, key=jax.random.fold_in(key, 1),
    )  # fmt: skip
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    order = res.units["subject"].to_numpy()
    true = truth.set_index("subject").loc[order]
    flat = res.draws.reshape(res.draws.shape[0], -1, res.draws.shape[-1])  # [U, chains x samples, k]
    pick = np.linspace(0, flat.shape[1] - 1, args.n_ranks).round().astype(int)
    params = {}
    for i, p in enumerate(model.params):
        ranks = (flat[:, pick, i] < true[p.name].to_numpy()[:, None]).sum(axis=1)  # 0 .. n_ranks
        counts = np.histogram(ranks, bins=args.bins, range=(0, args.n_ranks + 1))[0]
        chi2 = stats.chisquare(counts)
        params[p.name] = {
            "rank_histogram": counts.tolist(),
            "chi2": float(chi2.statistic),
            "p_value": float(chi2.pvalue),
            "mean_rank_fraction": float(ranks.mean() / args.n_ranks),
            "ranks": ranks.tolist(),  # per unit, in the order of "subjects"
            "truth": true[p.name].round(5).tolist(),
        }
    result = {
        "benchmark": "sbc",
        "model": args.model,
        "n_subjects": args.n_subjects,
        "n_trials": args.n_trials,
        "set_size": args.set_size,
        "sampler": res.settings,
        "n_ranks": args.n_ranks,
        "bins": args.bins,
        "seed": args.seed,
        "params": params,
        "subjects": order.tolist(),
        "units_converged_each": res.units["converged"].tolist(),
        "units_converged": int(res.units["converged"].sum()),
        "max_rhat": float(res.units["max_rhat"].max()),
        "min_ess": float(res.units["min_ess"].min()),
        "divergences": int(res.units["divergences"].sum()),
        "sample_wall_s": wall,
        "sample_cpu_s": cpu,
        "machine": machine(),
    }
    emit(result, args.out)
    return result


if __name__ == "__main__":
    main()
