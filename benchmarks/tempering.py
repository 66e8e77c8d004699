"""Replica exchange against plain HMC on a capacity model's posteriors, both against the posterior on a grid.

``cogsim.fit.sample`` with ``n_temperatures=1`` (plain HMC: ``hmc``) and with ``--temperatures`` replicas per
chain (``cogsim.fit._tempering``) on a ladder even in ``log beta`` (``even``) or tuned in the warm-up
(``tuned``), the same key, on every participant of ``--data`` (``--samplers`` picks); and, for a model of two
parameters ``K`` and a scale, each participant's posterior computed on a grid over them (``K`` in steps of
``--k-step`` over its bounds, the other parameter in ``--n-scale`` steps even in its logarithm, each cell
weighted by its own-scale width: the samplers' default prior is uniform between the bounds). Reported per
participant and sampler: the mass of ``K`` in each integer segment ``[c, c + 1)``, the total variation
distance between the sampler's segment masses and the grid's (``0.5 sum |p_c - q_c|``), the posterior medians
against the grid's, R-hat, ESS, convergence, the exchanges' lowest acceptance rate (and each chain's ladder),
and the times. The pass rule is declared in docs/fitting_log.md before the run.

Usage::

    python benchmarks/tempering.py --data trials.csv [--model slots_averaging --n 1000 --temperatures 8]
    python benchmarks/tempering.py --data trials.csv --model vp --samplers even,tuned
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import at_least, emit, known, machine, paradigm_models, read_trials, writable  # noqa: E402

from cogsim import fit  # noqa: E402
from cogsim.fit._data import pack  # noqa: E402
from cogsim.fit._loo import loglik_at  # noqa: E402
from cogsim.fit._model import specialised  # noqa: E402


def grid_posteriors(model, data, by, k_step: float, n_scale: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Per unit (in ``pack``'s order) the posterior on the grid ``[n_k, n_scale]`` (normalised), and the
    grid's ``K`` midpoints; the model's first parameter is ``K``, its second a positive scale."""
    packed = pack(data, model, by=by)
    model = specialised(model, data)
    pk, ps = model.params
    ks = np.arange(pk.low + k_step / 2, pk.high, k_step)
    edges = np.exp(np.linspace(np.log(ps.low), np.log(ps.high), n_scale + 1))
    scales, widths = np.sqrt(edges[:-1] * edges[1:]), np.diff(edges)
    grid = np.stack(np.meshgrid(ks, scales, indexing="ij"), -1).reshape(-1, 2).astype(np.float32)
    ll = jax.jit(lambda d, t, m: jnp.sum(jnp.where(m, loglik_at(model)(d, t), 0.0), axis=1))
    mask = np.asarray(packed.mask)
    out = []
    for u in range(mask.shape[0]):
        t = {name: a[u] for name, a in packed.trials.items()}
        parts = [np.asarray(ll(grid[i : i + 8192], t, mask[u])) for i in range(0, len(grid), 8192)]
        lp = np.concatenate(parts).astype(np.float64).reshape(len(ks), n_scale) + np.log(widths)[None]
        w = np.exp(lp - lp.max())
        out.append(w / w.sum())
    return out, ks


def weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(x)
    c = np.cumsum(w[order])
    return float(x[order][np.searchsorted(c, 0.5 * c[-1])])


