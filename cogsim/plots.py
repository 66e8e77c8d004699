"""Standard figures: model vs human panels.

Each function takes tidy DataFrames and ``ax=`` and returns the Axes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from cogsim.errors import CogsimError  # noqa: E402

HUMAN_STYLE = {"marker": "o", "linestyle": "-", "color": "black"}
MODEL_STYLE = {"marker": "s", "linestyle": "--"}


def _ax(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))
    return ax


def _check_columns(df: pd.DataFrame, names: dict[str, str | None], which: str) -> None:
    """A CogsimError naming each argument whose column is missing from ``df`` (``which``: model or human)."""
    for arg, col in names.items():
        if col is not None and col not in df.columns:
            raise CogsimError(
                f"plots: {arg}={col!r} is not a column of the {which} data; allowed: {list(df.columns)}"
            )


def _check_hue(df: pd.DataFrame, hue: str, which: str) -> None:
    if df[hue].isna().any():
        raise CogsimError(
            f"plots: hue={hue!r}: {int(df[hue].isna().sum())} row(s) of the {which} data have none (NaN); "
            "allowed: a value in every row (fill them with a group name of their own, or drop them)"
        )


def _sorted_by(df: pd.DataFrame, x: str, which: str) -> pd.DataFrame:
    try:
        return df.sort_values(x)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in df[x]})
        raise CogsimError(
            f"plots: x={x!r}: the {which} data mix value types ({', '.join(kinds)}); allowed: one type "
            "(numbers, or strings as categories)"
        ) from None


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

    Every ``hue`` group of either table is drawn (a group only the model has gets its model line alone, and
    the other way round); a row without a ``hue`` value is refused. A model interval is drawn with its actual
    bounds, also when it does not contain the point (a percentile bootstrap interval may not).

    Args:
      model: tidy model results with columns ``x``, ``y`` (and ``hue``, CI columns).
      human: tidy human data with the same columns.
      yerr_low / yerr_high: model CI bound columns, drawn as error bars.
      human_yerr: a symmetric error column for the human data (e.g. SEM).

    Raises:
      CogsimError: a named column missing from the table that needs it, a NaN ``hue`` value, or ``x``
        values of mixed types.

    Example:
      >>> import pandas as pd
      >>> d = pd.DataFrame({"n": [2, 5, 8], "acc": [0.95, 0.8, 0.7]})
      >>> ax = model_vs_human(d, d, x="n", y="acc")
    """
    if (yerr_low is None) != (yerr_high is None):
        raise CogsimError(
            f"plots: yerr_low={yerr_low!r}, yerr_high={yerr_high!r}; allowed: both bound columns or neither"
        )
    _check_columns(model, {"x": x, "y": y, "hue": hue, "yerr_low": yerr_low, "yerr_high": yerr_high}, "model")
    _check_columns(human, {"x": x, "y": y, "hue": hue, "human_yerr": human_yerr}, "human")
    ax = _ax(ax)
    if hue:
        _check_hue(model, hue, "model")
        _check_hue(human, hue, "human")
    groups_h = dict(list(human.groupby(hue, sort=True))) if hue else {None: human}
    groups_m = dict(list(model.groupby(hue, sort=True))) if hue else {None: model}
    keys = list(dict.fromkeys([*groups_h, *groups_m]))
    with contextlib.suppress(TypeError):
        keys = sorted(keys)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, g in enumerate(keys):
        c = colors[i % len(colors)]
        lab = "" if g is None else f"{hue}={g}"
        hd = groups_h.get(g)
        if hd is not None and len(hd):
            hd = _sorted_by(hd, x, "human")
            err = hd[human_yerr] if human_yerr else None
            label = f"human {lab}".strip()
            ax.errorbar(hd[x], hd[y], yerr=err, color=c, marker="o", linestyle="-", label=label)
        md = groups_m.get(g)
        if md is not None and len(md):
            md = _sorted_by(md, x, "model")
            label = f"model {lab}".strip()
            ax.plot(md[x], md[y], color=c, marker="s", linestyle="--", mfc="white", label=label)
            if yerr_low:
                ax.vlines(md[x], md[yerr_low], md[yerr_high], color=c)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)
    return ax


def panels(n: int, *, ncols: int = 3, size: tuple[float, float] = (4.0, 3.2)):
    """A figure with ``n`` axes in a grid (extra axes hidden); returns ``(fig, axes)``.

    Example:
      >>> fig, axes = panels(4, ncols=3)
      >>> len(axes), axes[0].get_subplotspec().get_gridspec().get_geometry()
      (4, (2, 3))
    """
    for name, value in (("n", n), ("ncols", ncols)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CogsimError(f"plots: panels: {name}={value!r}; allowed: an integer >= 1")
    nrows = (n + ncols - 1) // ncols
    ncols = min(n, ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    flat = axes.ravel()
    for a in flat[n:]:
        a.set_visible(False)
    return fig, list(flat[:n])


def curve(df: pd.DataFrame, *, x: str, ys: str | Sequence[str], ax=None, title: str | None = None, **kw):
    """Several columns of ``df`` against ``x`` (e.g. learning curves); ``ys`` is one column name or a list.

    Example:
      >>> import pandas as pd
      >>> d = pd.DataFrame({"step": [0, 1, 2], "loss": [1.0, 0.5, 0.2], "acc": [0.3, 0.6, 0.9]})
      >>> [line.get_label() for line in curve(d, x="step", ys=["loss", "acc"]).get_lines()]
      ['loss', 'acc']
    """
    ys = [ys] if isinstance(ys, str) else list(ys)
    _check_columns(df, {"x": x} | {f"ys[{i}]": y for i, y in enumerate(ys)}, "curve")
    ax = _ax(ax)
    for y in ys:
        ax.plot(df[x], df[y], label=y, **kw)
    ax.set_xlabel(x)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)
    return ax
