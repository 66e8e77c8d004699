"""Developmental diet: do eccNET's search asymmetries follow from the statistics of what the backbone saw?

The same eccNET is run on the six asymmetry experiments with three backbones trained on procedural diets
(:mod:`cogsim.models.eccnet_diet`): the normal diet (light from above, cardinal orientation excess,
occlusion T-junctions), the same diet rotated by 90 deg, and a diet with isotropic lighting. The paper's
prediction (with ImageNet rotated by 90 deg): the lighting asymmetry (Exp 2) flips sign under rotation, and
it should vanish when lighting carries no direction. By default the shipped backbones are used; with
``train=true`` they are retrained from scratch for ``train_steps`` steps.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim import config as _config
from cogsim.models import eccnet, eccnet_backbone, eccnet_diet
from cogsim.scenarios import visual_search_asymmetry as vsa

DESCRIPTION = "eccNET backbones trained on normal, 90-deg-rotated and isotropic-lighting diets: asymmetries"

DIETS = ("normal", "rot90", "isotropic")


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings (defaults: published geometry and trial counts, shipped backbones)."""

    ppd: tuple[float, ...] = _config.field(
        (30.0,), low=5.0, high=60.0, doc="display pixels per degree: one value or one per experiment"
    )
    n_trials: int | None = _config.field(
        None, low=1, doc="displays per condition and set size (None = published)"
    )
    experiments: tuple[int, ...] = _config.field((1, 2, 3, 4, 5, 6), low=1, high=6)
    diets: tuple[str, ...] = _config.field(DIETS, doc="diets to compare (normal, rot90, isotropic)")
    train: bool = _config.field(False, doc="retrain the backbones from scratch instead of the shipped ones")
    train_steps: int = _config.field(400, low=1, doc="training steps per backbone when train=true")
    batch_size: int = _config.field(
        1, low=1, doc="trials searched together (1 is fastest on the CPU; see benchmarks/visual_search.py)"
    )

    def __post_validate__(self):
        vsa.check_ppd(self.ppd)
        bad = [d for d in self.diets if d not in DIETS]
        if bad:
            from cogsim.errors import CogsimError

            raise CogsimError(f"config field 'diets': got {bad}; allowed: {list(DIETS)}")


PRESETS = {
    "quick": Config(ppd=vsa.QUICK_PPD, n_trials=4),
    "paper": Config(),
    "test": Config(ppd=(20.0,), n_trials=1, experiments=(2,), diets=("normal", "rot90")),
}


def backbone(diet: str, config: Config, *, key: jax.Array) -> eccnet.Extractor:
    """The diet's backbone: shipped, or trained now when ``config.train``."""
    geo = eccnet.Geometry()
    if not config.train:
        return eccnet.Extractor.shipped(f"diet_{diet}", geo)
    cfg = eccnet_diet.DietConfig(diet=diet, steps=config.train_steps)
    res = eccnet_diet.train_backbone(cfg, key=key, progress=False)
    params = res.params["backbone"]
    if cfg.contrast_only:
        params = eccnet_diet.calibrate(params, cfg, key=jax.random.fold_in(key, 2))
    return eccnet.Extractor.vgg(params, {"preprocess": eccnet_backbone.UNIT_PREPROCESS}, geo, f"diet_{diet}")


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """One row per diet x trial (all diets search the same displays)."""
    config = _config.validate(config)
    frames = []
    for i, diet in enumerate(config.diets):
        ex = backbone(diet, config, key=jax.random.fold_in(jax.random.fold_in(key, 1000), i))
        frames.append(
            vsa.run_experiments(
                ex,
                ("eccNET",),
                config.ppd,
                config.experiments,
                config.n_trials,
                None,
                config.batch_size,
                key=key,
                label={"diet": diet},
            )
        )
    return pd.concat(frames, ignore_index=True)


