"""The change-detection scenario's checks: contrasts with CIs over participant resamples.

The rules (thresholds, baselines, how each CI is formed) are declared in docs/scenarios/change_detection.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim.models import capacity
from cogsim.scenarios._change_detection_fits import _cells

#: participant resamples behind the checks' CIs, and the declared thresholds
N_RESAMPLES = 1000
K_TOLERANCE = 0.5
MAX_RMSE = 0.05
_DOCS = "docs/scenarios/change_detection.md (declared before the run)"


def split_halves(trials: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(k_a, n_a, k_b, n_b)``, each ``[participants, cells]`` in the order of
    ``capacity.counts_from_table(trials)``: the odd and the even trials of each participant's cell (in file
    order), for the split-half noise ceiling."""
    cell = [c for c in ("set_size", "base_rate", "change") if c in trials.columns]
    half = trials.groupby(["subject", *cell], sort=False).cumcount().to_numpy() % 2
    subjects = sorted(trials["subject"].unique())
    unit = trials["subject"].map({sub: i for i, sub in enumerate(subjects)}).to_numpy()
    units = unit * 2 + half  # one unit per participant and half
    both = capacity.counts_from_table(trials.assign(subject=units))
    present = np.unique(units)  # counts_from_table's row order (sorted); a half may be missing
    k, n = (np.zeros((len(subjects), 2, both.n.shape[1])) for _ in range(2))
    k[present // 2, present % 2], n[present // 2, present % 2] = both.k, both.n
    return k[:, 0], n[:, 0], k[:, 1], n[:, 1]


class Resamples:
    """Percentile-bootstrap resamples of the participants (seed 0, the same draws for every statistic)."""

    def __init__(self, counts: capacity.Counts, big: list[int], halves=None):
        self.counts, self.n_units = counts, counts.n.shape[0]
        self.halves = halves
        cells = _cells(counts)
        self.cells = cells
        sizes = sorted(set(np.asarray(counts.set_size).tolist()))
        #: ``"one set size (N = 6)"`` for data of one set size (nothing to contrast across set sizes), else ""
        self.one_set_size = f"one set size (N = {sizes[0]:g})" if len(sizes) == 1 else ""
        #: why the set-size-blind baseline (each block's rates pooled over its set sizes) is the observed
        #: rates themselves, else "": one set size, or base-rate blocks of one set size each (not crossed)
        per_block = cells.groupby("p_change").set_size.unique()
        self.blind_is_observed = self.one_set_size or (
            "one set size per change probability ("
            + "; ".join(f"{pc:g}: N = {int(ns[0])}" for pc, ns in per_block.items())
            + ")"
            if len(per_block) > 1 and all(len(ns) == 1 for ns in per_block)
            else ""
        )
        #: the data hold two rates only (hits and false alarms at one set size and change probability): a
        #: model with a memory and a guessing parameter reproduces them by construction
        self.two_rates = len(cells) == 2
        self.pooled = (np.asarray(counts.block) * 2 + np.asarray(counts.is_change)).astype(int)
        triples = zip(cells.set_size, cells.p_change, cells.is_change, strict=True)
        where = {cell: i for i, cell in enumerate(triples)}
        # the (set size, change probability) conditions of the plateau that the data have: base-rate blocks
        # need not be crossed with every large set size
        pairs = [
            (n, where[n, pc, 1], where[n, pc, 0])
            for n in big
            for pc in counts.p_change
            if (n, pc, 1) in where and (n, pc, 0) in where
        ]
        self.n_plateau_cells, self.n_plateau_possible = len(pairs), len(big) * len(counts.p_change)
        self.k_size = np.array([n for n, _, _ in pairs], float)
        self.hit_idx = np.array([h for _, h, _ in pairs], int)
        self.fa_idx = np.array([f for _, _, f in pairs], int)

    def rates(self, idx: np.ndarray) -> np.ndarray:
        """Pooled P("change") per cell over the participants ``idx``; NaN in a cell none of them has."""
        k, n = self.counts.k[idx].sum(0), self.counts.n[idx].sum(0)
        return np.where(n > 0, k / np.maximum(n, 1), np.nan)

    def plateau(self, idx: np.ndarray) -> float:
        r = self.rates(idx)
        k = self.k_size * (r[self.hit_idx] - r[self.fa_idx])
        return _mean(k)

    def baseline(self, idx: np.ndarray) -> np.ndarray:
        """Each block's hit and false-alarm rates pooled over set sizes (fitted to the resample itself)."""
        k, n = self.counts.k[idx].sum(0), self.counts.n[idx].sum(0)
        pooled = np.bincount(self.pooled, k) / np.maximum(np.bincount(self.pooled, n), 1)
        return pooled[self.pooled]

    def predicted(self, cond: pd.DataFrame) -> np.ndarray:
        """The model's P("change") per cell, from its hit and false-alarm predictions per condition."""
        m = self.cells.merge(
            cond[["set_size", "p_change", "hit_pred", "fa_pred"]], on=["set_size", "p_change"]
        )
        return np.where(m.is_change == 1, m.hit_pred, m.fa_pred)

    def rmse(self, idx: np.ndarray, pred) -> float:
        """RMS difference from the pooled rates, over the cells that participants ``idx`` have."""
        p = pred(idx) if callable(pred) else pred
        return float(np.sqrt(_mean((p - self.rates(idx)) ** 2)))

    def ceiling(self, idx: np.ndarray, pred: np.ndarray) -> float:
        """Split-half MAD of the pooled rates over the model's MAD from the rates of all trials (cells
        observed in both halves): 1 when the model is as close to the data as one half is to the other."""
        k_a, n_a, k_b, n_b = (x[idx].sum(0) for x in self.halves)
        seen = (n_a > 0) & (n_b > 0)
        if not seen.any():
            return float("nan")
        split = np.mean(np.abs(k_a / np.maximum(n_a, 1) - k_b / np.maximum(n_b, 1))[seen])
        model = np.mean(np.abs(pred - self.rates(idx))[seen])
        return float(split / model) if model > 0 else float("inf")

    def ci(self, *stat) -> tuple[float, float, float]:
        """``(estimate, low, high)`` of ``stat[0](idx, *stat[1:])`` over the resamples; ``low`` and ``high``
        NaN with fewer than two participants (resampling one participant gives no CI)."""
        f, *args = stat
        if self.n_units < 2:
            return float(f(np.arange(self.n_units), *args)), float("nan"), float("nan")
        return cmp.bootstrap_ci(np.arange(self.n_units), lambda i: f(i, *args), n_boot=N_RESAMPLES, seed=0)

    def no_ci(self, *cis) -> str:
        """Why a check has no CI (its detail's suffix), or "" when every bound in ``cis`` is finite."""
        if np.all(np.isfinite(np.asarray(cis, float))):
            return ""
        if self.n_units < 2:
            why = f"{self.n_units} participant: a participant bootstrap needs at least 2"
            return f"; no CI ({why}), so the data cannot test the check"
        return "; no CI (the participant resamples gave none), so the check cannot pass"


def _mean(x: np.ndarray) -> float:
    """Mean over the finite entries (NaN: a cell no resampled participant has); NaN when none is."""
    x = np.asarray(x, float)
    seen = np.isfinite(x)
    if seen.all():
        return float(np.mean(x))
    return float(np.mean(x[seen])) if seen.any() else float("nan")


def _check(name: str, why: str, measure, boot: Resamples, **rule) -> cmp.Check:
    """The check ``name``: ``measure() -> (value, (low, high), detail)`` decided by ``rule``, not tested
    (docs/verdicts.md) when the data hold one participant; or, where ``why`` says these data cannot test it,
    a not-tested check with no value and no CI, ``why`` in its detail (as delayed_estimation's set-size
    contrasts on data of one set size)."""
    if why:
        nan = float("nan")
        return cmp.Check.of(name, value=nan, ci=(nan, nan), tested=False, why_untested=why, **rule)
    value, ci, detail = measure()
    return cmp.Check.of(name, value=value, ci=ci, detail=detail, tested=boot.n_units >= 2, **rule)


def model_checks(prefix, par, cond, boot: Resamples, plateau: float, err: float, big) -> list[cmp.Check]:
    """The four checks of one model (their rules: docs/scenarios/change_detection.md). On data of one set
    size, checks 1 and 4 (and check 3 where the data hold two rates only) are reported not tested."""
    out = []
    k = par.loc["K"]
    sizes = "/".join(map(str, big))
    name = f"{prefix}K agrees with the Cowan K plateau at set sizes {sizes} (within {K_TOLERANCE} items)"
    rule = dict(threshold=(-K_TOLERANCE, K_TOLERANCE), rule="ci_within", source="declared", basis=_DOCS)
    why = boot.one_set_size and (
        f"{boot.one_set_size}: the fitted K is not identified from it (the hit and false-alarm rates at "
        "one set size fix how often the probe is held, not K apart from the model's other parameters), "
        "so the check cannot pass"
    )

    def plateau_contrast():
        _, p_lo, p_hi = boot.ci(boot.plateau)
        cells = (
            ""
            if boot.n_plateau_cells == boot.n_plateau_possible
            else f"; Cowan K over the {boot.n_plateau_cells} set size x change probability conditions the "
            f"data have at set sizes {sizes} (of {boot.n_plateau_possible}: base rates not crossed with set "
            "sizes)"
        )
        detail = (
            f"fitted K {k.value:.2f} [{k.ci_low:.2f}, {k.ci_high:.2f}] vs Cowan K {plateau:.2f} "
            f"[{p_lo:.2f}, {p_hi:.2f}]{cells}" + boot.no_ci(k.ci_low - p_hi, k.ci_high - p_lo)
        )
        return k.value - plateau, (k.ci_low - p_hi, k.ci_high - p_lo), detail

    out.append(_check(name, why, plateau_contrast, boot, **rule))
    gs = par.loc[[n for n in par.index if n.startswith("g_")]]
    if len(gs) > 1:
        order = sorted(gs.index, key=lambda n: float(n[2:]))
        lo_g, hi_g = gs.loc[order[0]], gs.loc[order[-1]]
        out.append(
            cmp.Check.of(
                f"{prefix}guessing rises with change probability ({order[-1]} - {order[0]})",
                value=hi_g.value - lo_g.value,
                ci=(hi_g.ci_low - lo_g.ci_high, hi_g.ci_high - lo_g.ci_low),
                threshold=0.0,
                rule="ci_above",
                source="paper",
                basis="Rouder et al. (2008): guessing follows the base rate of changes",
                detail=", ".join(f"{i} = {gs.loc[i].value:.2f}" for i in order)
                + boot.no_ci(lo_g.ci_low, lo_g.ci_high, hi_g.ci_low, hi_g.ci_high),
                tested=boot.n_units >= 2,
            )
        )
    pred = boot.predicted(cond)
    name = f"{prefix}hit and false-alarm rates reproduced (RMSE below {MAX_RMSE})"
    rule = dict(threshold=MAX_RMSE, rule="ci_below", source="declared", basis=_DOCS, kind="agreement")
    why = boot.two_rates and (
        f"{boot.one_set_size} and one change probability: two rates (hits and false alarms), which a "
        "model with a memory and a guessing parameter reproduces by construction, so the check cannot "
        "pass"
    )

    def rates_rmse():
        _, lo, hi = boot.ci(boot.rmse, pred)
        return err, (lo, hi), f"RMSE over {len(pred)} rates" + boot.no_ci(lo, hi)

    out.append(_check(name, why, rates_rmse, boot, **rule))
    name = f"{prefix}rates closer than the set-size-blind baseline's (RMSE difference below 0)"
    basis = _DOCS + "; baseline: each block's rates pooled over set sizes, refitted per resample"
    rule = dict(threshold=0.0, rule="ci_below", source="declared", basis=basis, kind="agreement")
    why = boot.blind_is_observed and (
        f"{boot.blind_is_observed}: the set-size-blind baseline is the observed rates themselves, so there "
        "is nothing to beat and the check cannot pass"
    )

    def against_baseline():
        d, lo, hi = boot.ci(lambda i: boot.rmse(i, pred) - boot.rmse(i, boot.baseline))
        return d, (lo, hi), boot.no_ci(lo, hi).removeprefix("; ")

    out.append(_check(name, why, against_baseline, boot, **rule))
    return out
