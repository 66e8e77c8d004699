"""The synthetic shelf-search comparison: the appearance effects and the checks as contrasts over displays.

The checks and their thresholds are the rules declared in the scenario's docs page
(``docs/scenarios/synthetic_shelf_search.md``, "Checks"); each is a contrast over the evaluation displays
with a CI (displays resampled; two models paired by display).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim import comparison
from cogsim.scenarios import _scanpath_checks as sc

DOCS = "docs/scenarios/synthetic_shelf_search.md, Checks"


def display_counts(sim: pd.DataFrame, method: str, n_objects: int) -> pd.DataFrame:
    """Per display of ``method``: distractor fixations, those on similar distractors, and their chance sum."""
    g = sim[(sim.method == method) & (sim.object_id != sim.target_object_id)]
    return (
        g.assign(similar=(g.similarity == 0.5).astype(float), chance=g.n_similar / (n_objects - 1), n=1.0)
        .groupby("display")[["similar", "chance", "n"]]
        .sum()
    )


def share_contrast(
    counts_a: pd.DataFrame, counts_b: pd.DataFrame | None = None, *, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Similar share of ``a`` minus its chance share, or minus ``b``'s similar share (paired displays),
    with a percentile bootstrap CI over displays.

    Example:
      >>> a = pd.DataFrame({"similar": [2.0, 3.0, 1.0], "chance": [1.0, 1.0, 1.0], "n": [4.0, 4.0, 4.0]})
      >>> d, lo, hi = share_contrast(a, n_boot=200)
      >>> round(d, 3)
      0.25
    """
    keys = counts_a.index if counts_b is None else counts_a.index.intersection(counts_b.index)
    a = counts_a.loc[keys].to_numpy()
    b = None if counts_b is None else counts_b.loc[keys].to_numpy()

    def stat(idx):
        sa = a[idx].sum(-2)
        first = sa[..., 0] / sa[..., 2]
        if b is None:
            return first - sa[..., 1] / sa[..., 2]
        sb = b[idx].sum(-2)
        return first - sb[..., 0] / sb[..., 2]

    if len(keys) == 0:
        return np.nan, np.nan, np.nan
    est = float(stat(np.arange(len(keys))))
    if len(keys) < 2:
        return est, np.nan, np.nan
    boot = stat(np.random.default_rng(seed).integers(0, len(keys), (n_boot, len(keys))))
    boot = boot[np.isfinite(boot)]
    return est, float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))


def _ci_check(name, value, lo, hi, *, rule, basis, detail, threshold=0.0):
    return comparison.Check.of(
        name,
        value=value,
        ci=(lo, hi),
        threshold=threshold,
        rule=rule,
        source="declared",
        basis=basis,
        detail=detail,
    )


def checks(sim: pd.DataFrame, res: dict[str, dict], eff: pd.DataFrame, n_objects: int) -> list:
    """The six declared checks (those whose methods were run)."""
    out = []
    e = eff.set_index("method")
    has = set(e.index)
    if "oat_cnn" in has:
        d, lo, hi = share_contrast(display_counts(sim, "oat_cnn", n_objects))
        out.append(
            _ci_check(
                "OAT (cnn) fixates target-similar distractors above chance",
                d,
                lo,
                hi,
                rule="ci_above",
                basis=f"{DOCS}: rule 1, similar share - chance share, CI above 0",
                detail=f"{e.similar_share['oat_cnn']:.3f} vs chance {e.chance_share['oat_cnn']:.3f}",
            )
        )
        out.append(
            _ci_check(
                "OAT (cnn) scanpaths lengthen with similar distractors (display-level slope)",
                e.length_slope["oat_cnn"],
                e.slope_low["oat_cnn"],
                e.slope_high["oat_cnn"],
                rule="ci_above",
                basis=f"{DOCS}: rule 2, slope CI above 0",
                detail=f"slope {e.length_slope['oat_cnn']:.3f} [{e.slope_low['oat_cnn']:.3f}, "
                f"{e.slope_high['oat_cnn']:.3f}]",
            )
        )
    if {"oat_cnn", "oat_none"} <= has:
        d, lo, hi = share_contrast(
            display_counts(sim, "oat_cnn", n_objects), display_counts(sim, "oat_none", n_objects)
        )
        out.append(
            _ci_check(
                "OAT with appearance fixates similar distractors more than OAT without",
                d,
                lo,
                hi,
                rule="ci_above",
                basis=f"{DOCS}: rule 3, share(cnn) - share(none), CI above 0",
                detail=f"{e.similar_share['oat_cnn']:.3f} vs {e.similar_share['oat_none']:.3f}",
            )
        )
    if {"oat_cnn", "oat_none"} <= set(res):
        out.append(
            sc.ss_contrast(
                res,
                "oat_cnn",
                "oat_none",
                name="OAT with appearance matches the searcher better than without (SS, paired by display)",
                basis=f"{DOCS}: rule 4, SS(cnn) - SS(none), CI above 0",
            )
        )
    training = sim.attrs.get("training", {})
    nll = {
        a: np.asarray(i["eval_nll_per_display"], float)
        for a, i in training.items()
        if "eval_nll_per_display" in i
    }
    if {"cnn", "none"} <= set(nll):
        d, lo, hi = cmp.paired_bootstrap_diff(nll["cnn"], nll["none"], n_boot=2000, seed=0)
        out.append(
            _ci_check(
                "OAT with appearance predicts the searcher's held-out scanpaths better (lower NLL)",
                d,
                lo,
                hi,
                rule="ci_below",
                basis=f"{DOCS}: rule 5, per-display NLL(cnn) - NLL(none), CI below 0",
                detail=f"NLL {training['cnn']['eval_nll']:.4f} vs {training['none']['eval_nll']:.4f}",
            )
        )
    if {"oat_cnn", "random"} <= set(res):
        out.append(
            sc.ss_contrast(
                res,
                "oat_cnn",
                "random",
                name="OAT (cnn) SS above random (paired by display)",
                basis=f"{DOCS}: rule 6, SS(cnn) - SS(random), CI above 0",
            )
        )
    return out
