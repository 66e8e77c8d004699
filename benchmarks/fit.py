"""Fitting benchmark: every model of a paradigm x every participant through ``cogsim.fit`` (one jitted,
vmapped batch per model) vs a per-participant ``scipy.optimize.minimize`` loop over the same likelihoods.

The peer minimises the same objective (the model's JAX ``loglik`` summed over a unit's trials, in the same
unconstrained coordinates, from the same starts; the model as ``cogsim.fit`` specialises it to the data,
e.g. per-set-size tables ending at the largest set size present: the same values) with
``scipy.optimize.minimize(method="L-BFGS-B", jac=True)``, one unit (participant, or participant x set
size) and start at a time; its objective and gradient are jitted once per model and distinct trial count
(each unit's own trials, unpadded; a data set has few distinct counts, so the peer compiles a few times per
model, as cogsim does). Both sides run in this one process, one after the other.

Reported per model and in total: wall and process CPU time of each side including compilation (``cold``),
cogsim's again with everything compiled (``warm``), the ratios (on a shared machine the CPU-time ratio is the
steadier figure), and the agreement of the maximum log-likelihoods (per unit, |cogsim - scipy| and how many
are within 0.1). ``--subjects vp=8,workspace=8`` runs a model on a subset of participants spread over the
file (both sides on the same subset) where the peer would take too long. ``--full`` is the size the fitting
issue states: every participant (grouped as ``cogsim fit`` groups them unless ``--by`` says otherwise),
every model the command fits by default on the file (a model without parameters has nothing to optimise and
is listed as skipped), results in ``results/fit_full.json``.
``--peer-distinct`` also runs the scipy loop on each unit's distinct trials weighted by their count (as
``cogsim.fit`` evaluates them by default), so that what the data's compression gives and what the batched
solver gives can be told apart.
The persistent compilation cache is off unless ``--compilation-cache DIR`` turns it on for both sides (a
first run fills the folder, a second reads it).

Usage::

    python benchmarks/fit.py --paradigm delayed_estimation --data trials.csv [--by experiment,subject]
    python benchmarks/fit.py --paradigm delayed_estimation --data trials.csv --by experiment,subject --full
    python benchmarks/fit.py --toy --data trials.csv    # a von Mises + uniform mixture per set size,
                                                        # defined here, when no paradigm is installed
"""

from __future__ import annotations

import os

# The scipy loop's L-BFGS-B calls BLAS on vectors of a few numbers, and OpenBLAS's threads spin between those
# calls: on 2 cores they added about half the loop's CPU time, not its wall time (docs/fitting.md, "Speed").
# So BLAS runs on one thread in this process (both sides; set before NumPy loads it; a value set is kept).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from scipy import optimize  # noqa: E402

from cogsim import fit as fitlib  # noqa: E402
from cogsim.errors import CogsimError  # noqa: E402
from cogsim.fit import _compress, _data, _fit, _model, _objective  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import at_least, paradigm_models, read_trials, writable  # noqa: E402


class ToyMixture:
    """p_mem von Mises(0, kappa) + (1 - p_mem) uniform on the circle, fitted per set size."""

    name, requires, by_set_size = "toy_vm_mixture", ("error_rad",), True
    params = (fitlib.Param("p_mem", 0.0, 1.0, default=0.5), fitlib.Param("kappa", 0.0, default=5.0))

    def loglik(self, p, t):
        x = t["error_rad"]
        log_vm = p["kappa"] * (jnp.cos(x) - 1.0) - jnp.log(2 * jnp.pi * jax.scipy.special.i0e(p["kappa"]))
        return jnp.logaddexp(jnp.log(p["p_mem"]) + log_vm, jnp.log1p(-p["p_mem"]) - jnp.log(2 * jnp.pi))


def toy_paradigm():
    cols = (
        fitlib.Column("subject", "id"),
        fitlib.Column("set_size", "int", low=1),
        fitlib.Column("error_rad", "float", low=-3.1416, high=3.1416),  # data rounded to 6 decimals
    )
    return fitlib.Paradigm("toy_delayed_estimation", cols, {"toy_vm_mixture": ToyMixture()})


