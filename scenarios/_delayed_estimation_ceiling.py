"""The delayed-estimation scenario's noise ceiling: quantiles of the absolute error per participant and set
size, from the data (all trials, odd and even halves) and from each fitted model's simulated copies.

The definition (quantile levels, the minimum trials per half, the number of simulated copies, the rounding to
the response wheel's grid) is declared in docs/scenarios/delayed_estimation.md, "Noise ceiling".
"""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd

from cogsim import compare as cmp

#: quantile levels of |error| summarising one cell (participant x set size)
LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: cells with fewer trials in either half are left out of both MADs
MIN_HALF = 10
#: simulated copies of the data behind a model's quantiles
N_SIMS = 20
#: independent sets of ``N_SIMS`` copies; a participant's model deviation is its mean over the sets
N_COPY_SETS = 5
#: tolerance (rad) within which every error must lie on a grid for the simulated errors to be rounded to it
GRID_TOL = 1e-4
#: the smallest grid step taken for a response grid (rad): below it the tolerance test cannot fail
MIN_STEP = 1e-3
_CELL = ["unit", "set_size"]


def grid_step(errors: np.ndarray) -> float | None:
    """The response grid of a data set's errors: the smallest gap between its distinct values when it is
    above ``MIN_STEP`` and every error is a multiple of it (within ``GRID_TOL``), else None (continuous
    responses).

    Example:
      >>> round(grid_step(np.deg2rad([-4.0, 0.0, 2.0, 10.0, 180.0])), 6)
      0.034907
      >>> grid_step(np.array([0.1, 0.25, 0.7])) is None
      True
    """
    u = np.unique(np.round(np.asarray(errors, float), 9))
    gaps = np.diff(u)
    gaps = gaps[gaps > 1e-9]
    if not len(gaps):
        return None
    d = float(gaps.min())
    if d <= MIN_STEP:  # a gap this small passes the tolerance whatever the values: continuous responses
        return None
    off = np.abs(u / d - np.round(u / d)) * d
    return d if bool(np.all(off <= GRID_TOL)) else None


def _quantiles(frame: pd.DataFrame, value: np.ndarray) -> pd.DataFrame:
    """``unit, set_size, x (level), estimate, n_trials`` of ``value`` per cell of ``frame``."""
    g = frame[_CELL].assign(v=value).groupby(_CELL, sort=True).v
    q = g.quantile(list(LEVELS)).rename("estimate").reset_index().rename(columns={"level_2": "x"})
    return q.merge(g.size().rename("n_trials").reset_index(), on=_CELL)


def data_quantiles(df: pd.DataFrame) -> pd.DataFrame:
    """The data's quantiles of |error| per cell (``df`` has a ``unit`` column): all trials, and the odd and
    even trials in file order (column ``half``: ``all``, ``odd``, ``even``); ``model`` is ``data``."""
    a = np.abs(df.error_rad.to_numpy(float))
    half = df.groupby(_CELL, sort=False).cumcount().to_numpy() % 2
    parts = [_quantiles(df, a).assign(half="all")]
    for h, name in ((0, "odd"), (1, "even")):  # the 1st, 3rd, ... trial is odd
        parts.append(_quantiles(df[half == h], a[half == h]).assign(half=name))
    return pd.concat(parts, ignore_index=True).assign(model="data")


def model_quantiles(
    model, result, df: pd.DataFrame, unit: pd.Series, *, step: float | None, key: jax.Array
) -> pd.DataFrame:
    """A fitted model's quantiles of |error| per cell, from ``N_SIMS`` simulated copies of the data pooled
    (``cogsim.fit.predictive``, plug-in), the simulated errors rounded to the data's grid ``step`` first when
    there is one; ``unit`` labels the rows of ``df``. ``N_COPY_SETS`` independent sets of copies (column
    ``copy_set``): set 0 drawn with ``key``, set ``m`` with ``fold_in(key, m)``."""
    from cogsim import fit

    out = []
    for m in range(N_COPY_SETS):
        sims = fit.predictive(
            model, result, df, n_sims=N_SIMS, key=key if m == 0 else jax.random.fold_in(key, m)
        )
        e = sims.error_rad.to_numpy(float)
        if step is not None:
            e = np.round(e / step) * step
        a = np.minimum(np.abs(e), np.pi)
        cells = pd.DataFrame({"unit": np.tile(unit.to_numpy(), N_SIMS), "set_size": sims.set_size.to_numpy()})
        out.append(_quantiles(cells, a).assign(half="all", model=model.name, copy_set=m))
    return pd.concat(out, ignore_index=True)


def uniform_quantiles(df: pd.DataFrame) -> pd.DataFrame:
    """Uniform guessing's exact quantiles of |error| (``pi x level``) for every cell of ``df``."""
    cells = df.groupby(_CELL, sort=True).size().rename("n_trials").reset_index()
    q = cells.merge(pd.DataFrame({"x": LEVELS}), how="cross")
    return q.assign(estimate=np.pi * q.x, half="all", model="uniform")


class Ceiling:
    """Per participant sums of the split-half and model MADs over the cells both halves fill, for the
    bootstrap over participants (a ratio of sums is the ratio of the means over cells)."""

    def __init__(self, q: pd.DataFrame):
        halves = ["all", "odd", "even"]  # a half no cell has (one trial per cell: no "even") is all NaN
        d = q[q.model == "data"]
        data = d.pivot_table(index=[*_CELL, "x"], columns="half", values="estimate").reindex(columns=halves)
        n = d.pivot_table(index=[*_CELL, "x"], columns="half", values="n_trials").reindex(columns=halves)
        keep = (n["odd"] >= MIN_HALF) & (n["even"] >= MIN_HALF)
        data = data[keep.to_numpy()]
        self.units = np.array(sorted(data.index.get_level_values("unit").unique()))
        self.split = self._per_unit((data["odd"] - data["even"]).abs())
        self.data, self.q = data, q

    def _per_unit(self, dev: pd.Series) -> np.ndarray:
        return dev.groupby(level="unit").sum().reindex(self.units).to_numpy(float)

    def fraction(self, model: str, *, n_boot: int, level: float) -> tuple[float, float, float]:
        """``(estimate, low, high)``: split-half MAD / the model's MAD, participants resampled; where the
        model has several sets of simulated copies (``copy_set``), each participant's model deviation is
        its mean over the sets (less Monte Carlo error, and none of it shared by the participants)."""
        rows = self.q[self.q.model == model]
        sets = rows["copy_set"] if "copy_set" in rows else pd.Series(np.nan, index=rows.index)
        devs = []
        for s in sorted(sets.dropna().unique()) or [None]:
            m = (rows if s is None else rows[sets == s]).set_index([*_CELL, "x"]).estimate
            dev = (m.reindex(self.data.index) - self.data["all"]).abs()
            if not len(self.units) or dev.isna().any():  # no cell fills both halves; a cell the model lacks
                return (np.nan, np.nan, np.nan)
            devs.append(self._per_unit(dev))
        per = np.stack([self.split, np.mean(devs, axis=0)], axis=1)
        if per[:, 1].sum() == 0:  # the model's quantiles equal the data's in every cell
            return (np.inf, np.inf, np.inf)

        def ratio(rows):
            s = rows.sum(0)
            return s[0] / s[1] if s[1] > 0 else np.inf

        return cmp.bootstrap_ci(per, ratio, n_boot=n_boot, level=level, seed=0)
