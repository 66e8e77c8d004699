"""The figure of attentional_blink: the model's lag curves with the published deficit window."""

from __future__ import annotations

import numpy as np
import pandas as pd


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """P(T2 | T1) by lag (experimental) and P(T2) (control) with the published deficit window shaded."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    h_start, h_end = float(human.window_start_ms.iloc[0]), float(human.window_end_ms.iloc[0])
    ax.axvspan(
        h_start,
        h_end,
        color="0.85",
        label=f"human deficit window {h_start:.0f}-{h_end:.0f} ms (published text, approx.;\n"
        "no per-lag human values packaged)",
    )
    for cname, style in (("experimental", "-o"), ("control", "--s")):
        d = sim[sim.condition == cname].sort_values("lag")
        lab = "model P(T2 | T1), report T1" if cname == "experimental" else "model P(T2), ignore T1 (control)"
        ax.errorbar(
            d.delay_ms,
            d.t2_given_t1,
            yerr=[d.t2_given_t1 - d.t2_low, d.t2_high - d.t2_given_t1],
            fmt=style,
            capsize=2,
            label=lab,
        )
    d = sim[sim.condition == "experimental"].sort_values("lag")
    ax.set_xticks(d.delay_ms)
    ax.set_xticklabels(
        [f"{lag:.0f}\n{ms:.0f}" for lag, ms in zip(d.lag, d.delay_ms, strict=True)], fontsize=7
    )
    ax.set_xlabel("T2 lag (items) / delay after T1 (ms)")
    ax.set_ylabel("T2 detection")
    ax.set_ylim(0, 1.05)
    title = "Attentional blink through a consolidating workspace"
    if "consolidation_low" in d and np.isfinite(d.consolidation_low.iloc[0]):
        title += (
            f"\nconsolidation fitted to the window end: {d.consolidation_ms.iloc[0]:.0f} ms "
            f"[{d.consolidation_low.iloc[0]:.0f}, {d.consolidation_high.iloc[0]:.0f}]"
        )
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    return ax.figure
