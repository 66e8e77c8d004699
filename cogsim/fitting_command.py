"""``cogsim fit``: fit a paradigm's models to a CSV of trials and write tables, a comparison and a figure.

    cogsim fit PARADIGM --data FILE.csv [--models a,'b[p=v]'] [--by subject | --by experiment,subject]
               [--cv K] [--ci profile|bootstrap|none] [--out DIR] [--seed N] [--starts N]
    cogsim fit PARADIGM --data FILE.csv --hierarchical [--ci laplace|none] ...   group + participants (EM)
    cogsim fit PARADIGM --data FILE.csv --ppc N ...   also N simulated copies per model: predictive checks
    cogsim fit PARADIGM --data FILE.csv --agreement N ...   N fits from other random starts: same maxima?
    cogsim fit --list                  paradigms, their models and the columns each needs

Writes into ``DIR`` (default ``runs/fit_<PARADIGM>_<time>``): ``fits.parquet`` (per participant x set size x
parameter: estimate and CI), ``models.parquet`` (per participant x model: log-likelihood, AIC, BIC, CV
log-likelihood, convergence, parameters at a bound), ``comparison.json`` (per model: summed AIC/BIC,
participants won, summed CV log-likelihood, each with a 95% CI from resampling participants; participants
with an estimate at a bound, ``n_at_bound``; ``bms``: random-effects model selection, :func:`cogsim.fit.bms`,
from BIC and AIC), ``figure.png`` and ``run.json`` (input
file path and sha256, settings, seed, versions). With ``--hierarchical`` each model is fitted by
:func:`cogsim.fit.fit_hierarchical` (the estimates are the participants' MAPs under the group distribution),
``group.parquet`` holds the group distributions and ``comparison.json`` also a ``hierarchical`` entry (per
model: Laplace log marginal likelihood, integrated BIC, EM iterations, convergence; ``best_ibic``).
With ``--ppc N`` each model simulates N copies of the data at its estimates
(:mod:`cogsim.fitting_predictive`). With ``--lr-test N`` each fitted ``NAME[param=value]`` is tested against
``NAME`` (:mod:`cogsim.fitting_lrtests`). With ``--agreement N`` the reported fit and ``N - 1`` more from
other random starts are compared per participant (:mod:`cogsim.fitting_agreement`); with ``--sample N`` each
posterior is sampled too (:mod:`cogsim.fitting_posterior`); ``--prior SPEC`` puts priors on parameters: MAP
estimates, and the sampler's priors (:mod:`cogsim.fitting_priors`). ``bms.parquet`` holds each participant's
posterior model probabilities under random-effects model selection (from BIC and AIC); ``--families
NAME=a+b,...`` adds the selection over families of models (``comparison.json``'s ``bms_families``). Paradigms
come from ``cogsim.models.paradigms``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import time
from pathlib import Path

import pandas as pd

from cogsim import fitting_agreement as agreement_lib
from cogsim import fitting_lrtests as lrt
from cogsim import fitting_posterior as posterior_lib
from cogsim import fitting_predictive as predictive_lib
from cogsim import fitting_priors as priors_lib
from cogsim._json import json_ready
from cogsim.errors import CogsimError
from cogsim.fit._applies import choose
from cogsim.fit._crossval import small_folds_line
from cogsim.fit._fixed import impossible_under
from cogsim.fit._hierarchical import SD_FLOOR
from cogsim.fit._participants import check_by, data_line, default_by  # noqa: F401  (cogsim.fitting_command.default_by)
from cogsim.fitting_comparison import (
    TIE_TOL,
    attribution,
    bms_group_lines,
    bms_line,
    comparison,
    figure,
    parse_families,
    selections,
)

SET_SIZE = "set_size"  # the paradigms' set-size column (models fitted per set size split units by it)
MAX_STARTS = 256  # starts multiply the solver's batch (and its memory) by this much
DEFAULT_STARTS = 4  # as cogsim.fit.fit
MAX_SEED = 2**32 - 1  # as `cogsim run` and `sweep`: a larger seed would wrap onto a smaller one's stream
#: every file a fit may write, in the order the closing line lists those it wrote
WRITTEN = (
    "fits.parquet", "models.parquet", "group.parquet", "comparison.json", "figure.png", "predictive.parquet",
    "predictive.png", "lr_tests.parquet", "bms.parquet", "posterior.parquet", "posterior_summary.parquet",
    "loo.parquet", "loo_pointwise.parquet", "loo.png", "run.json",
)  # fmt: skip
#: an --out folder holding one of these holds an earlier fit, or part of one (a run stopped after writing
#: bms.parquet or posterior.parquet and before fits.parquet): refused, so that no file of it is overwritten
#: or listed beside the new run's (until 2026-12-07 only the four files a finished fit always writes
#: counted, and a later run into the folder kept the stopped one's other files and named them as its own)
OUTPUTS = WRITTEN


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``cogsim fit`` arguments."""
    p.add_argument("paradigm", nargs="?", help="paradigm name (see `cogsim fit --list`)")
    p.add_argument("--list", action="store_true", help="list paradigms, models and the columns each needs")
    p.add_argument(
        "--data",
        metavar="FILE.csv",
        help="the trials, one row each, in the paradigm's schema (.csv, .tsv, .parquet)",
    )
    models_help = "comma-separated model names (default: all that apply); NAME[param=value,...] holds "
    models_help += "parameters fixed, e.g. 'mixture3p[p_swap=0]', or shares them across set sizes, "
    p.add_argument("--models", default=None, help=models_help + "e.g. 'mixture2p[sd_rad=shared]'")
    p.add_argument(
        "--by",
        default=None,
        help="participant columns, e.g. experiment,subject (default: subject, nested in experiment when the "
        "file has an experiment column whose subject ids repeat across experiments, and in the paradigm's "
        "unit columns, e.g. task for visual_search)",
    )
    p.add_argument("--cv", type=int, default=None, metavar="K", help="K-fold cross-validated log-likelihood")
    p.add_argument(
        "--ci",
        default=None,
        choices=("profile", "bootstrap", "laplace", "none"),
        help="CI method (default: profile; laplace, the posterior intervals, with --hierarchical)",
    )
    p.add_argument(
        "--hierarchical",
        action="store_true",
        help="fit a normal group distribution per parameter (and set size) and population (each combination "
        "of the --by columns but the last) with the participants: EM with "
        "the Laplace approximation; writes group.parquet",
    )
    p.add_argument(
        "--out", default=None, metavar="DIR", help="output folder (default runs/fit_<paradigm>_<time>)"
    )
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument(
        "--starts",
        type=int,
        default=DEFAULT_STARTS,
        metavar="N",
        help=f"optimiser starts per participant (default {DEFAULT_STARTS}; more for models whose fits stop "
        "at different maxima from different starts, see docs/fitting_paradigms.md)",
    )
    priors_lib.add_argument(p)
    predictive_lib.add_argument(p)
    agreement_lib.add_argument(p)
    posterior_lib.add_argument(p)
    lr_help = (
        "test each NAME[param=value] against NAME by parametric bootstrap, N copies; writes lr_tests.parquet"
    )
    p.add_argument("--lr-test", type=int, default=None, metavar="N", help=lr_help)
    p.add_argument(
        "--families",
        default=None,
        metavar="NAME=a+b,...",
        help="random-effects model selection over families of models too, e.g. "
        "'equal=mixture2p+slots_averaging,variable=vp' (a model not named is a family of its own)",
    )


