"""Developmental diet: do eccNET's search asymmetries follow from the statistics of what the backbone saw?

The same eccNET is run on the six asymmetry experiments with three backbones trained on procedural diets
(:mod:`cogsim.tasks.diets`, :func:`cogsim.models.eccnet.train_backbone`): the normal diet (light from above,
cardinal orientation excess, occlusion T-junctions), the same diet rotated by 90 deg, and a diet with
isotropic lighting. The paper's prediction (with ImageNet rotated by 90 deg): the lighting asymmetry (Exp 2)
flips sign under rotation, and it should vanish when lighting carries no direction. Each diet is
represented by several backbones trained from different seeds (shipped: seeds 0, 1 and 2), so that a diet's
effect can be told from the variation between training runs: the checks are contrasts over seeds. With
``train=true`` the backbones are retrained from scratch for ``train_steps`` steps.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim import config as cfglib
from cogsim import data
from cogsim.errors import CogsimError, ConfigError
from cogsim.models import eccnet
from cogsim.reference import Reference
from cogsim.scenarios import _search_plots
from cogsim.tasks import diets as dietlib
from cogsim.tasks import search_displays as sd

DESCRIPTION = "eccNET backbones trained on normal, 90-deg-rotated and isotropic-lighting diets: asymmetries"

DIETS = dietlib.DIETS
#: Training seeds of the shipped backbones of every diet.
SHIPPED_SEEDS = (0, 1, 2)


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings (defaults: published geometry and trial counts, shipped backbones)."""

    ppd: tuple[float, ...] = cfglib.field(
        (30.0,), low=5.0, high=60.0, doc="display pixels per degree: one value or one per experiment"
    )
    n_trials: int | None = cfglib.field(
        None, low=1, doc="displays per condition and set size (None = published)"
    )
    experiments: tuple[int, ...] = cfglib.field((1, 2, 3, 4, 5, 6), low=1, high=6)
    diets: tuple[str, ...] = cfglib.field(DIETS, doc="diets to compare (normal, rot90, isotropic)")
    seeds: tuple[int, ...] = cfglib.field(
        (0, 1, 2), low=0, doc="backbone training seeds per diet (shipped: 0, 1, 2; others need train=true)"
    )
    train: bool = cfglib.field(False, doc="retrain the backbones from scratch instead of the shipped ones")
    train_steps: int = cfglib.field(400, low=1, doc="training steps per backbone when train=true")
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
        bad = [d for d in self.diets if d not in DIETS]
        if bad:
            raise CogsimError(f"config field 'diets': got {bad}; allowed: {list(DIETS)}")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ConfigError("seeds", self.seeds, "one or more distinct seeds")
        if not self.train and any(s not in SHIPPED_SEEDS for s in self.seeds):
            raise ConfigError("seeds", self.seeds, f"shipped seeds {list(SHIPPED_SEEDS)}, or set train=true")


#: The paper preset's last measured verdict (docs/scenarios/developmental_diet.md).
PAPER_RUN = cmp.PaperRun(
    verdict="mismatch",
    checks_passed="0/3",
    date="2026-12-05",
    commit="8045147",
    note="3 diets x 3 backbone seeds, the published 30-36 displays per cell at 30 px/deg: normal Exp 2 "
    "index -0.21 [-1.43, 1.00]; rot90 minus normal +0.79 [-0.42, 2.00]; |isotropic| minus |normal| +0.44 "
    "[-0.43, 1.31] (rerun at 8045147 on 2026-12-05 with the same numbers; first measured at 681068a on "
    "2026-12-03)",
)


PRESETS = {
    # 3 diets x 3 backbone seeds x 6 experiments at the quick resolutions, 6 displays per cell
    "quick": Config(ppd=sd.QUICK_PPD, n_trials=6),
    "paper": Config(),
}


def shipped_name(diet: str, seed: int) -> str:
    """Name of the shipped backbone of ``diet`` trained from ``seed``.

    Example:
      >>> shipped_name("normal", 0), shipped_name("rot90", 2)
      ('diet_normal', 'diet_rot90_seed2')
    """
    return f"diet_{diet}" if seed == 0 else f"diet_{diet}_seed{seed}"


