"""``cogsim fit --ppc N``: posterior (plug-in) predictive checks. Each model simulates ``N`` copies of the
data at its estimates (:func:`cogsim.fit.predictive`) and the paradigm's summaries of the data are set
beside the copies' (``predictive.parquet``, ``predictive.png`` and, in ``comparison.json``,
``predictive``: per model the fraction of summaries inside their 95 % band).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from cogsim.errors import CogsimError

PPC_LEVEL = 0.95  # the predictive checks' band
#: fewer copies than this give no band with 2.5 % of them beyond each end: the printed line says so
MIN_BAND_COPIES = 40
#: the predictive checks' random stream: fold_in(root key, PPC_STREAM), the same for every model (common
#: random numbers; a model's copies do not depend on which other models are fitted or their order)
PPC_STREAM = 0x707063


def add_argument(p) -> None:
    """The ``--ppc`` option of ``cogsim fit``."""
    p.add_argument(
        "--ppc",
        type=int,
        default=None,
        metavar="N",
        help="posterior (plug-in) predictive checks: N simulated copies of the data per model at its "
        "estimates; writes predictive.parquet and predictive.png (default: off)",
    )


def check(ppc: int | None, par, trials: pd.DataFrame) -> None:
    """Refuses (one line) ``--ppc`` for a paradigm without summaries, or copies that would not fit in
    memory, before anything is fitted."""
    if ppc is None:
        return
    if getattr(par, "summarize", None) is None:
        raise CogsimError(f"fit --ppc: paradigm {par.name!r} declares no summaries; allowed: no --ppc")
    check_memory(ppc, trials)


def check_memory(ppc: int, trials: pd.DataFrame) -> None:
    """Refuses ``--ppc`` copies whose table would not fit in memory (one row per trial and copy, the data's
    columns plus the copy number and the model's draws, 8 bytes each), before anything is fitted."""
    from cogsim import _memory

    avail, source = _memory.available_bytes()
    per_copy = len(trials) * 8 * (len(trials.columns) + 2)
    if avail is not None and ppc * per_copy > avail:
        need, have = _memory.format_bytes(ppc * per_copy), _memory.format_bytes(avail)
        raise CogsimError(
            f"fit --ppc: got {ppc}; the simulated copies need about {need}, {have} available ({source}); "
            f"allowed: at most {avail // per_copy}"
        )


def one_model(par, model, res, trials, n_sims: int, key, log) -> pd.DataFrame:
    """One model's predictive check: ``n_sims`` copies (key ``key``), the paradigm's summaries of
    the data and of the copies side by side (:func:`cogsim.fit.predictive_check`), a ``model`` column
    first."""

    from cogsim import fit as fitlib

    t, c = time.perf_counter(), time.process_time()
    extra = set(trials.attrs.get("extra_columns", ())) - set(res.by)
    data = trials[[col for col in trials.columns if col not in extra]]  # copies without the file's extras
    data.attrs = dict(trials.attrs)
    sims = fitlib.predictive(model, res, data, n_sims=n_sims, key=key)
    check = fitlib.predictive_check(
        par.summarize(trials, res.by), par.summarize(sims, res.by), level=PPC_LEVEL
    )
    check.insert(0, "model", model.name)
    log(
        f"{model.name:<16} predictive: {fitlib.inside_fraction(check):.3f} of {len(check)} summaries inside "
        f"the {PPC_LEVEL:.0%} band of {n_sims} copies ({time.perf_counter() - t:.1f} s, CPU "
        f"{time.process_time() - c:.1f} s)"
        + (
            f"; fewer than {MIN_BAND_COPIES} copies: the band spans nearly all of them, not a "
            f"{PPC_LEVEL:.0%} band"
            if n_sims < MIN_BAND_COPIES
            else ""
        )
    )
    return check


def figure(check: pd.DataFrame, path: Path) -> None:
    """One row per model, one panel per statistic: the observed summaries (points) beside the simulated
    copies' mean (line) and band (shaded), against the bin centre or quantile level where the statistic
    has one, else the set size; one colour per remaining condition (set size, target present, ...)."""
    from cogsim import plots
    from cogsim.fit._predictive import CHECK_COLUMNS

    models = list(dict.fromkeys(check["model"]))
    stats = list(dict.fromkeys(check["statistic"]))
    fig, axes = plots.panels(len(models) * len(stats), ncols=len(stats), size=(4.0, 3.0))
    skip = {"model", "statistic", "point", *CHECK_COLUMNS}
    for r, m in enumerate(models):
        for j, st in enumerate(stats):
            ax, d = axes[r * len(stats) + j], check[(check["model"] == m) & (check["statistic"] == st)]
            has_point = d["point"].notna().any()
            x = "point" if has_point else "set_size"
            series = [c for c in d.columns if c not in skip and c != x]
            groups = d.groupby(series, dropna=False, sort=True) if series else [((), d)]
            for label, g in groups:
                g = g.sort_values(x)
                if len(g) > 1:
                    line = ax.plot(g[x], g["sim_mean"], "-", lw=1)[0]
                    ax.fill_between(g[x], g["ci_low"], g["ci_high"], color=line.get_color(), alpha=0.2, lw=0)
                else:  # one x: a line or a band of no width would not show; the mean and band as a bar
                    lo, hi = g["sim_mean"] - g["ci_low"], g["ci_high"] - g["sim_mean"]
                    line = ax.errorbar(g[x], g["sim_mean"], yerr=[lo, hi], fmt="_", ms=10, capsize=3)[0]
                name = ", ".join(f"{c}={v}" for c, v in zip(series, np.atleast_1d(label), strict=False))
                ax.plot(g[x], g["observed"], "o", ms=3, color=line.get_color(), label=name or None)
            inside = d["inside"].mean()
            ax.set_title(f"{m}: {st} ({inside:.0%} inside)", fontsize=9)
            ax.set_xlabel("bin centre / quantile" if has_point else "set size", fontsize=8)
            if series and r == 0:
                ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)


def write(checks: list[pd.DataFrame], n_sims: int, folder: Path, comp: dict) -> None:
    """Writes ``predictive.parquet`` and ``predictive.png`` from the models' checks and adds the
    ``predictive`` entry to ``comp``."""
    from cogsim import fit as fitlib
    from cogsim import store

    check_df = pd.concat(checks, ignore_index=True)
    comp["predictive"] = {
        "n_sims": n_sims,
        "level": PPC_LEVEL,
        "models": {
            m: {"inside_fraction": fitlib.inside_fraction(g), "n_summaries": len(g)}
            for m, g in check_df.groupby("model", sort=False)
        },
    }
    store.atomic_write_parquet(folder / "predictive.parquet", check_df)
    figure(check_df, folder / "predictive.png")