def _check_out(out: str) -> None:
    """``--out`` must name a folder that can be written and holds no earlier fit (nothing is overwritten)."""
    from cogsim._run_files import check_writable

    if not str(out).strip():
        raise CogsimError(f"fit --out: got {out!r}; allowed: a folder path (default: leave --out out)")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise CogsimError(f"fit --out: got {out!r}, a file; allowed: a folder without a fit's outputs")
    done = [f for f in OUTPUTS if (folder / f).exists()]
    if done:
        raise CogsimError(
            f"fit --out: {out!r} already holds a fit ({', '.join(done)}); allowed: a folder without a fit's "
            "outputs (earlier fits are never overwritten; other files in it are left alone)"
        )
    check_writable(folder, what="fit --out")


def _registry():
    """The paradigm registry (``cogsim.models.paradigms``: ``names()``, ``get(name)``)."""
    try:
        from cogsim.models import paradigms
    except ImportError:
        raise CogsimError("fit: no paradigms are installed (cogsim.models.paradigms is missing)") from None
    return paradigms


def _paradigm(name: str | None):
    reg = _registry()
    names = list(reg.names())
    if not name or name not in names:
        raise CogsimError(f"fit: paradigm {name!r} is unknown; allowed: {', '.join(names) or '(none)'}")
    return reg.get(name)