def backbone(diet: str, config: Config, *, seed: int = 0, key: jax.Array) -> eccnet.Extractor:
    """The backbone of ``diet`` from ``seed``: shipped, or trained now (from ``key``) if ``config.train``."""
    geo = eccnet.Geometry()
    if not config.train:
        return eccnet.Extractor.shipped(shipped_name(diet, seed), geo)
    cfg = eccnet.DietConfig(diet=diet, steps=config.train_steps)
    res = eccnet.train_backbone(cfg, key=key, progress=False)
    params = res.params["backbone"]
    if cfg.contrast_only:
        params = eccnet.calibrate(params, cfg, key=jax.random.fold_in(key, 2))
    return eccnet.Extractor.vgg(params, {"preprocess": eccnet.UNIT_PREPROCESS}, geo, shipped_name(diet, seed))


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """One row per diet x backbone seed x trial (every backbone searches the same displays)."""
    config = cfglib.validate(config)
    frames = []
    for i, diet in enumerate(config.diets):
        for seed in config.seeds:
            k = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(key, 1000), i), seed)
            ex = backbone(diet, config, seed=seed, key=k)
            frames.append(
                eccnet.search_experiments(
                    ex,
                    ("eccNET",),
                    config.ppd,
                    config.experiments,
                    config.n_trials,
                    None,
                    config.batch_size,
                    key=key,
                    label={"diet": diet, "backbone_seed": seed},
                    threads=config.threads,
                )
            )
    return pd.concat(frames, ignore_index=True)


def reference(config: Config | None = None) -> Reference:
    """Human mean RTs (digitised, target present) per experiment, condition and set size (the data of
    visual_search_asymmetry)."""
    h = data.load("visual_search_asymmetry.human_rt")
    return Reference(
        h[
            ["experiment", "experiment_name", "condition", "set_size", "rt_ms", "human_slope_ms_per_item"]
        ].copy(),
        kind="published_means",
        source="Gupta et al. (2021), digitised human mean RTs",
    )


_PAPER = "Gupta et al. (2021): lighting index positive with ImageNet, flipped by 90-deg rotation"
_DECLARED = "docs/scenarios/developmental_diet.md: declared before the run"


def _ci(lo: float, hi: float) -> tuple[float, float] | None:
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else None