def scipy_loop(model, trials, by, n_starts: int, seed: int, distinct: bool = False):
    """Per-unit best log-likelihood by scipy L-BFGS-B from the same starts as cogsim (NaN where no start
    reached a finite value: a peer failure); wall and CPU time.
    With ``distinct``, each unit's distinct trials weighted by their count (as ``cogsim.fit`` evaluates
    them), padded with weight 0 to a multiple of 64 rows so that the objective compiles a few times only."""
    t0, c0 = time.perf_counter(), time.process_time()
    packed = _data.pack(trials, model, by=by)
    model = _model.specialised(model, trials)  # the likelihood cogsim.fit evaluates (same values)
    if distinct:
        packed = _compress.compress(packed, model)
    nll = _objective.make_nll(model)
    vg = jax.jit(jax.value_and_grad(nll))
    ids = _data.unit_ids(packed.units, packed.keys)  # each unit's random-stream id, as cogsim.fit keys it
    u0 = np.asarray(_fit.starts(model, ids, n_starts, key=jax.random.fold_in(jax.random.key(seed), 0)))
    best = np.full(len(packed.units), -np.inf)
    for i in range(len(packed.units)):
        n_i = int(packed.units["n_trials"].iloc[i])  # the unit's own trials, no padding
        if packed.mask.dtype != jnp.bool_:  # compressed: its distinct rows, padded to a multiple of 64
            n_i = min(-(-int((np.asarray(packed.mask[i]) > 0).sum()) // 64) * 64, packed.mask.shape[1])
        tr = {c: a[i, :n_i] for c, a in packed.trials.items()}
        m = packed.mask[i, :n_i]

        def f(u, tr=tr, m=m):
            v, g = vg(jnp.asarray(u, jnp.float32), tr, m)
            return float(v), np.asarray(g, float)

        for s in range(u0.shape[0]):  # n_starts, then the model's own start points
            r = optimize.minimize(f, u0[s, i], jac=True, method="L-BFGS-B")
            if np.isfinite(r.fun):  # a start that failed (NaN or infinite) leaves the best as it is
                best[i] = max(best[i], -r.fun)
        if not np.isfinite(best[i]):
            best[i] = np.nan  # every start failed
    return best, time.perf_counter() - t0, time.process_time() - c0


def _finite(x) -> float | None:
    """``x`` as a float, or None (JSON null) when it is NaN or infinite."""
    return float(x) if np.isfinite(x) else None


def _finite_max(a, pick=np.max) -> float | None:
    """The largest (``pick``) finite value of ``a``, or None when there is none."""
    a = np.asarray(a, float)
    return float(pick(a[np.isfinite(a)])) if np.isfinite(a).any() else None


def cogsim_fit(model, trials, by, n_starts: int, seed: int) -> tuple[np.ndarray, float, float, np.ndarray]:
    t0, c0 = time.perf_counter(), time.process_time()
    res = fitlib.fit(model, trials, by=by, n_starts=n_starts, ci=None, key=jax.random.key(seed))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return res.units["loglik"].to_numpy(float), wall, cpu, res.units["converged"].to_numpy(bool)


def subset(trials, by, n: int | None):
    """The trials of every ``len / n``-th participant (``n`` participants spread over the file), or all."""
    keys = trials[list(by)].drop_duplicates()
    if n is None or n >= len(keys):
        return trials
    return trials.merge(keys.iloc[np.linspace(0, len(keys) - 1, n).round().astype(int)], on=list(by))


def _xla_threads(choice: str) -> str:
    """Sets XLA's CPU pool for the whole process (both sides) before anything is computed; returns what the
    pool will be ("default" where JAX chooses: one thread per core). A script that runs this benchmark's
    ``main`` calls it before its own first JAX computation."""
    from cogsim import cpu_threads

    if choice == "default":
        return next((f"{v}={os.environ[v]}" for v in cpu_threads.ENV if os.environ.get(v)), "default")
    n = cpu_threads.FIT_THREADS if choice == "fit" else int(choice)
    if not cpu_threads.limit(n) and os.environ.get(cpu_threads.ENV[0]) != str(n):
        given = [f"{v}={os.environ[v]}" for v in cpu_threads.ENV if os.environ.get(v, "").strip()]
        why = (
            f"{' '.join(given)} set; unset it"
            if given
            else "JAX has already started in this process (its CPU pool is fixed); set the pool before JAX "
            "computes anything"
        )
        raise SystemExit(f"--xla-threads {choice}: {why}, or use 'default'")
    return str(n)


def _threads_choice(text: str) -> str:
    if text in ("fit", "default") or (text.isdigit() and int(text) >= 1):
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: allowed: fit, default, or a whole number >= 1")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paradigm", default=None)
    ap.add_argument("--toy", action="store_true", help="use the toy mixture defined here")
    ap.add_argument("--data", required=True)
    ap.add_argument("--by", default=None, help="participant columns (default subject; --full: as cogsim fit)")
    ap.add_argument("--models", default=None, help="comma-separated (default: all that apply)")
    ap.add_argument("--n-starts", type=int, default=4)
    ap.add_argument(
        "--subjects",
        default=None,
        help="model=N,...: fit only N participants (spread over the file) for these models, on both sides",
    )
    ap.add_argument(
        "--full",
        action="store_true",
        help="every participant and every model that applies (no --subjects); out: results/fit_full.json",
    )
    ap.add_argument(
        "--compilation-cache",
        default=None,
        metavar="DIR",
        help="JAX's persistent compilation cache in DIR for both sides (default: off)",
    )
    ap.add_argument(
        "--peer-distinct",
        action="store_true",
        help="also run the scipy loop on each unit's distinct trials with weights, as cogsim evaluates them",
    )
    ap.add_argument(
        "--xla-threads",
        default="fit",
        type=_threads_choice,
        help="XLA CPU pool threads for both sides: 'fit' (as `cogsim fit` sets them: cogsim.cpu_threads), "
        "'default' (JAX's: one per core, or PJRT_NPROC/NPROC as set), or a number",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="result file (default results/fit.json, or fit_full.json)")
    args = ap.parse_args(argv)
    if args.full and (args.subjects or args.models):
        ap.error("--full fits every participant and model: leave out --subjects and --models")
    if args.toy == bool(args.paradigm):
        ap.error("give one of --paradigm NAME and --toy")
    at_least(ap, n_starts=args.n_starts)
    try:
        n_sub = {k: int(v) for k, v in (kv.split("=") for kv in (args.subjects or "").split(",") if kv)}
    except ValueError:
        ap.error(f"--subjects {args.subjects}: allowed: model=N,...")
    at_least(ap, subjects=list(n_sub.values()))
    threads = _xla_threads(args.xla_threads)  # before the paradigm's models touch JAX
    par = toy_paradigm() if args.toy else paradigm_models(ap, args.paradigm, args.models)
    results = Path(__file__).resolve().parent / "results"
    args.out = str(writable(ap, args.out or results / ("fit_full.json" if args.full else "fit.json")))
    trials = read_trials(ap, par, args.data)
    cache_dir = None
    if args.compilation_cache:
        from cogsim import compilation_cache

        cache_dir = compilation_cache.enable(args.compilation_cache)
    cache_files0 = None if cache_dir is None else sum(1 for f in cache_dir.rglob("*") if f.is_file())
    load0 = os.getloadavg()[0]
    if args.by is None and args.full:  # as `cogsim fit` chooses them (experiment,subject on van den Berg's)
        from cogsim.fit._participants import default_by

        by = default_by(trials)
    else:
        by = tuple((args.by or "subject").split(","))
    from cogsim.fit._applies import choose

    try:
        models, skipped = choose(par, trials, args.models)
    except CogsimError as e:
        ap.error(str(e))
    for name in [n for n, m in models.items() if not m.params]:  # nothing to optimise on either side
        del models[name]
        skipped[name] = "no parameters to optimise"
    keys = ("cogsim_cold_s", "cogsim_warm_s", "scipy_s")
    keys += ("cogsim_cold_cpu_s", "cogsim_warm_cpu_s", "scipy_cpu_s")
    if args.peer_distinct:
        keys += ("scipy_distinct_s", "scipy_distinct_cpu_s")

    def result_of(rows, tot) -> dict:
        def safe(a, b):
            return tot[a] / tot[b] if tot[b] else None

        return {
            "benchmark": "fit",
            "paradigm": par.name,
            "data": Path(args.data).name,
            "by": list(by),
            "n_starts": args.n_starts,
            "skipped_models": skipped,
            "models": rows,
            "total": {
                **tot,
                "ratio_cold": safe("scipy_s", "cogsim_cold_s"),
                "ratio_warm": safe("scipy_s", "cogsim_warm_s"),
                "ratio_cold_cpu": safe("scipy_cpu_s", "cogsim_cold_cpu_s"),
                "ratio_warm_cpu": safe("scipy_cpu_s", "cogsim_warm_cpu_s"),
                **(
                    {
                        "ratio_cold_cpu_peer_distinct": safe("scipy_distinct_cpu_s", "cogsim_cold_cpu_s"),
                        "ratio_warm_cpu_peer_distinct": safe("scipy_distinct_cpu_s", "cogsim_warm_cpu_s"),
                    }
                    if args.peer_distinct
                    else {}
                ),
            },
            "subjects_subset": n_sub,
            "full": args.full,
            "compilation_cache": None if cache_dir is None else "on",
            "compilation_cache_files_at_start": cache_files0,
            "seed": args.seed,
            "xla_cpu_threads": threads,
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
            "target_ratio": 10.0,
            "peer": "scipy.optimize.minimize(L-BFGS-B, jac=True) per unit and start; objective jitted per "
            "model and trial count",
            "machine": {
                "python": platform.python_version(),
                "jax": jax.__version__,
                "backend": jax.default_backend(),
                "cpus": os.cpu_count(),
                "load_average_1min_at_start": load0,
                "load_average_1min_at_end": os.getloadavg()[0],
            },
        }

    rows, tot = [], dict.fromkeys(keys, 0.0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    for name, model in models.items():
        tr = subset(trials, by, n_sub.get(name))
        ll_c, t_cold, c_cold, conv = cogsim_fit(model, tr, by, args.n_starts, args.seed)
        _, t_warm, c_warm, _ = cogsim_fit(model, tr, by, args.n_starts, args.seed)  # compiled solver reused
        ll_s, t_s, c_s = scipy_loop(model, tr, by, args.n_starts, args.seed)
        extra = {}
        if args.peer_distinct:
            ll_d, t_d, c_d = scipy_loop(model, tr, by, args.n_starts, args.seed, distinct=True)
            extra = {
                "scipy_distinct_s": t_d,
                "scipy_distinct_cpu_s": c_d,
                "max_abs_loglik_diff_scipy_distinct": _finite_max(np.abs(ll_d - ll_s)),
                "scipy_distinct_failed_units": int(np.sum(~np.isfinite(ll_d))),
            }
        diff = ll_c - ll_s  # NaN where either side failed: counted, not compared
        both = np.isfinite(diff)
        row = {
            "model": name,
            "participants": int(len(tr[list(by)].drop_duplicates())),
            "units": len(ll_c),
            "cogsim_cold_s": t_cold,
            "cogsim_warm_s": t_warm,
            "scipy_s": t_s,
            "cogsim_cold_cpu_s": c_cold,
            "cogsim_warm_cpu_s": c_warm,
            "scipy_cpu_s": c_s,
            "ratio_cold": t_s / t_cold,
            "ratio_warm": t_s / t_warm,
            "ratio_cold_cpu": c_s / c_cold,
            "ratio_warm_cpu": c_s / c_warm,
            "loglik_cogsim": _finite(ll_c.sum()),
            "loglik_scipy": _finite(ll_s.sum()),
            "scipy_failed_units": int(np.sum(~np.isfinite(ll_s))),  # no start reached a finite value
            "cogsim_nonfinite_units": int(np.sum(~np.isfinite(ll_c))),
            "units_compared": int(both.sum()),  # both sides finite
            "max_abs_loglik_diff": _finite_max(np.abs(diff)),
            "min_loglik_diff_cogsim_minus_scipy": _finite_max(diff, np.min),
            "units_within_0.1": int(np.sum(np.abs(diff[both]) <= 0.1)),
            "cogsim_all_converged": bool(conv.all()),
            "cogsim_converged_units": int(conv.sum()),
            "unit_loglik_cogsim": [_finite(v) for v in ll_c],  # in the units' order (pack's); null: failed
            "unit_loglik_scipy": [_finite(v) for v in ll_s],
            **extra,
        }
        rows.append(row)
        failed = f", scipy failed on {row['scipy_failed_units']} units" if row["scipy_failed_units"] else ""
        dmax = "none" if row["max_abs_loglik_diff"] is None else f"{row['max_abs_loglik_diff']:.3f}"
        for k in tot:
            tot[k] += row[k]
        print(
            f"{name:<18} units {len(ll_c):4d}  cogsim {t_cold:7.2f} s (again {t_warm:6.2f} s)  "
            f"scipy {t_s:7.2f} s  ratio {t_s / t_cold:5.1f}x  CPU ratio {c_s / c_cold:5.1f}x  "
            f"max|dLL| {dmax} over {row['units_compared']} units{failed}",
            flush=True,
        )
        # after each model; strict JSON (non-finite values are null, counted above)
        Path(args.out).write_text(json.dumps(result_of(rows, tot), indent=2, allow_nan=False))
    result = result_of(rows, tot)
    print(
        f"total: cogsim {tot['cogsim_cold_s']:.1f} s, scipy {tot['scipy_s']:.1f} s, "
        f"ratio {result['total']['ratio_cold']:.1f}x (warm {result['total']['ratio_warm']:.1f}x; CPU time "
        f"{result['total']['ratio_cold_cpu']:.1f}x)"
    )
    Path(args.out).write_text(json.dumps(result, indent=2, allow_nan=False))
    return result


if __name__ == "__main__":
    main()
