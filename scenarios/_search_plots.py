"""Figures shared by the visual-search scenarios (visual_search_asymmetry, developmental_diet): RT by set size
per experiment, model against humans, and grouped bars of asymmetry indices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim.tasks import search_displays as sd


def rt_panels(sim: pd.DataFrame, human: pd.DataFrame, axes, *, model: str = "eccNET", title_extra: str = ""):
    """RT by set size per experiment (human solid, model dashed) on the given axes."""
    from cogsim import plots

    rts = cmp.search_rt_table(sim[sim["model"] == model])
    for ax, e in zip(axes, sorted(rts["experiment"].unique()), strict=False):
        h = human[human["experiment"] == e]
        m = rts[rts["experiment"] == e].assign(
            lo=lambda d: d.rt_ms - d.sem_ms, hi=lambda d: d.rt_ms + d.sem_ms
        )
        plots.model_vs_human(
            m,
            h,
            x="set_size",
            y="rt_ms",
            hue="condition",
            yerr_low="lo",
            yerr_high="hi",
            ax=ax,
            title=f"Exp {e}: {sd.EXPERIMENTS[e].name}{title_extra}",
            xlabel="set size",
            ylabel="RT (ms)",
        )


def index_bars(ax, exps, bars: dict[str, list], title: str) -> None:
    """Grouped bars of asymmetry indices per experiment (``bars``: label -> one value per experiment; the
    label "human" is drawn black)."""
    width = 0.8 / len(bars)
    for i, (label, values) in enumerate(bars.items()):
        x = np.arange(len(exps)) - 0.4 + width * (i + 0.5)
        ax.bar(x, values, width, label=label, color="black" if label == "human" else None)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(np.arange(len(exps)), [f"Exp {e}" for e in exps])
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("asymmetry index")
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)
