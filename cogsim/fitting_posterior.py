"""``cogsim fit --sample N``: every chosen model's posterior per participant by HMC
(:func:`cogsim.fit.sample`) beside its fit, under the priors of ``--prior`` (:mod:`cogsim.fitting_priors`)
and uniform priors over the bounds of the parameters without one (a model with a parameter that has neither
a prior nor two finite bounds is refused: e.g. the visual-search models' rates and scales need ``--prior``).

Writes ``posterior.parquet`` (per participant, set size and parameter: the posterior median as
``estimate``, the 95 % equal-tailed credible interval, ``mean``, ``sd``, ``rhat``, ``ess_bulk``) and
``posterior_summary.parquet`` (per participant: ``max_rhat``, ``min_ess``, ``divergences``, ``accept_rate``,
``converged``); ``comparison.json`` gets a ``posterior`` entry with per-model counts.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import pandas as pd

from cogsim.errors import CogsimError

#: the sampler's random stream: fold_in(root key, POSTERIOR_STREAM), the same for every model
POSTERIOR_STREAM = 4
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
        "posterior.parquet and posterior_summary.parquet (default: off)",
    )


def check(n: int | None, chosen: dict, priors: dict | None = None) -> int | None:
    """``--sample``'s value, refused (one line) outside :data:`MIN_SAMPLES`-:data:`MAX_SAMPLES` or where a
    chosen model has a parameter without two finite bounds and without a prior in ``priors`` (model name ->
    {parameter -> density})."""
    if n is None:
        return None
    if not MIN_SAMPLES <= n <= MAX_SAMPLES:
        raise CogsimError(f"fit --sample: got {n}; allowed: an integer from {MIN_SAMPLES} to {MAX_SAMPLES}")
    from cogsim.fit._sample import needs_prior

    for name, model in chosen.items():
        given = (priors or {}).get(name, {})
        for p in (p for p in model.params if p.name in needs_prior(model) and p.name not in given):
            raise CogsimError(
                f"fit --sample: model {name!r} parameter {p.name!r} has bounds ({p.low}, {p.high}) and no "
                f"prior; allowed: a prior for it, e.g. --prior '{name}.{p.name}=lognormal(0, 1)' (a uniform "
                "prior needs two finite bounds)"
            )
    return n


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
):
    """Samples every model in ``chosen`` with parameters (under ``priors``: model name -> {parameter ->
    density}); writes the two tables into ``folder`` and the ``posterior`` entry into ``comp``."""
    from cogsim import fit as fitlib
    from cogsim import store

    estimates, summaries, per_model, per_model_prior = [], [], {}, {}
    for name, model in chosen.items():
        if not model.params:
            continue
        t, c = time.perf_counter(), time.process_time()
        res = fitlib.sample(
            model,
            trials,
            by=by,
            n_warmup=n,
            n_samples=n,
            prior=(priors or {}).get(name),
            key=jax.random.fold_in(key, POSTERIOR_STREAM),
        )
        per_model_prior[name] = res.settings["prior"]
        estimates.append(res.estimates)
        summaries.append(res.summary)
        s = res.summary
        per_model[name] = {
            "n_participants": len(s),
            "n_converged": int(s["converged"].sum()),
            "max_rhat": float(s["max_rhat"].max()),
            "min_ess": float(s["min_ess"].min()),
            "divergences": int(s["divergences"].sum()),
        }
        log(
            f"{name:<16} posterior: {per_model[name]['n_converged']} of {len(s)} participants converged "
            f"(largest R-hat {s['max_rhat'].max():.3f}, smallest ESS {s['min_ess'].min():.0f}, "
            f"{per_model[name]['divergences']} divergences; {time.perf_counter() - t:.1f} s, "
            f"CPU {time.process_time() - c:.1f} s)"
        )
    comp["posterior"] = {
        "sampler": "HMC (cogsim.fit.sample)",
        "n_chains": 4,
        "n_warmup": n,
        "n_samples": n,
        "prior": per_model_prior,
        "stream": POSTERIOR_STREAM,
        "models": per_model,
    }
    if estimates:
        store.atomic_write_parquet(folder / "posterior.parquet", pd.concat(estimates, ignore_index=True))
        store.atomic_write_parquet(
            folder / "posterior_summary.parquet", pd.concat(summaries, ignore_index=True)
        )
