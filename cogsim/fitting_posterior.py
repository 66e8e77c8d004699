"""``cogsim fit --sample N``: every chosen model's posterior per participant by HMC
(:func:`cogsim.fit.sample`) beside its fit, under the priors of ``--prior`` (:mod:`cogsim.fitting_priors`)
and uniform priors over the bounds of the parameters without one (a model with a parameter that has neither
a prior nor two finite bounds is refused: e.g. the visual-search models' rates and scales need ``--prior``).

Writes ``posterior.parquet`` (per participant, set size and parameter: the posterior median as
``estimate``, the 95 % equal-tailed credible interval, ``mean``, ``sd``, ``rhat``, ``ess_bulk``) and
``posterior_summary.parquet`` (per participant: ``max_rhat``, ``min_ess``, ``divergences``, ``accept_rate``,
``converged``); ``comparison.json`` gets a ``posterior`` entry with per-model counts. From the same draws,
every model's leave-one-out cross-validation by Pareto-smoothed importance sampling and its WAIC
(:func:`cogsim.fit.loo`): ``loo.parquet`` (per participant and model: ``elpd_loo`` and its SE, ``p_loo``,
``looic``, ``elpd_waic``, ``p_waic``, ``waic``, the largest Pareto ``k`` and the trials whose ``k`` is too
high), ``loo_pointwise.parquet`` (per trial and model) and, in ``posterior``, a ``loo`` entry: the models
ranked by summed ``elpd_loo`` with each difference's SE and each model's stacking weight
(:func:`cogsim.fit.loo_compare`), and the participants each model predicts best; ``loo.png`` (the
differences with 2 SEs, every trial's Pareto ``k``). ``--reloo`` refits the trials whose Pareto ``k`` is too
high (:func:`cogsim.fit.reloo`), with a line per model saying how many and lines on how far it has got.
A model with no free parameters is not sampled: its leave-one-out density is exact (its log-likelihood of
each trial) and it is ranked with the others (``exact``). With ``--hierarchical`` the posteriors are each
participant's own under these priors, not the hierarchical model's (a line says so).
``--sample-temperatures R`` runs each chain as ``R`` replicas exchanging states over a ladder of
temperatures (``n_temperatures`` of :func:`cogsim.fit.sample`), for posteriors with separated modes; by
default each model's own number (``sample_temperatures``: 8 for slots_averaging); ``auto`` chooses it
from the measured barrier (:func:`cogsim.fit.auto_temperatures`, docs/fitting.md).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import pandas as pd

from cogsim.errors import CogsimError
from cogsim.fit._tempering import AUTO_RUNS, MAX_TEMPERATURES

#: the sampler's random stream: fold_in(root key, POSTERIOR_STREAM), the same for every model; --reloo's
#: refits: fold_in(root key, RELOO_STREAM), then fold_in(., row)
POSTERIOR_STREAM, RELOO_STREAM = 4, 7
MIN_SAMPLES, MAX_SAMPLES = 100, 100_000


def add_argument(p) -> None:
    """The ``--sample`` option of ``cogsim fit``."""
    p.add_argument(
        "--sample",
        type=int,
        default=None,
        metavar="N",
        help=f"also sample each participant's posterior by HMC under the --prior priors and uniform ones "
        f"over the other parameters' bounds: 4 chains x (N warm-up + N draws), N from {MIN_SAMPLES} to "
        f"{MAX_SAMPLES}; writes "
        "posterior.parquet and posterior_summary.parquet, and PSIS-LOO and WAIC from the draws: loo.parquet, "
        "loo_pointwise.parquet (default: off)",
    )
    p.add_argument(
        "--sample-temperatures",
        type=str,
        default=None,
        metavar="R",
        help="with --sample: run each chain as R replicas at temperatures from 1 to 1/n_trials that exchange "
        "states (replica exchange), for posteriors with separated modes such as a capacity on either side "
        f"of an integer; R times the evaluations; R from 1 (plain HMC) to {MAX_TEMPERATURES}, or auto: "
        "replica exchange with R chosen from the barrier the exchanges measure, sampling again with more "
        f"until it suffices (at most {AUTO_RUNS} runs; it does not decide whether replica exchange is "
        "needed) (default: each model's own: 8 for slots_averaging, 1 for the others)",
    )
    p.add_argument(
        "--reloo",
        action="store_true",
        help="with --sample: for each trial whose PSIS-LOO estimate is unreliable (Pareto k above the "
        "threshold), sample its participant (or participant x set size) again without that trial, for its "
        "exact leave-one-out density (one sampling run per such trial; default: off)",
    )


def parse_temperatures(value: int | str | None) -> int | str | None:
    """``--sample-temperatures``' value as given on the command line (a string) or in Python: ``"auto"``, an
    integer (its range is :func:`check`'s) or None."""
    if not isinstance(value, str):
        return value
    if value.strip().lower() == "auto":
        return "auto"
    try:
        return int(value)
    except ValueError:
        raise CogsimError(
            f"fit --sample-temperatures: got {value!r}; allowed: an integer from 1 to {MAX_TEMPERATURES}, "
            "or auto"
        ) from None


def check(
    n: int | None,
    chosen: dict,
    priors: dict | None = None,
    reloo: bool = False,
    temperatures: int | None = None,
    hierarchical: bool = False,
) -> int | None:
    """``--sample``'s value, refused (one line) outside :data:`MIN_SAMPLES`-:data:`MAX_SAMPLES` or where a
    chosen model has parameters without two finite bounds and without a prior in ``priors`` (model name ->
    {parameter -> density}; all of them named at once, and with ``hierarchical``, which takes no
    ``--prior``, the ways out that remain); ``--reloo`` and ``--sample-temperatures`` refused without it, the
    latter outside 1-:data:`MAX_TEMPERATURES` too."""
    if (
        temperatures is not None
        and temperatures != "auto"
        and (
            not isinstance(temperatures, int)
            or isinstance(temperatures, bool)
            or not 1 <= temperatures <= MAX_TEMPERATURES
        )
    ):
        raise CogsimError(
            f"fit --sample-temperatures: got {temperatures!r}; allowed: an integer from 1 to "
            f"{MAX_TEMPERATURES}, or auto"
        )
    if n is None:
        if reloo:
            raise CogsimError("fit --reloo: got it without --sample; allowed: --reloo with --sample N")
        if temperatures is not None:
            raise CogsimError(
                f"fit --sample-temperatures: got {temperatures} without --sample; allowed: it with --sample N"
            )
        return None
    if not MIN_SAMPLES <= n <= MAX_SAMPLES:
        raise CogsimError(f"fit --sample: got {n}; allowed: an integer from {MIN_SAMPLES} to {MAX_SAMPLES}")
    _check_priors(chosen, priors or {}, hierarchical)
    return n


def _check_priors(chosen: dict, priors: dict, hierarchical: bool) -> None:
    """Refuses (one line naming every one of them) the chosen models' parameters that have neither two finite
    bounds nor a prior in ``priors``; with ``hierarchical`` (no ``--prior`` there) says what is left."""
    from cogsim.fit._sample import needs_prior

    missing = [
        (name, p)
        for name, model in chosen.items()
        for p in model.params
        if p.name in needs_prior(model) and p.name not in priors.get(name, {})
    ]
    if not missing:
        return
    models = list(dict.fromkeys(name for name, _ in missing))
    what = "; ".join(
        f"model {m!r} parameter{'s' * (sum(n == m for n, _ in missing) > 1)} "
        + ", ".join(f"{p.name!r} ({p.low}, {p.high})" for n, p in missing if n == m)
        for m in models
    )
    example = ",".join(f"{name}.{p.name}=lognormal(0, 1)" for name, p in missing)
    if hierarchical:
        raise CogsimError(
            f"fit --sample: got it with --hierarchical and {what}: without two finite bounds each needs a "
            f"--prior, which --hierarchical does not take; allowed: --sample without --hierarchical, with "
            f"--prior '{example}', or models whose parameters all have two finite bounds"
        )
    raise CogsimError(
        f"fit --sample: {what} without two finite bounds and without a prior; allowed: a prior for each, "
        f"e.g. --prior '{example}' (a uniform prior needs two finite bounds)"
    )


def run(
    chosen: dict,
    trials: pd.DataFrame,
    by: tuple[str, ...],
    n: int,
    *,
    key,
    folder: Path,
    comp: dict,
    log,
    priors: dict | None = None,
    reloo: bool = False,
    temperatures: int | None = None,
    hierarchical: bool = False,
):
    """Samples every model in ``chosen`` with parameters (under ``priors``: model name -> {parameter ->
    density}); writes the two tables into ``folder`` and the ``posterior`` entry into ``comp``. A model
    without parameters enters LOO exactly (:func:`cogsim.fit.loo` without draws). ``hierarchical``: the
    fits were hierarchical, which the sampled posteriors are not (a line says so)."""
    from cogsim import fit as fitlib
    from cogsim import store
    from cogsim.fit._sample import ESS_PER_CHAIN

    estimates, summaries, per_model, per_model_prior, loos = [], [], {}, {}, []
    loo_seconds = 0.0
    if n < 2 * ESS_PER_CHAIN:
        log(
            f"posterior: {n} draws per chain; a participant converges with a bulk ESS of at least "
            f"{ESS_PER_CHAIN} per chain, which asks more than half of them to be independent: few will "
            "(1,000 is a sound start)"
        )
    if hierarchical:
        log(
            "posterior: each participant's own, under the --prior priors and uniform ones over the other "
            "parameters' bounds; not the hierarchical model's (the group distribution is not sampled)"
        )
    for name, model in chosen.items():
        if not model.params:
            log(
                f"{name:<16} posterior: no free parameters, nothing to sample; its LOO is exact, its "
                "log-likelihood"
            )
            t = time.perf_counter()
            loos.append(fitlib.loo(model, trials, None, by=by))
            loo_seconds += time.perf_counter() - t
            continue
        t, c = time.perf_counter(), time.process_time()
        res, runs = _sample(fitlib, model, name, trials, by, n, priors, temperatures, key, log)
        per_model_prior[name] = res.settings["prior"]
        estimates.append(res.estimates)
        summaries.append(res.summary)
        s = res.summary
        r = res.settings["n_temperatures"]
        per_model[name] = {
            "n_participants": len(s),
            "n_converged": int(s["converged"].sum()),
            "max_rhat": float(s["max_rhat"].max()),
            "min_ess": float(s["min_ess"].min()),
            "divergences": int(s["divergences"].sum()),
            "n_temperatures": r,
            **(
                {
                    "min_swap_rate": float(s["min_swap_rate"].min()),
                    "max_barrier": float(s["barrier"].max()),
                    "temperatures_for_barrier": fitlib.temperatures_for(float(s["barrier"].max())),
                    "ladder": "tuned" if res.settings["adapt_ladder"] else "even",
                }
                if r > 1
                else {}
            ),
            **({"auto_runs": runs} if temperatures == "auto" else {}),
        }
        log(
            f"{name:<16} posterior: {per_model[name]['n_converged']} of {_participants(len(s))} converged "
            f"(largest R-hat {s['max_rhat'].max():.3f}, smallest ESS {s['min_ess'].min():.0f}, "
            f"{per_model[name]['divergences']} divergences"
            + (f"; {r} temperatures, lowest exchange rate {s['min_swap_rate'].min():.2f}" if r > 1 else "")
            + f"; {time.perf_counter() - t:.1f} s, "
            f"CPU {time.process_time() - c:.1f} s)"
        )
        needed = per_model[name].get("temperatures_for_barrier", 0)
        if r > 1 and r < needed and temperatures != "auto":
            log(
                f"{name:<16} posterior: barrier {per_model[name]['max_barrier']:.2f} between beta = 1 and "
                f"the hottest replica; {needed} temperatures would keep each pair's rejection at most 0.5 "
                "(--sample-temperatures)"
            )
        t = time.perf_counter()
        found = fitlib.loo(model, trials, res)
        if reloo:
            rk = jax.random.fold_in(key, RELOO_STREAM)
            kw = {"prior": (priors or {}).get(name), "key": rk, "progress": _progress(name, found, log)}
            found = fitlib.reloo(model, trials, res, found, **kw)
        loos.append(found)
        loo_seconds += time.perf_counter() - t
    comp["posterior"] = {
        "sampler": "HMC (cogsim.fit.sample)",
        "n_chains": 4,
        "n_warmup": n,
        "n_samples": n,
        "n_temperatures": temperatures,  # None: each model's own (models[name]["n_temperatures"])
        "prior": per_model_prior,
        "stream": POSTERIOR_STREAM,
        "models": per_model,
    }
    if estimates:
        store.atomic_write_parquet(folder / "posterior.parquet", pd.concat(estimates, ignore_index=True))
        store.atomic_write_parquet(
            folder / "posterior_summary.parquet", pd.concat(summaries, ignore_index=True)
        )
    if loos:
        comp["posterior"]["loo"] = _loo_entry(loos, by, log, loo_seconds)
        store.atomic_write_parquet(
            folder / "loo.parquet", pd.concat([r.summary for r in loos], ignore_index=True)
        )
        pointwise = [r.pointwise.assign(model=r.model) for r in loos]
        store.atomic_write_parquet(folder / "loo_pointwise.parquet", pd.concat(pointwise, ignore_index=True))
        figure(loos, comp["posterior"]["loo"], folder / "loo.png")


def _progress(name: str, found, log):
    """Logs how many of ``found``'s trials ``--reloo`` will refit (one sampling run each); returns the
    ``progress`` callback of :func:`cogsim.fit.reloo`, which logs how many are done after every tenth."""
    pw, threshold = found.pointwise, found.settings["k_threshold"]
    todo = int(((pw["pareto_k"] > threshold) & ~pw["refit"]).sum())
    log(
        f"{name:<16} LOO: {todo} of {len(pw)} trials with Pareto k > {threshold:.2f}; --reloo refits each "
        f"without itself: {todo} sampling runs"
    )
    step, start = max(1, math.ceil(todo / 10)), time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            log(f"{name:<16} LOO: refitted {done} of {total} trials ({time.perf_counter() - start:.0f} s)")

    return progress


def _sample(fitlib, model, name, trials, by, n, priors, temperatures, key, log):
    """``fitlib.sample`` of one model (``temperatures`` ``"auto"``: from the measured barrier, see
    :func:`cogsim.fit.sample`), with a line for every run ``auto`` made again and one if it stopped asking
    for more. Returns the result and, for ``auto``, its runs."""
    res = fitlib.sample(
        model,
        trials,
        by=by,
        n_warmup=n,
        n_samples=n,
        prior=(priors or {}).get(name),
        n_temperatures=temperatures,
        key=jax.random.fold_in(key, POSTERIOR_STREAM),
    )
    runs = res.settings.get("auto_runs", [])
    for run, after in zip(runs, runs[1:], strict=False):
        r, b = run["n_temperatures"], run["max_barrier"]
        log(
            f"{name:<16} posterior: barrier {b:.2f} with {r} temperatures asked for {run['needed']}; "
            f"sampled again with {after['n_temperatures']} (--sample-temperatures auto)"
        )
    if res.settings.get("auto_stopped"):
        r, b = runs[-1]["n_temperatures"], runs[-1]["max_barrier"]
        log(
            f"{name:<16} posterior: auto stopped after {AUTO_RUNS} runs; the last, with {r} temperatures, "
            f"measured a barrier of {b:.2f}, which asks for {runs[-1]['needed']}"
        )
    return res, runs


def figure(loos: list, entry: dict, path: Path) -> None:
    """``loo.png``: left, each model's ``elpd_loo`` difference from the best with 2 SEs (the ranking of
    ``entry``; a note where there is none); right, every trial's Pareto ``k`` in data order, one colour per
    model, the threshold as a line, refitted trials as crosses."""
    from cogsim import plots

    fig, (left, right) = plots.panels(2, ncols=2, size=(5.0, 3.2))
    ranking = entry["ranking"]
    if ranking:
        names = [r["model"] for r in ranking][::-1]
        diff = [r["elpd_diff"] for r in ranking][::-1]
        err = [2.0 * (r["se_diff"] or 0.0) for r in ranking][::-1]
        left.errorbar(diff, range(len(names)), xerr=err, fmt="o", capsize=3)
        left.set_yticks(range(len(names)), names, fontsize=7)
        left.axvline(0.0, color="grey", lw=0.8)
        left.set_xlabel("elpd_loo difference from the best (2 SE)", fontsize=8)
        left.set_title(
            f"{entry['n_participants_ranked']} of {_participants(entry['n_participants'])}", fontsize=9
        )
    else:
        left.text(0.5, 0.5, "no participant converged\nunder every model", ha="center", va="center")
        left.set_axis_off()
    for r in (r for r in loos if not r.settings.get("exact")):  # an exact model has no k
        pw = r.pointwise
        dots = right.plot(pw["row"], pw["pareto_k"], ".", ms=2, label=r.model)[0]
        refit = pw[pw["refit"]]
        right.plot(refit["row"], refit["pareto_k"], "x", ms=5, color=dots.get_color())
    if entry["k_threshold"] is not None:
        right.axhline(entry["k_threshold"], color="black", lw=0.8, ls="--")
    right.set_xlabel("trial (row in the data)", fontsize=8)
    right.set_ylabel("Pareto k", fontsize=8)
    right.set_title("each trial's Pareto k (x: refitted; line: threshold)", fontsize=9)
    if right.get_legend_handles_labels()[1]:
        right.legend(fontsize=6, markerscale=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _loo_entry(loos: list, by: tuple[str, ...], log, seconds: float) -> dict:
    """The ``loo`` entry of ``posterior`` (and its printed lines): the models ranked by summed ``elpd_loo``
    over the trials of the participants whose chains converged under every model, and per model the
    participants among those it predicts best (none ranked where no participant converged under all)."""
    from cogsim import fit as fitlib

    per = pd.concat([r.summary for r in loos], ignore_index=True)
    ok = per.groupby(list(by), sort=True)["converged"].all()
    kept = per[per.set_index(list(by)).index.isin(ok[ok].index) & per["elpd_loo"].notna()]
    sampled = [r for r in loos if not r.settings.get("exact")]
    exact = [r.model for r in loos if r.settings.get("exact")]
    threshold = sampled[0].settings["k_threshold"] if sampled else None
    entry = {
        "method": "PSIS-LOO (Vehtari, Gelman & Gabry 2017), WAIC; cogsim.fit.loo",
        "k_threshold": threshold,
        "exact": exact,  # no free parameters: each trial's log-likelihood is its leave-one-out density
        "n_participants": int(len(ok)),
        "n_participants_ranked": int(ok.sum()),
        "refits": {r.model: r.settings["refits"] for r in loos if "refits" in r.settings},
        "ranking": [],
        "participants_best": {},
    }
    refits = sum(r.settings.get("refits", 0) for r in loos)
    refitted = (
        f", {refits} trials refitted without themselves" if any("refits" in r.settings for r in loos) else ""
    )
    parts = [f"PSIS, {sampled[0].settings['n_draws']} draws{refitted}"] if sampled else []
    parts += [f"exact for {', '.join(exact)}"] if exact else []
    head = f"LOO ({'; '.join(parts)}; {seconds:.1f} s)"
    if not ok.any():
        log(f"{head}: no participant's chains converged under every model; no ranking (see loo.parquet)")
        return entry
    ranked = fitlib.loo_compare(loos)
    best = kept.loc[kept.groupby(list(by), sort=True)["elpd_loo"].idxmax()]
    won = best["model"].value_counts()
    log(
        f"{head}, ranked by elpd_loo over the {ranked.n_trials[0]} trials of the {int(ok.sum())} of "
        f"{_participants(len(ok))} whose chains converged under every model:"
    )
    for row in ranked.itertuples(index=False):
        log(
            f"  {row.model:<16} elpd_loo {row.elpd_loo:.1f} (SE {row.se_elpd_loo:.1f}), difference "
            f"{row.elpd_diff:.1f} (SE {row.se_diff:.1f}), stacking weight {row.weight:.2f}, "
            f"p_loo {row.p_loo:.1f}, elpd_waic {row.elpd_waic:.1f}, "
            + (
                "exact (no free parameters)"
                if row.exact
                else f"Pareto k > {threshold:.2f} on {row.n_high_k} trials"
            )
            + f"; best for {int(won.get(row.model, 0))} of {len(best)}"
        )
    entry["ranking"] = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        for row in ranked.to_dict("records")
    ]
    entry["participants_best"] = {r.model: int(won.get(r.model, 0)) for r in loos}
    return entry


def _participants(n: int) -> str:
    """``"1 participant"``, ``"2 participants"``."""
    return f"{n} participant{'s' * (n != 1)}"