def human() -> pd.DataFrame:
    """The human RTs of the six experiments (as in visual_search_asymmetry)."""
    return vsa.human()


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """Asymmetry indices per diet; checks of the lighting predictions."""
    slopes = vsa.slope_table(sim, human, by=("diet",))
    idx = vsa.index_table(slopes, by=("diet",))
    wide = idx.pivot(index="experiment", columns="diet", values="model_index").reset_index()
    wide.insert(1, "human", idx.groupby("experiment")["human_index"].first().values)
    metrics, checks = [], []
    diets = [d for d in DIETS if d in set(idx["diet"])]
    for d in diets:
        g = idx[idx["diet"] == d]
        metrics.append(
            cmp.Metric(
                f"{d}_mean_index",
                float(g["model_index"].mean()),
                human=float(g["human_index"].mean()),
                note="per experiment " + ", ".join(f"{x:.2f}" for x in g["model_index"]),
            )
        )
    e2 = idx[idx["experiment"] == 2].set_index("diet")
    if len(e2):
        for d in diets:
            r = e2.loc[d]
            metrics.append(
                cmp.Metric(
                    f"{d}_exp2_index",
                    float(r["model_index"]),
                    human=float(r["human_index"]),
                    note=f"slopes hard/easy {r['model_slope_hard']:.1f}/{r['model_slope_easy']:.1f}",
                )
            )
        if "normal" in e2.index:
            n2 = float(e2.loc["normal", "model_index"])
            tests = {
                "normal": (
                    "normal diet: lighting asymmetry in the human direction (Exp 2 index > 0)",
                    lambda v: v > 0,
                ),
                "rot90": (
                    "rotated diet flips the lighting asymmetry (Exp 2 index of the opposite sign)",
                    lambda v: v * n2 < 0,
                ),
                "isotropic": (
                    "isotropic lighting weakens the lighting asymmetry (|index| < normal's)",
                    lambda v: abs(v) < abs(n2),
                ),
            }
            for d, (name, test) in tests.items():
                if d in e2.index:
                    v = float(e2.loc[d, "model_index"])
                    passed = test(v)
                    detail = f"{v:.2f}" if d == "normal" else f"{v:.2f} (normal {n2:.2f})"
                    checks.append(cmp.Check(name, bool(passed), detail))
    if {"normal", "rot90"} <= set(diets):
        a = idx[idx["diet"] == "normal"].set_index("experiment")["model_index"]
        b = idx[idx["diet"] == "rot90"].set_index("experiment")["model_index"]
        common = a.index.intersection(b.index)
        flips = int(np.sum(np.sign(a[common]) != np.sign(b[common])))
        metrics.append(
            cmp.Metric(
                "experiments_flipped_by_rotation",
                float(flips),
                note=f"of {len(common)} (published ImageNet vs rotated ImageNet: 5 of 6)",
            )
        )
    key = "normal_mean_index" if "normal" in diets else metrics[0].name
    return cmp.Comparison(
        tuple(metrics), tuple(checks), key=key, tables={"indices": wide, "slopes": slopes, "per_diet": idx}
    )


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """Asymmetry index per experiment for each diet, next to humans; and the Exp 2 RT curves per diet."""
    from cogsim import plots

    comp = compare(sim, human)
    wide = comp.tables["indices"]
    diets = [d for d in DIETS if d in wide.columns]
    fig, axes = plots.panels(1 + len(diets), ncols=4, size=(4.2, 3.3))
    exps = wide["experiment"].tolist()
    vsa.index_bars(axes[0], exps, {c: wide[c].tolist() for c in ["human", *diets]}, "asymmetry index by diet")
    e = 2 if 2 in exps else exps[0]
    for a, d in zip(axes[1:], diets, strict=True):
        s = sim[(sim["diet"] == d)]
        vsa.plot_rt_panels(s[s["experiment"] == e], human, [a], title_extra=f" ({d} diet)")
    fig.tight_layout()
    return fig
