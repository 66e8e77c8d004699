"""Profile-interval benchmark: where the profile program's time goes (compilation and run, CPU and wall) for
every model of a paradigm on a CSV, and, with ``--previous COMMIT``, the same for the profile search of that
commit (``cogsim/fit/_profile.py`` read with ``git show``) in the same process, on the same estimates, with
the acceptance rule of docs/fitting_log.md ("Cheaper profile intervals") applied to every interval endpoint:

- an endpoint passes when both versions are infinite on that side, or both finite and within
  ``max(0.01 x the previous interval's width, 1e-3)`` of each other (a change of finiteness fails);
- a finite endpoint outside that tolerance passes only if a reference re-minimisation (the package's L-BFGS
  from two starts: the estimate with the parameter set to the endpoint, and that point moved along the
  estimates' linear response; the lower value kept) puts the profile deviance at the new endpoint within
  0.05 of ``chi2_1(0.95)`` and closer to it than at the previous endpoint.

``--baseline COMMIT`` times a third search (e.g. the one a change replaces), not judged.

Each search is compiled and run in a process of its own (this script started again with ``--child``), on the
inputs ``cogsim.fit.fit`` gives its profile program: the model specialised to the data, each unit's distinct
trials with their counts where ``fit`` evaluates them so, and ``fit``'s estimates (best of 4 starts, seed 0,
then its refining passes). Timed in one process, the search compiled second compiled and ran faster than the
same program compiled first (docs/fitting_log.md, "One copy of the likelihood fewer in the profile program").

Usage::

    python benchmarks/profile_intervals.py --paradigm delayed_estimation --data trials.csv \\
        --by experiment,subject --models mixture2p,vp --previous 263d92c
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from cogsim.fit import _fit, _profile
from cogsim.fit._optim import minimize
from cogsim.models import paradigms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import child_output, paradigm_models, read_trials, writable  # noqa: E402

CHI2 = float(stats.chi2.ppf(0.95, 1))


class _CaptureJit:
    """Stands in for ``jax`` inside an earlier ``_profile`` module: its ``jit`` hands back the function
    instead of running it, so that its compilation and run can be timed apart."""

    def __init__(self):
        self.captured = None

    def __getattr__(self, name):
        return getattr(jax, name)

    def jit(self, fn):
        self.captured = jax.jit(fn)
        return lambda *a: (None, None)


def previous_program(commit: str, model, nll):
    """The jitted profile program of ``cogsim/fit/_profile.py`` at ``commit``."""
    src = subprocess.run(
        ["git", "show", f"{commit}:cogsim/fit/_profile.py"], capture_output=True, text=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "previous_profile.py"
        path.write_text(src)
        spec = importlib.util.spec_from_file_location("previous_profile", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    if hasattr(module, "profile_program"):
        return module.profile_program(model, nll)
    capture = _CaptureJit()
    module.jax = capture
    module.profile_intervals(model, nll, jnp.zeros((1, len(model.params))), {}, jnp.zeros((1, 1), bool))
    return capture.captured


def timed(program, args):
    """Compiles and runs ``program`` on ``args``: (lower, upper, timings)."""
    c0, w0 = time.process_time(), time.time()
    compiled = program.lower(*args).compile()
    c1, w1 = time.process_time(), time.time()
    lo, hi = compiled(*args)
    lo.block_until_ready()
    c2, w2 = time.process_time(), time.time()
    t = {"compile_cpu_s": c1 - c0, "compile_wall_s": w1 - w0, "run_cpu_s": c2 - c1, "run_wall_s": w2 - w1}
    return np.asarray(lo, float), np.asarray(hi, float), {k: round(v, 2) for k, v in t.items()}


def reference_deviance(model, nll, u_hat, packed, points):
    """Profile deviances ``2 (P(c) - nll(u_hat))`` at ``points`` (unit, parameter index, value) by L-BFGS
    from two starts, one vmapped program."""
    if not points:
        return []
    units = np.array([p[0] for p in points])
    js = jnp.array([p[1] for p in points])
    cs = jnp.stack([model.params[p[1]].to_unconstrained(jnp.float32(p[2])) for p in points])
    tr = jax.tree.map(lambda a: a[units], packed.trials)
    mask = packed.mask[units]

    def one(u, trials, m, j, c):
        fun = lambda v: nll(v.at[j].set(c), trials, m)  # noqa: E731
        n = jnp.maximum(jnp.sum(m), 1)
        f_hat = nll(u, trials, m)
        cov = jnp.linalg.pinv(_profile.hessian_fd(jax.grad(lambda v: nll(v, trials, m)), u))
        slope = jnp.clip(cov[:, j] / cov[j, j], -10.0, 10.0)
        starts = jnp.stack([u.at[j].set(c), (u + slope * (c - u[j])).at[j].set(c)])
        vals = jax.vmap(lambda s: minimize(lambda v: fun(v) / n, s).value * n)(starts)
        return 2.0 * (jnp.min(jnp.where(jnp.isfinite(vals), vals, jnp.inf)) - f_hat)

    dev = jax.jit(jax.vmap(one))(jnp.asarray(u_hat)[units], tr, mask, js, cs)
    return [float(d) for d in dev]


def judge(model, nll, u_hat, packed, new, prev):
    """The acceptance rule on every endpoint: counts and the endpoints outside the tolerance."""
    (lo, hi), (plo, phi) = new, prev
    width = phi - plo
    tol = np.maximum(0.01 * np.where(np.isfinite(width), width, 0.0), 1e-3)
    outside = []
    n_end = 0
    for side, a_all, b_all in (("lower", lo, plo), ("upper", hi, phi)):
        for u, j in np.ndindex(a_all.shape):
            n_end += 1
            a, b = a_all[u, j], b_all[u, j]
            same_inf = np.isinf(a) and np.isinf(b) and np.sign(a) == np.sign(b)
            if same_inf or (np.isfinite(a) and np.isfinite(b) and abs(a - b) <= tol[u, j]):
                continue
            outside.append({"side": side, "unit": u, "parameter": model.params[j].name, "j": j, "new": a,
                            "previous": b, "tolerance": tol[u, j]})  # fmt: skip
    finite = [o for o in outside if np.isfinite(o["new"]) and np.isfinite(o["previous"])]
    dn = reference_deviance(model, nll, u_hat, packed, [(o["unit"], o["j"], o["new"]) for o in finite])
    dp = reference_deviance(model, nll, u_hat, packed, [(o["unit"], o["j"], o["previous"]) for o in finite])
    for o, a, b in zip(finite, dn, dp, strict=True):
        o["deviance_new"], o["deviance_previous"] = round(a, 4), round(b, 4)
        o["verdict"] = "pass" if abs(a - CHI2) <= 0.05 and abs(a - CHI2) < abs(b - CHI2) else "FAIL"
    for o in outside:
        o.setdefault("verdict", "FAIL (finiteness)")
        o.pop("j")
    return {
        "endpoints": n_end,
        "within_tolerance": n_end - len(outside),
        "passed_by_reference": sum(o["verdict"] == "pass" for o in outside),
        "failed": sum(o["verdict"] != "pass" for o in outside),
        "outside": outside,
    }


def fit_inputs(par, frame, name: str, by: tuple[str, ...]):
    """``(model, nll, work, u_hat)``: the arguments ``cogsim.fit.fit`` (its defaults, seed 0) hands its
    profile search for ``name``, taken from ``fit`` itself (its profile search replaced by one that records
    them), so that the benchmark follows ``fit``'s own preparation of the data and estimates."""
    calls = []

    def record(model, nll, u_hat, trials, mask, *, level):
        calls.append((model, nll, types.SimpleNamespace(trials=trials, mask=mask), np.asarray(u_hat)))
        nan = np.full(u_hat.shape, np.nan)
        return nan, nan

    with mock.patch.object(_fit, "profile_intervals", record):
        _fit.fit(par.models[name], frame, by=by, ci="profile", key=jax.random.key(0))
    if len(calls) != 1:  # one group of units (fit's default max_buckets)
        raise SystemExit(f"{name}: fit called its profile search {len(calls)} times; expected once")
    return calls[0]


