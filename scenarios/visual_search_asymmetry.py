"""Visual search asymmetry: eccNET on the six experiments of Gupta et al. (2021), against human RT slopes.

For every experiment, condition and set size the model searches seeded displays (published geometry);
reaction times come from the number of saccades (``RT = 252.359 n + 376.271`` ms), slopes from least squares
of mean RT on set size, and the asymmetry index ``(sH - sL) / (sH + sL)`` uses the condition with the steeper
HUMAN slope as H. Ablations (config ``ablations``) rerun the same displays with uniform pooling, the last
layer only, and the training-free Gabor front end.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim import config as _config
from cogsim import data
from cogsim.errors import CogsimError
from cogsim.models import eccnet, eccnet_backbone, eccnet_stimuli

DESCRIPTION = "eccNET visual search: six search asymmetries (RT slopes, asymmetry index) vs humans"

ABLATIONS = ("uniform_pooling", "last_layer", "gabor")
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

    ppd: tuple[float, ...] = _config.field(
        (30.0,),
        low=5.0,
        high=60.0,
        doc="display pixels per degree (30 = published): one value, or one per experiment",
    )
    n_trials: int | None = _config.field(
        None, low=1, doc="displays per condition and set size (None = published)"
    )
    experiments: tuple[int, ...] = _config.field((1, 2, 3, 4, 5, 6), low=1, high=6, doc="which experiments")
    weights: str = _config.field("diet_normal", doc="shipped backbone name or a path to a backbone .npz")
    ablations: tuple[str, ...] = _config.field(ABLATIONS, doc="model variants to run besides the full model")
    ablation_trials: int | None = _config.field(
        None, low=1, doc="displays per cell for ablations (None = same)"
    )
    batch_size: int = _config.field(
        1,
        low=1,
        high=256,
        doc="trials searched together (1 is fastest on the CPU; see benchmarks/visual_search.py)",
    )
    threads: int = _config.field(
        2,
        low=1,
        high=256,
        doc="host threads searching disjoint trials at once (same result; see docs/models/eccnet.md)",
    )

    def __post_validate__(self):
        check_ppd(self.ppd)
        bad = [a for a in self.ablations if a not in ABLATIONS]
        if bad:
            raise CogsimError(f"config field 'ablations': got {bad}; allowed: {list(ABLATIONS)}")


#: Quick preset resolutions per experiment: coarse where the items are large (Exp 3-4 at 10 px/deg),
#: the published 30 px/deg for the small shaded discs of Exp 2 (at 15 px/deg a disc is below one conv5_3
#: cell and a lone disc is no longer found first).
QUICK_PPD = (15.0, 30.0, 10.0, 10.0, 15.0, 15.0)

PRESETS = {
    "quick": Config(ppd=QUICK_PPD, n_trials=None, ablation_trials=8),
    "paper": Config(),
    "test": Config(ppd=(20.0,), n_trials=1, experiments=(2,), ablations=("last_layer",)),
}


def check_ppd(ppd: tuple[float, ...]) -> None:
    """One resolution for all experiments or one per experiment."""
    if len(ppd) not in (1, 6):
        raise CogsimError(f"config field 'ppd': got {ppd}; allowed: one value or six (one per experiment)")


def ppd_of(ppd: tuple[float, ...], experiment: int) -> float:
    """The resolution used for ``experiment``."""
    return float(ppd[0] if len(ppd) == 1 else ppd[experiment - 1])


# ---------------------------------------------------------------------------------------------- simulate
def load_extractor(weights: str, geometry: eccnet.Geometry) -> eccnet.Extractor:
    """A shipped backbone by name, or a backbone .npz by path (Keras-named arrays are accepted)."""
    if weights.endswith(".npz") or "/" in weights:
        params, meta = eccnet_backbone.load_npz(Path(weights))
        return eccnet.Extractor.vgg(params, meta, geometry, Path(weights).stem)
    return eccnet.Extractor.shipped(weights, geometry)


def variant(extractor: eccnet.Extractor, name: str) -> tuple[eccnet.Extractor, eccnet.SearchConfig]:
    """The extractor and search settings of a model variant ("eccNET" or one of :data:`ABLATIONS`)."""
    geo = extractor.geometry
    if name == "eccNET":
        return extractor, eccnet.SearchConfig()
    if name == "uniform_pooling":
        return extractor.with_geometry(dataclasses.replace(geo, eccentricity=False)), eccnet.SearchConfig()
    if name == "last_layer":
        return extractor, eccnet.SearchConfig(layer_weights=(0.0, 0.0, 1.0))
    if name == "gabor":
        return eccnet.Extractor.gabor(geo), eccnet.SearchConfig()
    raise CogsimError(f"unknown model variant {name!r}; allowed: eccNET, {', '.join(ABLATIONS)}")


def run_experiments(
    extractor: eccnet.Extractor,
    variants,
    ppd: tuple[float, ...],
    experiments,
    n_trials,
    ablation_trials,
    batch_size: int,
    *,
    key: jax.Array,
    label: dict | None = None,
    threads: int = 2,
) -> pd.DataFrame:
    """Searches every experiment's displays with each variant; one row per trial (also used by
    developmental_diet)."""
    frames = []
    for e in experiments:
        exp = eccnet_stimuli.EXPERIMENTS[e]
        p = ppd_of(ppd, e)
        trials = eccnet_stimuli.make_trials(exp, key=jax.random.fold_in(key, e), ppd=p, n_trials=n_trials)
        per = n_trials if n_trials is not None else exp.n_trials
        base = extractor.with_geometry(dataclasses.replace(extractor.geometry, ppd=p))
        for v in variants:
            ex, scfg = variant(base, v)
            scfg = dataclasses.replace(scfg, batch_size=batch_size, threads=threads)
            sub = trials
            if v != "eccNET" and ablation_trials is not None and ablation_trials < per:
                idx = np.flatnonzero((np.arange(len(trials)) % per) < ablation_trials)
                sub = trials.select(idx)
            df = eccnet.search(ex, sub, scfg)
            df.insert(0, "model", v)
            df["ppd"] = p
            for k, val in (label or {}).items():
                df.insert(0, k, val)
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """One row per trial: model variant, experiment, condition, set size, saccades, RT."""
    config = _config.validate(config)
    extractor = load_extractor(config.weights, eccnet.Geometry())
    variants = ("eccNET", *config.ablations)
    return run_experiments(
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
def human() -> pd.DataFrame:
    """Human mean RTs (digitised, target present) per experiment, condition and set size."""
    h = data.load("visual_search_asymmetry.human_rt")
    return h[
        ["experiment", "experiment_name", "condition", "set_size", "rt_ms", "human_slope_ms_per_item"]
    ].copy()


def published() -> pd.DataFrame:
    """Published model asymmetry indices (per model and experiment, plus the 'mean' rows)."""
    return data.load("visual_search_asymmetry.asymmetry_index")


# ----------------------------------------------------------------------------------------------- compare
def rt_table(sim: pd.DataFrame, by=("model",)) -> pd.DataFrame:
    """Mean RT and saccades per (by..., experiment, condition, set size), with the SEM of RT."""
    keys = [*by, "experiment", "condition", "set_size"]
    g = sim.groupby(keys, sort=True)
    out = g.agg(
        rt_ms=("rt_ms", "mean"),
        n_saccades=("n_saccades", "mean"),
        n=("rt_ms", "size"),
        rt_sd=("rt_ms", "std"),
    ).reset_index()
    out["sem_ms"] = out["rt_sd"].fillna(0.0) / np.sqrt(out["n"])
    return out.drop(columns="rt_sd")


def slope_table(sim: pd.DataFrame, hum: pd.DataFrame, by=("model",)) -> pd.DataFrame:
    """Least-squares slope of mean RT on set size per condition, next to the human slope."""
    rts = rt_table(sim, by)
    keys = [*by, "experiment", "condition"]
    s = cmp.slopes_by(rts, by=keys, x="set_size", y="rt_ms")
    hs = hum.groupby(["experiment", "condition"], as_index=False)["human_slope_ms_per_item"].first()
    return s.merge(hs, on=["experiment", "condition"], how="left")


def index_table(slopes: pd.DataFrame, by=("model",)) -> pd.DataFrame:
    """Per (by..., experiment): human slope pair, model slope pair, human and model asymmetry indices."""
    rows = []
    for keys, g in slopes.groupby([*by, "experiment"], sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        g = g.sort_values("human_slope_ms_per_item")
        easy, hard = g.iloc[0], g.iloc[-1]
        rows.append(
            {
                **dict(zip([*by, "experiment"], keys, strict=True)),
                "hard_condition": hard["condition"],
                "easy_condition": easy["condition"],
                "human_slope_hard": hard["human_slope_ms_per_item"],
                "human_slope_easy": easy["human_slope_ms_per_item"],
                "model_slope_hard": hard["slope"],
                "model_slope_easy": easy["slope"],
                "human_index": cmp.asymmetry_index(
                    hard["human_slope_ms_per_item"], easy["human_slope_ms_per_item"]
                ),
                "model_index": cmp.asymmetry_index(hard["slope"], easy["slope"]),
            }
        )
    return pd.DataFrame(rows)


def _published_index(pub: pd.DataFrame, model: str | None, experiment) -> float | None:
    if model is None:
        return None
    r = pub[(pub["model"] == model) & (pub["experiment"].astype(str) == str(experiment))]
    return float(r["model_asymmetry_index"].iloc[0]) if len(r) else None


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """Per-experiment asymmetry indices and slopes of the full model vs humans, plus the ablations."""
    pub = published()
    slopes = slope_table(sim, human)
    idx = index_table(slopes)
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
                f"Exp {e} ({eccnet_stimuli.EXPERIMENTS[e].name}): asymmetry in the human direction",
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
def plot_rt_panels(
    sim: pd.DataFrame, human: pd.DataFrame, axes, *, model: str = "eccNET", title_extra: str = ""
):
    """RT by set size per experiment (human solid, model dashed) on the given axes."""
    from cogsim import plots

    rts = rt_table(sim[sim["model"] == model])
    for ax, e in zip(axes, sorted(rts["experiment"].unique()), strict=False):
        h = human[human["experiment"] == e]
        m = rts[rts["experiment"] == e].assign(
            lo=lambda d: d.rt_ms - d.sem_ms, hi=lambda d: d.rt_ms + d.sem_ms
        )
        plots.model_vs_human(
            m,
            h,
            x="set_size",
            y="rt_ms",
            hue="condition",
            yerr_low="lo",
            yerr_high="hi",
            ax=ax,
            title=f"Exp {e}: {eccnet_stimuli.EXPERIMENTS[e].name}{title_extra}",
            xlabel="set size",
            ylabel="RT (ms)",
        )


def index_bars(ax, exps, bars: dict[str, list], title: str) -> None:
    """Grouped bars of asymmetry indices per experiment (``bars``: label -> one value per experiment; the
    label "human" is drawn black)."""
    width = 0.8 / len(bars)
    for i, (label, values) in enumerate(bars.items()):
        x = np.arange(len(exps)) - 0.4 + width * (i + 0.5)
        ax.bar(x, values, width, label=label, color="black" if label == "human" else None)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(np.arange(len(exps)), [f"Exp {e}" for e in exps])
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("asymmetry index")
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """Six RT panels (model vs human) and the asymmetry indices of the model, its ablations and humans."""
    from cogsim import plots

    n_exp = sim["experiment"].nunique()
    fig, axes = plots.panels(n_exp + 1, ncols=4, size=(4.2, 3.3))
    plot_rt_panels(sim, human, axes[:n_exp])
    comp = compare(sim, human)
    idx = comp.tables["indices"]
    models = list(dict.fromkeys(idx["model"]))
    exps = sorted(idx["experiment"].unique())
    hum = idx[idx["model"] == models[0]].set_index("experiment")["human_index"]
    bars = {"human": [hum[e] for e in exps]}
    for mdl in models:
        g = idx[idx["model"] == mdl].set_index("experiment")
        bars[mdl] = [g["model_index"].get(e, np.nan) for e in exps]
    index_bars(axes[-1], exps, bars, "asymmetry index")
    fig.tight_layout()
    return fig