def list_text() -> str:
    """What ``cogsim fit --list`` prints: each paradigm's columns and models."""
    from cogsim.fitting_listing import list_text as text

    return text(_registry())


def run(
    paradigm: str,
    data: str | Path,
    *,
    models: str | None = None,
    by: tuple[str, ...] | None = None,
    cv: int | None = None,
    ci: str | None = "profile",
    out: str | Path | None = None,
    seed: int = 0,
    n_starts: int = DEFAULT_STARTS,
    hierarchical: bool = False,
    ppc: int | None = None,
    lr_test: int | None = None,
    families: str | None = None,
    agreement: int | None = None,
    sample: int | None = None,
    prior: str | None = None,
    reloo: bool = False,
    sample_temperatures: int | str | None = None,
    log=print,
) -> Path:
    """Fits every chosen model of ``paradigm`` to the CSV ``data`` and writes the run folder; returns it
    (``hierarchical``: :func:`cogsim.fit.fit_hierarchical`, ``ci`` then ``"laplace"`` or None; ``ppc``: that
    many simulated copies per model for the predictive checks, None for none; ``agreement``: that many fits
    in all per model, compared per participant, None for none; ``sample``: HMC draws per chain, or None
    (``reloo``: refit the trials whose Pareto k is too high; ``sample_temperatures``: replicas per chain,
    ``"auto"`` to choose them from the measured barrier, None for each model's own);
    ``prior``: ``--prior``'s text,
    :mod:`cogsim.fitting_priors`, or None)."""
    import jax

    from cogsim import fit as fitlib
    from cogsim import store

    if hierarchical and cv is not None:
        raise CogsimError(f"fit cv: got {cv} with hierarchical; allowed: None (not implemented there)")
    agreement_lib.check(agreement, hierarchical, n_starts)
    t0 = time.perf_counter()
    sha = store.git_sha()  # the commit that runs, read before the fits
    par = _paradigm(paradigm)
    trials = par.read(data, id_columns=by or ())  # --by columns read as ids: sessions 01 and 1 stay two
    if by is None:
        by = default_by(trials, log)
    check_by(trials, tuple(by))  # before anything is printed
    log(data_line(trials, by))
    chosen, skipped = choose(par, trials, models)
    family_map = parse_families(families, list(chosen)) if families is not None else None
    if lr_test is not None:
        lrt.pairs(chosen, par.models)  # a nested pair to test, before anything is fitted
    priors = priors_lib.parse(prior, chosen)
    priors_lib.check(priors, hierarchical=hierarchical, lr_test=lr_test)
    sample_temperatures = posterior_lib.parse_temperatures(sample_temperatures)
    posterior_lib.check(sample, chosen, priors, reloo, sample_temperatures, hierarchical)
    predictive_lib.check(ppc, par, trials)
    for n, why in skipped.items():
        log(f"skipped {n}: {why}")
    if priors:
        log(priors_lib.line(priors))
    folder = Path(out) if out else Path("runs") / f"fit_{paradigm}_{_dt.datetime.now():%Y%m%d-%H%M%S}"
    if not out:  # two fits started in the same second: the second gets a folder of its own
        stem, n = folder, 1
        while folder.exists():
            n += 1
            folder = stem.with_name(f"{stem.name}-{n}")
    # every model gets the root key: its starts, folds and copies do not depend on the other models, and all
    # models are cross-validated on the same folds of each unit
    key = jax.random.key(seed)
    fits, summaries, groups, marginal, checks = [], [], [], {}, []
    for name, model in chosen.items():
        t, c = time.perf_counter(), time.process_time()
        if hierarchical:
            res = fitlib.fit_hierarchical(model, trials, by=by, n_starts=n_starts, ci=ci, key=key)
            groups.append(res.group)
            marginal[name] = {
                "log_marginal": res.log_marginal,
                "ibic": res.ibic,
                "n_iter": res.n_iter,
                "converged": res.converged,
            }
        else:
            kw = {"n_starts": n_starts, "cv": cv, "ci": ci, "prior": priors.get(name), "key": key}
            res = fitlib.fit(model, trials, by=by, **kw)
        if why := impossible_under(model, res.summary, by):  # before anything is written
            raise CogsimError(f"fit --models: {why}")
        fits.append(res.estimates)
        summary = res.summary
        bad = int((~summary["converged"]).sum())
        em = (
            f"  log marginal {res.log_marginal:.2f}  iBIC {res.ibic:.2f}  EM {res.n_iter}"
            if hierarchical
            else ""
        )
        log(
            f"{name:<16} loglik {res.summary['loglik'].sum():12.2f}  "
            f"AIC {res.summary['aic'].sum():12.2f}{em}  "
            f"{len(res.summary)} participant{'s' * (len(res.summary) != 1)}"
            f"{f', {bad} not converged' if bad else ''}  "
            f"({time.perf_counter() - t:.1f} s, CPU {time.process_time() - c:.1f} s)"
        )
        if line := fitlib.at_bound_line(name, res.summary["at_bound"]):
            log(line)
        if hierarchical and (few := res.group[res.group["n_units"] == 1]).shape[0]:
            log(
                f"{name}: {len(few)} of {len(res.group)} group distributions rest on one participant's "
                f"units: their SD is the floor ({SD_FLOOR:g}) and their interval NaN, as are those "
                "participants' intervals of these parameters; with one participant fit without --hierarchical"
            )
        if line := fitlib.few_set_sizes_line(model, trials, by):
            log(line)
        kw = {"cv": cv, "n_params": len(model.params), "min_trials": res.settings.get("min_trials", 10)}
        if line := small_folds_line(name, res.units, by, **kw):
            log(line)
        if agreement is not None:
            kw = {
                "n_fits": agreement,
                "n_starts": n_starts,
                "key": key,
                "log": log,
                "prior": priors.get(name),
            }
            summary = agreement_lib.columns(model, trials, res, **kw)
        summaries.append(summary)
        if ppc is not None:
            ppc_key = jax.random.fold_in(key, predictive_lib.PPC_STREAM)
            checks.append(predictive_lib.one_model(par, model, res, trials, ppc, ppc_key, log))
    fits_df = pd.concat(fits, ignore_index=True)
    models_df = pd.concat(summaries, ignore_index=True)
    selected = selections(models_df, tuple(by)) if len(chosen) > 1 else {}
    comp = comparison(models_df, tuple(by), seed=seed, families=family_map, selected=selected)
    if (who := attribution(selected, tuple(by))) is not None:
        store.atomic_write_parquet(folder / "bms.parquet", who)
    for m, g in models_df.groupby("model", sort=False):
        comp["models"][m]["n_at_bound"] = fitlib.at_bound_counts(g["at_bound"])[0]
    comp["skipped"] = skipped
    if priors:
        comp["prior"] = priors_lib.entry(priors)
    if agreement is not None:
        comp["agreement"] = agreement_lib.entry(models_df, agreement)
    if hierarchical:
        comp["hierarchical"] = {
            "models": marginal,
            "best_ibic": min(marginal, key=lambda m: marginal[m]["ibic"]),
        }
        store.atomic_write_parquet(folder / "group.parquet", pd.concat(groups, ignore_index=True))
    if lr_test is not None:
        lrt.run(
            chosen, trials, tuple(by), lr_test, n_starts=n_starts, key=key, folder=folder, comp=comp, log=log
        )
    if sample is not None:
        kw = {"key": key, "folder": folder, "comp": comp, "log": log, "priors": priors, "reloo": reloo}
        kw["temperatures"], kw["hierarchical"] = sample_temperatures, hierarchical
        posterior_lib.run(chosen, trials, tuple(by), sample, **kw)
    if ppc is not None:
        predictive_lib.write(checks, ppc, folder, comp)
    store.atomic_write_parquet(folder / "fits.parquet", fits_df)
    store.atomic_write_parquet(folder / "models.parquet", models_df)
    # strict JSON: a number that is not finite (an infinite statistic, a NaN) is written as null
    store.atomic_write_text(
        folder / "comparison.json", json.dumps(json_ready(comp), indent=2, allow_nan=False)
    )
    figure(comp, fits_df, folder / "figure.png")
    config = {
        "paradigm": paradigm,
        "models": list(chosen),
        "by": list(by),
        "cv": cv,
        "ci": ci,
        "n_starts": n_starts,
        "hierarchical": hierarchical,
        "ppc": ppc,
        "lr_test": lr_test,
        "families": family_map,
        "agreement": agreement,
        "sample": sample,
        "reloo": reloo,
        "sample_temperatures": sample_temperatures,
        "prior": prior,
    }
    store.write_run_json(
        folder,
        store.provenance(
            config=config,
            seed=seed,
            command="fit",
            git_sha=sha,
            input={"path": str(Path(data).resolve()), "sha256": store.file_sha256(data), "rows": len(trials)},
            wall_time_s=time.perf_counter() - t0,
        ),
    )
    log(f"best by AIC: {_best(comp, 'aic')}; by BIC: {_best(comp, 'bic')}")
    for line in [bms_line(comp), *bms_group_lines(comp), bms_line(comp, entry="bms_families")]:
        if line:
            log(line)
    if hierarchical:
        log(f"best by iBIC: {comp['hierarchical']['best_ibic']}")
    log(f"wrote {folder}/ ({', '.join(f for f in WRITTEN if (folder / f).exists())})")
    return folder


