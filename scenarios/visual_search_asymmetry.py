"""Visual search asymmetry: eccNET on the six experiments of Gupta et al. (2021), against human RT slopes.

For every experiment, condition and set size the model searches seeded displays (published geometry);
reaction times come from the number of saccades (``RT = 252.359 n + 376.271`` ms), slopes from least squares
of mean RT on set size, and the asymmetry index ``(sH - sL) / (sH + sL)`` uses the condition with the steeper
HUMAN slope as H. Ablations (config ``ablations``) rerun the same displays with uniform pooling, the last
layer only, and the training-free Gabor front end.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim import config as cfglib
from cogsim import data
from cogsim.errors import CogsimError
from cogsim.models import eccnet
from cogsim.reference import Reference
from cogsim.scenarios import _search_plots
from cogsim.tasks import search_displays as sd

DESCRIPTION = "eccNET visual search: six search asymmetries (RT slopes, asymmetry index) vs humans"

ABLATIONS = eccnet.VARIANTS[1:]  # uniform_pooling, last_layer, gabor
#: Published mean asymmetry indices of the matching model variants (packaged asymmetry_index.csv).
PUBLISHED_VARIANT = {
    "eccNET": "eccNET",
    "uniform_pooling": "eccNET_noecc",
    "last_layer": "eccNET_0_0_1",
    "gabor": None,
}


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings (defaults: the published geometry and trial counts)."""

    ppd: tuple[float, ...] = cfglib.field(
        (30.0,),
        low=5.0,
        high=60.0,
        doc="display pixels per degree (30 = published): one value, or one per experiment",
    )
    n_trials: int | None = cfglib.field(
        None, low=1, doc="displays per condition and set size (None = published)"
    )
    experiments: tuple[int, ...] = cfglib.field((1, 2, 3, 4, 5, 6), low=1, high=6, doc="which experiments")
    weights: str = cfglib.field("diet_normal", doc="shipped backbone name or a path to a backbone .npz")
    ablations: tuple[str, ...] = cfglib.field(
        ABLATIONS, allow_empty=True, doc="model variants to run besides the full model (empty: none)"
    )
    ablation_trials: int | None = cfglib.field(
        None, low=1, doc="displays per cell for ablations (None = same)"
    )
    batch_size: int = cfglib.field(
        1,
        low=1,
        high=256,
        doc="trials searched together (1 is fastest on the CPU; see benchmarks/visual_search.py)",
    )
    threads: int = cfglib.field(
        2,
        low=1,
        high=256,
        doc="host threads searching disjoint trials at once (same result; see docs/models/eccnet.md)",
    )

    def __post_validate__(self):
        sd.check_ppd(self.ppd)
        bad = [a for a in self.ablations if a not in ABLATIONS]
        if bad:
            raise CogsimError(f"config field 'ablations': got {bad}; allowed: {list(ABLATIONS)}")
        try:
            eccnet.check_weights(self.weights)
        except CogsimError as exc:
            raise CogsimError(f"config field 'weights': {exc}") from None


PRESETS = {
    # one resolution per experiment, coarse where the items are large (cogsim.tasks.search_displays)
    "quick": Config(ppd=sd.QUICK_PPD, n_trials=None, ablation_trials=8),
    "paper": Config(),
}


# ---------------------------------------------------------------------------------------------- simulate
def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """One row per trial: model variant, experiment, condition, set size, saccades, RT."""
    config = cfglib.validate(config)
    extractor = eccnet.Extractor.load(config.weights, eccnet.Geometry())
    variants = ("eccNET", *config.ablations)
    return eccnet.search_experiments(
        extractor,
        variants,
        config.ppd,
        config.experiments,
        config.n_trials,
        config.ablation_trials,
        config.batch_size,
        key=key,
        threads=config.threads,
    )


# ------------------------------------------------------------------------------------------------- human
def reference(config: Config | None = None) -> Reference:
    """Human mean RTs (digitised, target present) per experiment, condition and set size."""
    h = data.load("visual_search_asymmetry.human_rt")
    return Reference(
        h[
            ["experiment", "experiment_name", "condition", "set_size", "rt_ms", "human_slope_ms_per_item"]
        ].copy(),
        kind="published_means",
        source="Gupta et al. (2021), digitised human mean RTs",
    )


def published() -> pd.DataFrame:
    """Published model asymmetry indices (per model and experiment, plus the 'mean' rows)."""
    return data.load("visual_search_asymmetry.asymmetry_index")