SAMPLERS = ("hmc", "even", "tuned")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="slots_averaging")
    ap.add_argument("--n", type=int, default=1000, help="warm-up iterations and draws per chain")
    ap.add_argument("--temperatures", type=int, default=8)
    ap.add_argument("--samplers", default="hmc,even,tuned", help="of hmc, even, tuned")
    ap.add_argument("--k-step", type=float, default=0.01)
    ap.add_argument("--n-scale", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    paradigm = paradigm_models(ap, "delayed_estimation", args.model)
    known(ap, "--samplers", args.samplers.split(","), SAMPLERS)
    at_least(ap, n=args.n, temperatures=args.temperatures, n_scale=args.n_scale)
    if not args.k_step > 0:
        ap.error(f"--k-step {args.k_step}: must be positive")
    writable(ap, args.out)
    model = paradigm.models[args.model]
    data = read_trials(ap, paradigm, args.data)
    by = ("subject",)
    with_grid = len(model.params) == 2 and model.params[0].name == "K"
    grid = None
    if with_grid:
        t0 = time.perf_counter()
        grids, ks = grid_posteriors(model, data, by, args.k_step, args.n_scale)
        grid = {"k_step": args.k_step, "n_scale": args.n_scale, "wall_s": time.perf_counter() - t0}
        n_seg = int(round(model.params[0].high - model.params[0].low))
        seg_of_k = np.minimum(np.floor(ks - model.params[0].low), n_seg - 1).astype(int)
        grid_seg = [np.bincount(seg_of_k, weights=g.sum(axis=1), minlength=n_seg) for g in grids]
        lows, highs = np.log(model.params[1].low), np.log(model.params[1].high)
        scales = np.exp(np.linspace(lows, highs, args.n_scale + 1))
        scales = np.sqrt(scales[:-1] * scales[1:])

    kinds = {"hmc": (1, False), "even": (args.temperatures, False), "tuned": (args.temperatures, True)}
    samplers = {}
    for name in args.samplers.split(","):
        n_temp, tuned = kinds[name]
        t, c = time.perf_counter(), time.process_time()
        res = fit.sample(
            model, data, by=by, n_warmup=args.n, n_samples=args.n, n_temperatures=n_temp,
            adapt_ladder=tuned, key=jax.random.key(args.seed),
        )  # fmt: skip
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        rows = []
        for u, row in res.units.reset_index(drop=True).iterrows():
            x = res.draws[u].reshape(-1, res.draws.shape[-1])
            found = {
                "subject": row["subject"].item() if hasattr(row["subject"], "item") else row["subject"],
                "median": [float(np.median(x[:, i])) for i in range(x.shape[1])],
                "max_rhat": float(row["max_rhat"]),
                "min_ess": float(row["min_ess"]),
                "divergences": int(row["divergences"]),
                "converged": bool(row["converged"]),
            }
            if n_temp > 1:
                found["min_swap_rate"] = float(row["min_swap_rate"])
                found["swap_rate"] = res.swap_rate[u].round(4).tolist()  # [chain, pair]
                found["betas"] = res.betas[u].tolist()  # [chain, rung]
            if with_grid:
                seg = np.minimum(np.floor(x[:, 0] - model.params[0].low), n_seg - 1).astype(int)
                p = np.bincount(seg, minlength=n_seg) / len(seg)
                g = grids[u]
                found["segment_mass"] = p.round(4).tolist()
                found["grid_segment_mass"] = grid_seg[u].round(4).tolist()
                found["tv_distance"] = float(0.5 * np.abs(p - grid_seg[u]).sum())
                found["grid_median"] = [
                    weighted_median(ks, g.sum(axis=1)),
                    weighted_median(scales, g.sum(axis=0)),
                ]
            rows.append(found)
        samplers[name] = {
            "n_temperatures": n_temp,
            "adapt_ladder": tuned if n_temp > 1 else None,
            "wall_s": wall,
            "cpu_s": cpu,
            "n_converged": int(res.units["converged"].sum()),
            **({"max_tv_distance": max(r["tv_distance"] for r in rows)} if with_grid else {}),
            **(
                {"n_min_swap_rate_below_0.05": sum(r["min_swap_rate"] < 0.05 for r in rows)}
                if n_temp > 1
                else {}
            ),
            "units": rows,
        }
    result = {
        "benchmark": "tempering",
        "data": str(args.data),
        "model": args.model,
        "n": args.n,
        "seed": args.seed,
        "grid": grid,
        "samplers": samplers,
        "machine": machine(),
    }
    emit(result, args.out)
    return result


if __name__ == "__main__":
    main()
