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

Diagnosis of parameter recovery (declared in docs/fitting_log.md, "Why the misses miss", before the 2026-12-04
rerun): per fitted unit, the log-likelihood of its simulated data at the true values and at the estimate,
both by the model's ``loglik`` on the same trials. ``n_truth_better`` counts units where the truth beats the
estimate by more than :data:`TRUTH_BETTER_TOL` (an optimisation failure: the optimiser missed a point it
could have reached), ``n_estimate_better`` those where the estimate beats the truth by more than that (the
data's limit: the likelihood prefers a wrong value), the rest ties; ``n_at_bound`` per parameter counts
estimates within :data:`AT_BOUND_FRACTION` of the parameter's bound width of either bound.
``n_truth_in_lr95`` (descriptive, added after the first rerun's gaps were seen) counts units whose truth lies
inside the estimate's joint 95 % likelihood-ratio region (estimate minus truth log-likelihood at most
``chi2(0.95, k) / 2`` for ``k`` parameters): data that cannot reject the true values. ``units`` keeps one
record per unit (true and fitted values, the fit's log-likelihood, gradient norm, iterations, convergence,
the parameters at a bound). ``--profile PARAM`` (declared in docs/fitting_log.md, "Workspace recovery
diagnosis") adds the grid profile of one parameter for the units whose estimate misses the truth by more
than ``--profile-miss``: :func:`profile_misses`.

``--method hierarchical`` (declared in docs/fitting.md, "Hierarchical fits in the recovery benchmark") refits
the same truth and the same simulated data (the same keys) with ``cogsim.fit.fit_hierarchical`` (the
benchmark's starts for its ML start, ``init="ml"``) instead of ``fit``: the same table, plus the EM
iterations, its convergence and the group distribution; such entries go to the section
``parameter_recovery_hierarchical`` of ``benchmarks/results/recovery_hierarchical.json`` by default. The
diagnosis is computed the same way, but at a MAP the truth may beat the estimate's log-likelihood by design
(the group prior pulls the estimate away from the likelihood's maximum), so ``n_truth_better`` is no sign of
an optimisation failure there.

Each model (or paradigm) is one call, so that the CPU-heavy runs can go one at a time; results are merged
into the JSON file (default ``benchmarks/results/recovery.json``) under the model's (paradigm's) name, with
the commit, date, sizes and wall time.

Usage::

    python benchmarks/recovery.py params mixture2p [--n-subjects 50 --n-trials 500]
    python benchmarks/recovery.py params sdt --method hierarchical [--n-subjects 50 --n-trials 500]
    python benchmarks/recovery.py params workspace --profile K [--profile-grid 0.5:8:0.5 --profile-miss 1]
    python benchmarks/recovery.py models change_detection [--n-subjects 50 --n-trials 500]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from cogsim import fit as fitlib
from cogsim.fit import _data, _recovery
from cogsim.fit._optim import minimize
from cogsim.fit._solve import chunk_size
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


#: the truth counts as better than the estimate when its log-likelihood is higher by more than this
TRUTH_BETTER_TOL = 0.01
#: an estimate sits at a bound when it is within this fraction of (high - low) of low or high
AT_BOUND_FRACTION = 0.01


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


def _unit_logliks(model, packed, values: pd.DataFrame) -> np.ndarray:
    """Summed log-likelihood of each packed unit's trials at ``values`` (a row per unit, a column per
    parameter, in ``packed.units`` order)."""
    vals = {p.name: jnp.asarray(values[p.name].to_numpy(), jnp.float32) for p in model.params}

    def one(v, trials, mask):
        return jnp.sum(jnp.where(mask, model.loglik(v, trials), 0.0))

    return np.asarray(jax.jit(jax.vmap(one))(vals, packed.trials, packed.mask), float)


def diagnose(model, res, n_trials: int, *, key: jax.Array) -> dict:
    """Per fitted unit of a ``recover`` result, the log-likelihood at the truth against that at the estimate,
    and the estimates at a bound (see the module docstring for the rules).

    ``key`` is the root key given to ``recover``; the data are simulated again from it exactly as ``recover``
    does (``fold_in(key, 1)``), so they are the trials that were fitted.

    Example:
      >>> import jax
      >>> m = MODELS["fixed_capacity"]
      >>> res = fitlib.recover(m, RANGES["fixed_capacity"], 100, 3, key=jax.random.key(0))
      >>> d = diagnose(m, res, 100, key=jax.random.key(0))
      >>> d["n_units"] == d["n_truth_better"] + d["n_estimate_better"] + d["n_tie"]
      True
    """
    data = _recovery.simulate_data(model, res.truth, n_trials, key=jax.random.fold_in(key, 1))
    packed = _data.pack(data, model, by=("subject",))
    keys, names = list(packed.keys), [p.name for p in model.params]
    units = packed.units[keys].reset_index(drop=True)
    cols = [*keys, *names, "loglik", "grad_norm", "n_iter", "converged"]
    est = units.merge(res.fit.units[cols], on=keys, how="left", validate="one_to_one")
    tru = units.merge(res.truth, on="subject", how="left")
    ll_true, ll_hat = _unit_logliks(model, packed, tru), _unit_logliks(model, packed, est)
    fitted = est["loglik"].to_numpy(float)
    gap = ll_true - ll_hat
    at_bound = {}
    for p in model.params:
        x, tol = est[p.name].to_numpy(float), AT_BOUND_FRACTION * (p.high - p.low)
        at_bound[p.name] = int(np.sum((x - p.low <= tol) | (p.high - x <= tol)))
    return {
        "n_units": len(gap),
        "n_truth_better": int(np.sum(gap > TRUTH_BETTER_TOL)),
        "n_estimate_better": int(np.sum(gap < -TRUTH_BETTER_TOL)),
        "n_tie": int(np.sum(np.abs(gap) <= TRUTH_BETTER_TOL)),
        "max_truth_gain": round(float(gap.max()), 4),
        "n_truth_in_lr95": int(np.sum(-gap <= stats.chi2.ppf(0.95, len(names)) / 2)),
        "n_at_bound": at_bound,
        "loglik_vs_fit_max_abs_diff": round(float(np.max(np.abs(ll_hat - fitted))), 5),
        "truth_minus_estimate_loglik": [round(float(g), 4) for g in gap],
        "units": _unit_rows(model, units, tru, est, gap),
    }


def _unit_rows(model, units: pd.DataFrame, tru: pd.DataFrame, est: pd.DataFrame, gap: np.ndarray) -> list:
    """One record per fitted unit: its keys, true and fitted values, the fit's gradient norm, iterations and
    convergence, the parameters at a bound (the ``n_at_bound`` rule) and the truth-minus-estimate gap."""
    rows = []
    for i in range(len(units)):
        row = {k: _plain(units.iloc[i][k]) for k in units.columns}
        for p in model.params:
            row[f"{p.name}_true"] = round(float(tru[p.name].iloc[i]), 5)
            row[p.name] = round(float(est[p.name].iloc[i]), 5)
        row["at_bound"] = [
            p.name
            for p in model.params
            if min(est[p.name].iloc[i] - p.low, p.high - est[p.name].iloc[i])
            <= AT_BOUND_FRACTION * (p.high - p.low)
        ]
        row["loglik"] = round(float(est["loglik"].iloc[i]), 4)
        row["grad_norm"] = float(f"{float(est['grad_norm'].iloc[i]):.3g}")
        row["n_iter"] = int(est["n_iter"].iloc[i])
        row["converged"] = bool(est["converged"].iloc[i])
        row["truth_minus_estimate_loglik"] = round(float(gap[i]), 4)
        rows.append(row)
    return rows


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def profile_grid(model, packed, name: str, grid, starts: np.ndarray) -> np.ndarray:
    """The profile log-likelihood of parameter ``name`` on ``grid`` for every packed unit: at each grid value
    the unit's summed log-likelihood maximised over the other parameters (L-BFGS, the fit's optimiser, on the
    per-trial mean as in ``fit``), the best of ``starts``.

    Args:
      model: the model.
      packed: the units' trials (``cogsim.fit._data.pack``).
      name: the profiled parameter, held at each grid value (natural units, used as given).
      grid: ``[G]`` values of ``name``.
      starts: ``[S, U, k]`` natural values of all parameters per start and unit (``name``'s column ignored).

    Returns:
      ``[U, G]`` profile log-likelihoods.

    Example:
      >>> import jax
      >>> m = MODELS["fixed_capacity"]
      >>> res = fitlib.recover(m, RANGES["fixed_capacity"], 200, 2, key=jax.random.key(0))
      >>> data = _recovery.simulate_data(m, res.truth, 200, key=jax.random.fold_in(jax.random.key(0), 1))
      >>> packed = _data.pack(data, m, by=("subject",))
      >>> est = res.fit.units[[p.name for p in m.params]].to_numpy()[None]
      >>> prof = profile_grid(m, packed, "K", [1.0, 3.0, 6.0], est)
      >>> prof.shape
      (2, 3)
    """
    names = [p.name for p in model.params]
    j = names.index(name)
    free = [p for p in model.params if p.name != name]
    grid = jnp.asarray(grid, jnp.float32)
    x0 = np.asarray(starts, float)
    n_starts, n_units = x0.shape[:2]
    u0 = jnp.stack(
        [
            p.to_unconstrained(jnp.asarray(x0[..., i], jnp.float32))
            for i, p in enumerate(model.params)
            if i != j
        ],
        axis=-1,
    )  # [S, U, k - 1]
    n = jnp.maximum(jnp.sum(packed.mask, axis=1), 1).astype(jnp.float32)

    def nll(uf, value, trials, mask):
        vals = {p.name: p.from_unconstrained(uf[i]) for i, p in enumerate(free)} | {name: value}
        return -jnp.sum(jnp.where(mask, model.loglik(vals, trials), 0.0))

    def one(args):
        uf0, value, trials, mask, nn = args
        sol = minimize(lambda uf: nll(uf, value, trials, mask) / nn, uf0)
        return nll(sol.u, value, trials, mask)

    # problems ordered [S, U, G], flattened; the trials of unit u repeated for every start and grid value
    g_n = grid.shape[0]
    unit_of = np.tile(np.repeat(np.arange(n_units), g_n), n_starts)
    flat = (
        jnp.repeat(u0.reshape(-1, u0.shape[-1]), g_n, axis=0),
        jnp.tile(grid, n_starts * n_units),
        jax.tree.map(lambda a: a[unit_of], packed.trials),
        packed.mask[unit_of],
        n[unit_of],
    )
    batch = chunk_size(len(unit_of), packed.mask.shape[1])
    out = jax.jit(lambda f: jax.lax.map(one, f, batch_size=batch))(flat)
    value = np.asarray(out, float).reshape(n_starts, n_units, g_n)
    value = np.where(np.isfinite(value), value, np.inf)
    return -value.min(axis=0)


def profile_misses(model, res, diag: dict, n_trials: int, name: str, grid, miss: float, *, key: jax.Array):
    """The profile of ``name`` on ``grid`` for the units whose estimate misses the truth by more than
    ``miss`` (natural units), started from the estimate's and from the truth's other parameters.

    Per unit: the profile, its maximum against the fit's log-likelihood, and the grid values inside the 95 %
    profile region (profile within ``chi2_1(0.95) / 2`` of the larger of the fit's log-likelihood and the
    profile's maximum): their lowest and highest value, their span, and whether the truth lies between them.
    ``key`` is ``recover``'s root key (the data are simulated again as in :func:`diagnose`).
    """
    data = _recovery.simulate_data(model, res.truth, n_trials, key=jax.random.fold_in(key, 1))
    packed = _data.pack(data, model, by=("subject",))
    rows = [u for u in diag["units"] if abs(u[name] - u[f"{name}_true"]) > miss]
    if not rows:
        return {"name": name, "grid": [float(g) for g in grid], "miss": miss, "units": []}
    keys = list(packed.keys)
    pos = {tuple(r): i for i, r in enumerate(packed.units[keys].itertuples(index=False))}
    idx = np.asarray([pos[tuple(r[k] for k in keys)] for r in rows])
    sub = _data.take(packed, idx)
    names = [p.name for p in model.params]
    starts = np.stack(
        [
            np.asarray([[r[p] for p in names] for r in rows]),
            np.asarray([[r[f"{p}_true"] for p in names] for r in rows]),
        ]
    )
    prof = profile_grid(model, sub, name, grid, starts)
    half = stats.chi2.ppf(0.95, 1) / 2
    out = []
    for r, pr in zip(rows, prof, strict=True):
        best = max(float(np.max(pr)), r["loglik"])
        inside = np.asarray(grid)[pr >= best - half]
        lo, hi = (float(inside.min()), float(inside.max())) if inside.size else (np.nan, np.nan)
        out.append(
            {
                **{k: r[k] for k in keys},
                f"{name}_true": r[f"{name}_true"],
                name: r[name],
                "truth_minus_estimate_loglik": r["truth_minus_estimate_loglik"],
                "profile": [round(float(v), 3) for v in pr],
                "profile_max_minus_fit": round(float(np.max(pr)) - r["loglik"], 4),
                "lr95_low": lo,
                "lr95_high": hi,
                "lr95_span": round(hi - lo, 4),
                "truth_in_lr95": bool(lo <= r[f"{name}_true"] <= hi),
            }
        )
    return {"name": name, "grid": [float(g) for g in grid], "miss": miss, "units": out}


def parameter_recovery(name: str, args):
    """The entry of one model's parameter recovery, and the ``recover`` result."""
    model = MODELS[name]
    t, c = time.perf_counter(), time.process_time()
    res = fitlib.recover(
        model,
        RANGES[name],
        args.n_trials,
        args.n_subjects,
        key=jax.random.key(args.seed),
        n_starts=args.n_starts,
        method=args.method,
    )
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    converged = float(res.fit.summary["converged"].mean())
    diag = diagnose(model, res, args.n_trials, key=jax.random.key(args.seed))
    table = res.table.round(4)
    table["n_at_bound"] = table["parameter"].map(diag["n_at_bound"])
    entry = {
        **_context(args, wall),
        "cpu_s": round(cpu, 1),
        "ranges": {k: list(v) for k, v in RANGES[name].items()},
        "converged_fraction": converged,
        "table": table.to_dict(orient="records"),
        "diagnosis": diag,
    }
    if args.method == "hierarchical":
        h = res.fit
        group = h.group.drop(columns=["set_size"]).round(5)
        entry = {
            "method": "hierarchical",
            **entry,
            "em_iterations": h.n_iter,
            "em_converged": h.converged,
            "log_marginal": round(h.log_marginal, 4),
            "group": group.to_dict(orient="records"),
            "trace": h.trace.round(5).to_dict(orient="records"),
        }
    return entry, res


def _grid(text: str) -> np.ndarray:
    lo, hi, step = (float(v) for v in text.split(":"))
    return np.round(np.arange(lo, hi + step / 2, step), 6)


def _write(path: Path, section: str, key: str, entry: dict) -> None:
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault(section, {})[key] = entry
    path.write_text(json.dumps(results, indent=1) + "\n")


def model_recovery(paradigm: str, args) -> dict:
    names = args.models.split(",") if args.models else PARADIGMS[paradigm][0]  # checked by main
    t = time.perf_counter()
    scores = fitlib.model_recovery_scores(
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
        m = fitlib.confusion(scores, crit).round(3)
        out[crit] = {"models": names, "matrix": m.to_numpy().tolist()}
    conv = scores.groupby(["generating", "model"], sort=False)["converged"].mean().unstack()
    out["converged"] = {"models": names, "matrix": conv.loc[names, names].round(3).to_numpy().tolist()}
    out["scores"] = [{k: _plain(v) for k, v in row.items()} for row in scores.to_dict("records")]
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
    ap.add_argument("--method", choices=("ml", "hierarchical"), default="ml", help="params: how to refit")
    ap.add_argument(
        "--out",
        default=None,
        help="results file (default: results/recovery.json, or "
        "results/recovery_hierarchical.json with --method hierarchical)",
    )
    ap.add_argument("--profile", default=None, help="params: a parameter whose grid profile is computed")
    ap.add_argument("--profile-grid", default="0.5:8:0.5", help="the profile's grid, low:high:step")
    ap.add_argument("--profile-miss", type=float, default=1.0, help="profile units missing the truth by more")
    args = ap.parse_args(argv)
    if args.method == "hierarchical" and (args.what != "params" or args.profile is not None):
        ap.error("--method hierarchical; allowed: with params, without --profile")
    if min(args.n_subjects, args.n_trials, args.n_starts) < 1:
        ap.error("--n-subjects, --n-trials and --n-starts: each must be at least 1")
    try:
        _grid(args.profile_grid)
    except ValueError:
        ap.error(f"--profile-grid {args.profile_grid!r}; allowed: low:high:step")
    results = Path(__file__).resolve().parent / "results"
    hier = args.method == "hierarchical"
    path = Path(args.out or results / ("recovery_hierarchical.json" if hier else "recovery.json"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _report import writable

    writable(ap, path)
    section = "parameter_recovery" if args.what == "params" else "model_recovery"
    section += "_hierarchical" if hier else ""
    full = (args.n_subjects, args.n_trials) == (50, 500)
    key = args.name if full else f"{args.name} ({args.n_subjects}x{args.n_trials})"
    if args.what == "params":
        if args.name not in RANGES:
            ap.error(f"model {args.name!r}; allowed: {', '.join(RANGES)}")
        names = [p.name for p in MODELS[args.name].params]
        if args.profile is not None and args.profile not in names:
            ap.error(f"--profile {args.profile!r}; allowed: one of {', '.join(names)}")
        entry, res = parameter_recovery(args.name, args)
        if args.profile is not None:
            _write(path, section, key, entry)  # the recovery is kept even if the profile fails
            t, c = time.perf_counter(), time.process_time()
            prof = profile_misses(
                MODELS[args.name],
                res,
                entry["diagnosis"],
                args.n_trials,
                args.profile,
                _grid(args.profile_grid),
                args.profile_miss,
                key=jax.random.key(args.seed),
            )
            entry["profile"] = {
                **prof,
                "wall_s": round(time.perf_counter() - t, 1),
                "cpu_s": round(time.process_time() - c, 1),
            }
    else:
        if args.name not in PARADIGMS:
            ap.error(f"paradigm {args.name!r}; allowed: {', '.join(PARADIGMS)}")
        allowed = PARADIGMS[args.name][0]
        names = args.models.split(",") if args.models else allowed
        if not set(names) <= set(allowed) or len(set(names)) < 2:
            ap.error(f"--models {args.models!r}; allowed: two or more of {', '.join(allowed)}")
        entry = model_recovery(args.name, args)
    _write(path, section, key, entry)
    print(json.dumps(entry, indent=1))
    return entry


if __name__ == "__main__":
    main()