def _exp2_checks(per_seed: pd.DataFrame, metrics: list, diets: list[str]) -> list:
    """The lighting (Exp 2) checks as contrasts over backbone seeds (see the docs page)."""
    e2 = per_seed[per_seed["experiment"] == 2]
    vals = {d: e2[e2["diet"] == d].sort_values("backbone_seed")["model_index"].to_numpy(float) for d in diets}

    def fmt(d):
        return ", ".join(f"{x:.2f}" for x in vals[d])

    def check(name, est, lo, hi, *, rule, source, basis, detail, metric):
        ci = _ci(lo, hi)
        metrics.append(cmp.Metric(metric, est, *(ci or (None, None)), note=detail))
        return cmp.Check.of(
            name,
            value=est,
            ci=ci,
            threshold=0.0,
            rule=rule if ci is not None else rule.removeprefix("ci_"),
            source=source,
            basis=basis,
            detail=detail,
        )

    out = [
        check(
            "normal diet: lighting asymmetry in the human direction (Exp 2 index above 0)",
            *cmp.mean_ci(vals["normal"]),
            rule="ci_above",
            source="paper",
            basis=_PAPER,
            detail=f"normal Exp 2 index per seed {fmt('normal')}",
            metric="normal_exp2_index_ci",
        )
    ]
    if "rot90" in vals:
        out.append(
            check(
                "rotated diet flips the lighting asymmetry (rot90 minus normal Exp 2 index below 0)",
                *cmp.diff_ci(vals["rot90"], vals["normal"]),
                rule="ci_below",
                source="paper",
                basis=_PAPER,
                detail=f"rot90 {fmt('rot90')} vs normal {fmt('normal')} (per seed)",
                metric="rot90_minus_normal_exp2",
            )
        )
    if "isotropic" in vals:
        out.append(
            check(
                "isotropic lighting weakens the lighting asymmetry (|isotropic| minus |normal| below 0)",
                *cmp.diff_ci(np.abs(vals["isotropic"]), np.abs(vals["normal"])),
                rule="ci_below",
                source="declared",
                basis=_DECLARED,
                detail=f"isotropic {fmt('isotropic')} vs normal {fmt('normal')} (per seed)",
                metric="abs_isotropic_minus_abs_normal_exp2",
            )
        )
    return out


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """Asymmetry indices per diet and backbone seed, their mean over seeds; checks of the lighting predictions
    as contrasts over backbone seeds (with CIs where there are two seeds or more)."""
    by = ("diet", "backbone_seed") if "backbone_seed" in sim else ("diet",)
    slopes = cmp.search_slope_table(sim, human, by=by)
    per_seed = cmp.asymmetry_table(slopes, by=by)
    g = per_seed.groupby(["diet", "experiment"], as_index=False)
    idx = g[["human_index", "model_slope_hard", "model_slope_easy"]].first()
    agg = g["model_index"].agg(["mean", "std", "count"]).reset_index()
    idx = idx.merge(agg, on=["diet", "experiment"]).rename(
        columns={"mean": "model_index", "std": "seed_sd", "count": "n_seeds"}
    )
    wide = idx.pivot(index="experiment", columns="diet", values="model_index").reset_index()
    wide.insert(1, "human", idx.groupby("experiment")["human_index"].first().values)
    metrics, checks = [], []
    diets = [d for d in DIETS if d in set(idx["diet"])]

    def seeds_of(d, e):
        v = per_seed[(per_seed["diet"] == d) & (per_seed["experiment"] == e)]["model_index"]
        return ", ".join(f"{x:.2f}" for x in v)

    for d in diets:
        r = idx[idx["diet"] == d]
        metrics.append(
            cmp.Metric(
                f"{d}_mean_index",
                float(r["model_index"].mean()),
                human=float(r["human_index"].mean()),
                note="per experiment (mean over seeds) " + ", ".join(f"{x:.2f}" for x in r["model_index"]),
            )
        )
    e2 = idx[idx["experiment"] == 2].set_index("diet")
    if len(e2):
        for d in diets:
            r = e2.loc[d]
            sd = "" if not r["n_seeds"] > 1 else f", seed SD {r['seed_sd']:.2f}"
            metrics.append(
                cmp.Metric(
                    f"{d}_exp2_index",
                    float(r["model_index"]),
                    human=float(r["human_index"]),
                    note=f"mean over {int(r['n_seeds'])} backbone seeds ({seeds_of(d, 2)}){sd}",
                )
            )
        if "normal" in e2.index:
            checks += _exp2_checks(per_seed, metrics, diets)
    if {"normal", "rot90"} <= set(diets):
        a = idx[idx["diet"] == "normal"].set_index("experiment")["model_index"]
        b = idx[idx["diet"] == "rot90"].set_index("experiment")["model_index"]
        common = a.index.intersection(b.index)
        flips = int(np.sum(np.sign(a[common]) != np.sign(b[common])))
        metrics.append(
            cmp.Metric(
                "experiments_flipped_by_rotation",
                float(flips),
                note=f"of {len(common)}, seed means (published ImageNet vs rotated ImageNet: 5 of 6)",
            )
        )
    key = "normal_mean_index" if "normal" in diets else metrics[0].name
    return cmp.Comparison(
        tuple(metrics),
        tuple(checks),
        key=key,
        tables={"indices": wide, "slopes": slopes, "per_diet": idx, "per_seed": per_seed},
    )


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """Asymmetry index per experiment for each diet, next to humans; and the Exp 2 RT curves per diet."""
    from cogsim import plots

    comp = compare(sim, human)
    wide = comp.tables["indices"]
    diets = [d for d in DIETS if d in wide.columns]
    fig, axes = plots.panels(1 + len(diets), ncols=4, size=(4.2, 3.3))
    exps = wide["experiment"].tolist()
    _search_plots.index_bars(
        axes[0], exps, {c: wide[c].tolist() for c in ["human", *diets]}, "asymmetry index by diet"
    )
    e = 2 if 2 in exps else exps[0]
    for a, d in zip(axes[1:], diets, strict=True):
        s = sim[(sim["diet"] == d)]
        _search_plots.rt_panels(s[s["experiment"] == e], human, [a], title_extra=f" ({d} diet)")
    fig.tight_layout()
    return fig