# ----------------------------------------------------------------------------------------------- compare
def _published_index(pub: pd.DataFrame, model: str | None, experiment) -> float | None:
    if model is None:
        return None
    r = pub[(pub["model"] == model) & (pub["experiment"].astype(str) == str(experiment))]
    return float(r["model_asymmetry_index"].iloc[0]) if len(r) else None


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """Per-experiment asymmetry indices and slopes of the full model vs humans, plus the ablations."""
    pub = published()
    slopes = cmp.search_slope_table(sim, human)
    idx = cmp.asymmetry_table(slopes)
    main = idx[idx["model"] == "eccNET"].sort_values("experiment")
    if main.empty:
        raise CogsimError("compare: the simulation has no rows for the full model 'eccNET'")
    exp_table = main.drop(columns="model").copy()
    exp_table["published_eccnet_index"] = [
        _published_index(pub, "eccNET", e) for e in exp_table["experiment"]
    ]
    metrics, checks = [], []
    for _, r in exp_table.iterrows():
        e = int(r["experiment"])
        metrics.append(
            cmp.Metric(
                f"exp{e}_asymmetry_index",
                float(r["model_index"]),
                human=float(r["human_index"]),
                note=(
                    f"slopes hard/easy model {r['model_slope_hard']:.1f}/{r['model_slope_easy']:.1f}, human "
                    f"{r['human_slope_hard']:.1f}/{r['human_slope_easy']:.1f} ms/item; published eccNET "
                    f"{r['published_eccnet_index']:.2f}"
                ),
            )
        )
        checks.append(
            cmp.Check(
                f"Exp {e} ({sd.EXPERIMENTS[e].name}): asymmetry in the human direction",
                bool(r["model_index"] > 0),
                f"index {r['model_index']:.2f} (human {r['human_index']:.2f})",
            )
        )
    mean_idx = float(main["model_index"].mean())
    human_mean = float(main["human_index"].mean())
    all_six = len(main) == 6
    pub_mean = _published_index(pub, "eccNET", "mean") if all_six else None
    metrics.insert(
        0,
        cmp.Metric(
            "mean_asymmetry_index",
            mean_idx,
            human=human_mean,
            note=f"published eccNET {pub_mean:.3f}"
            if pub_mean is not None
            else f"over experiments {main['experiment'].tolist()}",
        ),
    )
    ms = slopes[slopes["model"] == "eccNET"]
    r = cmp.pearson_r(ms["slope"], ms["human_slope_ms_per_item"])
    metrics.append(cmp.Metric("slope_correlation_with_human", r, note=f"Pearson r over {len(ms)} conditions"))
    metrics.append(
        cmp.Metric(
            "experiments_with_human_polarity", float((main["model_index"] > 0).sum()), human=float(len(main))
        )
    )
    checks.append(
        cmp.Check(
            "mean index within 0.25 of the human mean",
            abs(mean_idx - human_mean) < 0.25,
            f"{mean_idx:.3f} vs {human_mean:.3f}",
        )
    )
    checks.append(
        cmp.Check(
            "model slopes correlate positively with human slopes",
            bool(r > 0) if np.isfinite(r) else False,
            f"r = {r:.2f}",
        )
    )
    abl_rows = []
    for v, g in idx.groupby("model", sort=False):
        ref = PUBLISHED_VARIANT.get(v)
        pm = _published_index(pub, ref, "mean") if all_six else None
        abl_rows.append(
            {
                "model": v,
                "mean_index": float(g["model_index"].mean()),
                "positive_experiments": int((g["model_index"] > 0).sum()),
                "published_variant": ref or "-",
                "published_mean_index": pm,
            }
        )
        if v != "eccNET":
            metrics.append(
                cmp.Metric(
                    f"ablation_{v}_mean_index",
                    float(g["model_index"].mean()),
                    note=f"published {ref} {pm:.3f}" if pm is not None else "no published value",
                )
            )
    abl = pd.DataFrame(abl_rows)
    if "uniform_pooling" in set(idx["model"]):
        u = float(idx[idx["model"] == "uniform_pooling"]["model_index"].mean())
        checks.append(
            cmp.Check(
                "eccentricity pooling raises the mean index over uniform pooling",
                mean_idx > u,
                f"{mean_idx:.3f} vs {u:.3f}",
            )
        )
    return cmp.Comparison(
        tuple(metrics),
        tuple(checks),
        key="mean_asymmetry_index",
        tables={
            "experiments": exp_table.reset_index(drop=True),
            "ablations": abl,
            "indices": idx,
            "slopes": slopes,
        },
    )


# -------------------------------------------------------------------------------------------------- plot
def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """Six RT panels (model vs human) and the asymmetry indices of the model, its ablations and humans."""
    from cogsim import plots

    n_exp = sim["experiment"].nunique()
    fig, axes = plots.panels(n_exp + 1, ncols=4, size=(4.2, 3.3))
    _search_plots.rt_panels(sim, human, axes[:n_exp])
    comp = compare(sim, human)
    idx = comp.tables["indices"]
    models = list(dict.fromkeys(idx["model"]))
    exps = sorted(idx["experiment"].unique())
    hum = idx[idx["model"] == models[0]].set_index("experiment")["human_index"]
    bars = {"human": [hum[e] for e in exps]}
    for mdl in models:
        g = idx[idx["model"] == mdl].set_index("experiment")
        bars[mdl] = [g["model_index"].get(e, np.nan) for e in exps]
    _search_plots.index_bars(axes[-1], exps, bars, "asymmetry index")
    fig.tight_layout()
    return fig
