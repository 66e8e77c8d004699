"""The synthetic shelf-search figure: one display with scanpaths, length by similar distractors, and the
share of distractor fixations on similar ones."""

from __future__ import annotations

import pandas as pd

from cogsim.scenarios._shelf_displays import COLOURS, SHAPES

_MARKERS = {"square": "s", "disc": "o", "triangle": "^", "cross": "P", "bar": "_"}


def figure(sim: pd.DataFrame, eff: pd.DataFrame):
    """An example display with searcher and OAT scanpaths; length by similar distractors; similar share
    (``eff``: the scenario's effects table)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    ref = sim[sim.method == "searcher"]
    d0 = int(ref[ref.n_similar == ref.n_similar.max()].display.min())
    layout = sim[(sim.method == "layout") & (sim.display == d0)]
    g = sim[sim.display == d0]
    a = axes[0]
    for _, r in layout.iterrows():
        is_t = r.object_id == r.target_object_id
        a.scatter(
            r.object_col,
            r.object_row,
            s=260 if is_t else 150,
            marker=_MARKERS[SHAPES[r["shape"]]],
            color=COLOURS[r.colour],
            edgecolor="black" if is_t else "none",
            linewidth=2.0,
            zorder=2,
        )
        if r.similarity == 0.5:
            a.scatter(r.object_col, r.object_row, s=420, facecolor="none", edgecolor="#999", lw=0.8, zorder=1)
    for k, (m, color) in enumerate([("searcher", "black"), ("oat_cnn", "C0"), ("oat_none", "C1")]):
        sub = g[(g.method == m) & (g["sample"] == 0)].sort_values("fixation_index")
        if len(sub):
            off = 0.08 * (k - 1)
            a.plot(
                sub.object_col + off,
                sub.object_row + off,
                "-",
                color=color,
                lw=1.2,
                zorder=3,
                label=f"{m} ({len(sub)} fix.)",
            )
            a.scatter(
                sub.object_col.iloc[:1] + off, sub.object_row.iloc[:1] + off, s=30, color=color, zorder=4
            )
    n_rows, n_cols = int(sim.object_row.max()) + 1, int(sim.object_col.max()) + 1
    a.set_xlim(-0.7, n_cols - 0.3)
    a.set_ylim(n_rows - 0.3, -0.7)
    a.set_aspect("equal")
    a.set_xticks([])
    a.set_yticks([])
    a.set_title(f"display {d0}: target outlined black, similar distractors ringed", fontsize=9)
    a.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, -0.28), ncol=3, frameon=False)
    a = axes[1]
    for m in ("oat_cnn", "oat_none", "random", "searcher"):  # the layout walks are much longer
        grp = sim[sim.method == m]
        if not len(grp):
            continue
        per = grp.groupby(["display", "sample"]).agg(n=("object_id", "size"), k=("n_similar", "first"))
        mean = per.groupby("k").n.mean()
        style = {"color": "black", "lw": 2.2} if m == "searcher" else {"ls": ":" if m == "random" else "-"}
        a.plot(mean.index, mean.values, marker="o", label=m, **style)
    a.set_xlabel("target-similar distractors")
    a.set_ylabel("scanpath length (fixations)")
    a.set_title("search length by similar distractors", fontsize=9)
    a.legend(fontsize=7, frameon=False)
    a = axes[2]
    a.bar(eff.method, eff.similar_share, color=["black" if m == "searcher" else "C0" for m in eff.method])
    a.scatter(eff.method, eff.chance_share, marker="_", s=400, color="red", label="chance", zorder=3)
    a.set_ylabel("share of distractor fixations on similar ones")
    a.set_title("fixations on target-similar distractors", fontsize=9)
    a.tick_params(axis="x", labelrotation=30, labelsize=8)
    a.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
