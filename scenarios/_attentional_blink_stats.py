"""Report-rate statistics of attentional_blink: Wilson intervals, pooled differences, window-edge CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cogsim.scenarios import _attentional_blink_fit as abfit


def deficit_lags(sim: pd.DataFrame, margin: float) -> pd.DataFrame:
    """Lags whose experimental P(T2 | T1) lies more than ``margin`` below the control's P(T2)."""
    e = sim[sim.condition == "experimental"].set_index("lag")
    c = sim[sim.condition == "control"].set_index("lag")
    drop = c.t2_given_t1 - e.t2_given_t1
    return pd.DataFrame(
        {"lag": drop.index, "delay_ms": e.delay_ms, "drop": drop.values, "deficit": (drop > margin).values}
    ).reset_index(drop=True)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of ``k`` successes in ``n`` trials (NaN when ``n`` is 0)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return float(mid - half), float(mid + half)


def pooled_drop(
    sim: pd.DataFrame, hi: tuple[str, list[int]], lo: tuple[str, list[int]]
) -> tuple[float, float, float]:
    """P(T2) of ``hi`` (condition, lags pooled) minus that of ``lo``, with a 95 % Wald CI.

    Experimental rows count trials with T1 reported (``n_t1``), as ``t2_given_t1`` does.
    """

    def pooled(cond, lags):
        d = sim[(sim.condition == cond) & sim.lag.isin(lags)]
        n = float(d.n_t1.sum())
        return (float((d.t2_given_t1 * d.n_t1).sum()) / n if n else np.nan), n

    p1, n1 = pooled(*hi)
    p2, n2 = pooled(*lo)
    diff = p1 - p2
    half = 1.96 * np.sqrt(p1 * (1 - p1) / max(n1, 1) + p2 * (1 - p2) / max(n2, 1))
    return float(diff), float(diff - half), float(diff + half)


def edges_ci(
    sim: pd.DataFrame, margin: float, *, n_boot: int = 1000, seed: int = 0
) -> tuple[tuple[float, float], tuple[tuple[float, float], tuple[float, float]]]:
    """Onset and end of the deficit window with 95 % percentile CIs, resampling trials within each lag
    and condition (binomial on the counts of the rows)."""
    e = sim[sim.condition == "experimental"].sort_values("lag")
    c = sim[sim.condition == "control"].sort_values("lag")
    delays = e.delay_ms.to_numpy()
    point = abfit.window_edges(delays, c.t2_given_t1.to_numpy() - e.t2_given_t1.to_numpy(), margin)
    rng = np.random.default_rng(seed)
    ne, nc = e.n_t1.to_numpy().astype(int), c.n_t1.to_numpy().astype(int)
    pe = rng.binomial(ne, e.t2_given_t1.fillna(0).to_numpy(), (n_boot, len(ne))) / np.maximum(ne, 1)
    pc = rng.binomial(nc, c.t2_given_t1.fillna(0).to_numpy(), (n_boot, len(nc))) / np.maximum(nc, 1)
    edges = np.array([abfit.window_edges(delays, row, margin) for row in pc - pe])

    def ci(col):
        v = edges[:, col]
        if np.isnan(v).any():  # a resample without any deficit: no window to place
            return (float("nan"), float("nan"))
        q = np.quantile(v, [0.025, 0.975], method="inverted_cdf")  # +-inf: crossing outside the lags run
        return (float(q[0]), float(q[1]))

    return point, (ci(0), ci(1))