def child(args, frame, by) -> None:
    """Compiles and runs one search (``args.child``: current, previous or baseline) for one model; writes its
    limits, timings and the estimates it started from to ``args.child_out`` (npz)."""
    par = paradigms.get(args.paradigm)
    model, nll, work, u_hat = fit_inputs(par, frame, args.models, by)
    commit = {"previous": args.previous, "baseline": args.baseline}.get(args.child)
    program = _profile.profile_program(model, nll) if commit is None else previous_program(commit, model, nll)
    lo, hi, t = timed(program, (jnp.asarray(u_hat), work.trials, work.mask))
    np.savez(args.child_out, lo=lo, hi=hi, u_hat=u_hat, timings=json.dumps(t), units=len(u_hat))


def in_own_process(passed: list[str], name: str, tag: str, tmp: str):
    """Runs :func:`child` for ``name`` and ``tag`` in a new Python process; its npz's contents."""
    path = str(Path(tmp) / f"{name}_{tag}.npz")
    cmd = [sys.executable, __file__, *passed, "--models", name, "--child", tag, "--child-out", path]
    child_output(cmd, capture=False)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paradigm", default="delayed_estimation")
    ap.add_argument("--data", required=True)
    ap.add_argument("--by", default="experiment,subject")
    ap.add_argument("--models", default="mixture2p,slots_averaging,vp,workspace")
    ap.add_argument(
        "--previous", default=None, help="a commit whose profile search runs beside the current one"
    )
    ap.add_argument(
        "--baseline", default=None, help="another commit whose profile search is timed too (not judged)"
    )
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results" / "profile_intervals.json")
    )
    ap.add_argument("--child", choices=("current", "previous", "baseline"), help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.child:
        paradigm_models(ap, args.paradigm, args.models)
        for flag, commit in (("--previous", args.previous), ("--baseline", args.baseline)):
            verify = ["git", "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"]
            if commit and subprocess.run(verify, capture_output=True).returncode:
                ap.error(f"{flag} {commit}: not a commit of this repository")
        writable(ap, args.out)
    frame = read_trials(ap, paradigms.get(args.paradigm), args.data)
    by = tuple(args.by.split(","))
    if args.child:
        child(args, frame, by)
        return 0
    passed = ["--paradigm", args.paradigm, "--data", args.data, "--by", args.by]  # the children's arguments
    for flag, commit in (("--previous", args.previous), ("--baseline", args.baseline)):
        passed += [flag, commit] if commit else []
    git = ["git", "rev-parse", "--short", "HEAD"]
    head = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    out = {"uptime_start": os.getloadavg(), "python": sys.version.split()[0], "jax": jax.__version__,
           "machine": platform.machine(), "previous": args.previous, "baseline": args.baseline,
           "head": head, "each_search_in_its_own_process": True, "models": {}}  # fmt: skip
    tags = [t for t, c in (("previous", args.previous), ("baseline", args.baseline)) if c] + ["current"]
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            runs = {tag: in_own_process(passed, name, tag, tmp) for tag in tags}
        model, nll, work, u_hat = fit_inputs(paradigms.get(args.paradigm), frame, name, by)
        row = {"units": int(runs["current"]["units"])}
        for tag, r in runs.items():
            row[tag] = json.loads(str(r["timings"]))
            print(name, tag, row[tag], flush=True)
            if not np.array_equal(r["u_hat"], u_hat):
                raise SystemExit(f"{name}: the {tag} process started from other estimates than this one")
        if args.previous:
            limits = {t: (runs[t]["lo"], runs[t]["hi"]) for t in ("current", "previous")}
            row["rule"] = judge(model, nll, u_hat, work, limits["current"], limits["previous"])
            print(name, {k: v for k, v in row["rule"].items() if k != "outside"}, flush=True)
        out["models"][name] = row
    out["uptime_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(out, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