def main(args: argparse.Namespace) -> None:
    """Dispatches ``cogsim fit`` (called by cogsim.cli)."""
    if args.list:
        print(list_text())
        return
    if not args.paradigm:
        raise CogsimError("fit: give a paradigm (see `cogsim fit --list`) and --data FILE.csv")
    if not args.data:
        raise CogsimError(
            "fit --data: missing; allowed: a CSV, TSV or Parquet file of trials in the paradigm's schema"
        )
    by = None if args.by is None else tuple(b.strip() for b in args.by.split(",") if b.strip())
    if by is not None and not by:
        raise CogsimError(f"fit --by: got {args.by!r}; allowed: comma-separated column names")
    if by is not None and SET_SIZE in by:
        raise CogsimError(
            f"fit --by: got {args.by!r}; allowed: participant columns other than {SET_SIZE!r} (set size is a "
            "condition within a participant; models fitted per set size split by it themselves)"
        )
    if args.models is not None and not any(m.strip() for m in args.models.split(",")):
        raise CogsimError(f"fit --models: got {args.models!r}; allowed: comma-separated model names")
    if not 0 <= args.seed <= MAX_SEED:
        raise CogsimError(f"fit --seed: got {args.seed}; allowed: an integer from 0 to {MAX_SEED}")
    if not 1 <= args.starts <= MAX_STARTS:
        raise CogsimError(f"fit --starts: got {args.starts}; allowed: an integer from 1 to {MAX_STARTS}")
    if args.out is not None:
        _check_out(args.out)
    if args.cv is not None and args.cv < 2:
        raise CogsimError(f"fit --cv: got {args.cv}; allowed: an integer number of folds >= 2")
    hierarchical = bool(getattr(args, "hierarchical", False))
    ci = args.ci or ("laplace" if hierarchical else "profile")
    if hierarchical and ci in ("profile", "bootstrap"):
        raise CogsimError(f"fit --ci: got {ci!r} with --hierarchical; allowed: laplace or none")
    if hierarchical and args.cv is not None:
        raise CogsimError(
            f"fit --cv: got {args.cv} with --hierarchical; allowed: no --cv (not implemented there)"
        )
    if args.ppc is not None and args.ppc < 1:
        raise CogsimError(f"fit --ppc: got {args.ppc}; allowed: an integer number of simulated copies >= 1")
    n_lr = getattr(args, "lr_test", None)
    if n_lr is not None and (n_lr < 1 or hierarchical):
        with_h = " with --hierarchical" if hierarchical else ""
        raise CogsimError(f"fit --lr-test: got {n_lr}{with_h}; allowed: copies >= 1, without --hierarchical")
    if not hierarchical and ci == "laplace":
        raise CogsimError(
            "fit --ci: got 'laplace'; allowed: profile, bootstrap or none (laplace needs --hierarchical)"
        )
    run(
        args.paradigm,
        args.data,
        models=args.models,
        by=by,
        cv=args.cv,
        ci=None if ci == "none" else ci,
        out=args.out,
        seed=args.seed,
        n_starts=args.starts,
        hierarchical=hierarchical,
        ppc=args.ppc,
        lr_test=n_lr,
        families=getattr(args, "families", None),
        agreement=getattr(args, "agreement", None),
        sample=getattr(args, "sample", None),
        prior=getattr(args, "prior", None),
        reloo=getattr(args, "reloo", False),
        sample_temperatures=getattr(args, "sample_temperatures", None),
    )


def _best(comp: dict, crit: str) -> str:
    """The best model by ``crit``, with the models tied with it (summed values within ``TIE_TOL``)."""
    tied = comp.get(f"tied_best_{crit}") or []
    return comp[f"best_{crit}"] + (f" (tied within {TIE_TOL:g} with {', '.join(tied)})" if tied else "")
