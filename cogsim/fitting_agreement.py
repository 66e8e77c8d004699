"""``cogsim fit --agreement N``: whether each participant's reported fit is the maximum that other random
starts reach too (:func:`cogsim.fit.start_agreement`, the reported fit as fit 0 and ``N - 1`` more fits).

Adds to ``models.parquet`` per participant and model ``agree_gap`` (the ``N`` fits' highest log-likelihood
minus their lowest), ``agree`` (``agree_gap <= TOL``) and ``below_best`` (the highest minus the reported
fit's: above ``TOL`` where another fit found a better maximum than the one reported); ``comparison.json``
gets an ``agreement`` entry with per-model counts.
"""

from __future__ import annotations

import time

import jax
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError

#: the random stream of the extra fits: fit i (1 ... N - 1) has key fold_in(fold_in(root, STREAM), i)
AGREEMENT_STREAM = 3
TOL = 0.1  # log-likelihood units: within this the fits reached the same maximum (start_agreement's default)
MIN_FITS, MAX_FITS = 2, 16  # each extra fit costs as much as the reported one


def columns(
    model, trials: pd.DataFrame, res, *, n_fits: int, n_starts: int, key: jax.Array, log, prior=None
) -> pd.DataFrame:
    """``res.summary`` with ``agree_gap``, ``agree`` and ``below_best`` added, from ``n_fits - 1`` more fits
    of ``model`` (keys as :data:`AGREEMENT_STREAM` says; under ``prior``, as ``res``) beside ``res`` (the
    reported fit, key ``key``)."""
    from cogsim import fit as fitlib

    t, c = time.perf_counter(), time.process_time()
    table = fitlib.start_agreement(
        model,
        trials,
        by=res.by,
        n_starts=n_starts,
        n_fits=n_fits,
        tol=TOL,
        key=jax.random.fold_in(key, AGREEMENT_STREAM),
        first=res,
        prior=prior,
    )
    values = table[[f"loglik_{i}" for i in range(n_fits)]].to_numpy(float)
    out = res.summary.copy()
    out["agree_gap"] = table["gap"].to_numpy(float)
    out["agree"] = table["agree"].to_numpy(bool)
    out["below_best"] = values.max(axis=1) - values[:, 0]
    n_dis, n_below = int((~out["agree"]).sum()), int((out["below_best"] > TOL).sum())
    whose = "participant's" if len(out) == 1 else "participants'"
    parts = [f"{model.name:<16} agreement: {len(out) - n_dis} of {len(out)} {whose} {n_fits} fits"]
    parts.append(f"within {TOL} (largest gap {out['agree_gap'].max():.2f})")
    if n_below:
        parts[-1] += f"; the reported fit below another's maximum on {n_below}"
    parts.append(f"({time.perf_counter() - t:.1f} s, CPU {time.process_time() - c:.1f} s)")
    log(" ".join(parts))
    return out


def entry(models_df: pd.DataFrame, n_fits: int) -> dict:
    """``comparison.json``'s ``agreement``: the settings and per model how many participants' fits disagree,
    the largest gap, and on how many the reported fit is below another fit's maximum."""
    per_model = {
        str(m): {
            "n_disagree": int((~g["agree"].to_numpy(bool)).sum()),
            "max_gap": float(np.max(g["agree_gap"])),
            "n_below_best": int((g["below_best"] > TOL).sum()),
            "n_units": len(g),
        }
        for m, g in models_df.groupby("model", sort=False)
    }
    return {"n_fits": n_fits, "tol": TOL, "stream": AGREEMENT_STREAM, "models": per_model}


def add_argument(p) -> None:
    """The ``--agreement`` option of ``cogsim fit``."""
    p.add_argument(
        "--agreement",
        type=int,
        default=None,
        metavar="N",
        help=f"fit each model N times in all ({MIN_FITS} to {MAX_FITS}), each with its own random starts, "
        "and report per participant whether the fits reach the same maximum (models.parquet agree_gap, "
        "agree, below_best; N times the fitting time; needs --starts 2 or more, as the extra starts are what "
        "differ between the fits; default: off)",
    )


def check(n: int | None, hierarchical: bool, n_starts: int = 2) -> int | None:
    """``--agreement``'s value, refused (one line) outside :data:`MIN_FITS`-:data:`MAX_FITS`, with
    ``--hierarchical``, or with ``--starts 1`` (every fit would start from the defaults alone and agree)."""
    if n is not None and (not MIN_FITS <= n <= MAX_FITS or hierarchical):
        with_h = " with --hierarchical" if hierarchical else ""
        raise CogsimError(
            f"fit --agreement: got {n}{with_h}; allowed: an integer from {MIN_FITS} to {MAX_FITS}, "
            "without --hierarchical"
        )
    if n is not None and n_starts < 2:
        raise CogsimError(
            f"fit --agreement: got {n} with --starts {n_starts}; allowed: --starts 2 or more (the extra "
            "starts are what differ between the fits; with one, every fit starts from the defaults)"
        )
    return n
