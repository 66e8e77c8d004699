"""Standard figures: model vs human panels.

Each function takes tidy DataFrames and ``ax=`` and returns the Axes.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

HUMAN_STYLE = {"marker": "o", "linestyle": "-", "color": "black"}
MODEL_STYLE = {"marker": "s", "linestyle": "--"}


def _ax(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))
    return ax


def model_vs_human(
    model: pd.DataFrame,
    human: pd.DataFrame,
    *,
    x: str,
    y: str,
    hue: str | None = None,
    yerr_low: str | None = None,
    yerr_high: str | None = None,
    human_yerr: str | None = None,
    ax=None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
):
    """Human points (solid, black markers) and model points (dashed) of ``y`` against ``x``, per ``hue``.

    Args:
      model: tidy model results with columns ``x``, ``y`` (and ``hue``, CI columns).
      human: tidy human data with the same columns.
      yerr_low / yerr_high: model CI bound columns, drawn as error bars.
      human_yerr: a symmetric error column for the human data (e.g. SEM).

    Example:
      >>> import pandas as pd
      >>> d = pd.DataFrame({"n": [2, 5, 8], "acc": [0.95, 0.8, 0.7]})
      >>> ax = model_vs_human(d, d, x="n", y="acc")
    """
    ax = _ax(ax)
    groups_h = human.groupby(hue, sort=True) if hue else [(None, human)]
    groups_m = dict(list(model.groupby(hue, sort=True))) if hue else {None: model}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (g, hd) in enumerate(groups_h):
        c = colors[i % len(colors)]
        lab = "" if g is None else f"{hue}={g}"
        hd = hd.sort_values(x)
        err = hd[human_yerr] if human_yerr and human_yerr in hd else None
        ax.errorbar(hd[x], hd[y], yerr=err, color=c, marker="o", linestyle="-", label=f"human {lab}".strip())
        md = groups_m.get(g)
        if md is not None and len(md):
            md = md.sort_values(x)
            err_m = None
            if yerr_low and yerr_high and yerr_low in md and yerr_high in md:
                err_m = [md[y] - md[yerr_low], md[yerr_high] - md[y]]
            ax.errorbar(
                md[x],
                md[y],
                yerr=err_m,
                color=c,
                marker="s",
                linestyle="--",
                mfc="white",
                label=f"model {lab}".strip(),
            )
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)
    return ax


def panels(n: int, *, ncols: int = 3, size: tuple[float, float] = (4.0, 3.2)):
    """A figure with ``n`` axes in a grid (extra axes hidden); returns ``(fig, axes)``."""
    nrows = (n + ncols - 1) // ncols
    ncols = min(n, ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    flat = axes.ravel()
    for a in flat[n:]:
        a.set_visible(False)
    return fig, list(flat[:n])


def curve(df: pd.DataFrame, *, x: str, ys: Sequence[str], ax=None, title: str | None = None, **kw):
    """Several columns of ``df`` against ``x`` (e.g. learning curves)."""
    ax = _ax(ax)
    for y in ys:
        ax.plot(df[x], df[y], label=y, **kw)
    ax.set_xlabel(x)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)
    return ax
