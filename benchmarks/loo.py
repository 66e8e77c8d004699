"""PSIS-LOO and WAIC of ``cogsim.fit.loo`` against ArviZ's ``az.loo`` and ``az.waic`` on the same draws.

A model is sampled on a delayed-estimation file (``cogsim.fit.sample``); ``cogsim.fit.loo`` computes every
trial's leave-one-out density, Pareto ``k`` and WAIC terms (float32, one jitted program; timed on a first call
with compilation and on a second); ArviZ is given each unit's pointwise log-likelihood matrix (computed
beforehand, timed apart on a second pass) and computes the same with ``reff=1.0`` (float64), one call per
unit. Reported: the largest differences per trial and per participant, the count of trials with ``k > 0.7``
by each, and the time ratios (ArviZ alone, and ArviZ with the matrices' computation). The agreement rule
is declared in docs/fitting_log.md, "PSIS-LOO and WAIC against ArviZ".

Needs ArviZ (``pip install arviz``; listed in the ``bench`` extra).

Usage::

    python benchmarks/loo.py --data trials.csv [--model mixture2p --n 1000 --seed 0 --out result.json]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import at_least, emit, machine, needs, paradigm_models, read_trials, writable  # noqa: E402

from cogsim import fit  # noqa: E402
from cogsim.fit._data import pack  # noqa: E402
from cogsim.fit._loo import loglik_at  # noqa: E402
from cogsim.fit._model import specialised  # noqa: E402

#: the rule's tolerances (docs/fitting_log.md): per trial elpd_loo and k, per participant sums
TRIAL_ELPD, TRIAL_K, PARTICIPANT_SUM = 0.001, 0.02, 0.05


def unit_logliks(model, data, res) -> list[np.ndarray]:
    """Each unit's pointwise log-likelihood ``[chains, draws, trials]`` at its draws, in the order of
    ``res.units`` (its real trials in data order, as ``loo``'s pointwise rows)."""
    packed = pack(data, model, by=res.by, min_trials=res.settings["min_trials"])
    model = specialised(model, data)
    mask = np.asarray(packed.mask)

    ll = jax.jit(loglik_at(model))
    out = []
    for u in range(mask.shape[0]):
        c, s, k = res.draws.shape[1:]
        t = {name: a[u] for name, a in packed.trials.items()}
        m = np.asarray(ll(res.draws[u].reshape(c * s, k), t))[:, mask[u]]
        out.append((m.reshape(c, s, -1).astype(np.float64), packed.rows[u][mask[u]]))
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--paradigm", default="delayed_estimation")
    ap.add_argument("--model", default="mixture2p")
    ap.add_argument("--n", type=int, default=1000, help="warm-up iterations and draws per chain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    az = needs(ap, "arviz", "the peer")
    at_least(ap, n=args.n)
    par = paradigm_models(ap, args.paradigm, args.model)
    writable(ap, args.out)
    model = par.models[args.model]
    data = read_trials(ap, par, args.data)
    res = fit.sample(model, data, n_warmup=args.n, n_samples=args.n, key=jax.random.key(args.seed))
    times = []
    for _ in range(2):
        t = time.perf_counter()
        ours = fit.loo(model, data, res)
        times.append(time.perf_counter() - t)
    pw = ours.pointwise.set_index("row")
    mats = unit_logliks(model, data, res)  # compiles
    t = time.perf_counter()
    mats = unit_logliks(model, data, res)
    t_ll = time.perf_counter() - t  # the matrices ArviZ is given: what fit.loo computes besides smoothing
    t = time.perf_counter()
    theirs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ warns where k is high; the counts are compared below
        for m, rows in mats:
            idata = az.from_dict(log_likelihood={"y": m})
            lo, wa = az.loo(idata, pointwise=True, reff=1.0), az.waic(idata, pointwise=True)
            theirs.append((rows, lo, wa))
    t_arviz = time.perf_counter() - t
    d_elpd, d_k, d_waic = [], [], []
    az_rows = {"elpd_loo": {}, "p_loo": {}, "elpd_waic": {}, "k": {}}
    for rows, lo, wa in theirs:
        elpd = np.asarray(lo.loo_i)
        d_elpd.append(np.abs(pw.loc[rows, "elpd_loo"].to_numpy() - elpd))
        d_k.append(np.abs(pw.loc[rows, "pareto_k"].to_numpy() - np.asarray(lo.pareto_k)))
        d_waic.append(np.abs(pw.loc[rows, "elpd_waic"].to_numpy() - np.asarray(wa.waic_i)))
        for r, e, k, w in zip(rows, elpd, np.asarray(lo.pareto_k), np.asarray(wa.waic_i), strict=True):
            az_rows["elpd_loo"][r], az_rows["k"][r], az_rows["elpd_waic"][r] = e, k, w
        p_loo_i = float(lo.p_loo) / len(rows)  # ArviZ reports p_loo per unit only: spread evenly to sum
        for r in rows:
            az_rows["p_loo"][r] = p_loo_i
    by = list(ours.by)
    frame = ours.pointwise[["row", *by]].copy()
    for name, col in az_rows.items():
        frame[f"az_{name}"] = frame["row"].map(col)
    sums = frame.groupby(by)[["az_elpd_loo", "az_p_loo", "az_elpd_waic"]].sum()
    mine = ours.summary.set_index(by)[["elpd_loo", "p_loo", "elpd_waic"]]
    d_sum = {
        name: float(np.abs(mine[name].to_numpy() - sums[f"az_{name}"].to_numpy()).max())
        for name in ("elpd_loo", "p_loo", "elpd_waic")
    }
    d_elpd, d_k, d_waic = (float(np.concatenate(d).max()) for d in (d_elpd, d_k, d_waic))
    high_ours = int((ours.pointwise["pareto_k"] > 0.7).sum())
    high_az = int((frame["az_k"] > 0.7).sum())
    agree = (
        d_elpd <= TRIAL_ELPD
        and d_k <= TRIAL_K
        and max(d_sum.values()) <= PARTICIPANT_SUM
        and high_ours == high_az
    )
    result = {
        "benchmark": "loo",
        "data": Path(args.data).name,
        "model": args.model,
        "n_units": len(mats),
        "n_trials": len(ours.pointwise),
        "n_draws": ours.settings["n_draws"],
        "arviz": az.__version__,
        "max_abs_diff": {"trial_elpd_loo": d_elpd, "trial_pareto_k": d_k, "trial_elpd_waic": d_waic}
        | {f"participant_{k}": v for k, v in d_sum.items()},
        "high_k_trials": {"cogsim": high_ours, "arviz": high_az},
        "max_k": float(ours.pointwise["pareto_k"].max()),
        "agree": bool(agree),
        "seconds": {
            "cogsim_first": times[0],
            "cogsim_second": times[1],
            "arviz": t_arviz,
            "loglik_matrices_for_arviz": t_ll,
        },
        "ratio_arviz_with_matrices_over_cogsim_second": (t_arviz + t_ll) / times[1],
        "ratio_arviz_over_cogsim_second": t_arviz / times[1],
        "ratio_arviz_over_cogsim_first": t_arviz / times[0],
        "machine": machine(),
    }
    emit(result, args.out)
    return result


if __name__ == "__main__":
    main()
