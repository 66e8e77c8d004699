"""The book-cover scenario's figure: scanpaths drawn on the collage grid, TFP curves, SS and behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cogsim import _compare_scanpath as cs
from cogsim.scenarios import _scanpath_methods as sm
from cogsim.scenarios._book_cover_data import N_COLS, N_ROWS, ROW_PITCH

#: published reference lines (the OAT paper's 100 book-cover collages, whatever data is evaluated)
PUBLISHED = {"human_ss_all": 0.204, "random_ss_all": 0.059}


def draw_scanpath(
    ax,
    path: list[int],
    *,
    n_cols: int = N_COLS,
    row_pitch: float = ROW_PITCH,
    color="C0",
    label: str | None = None,
    offset: float = 0.0,
):
    """Draws one object scanpath on a grid axes (cell centres, numbered arrows)."""
    if not path:
        return ax
    p = np.asarray(path)
    x = p % n_cols + offset
    y = (p // n_cols) * row_pitch + offset
    ax.plot(x, y, "-", color=color, lw=1.2, alpha=0.8, label=label)
    ax.scatter(x, y, s=18, color=color, zorder=3)
    ax.scatter(x[:1], y[:1], s=60, facecolor="white", edgecolor=color, zorder=4)
    return ax


def draw_grid(ax, target: int, *, n_rows: int = N_ROWS, n_cols: int = N_COLS, row_pitch: float = ROW_PITCH):
    """The grid of covers with the target cell outlined."""
    import matplotlib.patches as mpatches

    for o in range(n_rows * n_cols):
        r, c = divmod(o, n_cols)
        is_t = o == target
        ax.add_patch(
            mpatches.Rectangle(
                (c - 0.42, r * row_pitch - 0.6),
                0.84,
                1.2,
                facecolor="#fde0a0" if is_t else "#eeeeee",
                edgecolor="#c07000" if is_t else "#cccccc",
                lw=1.5 if is_t else 0.5,
            )
        )
    ax.set_xlim(-0.7, n_cols - 0.3)
    ax.set_ylim((n_rows - 1) * row_pitch + 0.9, -0.9)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def figure(sim: pd.DataFrame, human: pd.DataFrame, res: dict[str, dict]):
    """Example scanpaths on the first evaluation collage, the TFP curves, the Sequence Score and the
    fixation-type ratios by method (``res``: the scenario's per-method scores)."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 7.5))
    gs = fig.add_gridspec(2, 3)
    ref = sim[sim.method == "human"] if (sim.method == "human").any() else human
    trial = int(sorted(ref.trial.unique())[0])
    target = int(ref[ref.trial == trial].target_object_id.iloc[0])
    hum = sm.groups(ref[ref.trial == trial], "trial")[trial]

    def first(method):
        return sm.groups(sim[(sim.method == method) & (sim.trial == trial)], "trial").get(trial, [[]])[0]

    panels = [
        (
            f"collage {trial}: two human scanpaths",
            [("human s1", hum[0], "black"), ("human s2", hum[1 % len(hum)], "C3")],
        ),
        (
            f"collage {trial}: OAT greedy and one sample",
            [("OAT greedy", first("oat_greedy"), "C0"), ("OAT sample", first("oat_sampled"), "C2")],
        ),
    ]
    for j, (title, paths) in enumerate(panels):
        a = fig.add_subplot(gs[0, j])
        draw_grid(a, target)
        for k, (lab, p, col) in enumerate(paths):
            draw_scanpath(a, p, color=col, label=f"{lab} ({len(p)} fix.)", offset=0.12 * (k - 0.5))
        a.set_title(title, fontsize=9)
        a.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    a = fig.add_subplot(gs[0, 2])
    for m, r in res.items():
        k = np.arange(1, len(r["scores"].tfp) + 1)
        style = {"color": "black", "lw": 2.5} if m == "human" else {"lw": 1.2}
        a.plot(k, r["scores"].tfp, label=m, **style)
    a.set_xlabel("fixation k")
    a.set_ylabel("P(target fixated by k)")
    a.set_title("target-fixation probability (TFP)", fontsize=9)
    a.legend(fontsize=7, frameon=False)
    a = fig.add_subplot(gs[1, :2])
    names = list(res)
    ss = [res[m]["scores"].sequence_score for m in names]
    a.bar(
        names, ss, color=["black" if m == "human" else "C0" if m.startswith("oat") else "C7" for m in names]
    )
    a.axhline(
        PUBLISHED["human_ss_all"],
        color="black",
        ls="--",
        lw=0.8,
        label="published human ceiling, 100 collages (0.204)",
    )
    a.axhline(
        PUBLISHED["random_ss_all"],
        color="grey",
        ls=":",
        lw=0.8,
        label="published random floor, 100 collages (0.059)",
    )
    a.set_ylabel("Sequence Score vs humans")
    a.set_title("object-level Sequence Score on the evaluation collages", fontsize=9)
    a.tick_params(axis="x", labelsize=8)
    a.set_ylim(0, max(0.23, max(ss) * 1.1))
    a.legend(fontsize=7, frameon=False, loc="upper left")
    a = fig.add_subplot(gs[1, 2])
    keys = cs.BEHAVIOUR_KEYS[2:]
    width = 0.8 / max(len(names), 1)
    for i, m in enumerate(names):
        b = res[m]["scores"].behaviour
        a.bar(
            np.arange(len(keys)) + i * width,
            [b[k] for k in keys],
            width,
            label=m,
            color="black" if m == "human" else None,
        )
    a.set_xticks(np.arange(len(keys)) + 0.4 - width / 2)
    a.set_xticklabels(keys)
    a.set_title("fixation types (behaviour vector)", fontsize=9)
    a.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig
