"""Measures of search RT data shared by humans and models: cell means, slopes, error rates, quantiles, and
split-half noise ceilings. Every function takes a trial table with ``task, subject, set_size, target_present,
correct, rt_ms`` (and ``experiment`` where the data have one: participants are then nested in it) and returns
a tidy table with one row per participant (``unit_columns``) and cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
UNIT = ["task", "subject"]
CELL = ["set_size", "target_present"]
MIN_CELL = 10  # correct trials per cell (per half) for a quantile comparison


def unit_columns(t: pd.DataFrame) -> list[str]:
    """The columns that identify a participant: ``task, subject``, nested in ``experiment`` where ``t`` has
    that column (subject 1 of experiment E1 and subject 1 of E2 are two participants).

    Example:
      >>> unit_columns(pd.DataFrame(columns=["task", "experiment", "subject"]))
      ['task', 'experiment', 'subject']
    """
    return ["task", "experiment", "subject"] if "experiment" in t.columns else list(UNIT)


def correct_rts(t: pd.DataFrame, rt_range: tuple[float, float]) -> pd.DataFrame:
    """Correct trials with an RT inside ``rt_range`` (ms)."""
    return t[(t.correct == 1) & t.rt_ms.between(*rt_range)]


def cell_stats(t: pd.DataFrame, rt_range) -> pd.DataFrame:
    """Per unit and cell: mean and SD of correct RT, error rate, trial count."""
    ok = correct_rts(t, rt_range)
    unit = unit_columns(t)
    rt = ok.groupby(unit + CELL).rt_ms.agg(mean_rt="mean", sd_rt="std", n_correct="size")
    err = t.groupby(unit + CELL).correct.agg(error_rate=lambda c: 1 - c.mean(), n="size")
    return rt.join(err, how="outer").reset_index()


def unit_slopes(cells: pd.DataFrame) -> pd.DataFrame:
    """Per unit and presence: least-squares slope (ms/item) of mean correct RT on set size."""
    rows = []
    keys = unit_columns(cells) + ["target_present"]
    for key, g in cells.dropna(subset=["mean_rt"]).groupby(keys):
        if g.set_size.nunique() >= 2:
            rows.append(
                {**dict(zip(keys, key, strict=True)), "slope": np.polyfit(g.set_size, g.mean_rt, 1)[0]}
            )
    return pd.DataFrame(rows, columns=[*keys, "slope"])  # none: one set size


def unit_quantiles(t: pd.DataFrame, rt_range) -> pd.DataFrame:
    """Per unit and cell: RT quantiles of correct trials (columns q10 ... q90) and the count."""
    ok = correct_rts(t, rt_range)
    g = ok.groupby(unit_columns(t) + CELL).rt_ms
    q = g.quantile(list(QUANTILES)).unstack()
    q.columns = [f"q{int(round(c * 100))}" for c in q.columns]
    return q.join(g.size().rename("n")).reset_index()


def quantile_mad(a: pd.DataFrame, b: pd.DataFrame, min_n: int = MIN_CELL) -> pd.Series:
    """Per unit: mean absolute difference (ms) between two quantile tables over shared cells with enough
    trials in both."""
    qs = [f"q{int(round(q * 100))}" for q in QUANTILES]
    unit = unit_columns(a)
    m = a.merge(b, on=unit + CELL, suffixes=("_a", "_b"))
    m = m[(m.n_a >= min_n) & (m.n_b >= min_n)]
    d = np.abs(m[[f"{q}_a" for q in qs]].to_numpy() - m[[f"{q}_b" for q in qs]].to_numpy()).mean(1)
    return pd.Series(d, index=pd.MultiIndex.from_frame(m[unit])).groupby(level=list(range(len(unit)))).mean()


def halves(t: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Odd and even trials (in file order) of every unit."""
    i = t.groupby(unit_columns(t)).cumcount()
    return t[i % 2 == 0], t[i % 2 == 1]


def split_half_mad(t: pd.DataFrame, rt_range) -> pd.Series:
    """Per unit: quantile MAD between the two halves of the unit's trials (the noise ceiling)."""
    a, b = halves(t)
    return quantile_mad(unit_quantiles(a, rt_range), unit_quantiles(b, rt_range))


def split_half_reliability(t: pd.DataFrame, rt_range) -> dict[str, float]:
    """Spearman-Brown corrected split-half correlation (over units x cells) of each measure."""
    ha, hb = halves(t)
    a, b = cell_stats(ha, rt_range), cell_stats(hb, rt_range)
    unit = unit_columns(t)
    m = a.merge(b, on=unit + CELL, suffixes=("_a", "_b"))
    out = {}
    for col in ("mean_rt", "sd_rt", "error_rate"):
        x, y = m[f"{col}_a"].to_numpy(float), m[f"{col}_b"].to_numpy(float)
        ok = np.isfinite(x) & np.isfinite(y)
        r = float(np.corrcoef(x[ok], y[ok])[0, 1]) if ok.sum() > 2 else np.nan
        out[col] = 2 * r / (1 + r) if np.isfinite(r) else np.nan
    sa, sb = unit_slopes(a), unit_slopes(b)
    s = sa.merge(sb, on=[*unit, "target_present"], suffixes=("_a", "_b"))
    r = float(np.corrcoef(s.slope_a, s.slope_b)[0, 1]) if len(s) > 2 else np.nan
    out["slope"] = 2 * r / (1 + r) if np.isfinite(r) else np.nan
    qa, qb = unit_quantiles(ha, rt_range), unit_quantiles(hb, rt_range)
    q = qa.merge(qb, on=unit + CELL, suffixes=("_a", "_b"))
    q = q[(q.n_a >= MIN_CELL) & (q.n_b >= MIN_CELL)]
    qs = [f"q{int(round(v * 100))}" for v in QUANTILES]
    x, y = q[[f"{c}_a" for c in qs]].to_numpy().ravel(), q[[f"{c}_b" for c in qs]].to_numpy().ravel()
    r = float(np.corrcoef(x, y)[0, 1]) if len(x) > 2 else np.nan
    out["quantiles"] = 2 * r / (1 + r) if np.isfinite(r) else np.nan
    return out
