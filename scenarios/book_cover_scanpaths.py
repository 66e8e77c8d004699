"""Book-cover search scanpaths (Sattar et al. 2015; Stauden et al. 2018) predicted by OAT (Fang et al. 2024).

Six people searched each collage of 84 book covers (a 6 x 14 grid) for a target cover shown beforehand; their
fixations, assigned to covers, form object-level scanpaths. The collage images are not available, so the
model sees the layout and the target only: each cover is a token with its grid position (the learned
Gaussian-similarity code) and, with ``appearance="embedding"``, a learned vector for "a distractor cover" or
"target cover k". OAT is trained on collages ``train_first..train_last`` (every ``holdout_every``-th of them
is held out for early stopping) and scored on the validation collages (65-80 by default, or any folder of
collages in the packaged format through ``eval_data``) against:

- ``random``: uniform random covers, one sequence per human scanpath length (the floor; 0.059 SS on all data);
- ``centre_out``: covers in order of distance from the collage centre until the target;
- ``nn_walk``: from the cover nearest the centre, always to the nearest unvisited cover, until the target;
- ``target_template``: a saliency-free template matcher: at each fixation it moves to the unvisited cover with
  the most target evidence, ``d'(distance) * is_target + N(0, 1)`` with ``d' = template_dprime *
  exp(-distance / template_falloff)`` (distances in column pitches), until it fixates the target;
- ``human``: each person against the other five on the same collage (the ceiling; 0.204 SS on all data).

Metrics (:mod:`cogsim._compare_scanpath`): Sequence Score, edit distance, the behaviour vector and its
delta, the TFP curve and its area, the probability mismatch and the fixation-count error.

Run: ``cogsim run book_cover_scanpaths`` (quick: a small OAT, about 1-2 minutes on two CPU cores);
``--preset paper`` trains the published sizes for up to 500 epochs. Score a saved model on other collages
with ``--set load_model=DIR --set eval_data=FOLDER``.
"""

from __future__ import annotations

import dataclasses
import math
import time

import jax
import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim import config as cfglib
from cogsim.errors import CogsimError
from cogsim.models import oat
from cogsim.models.oat import centre_out, nn_walk, random_baseline, target_template
from cogsim.reference import Reference
from cogsim.scenarios import _book_cover_plot
from cogsim.scenarios import _scanpath_methods as sm
from cogsim.scenarios._book_cover_data import (
    N_COLS,
    N_OBJECTS,
    N_ROWS,
    N_TARGET_IMAGES,
    ROW_PITCH,
    displays_for,
    fixation_frame,
    fixation_rows,
    human_frame,
    load_collages,
    scanpaths_by_trial,
)

DESCRIPTION = "OAT scanpaths in book-cover search (80 collages): Sequence Score, behaviour, TFP vs baselines"

METHODS = ("oat_greedy", "oat_sampled", "random", "centre_out", "nn_walk", "target_template", "human")


@dataclasses.dataclass(frozen=True)
class Config(sm.OATSettings):
    """Settings of the book-cover scanpath scenario (defaults = the published OAT setting)."""

    appearance: str = cfglib.field(
        "embedding",
        choices=("embedding", "none"),
        doc="embedding: learned 'distractor' / 'target k' vectors; none: layout only",
    )
    max_epochs: int = cfglib.field(500, low=0, high=100_000, doc="training epochs (upper bound)")
    patience: int = cfglib.field(30, low=1, high=100_000, doc="early stopping: epochs without a better score")
    select: str = cfglib.field(
        "delta",
        choices=("delta", "nll"),
        doc="early-stopping score: greedy behaviour delta (published) or held-out NLL",
    )
    length_filter_sd: float = cfglib.field(
        3.0, low=0.5, high=100.0, doc="drop training scanpaths outside mean +- this many SD"
    )
    train_first: int = cfglib.field(1, low=1, high=80, doc="first training collage")
    train_last: int = cfglib.field(64, low=1, high=80, doc="last training collage")
    holdout_every: int = cfglib.field(
        8, low=0, high=80, doc="every k-th training collage is held out for early stopping (0 = none)"
    )
    eval_first: int = cfglib.field(65, low=1, high=80, doc="first validation collage (packaged data)")
    eval_last: int = cfglib.field(80, low=1, high=80, doc="last validation collage (packaged data)")
    eval_data: str = cfglib.field(
        "", doc="folder with fixations.csv and trials.csv to score instead ('' = packaged)"
    )
    n_samples: int = cfglib.field(
        100, low=1, high=10_000, doc="sampled scanpaths per collage (model, baselines)"
    )
    max_len: int = cfglib.field(
        0, low=0, high=1000, doc="most decoded fixations (0 = longest training scanpath)"
    )
    tfp_steps: int = cfglib.field(20, low=1, high=1000, doc="length of the TFP curve")
    template_dprime: float = cfglib.field(
        3.0, low=0.0, high=100.0, doc="template baseline: d' at the fixation"
    )
    template_falloff: float = cfglib.field(
        2.0, low=0.01, high=100.0, doc="template baseline: d' decay length (column pitches)"
    )
    load_model: str = cfglib.field("", doc="folder written by cogsim.models.oat.save: skip training")
    save_model: str = cfglib.field("", doc="write the trained model to this folder")

    def __post_validate__(self):
        super().__post_validate__()
        if self.train_last < self.train_first:
            raise cfglib.ConfigError("train_last", self.train_last, f">= train_first ({self.train_first})")
        if self.eval_last < self.eval_first:
            raise cfglib.ConfigError("eval_last", self.eval_last, f">= eval_first ({self.eval_first})")


PRESETS = {
    # Small OAT, fixed epoch budget with early stopping, larger learning rate: ~1-2 min on two CPU cores.
    "quick": Config(
        d_model=64,
        n_heads=4,
        d_ff=64,
        n_layers=2,
        lr=1e-3,
        max_epochs=15,
        patience=5,
        select="nll",
        n_samples=100,
    ),
    "paper": Config(),
    # Smallest end-to-end run, for tests (layout only, so that the tests cover appearance="none").
    "test": Config(
        d_model=24,
        n_heads=2,
        d_ff=24,
        n_layers=1,
        lr=1e-3,
        max_epochs=1,
        patience=1,
        n_samples=4,
        select="nll",
        appearance="none",
        holdout_every=0,
        train_first=1,
        train_last=24,
        eval_first=65,
        eval_last=68,
    ),
}


def model_config(config: Config) -> oat.OATConfig:
    """The OAT architecture for a scenario config."""
    return config.oat_config(
        n_rows=N_ROWS, n_cols=N_COLS, appearance=config.appearance, n_appearance=2 + N_TARGET_IMAGES
    )


# ------------------------------------------------------------------------------------------------ simulate
def train_model(
    config: Config, fix: pd.DataFrame, trials: pd.DataFrame, *, key: jax.Array, log=None
) -> tuple[oat.OAT, dict]:
    """Trains OAT on the training collages; returns the model and a summary (epochs, best epoch, time)."""
    by_trial = scanpaths_by_trial(fix)
    ids = [t for t in range(config.train_first, config.train_last + 1) if t in by_trial]
    hold = [t for t in ids if config.holdout_every and t % config.holdout_every == 0]
    fit_ids = [t for t in ids if t not in hold]
    pairs = [(t, p) for t in fit_ids for p in by_trial[t]]
    if not pairs:
        raise CogsimError(
            f"book_cover_scanpaths: no training scanpaths in collages "
            f"{config.train_first}..{config.train_last}"
        )
    keep = oat.length_filter([len(p) for _, p in pairs], config.length_filter_sd)
    pairs = [x for x, k in zip(pairs, keep, strict=True) if k]
    longest = max(len(p) for _, p in pairs)
    index = {t: i for i, t in enumerate(fit_ids)}
    train = oat.TrainData(
        displays_for(trials, fit_ids),
        oat.encode_scanpaths([p for _, p in pairs], N_OBJECTS, longest),
        np.array([index[t] for t, _ in pairs]),
    )
    k_init, k_fit = jax.random.split(key)
    model = oat.OAT(model_config(config), key=k_init)
    validation = (displays_for(trials, hold), [by_trial[t] for t in hold]) if hold else None
    t0 = time.time()
    res = oat.fit(
        model,
        train,
        key=k_fit,
        epochs=config.max_epochs,
        batch_size=min(config.batch_size, len(pairs)),
        lr=config.lr,
        validation=validation,
        patience=config.patience,
        select=config.select,
        max_len=config.max_len or longest + 1,
        log=log,
    )
    info = {
        "train_scanpaths": len(pairs),
        "dropped_by_length_filter": int((~keep).sum()),
        "epochs": len(res.history),
        "best_epoch": res.best_epoch,
        "train_seconds": time.time() - t0,
        "longest": longest,
        "final_loss": res.history[-1]["loss"] if res.history else math.nan,
    }
    return res.model, info


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """Trains (or loads) OAT, decodes the evaluation collages and runs the baselines.

    Returns:
      One row per fixation: ``method, trial, sample, fixation_index, object_id, target_object_id``; the human
      scanpaths the methods are scored against are included as method "human" (sample = subject), and
      ``DataFrame.attrs["training"]`` summarises the training run.
    """
    config = cfglib.validate(config)
    k_model, k_sample, k_base = jax.random.split(key, 3)
    fix, trials = load_collages()
    if config.load_model:
        model = oat.load(config.load_model)
        mc = model.config
        if (mc.n_rows, mc.n_cols) != (N_ROWS, N_COLS) or mc.appearance not in ("embedding", "none"):
            raise CogsimError(
                f"load_model: {config.load_model!r} holds a {mc.n_rows}x{mc.n_cols} "
                f"'{mc.appearance}' model; this scenario needs a 6x14 'embedding' or 'none' model"
            )
        info = {"loaded_from": config.load_model}
        longest = oat.load_meta(config.load_model).get("longest", 60)
    else:
        model, info = train_model(config, fix, trials, key=k_model)
        longest = info["longest"]
        if config.save_model:
            oat.save(config.save_model, model, meta=info)
    if config.eval_data:
        e_fix, e_trials = load_collages(config.eval_data)
    else:
        sel = (fix.trial >= config.eval_first) & (fix.trial <= config.eval_last)
        e_fix, e_trials = fix[sel], trials
    human = scanpaths_by_trial(e_fix)
    ids = sorted(human)
    if not ids:
        raise CogsimError(
            "book_cover_scanpaths: no evaluation scanpaths (check eval_first/eval_last/eval_data)"
        )
    targets = e_trials.set_index("trial").target_object_id
    max_len = config.max_len or longest + 1
    disp = displays_for(e_trials, ids)
    if model.config.appearance == "none":
        disp = disp._replace(appearance=None)
    greedy = oat.greedy(model, disp, max_len=max_len)
    sampled = oat.sample(model, disp, key=k_sample, n_samples=config.n_samples, max_len=max_len)
    rows: list[dict] = []
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_base)).ravel()[-1].item())
    geo = {"n_rows": N_ROWS, "n_cols": N_COLS, "row_pitch": ROW_PITCH}
    for i, t in enumerate(ids):
        tg = int(targets[t])
        lengths = [len(human[t][s % len(human[t])]) for s in range(config.n_samples)]
        rows += fixation_rows("oat_greedy", t, tg, [greedy[i]])
        rows += fixation_rows("oat_sampled", t, tg, sampled[i])
        rows += fixation_rows("random", t, tg, random_baseline(lengths, N_OBJECTS, rng=rng))
        rows += fixation_rows("centre_out", t, tg, centre_out(tg, config.n_samples, rng=rng, **geo))
        rows += fixation_rows("nn_walk", t, tg, nn_walk(tg, config.n_samples, rng=rng, **geo))
        rows += fixation_rows(
            "target_template",
            t,
            tg,
            target_template(
                tg,
                config.n_samples,
                dprime=config.template_dprime,
                falloff=config.template_falloff,
                rng=rng,
                **geo,
            ),
        )
        rows += fixation_rows("human", t, tg, human[t])
    out = fixation_frame(rows)
    out.attrs["training"] = info
    return out


def reference(config: Config | None = None) -> Reference:
    """The human scanpaths of the packaged validation collages 65-80, in the simulation schema."""
    fix, trials = load_collages()
    return Reference(
        human_frame(fix[(fix.trial >= 65) & (fix.trial <= 80)], trials),
        kind="trial_level",
        source="Sattar et al. (2015) book-cover search scanpaths",
    )


# ------------------------------------------------------------------------------------------------ compare
def method_scores(sim: pd.DataFrame, human_df: pd.DataFrame, *, tfp_steps: int = 20) -> dict[str, dict]:
    """Per method: the :class:`ScanpathScores` and per-collage SS values against the human scanpaths (those
    stored in ``sim``, else ``human_df``)."""
    ref = sim[sim.method == "human"] if (sim.method == "human").any() else human_df
    return sm.method_scores(sim, ref, METHODS, by="trial", reference="human", max_steps=tfp_steps)


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """OAT and the baselines against the human scanpaths (those stored in ``sim``, else ``human``)."""
    res = method_scores(sim, human)
    table = sm.methods_table(res)
    metrics = []
    ceiling = res["human"]["scores"].sequence_score if "human" in res else None
    for m, r in res.items():
        s = r["scores"]
        est, lo, hi = cmp.bootstrap_ci(r["per_display_ss"], np.mean, n_boot=500, seed=0)
        note = {
            "human": "human vs other humans on the same collage (ceiling; 0.204 on all 100 collages)",
            "random": "floor (0.059 on all 100 collages)",
        }.get(m, "")
        metrics.append(
            cmp.Metric(f"{m}.SS", s.sequence_score, lo, hi, None if m == "human" else ceiling, note)
        )
        if m != "human":
            metrics.append(cmp.Metric(f"{m}.delta", s.delta, note="behaviour delta (0 = human behaviour)"))
    for m in ("oat_greedy", "oat_sampled"):
        if m in res:
            s = res[m]["scores"]
            metrics += [
                cmp.Metric(f"{m}.ED", s.edit_distance),
                cmp.Metric(f"{m}.TFP_AUC", s.tfp_auc, human=res["human"]["scores"].tfp_auc),
                cmp.Metric(f"{m}.prob_mismatch", s.probability_mismatch),
                cmp.Metric(f"{m}.FCE", s.fixation_count_error),
            ]
    checks = []
    if "oat_sampled" in res and "random" in res:
        o, r = res["oat_sampled"]["scores"], res["random"]["scores"]
        checks.append(
            cmp.Check(
                "OAT (sampled) Sequence Score above the random floor",
                o.sequence_score > r.sequence_score,
                f"{o.sequence_score:.3f} vs {r.sequence_score:.3f}",
            )
        )
        checks.append(
            cmp.Check(
                "OAT (sampled) behaviour delta below random",
                o.delta < r.delta,
                f"{o.delta:.3f} vs {r.delta:.3f}",
            )
        )
        heur = {
            m: res[m]["scores"].sequence_score
            for m in ("centre_out", "nn_walk", "target_template")
            if m in res
        }
        if heur:
            best = max(heur, key=heur.get)
            checks.append(
                cmp.Check(
                    "OAT (sampled) SS above the best layout heuristic",
                    o.sequence_score > heur[best],
                    f"{o.sequence_score:.3f} vs {best} {heur[best]:.3f}",
                )
            )
    if "oat_greedy" in res and "random" in res:
        g, r = res["oat_greedy"]["scores"], res["random"]["scores"]
        checks.append(
            cmp.Check(
                "OAT (greedy) Sequence Score above the random floor",
                g.sequence_score > r.sequence_score,
                f"{g.sequence_score:.3f} vs {r.sequence_score:.3f}",
            )
        )
    tfp = pd.DataFrame(
        {
            "k": np.arange(1, len(next(iter(res.values()))["scores"].tfp) + 1),
            **{m: r["scores"].tfp for m, r in res.items()},
        }
    )
    return cmp.Comparison(
        tuple(metrics),
        tuple(checks),
        key="oat_sampled.SS" if "oat_sampled" in res else None,
        tables={"methods": table, "tfp": tfp},
    )


# --------------------------------------------------------------------------------------------------- plot
def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """Example scanpaths on one validation collage, the TFP curves, and the Sequence Score by method."""
    return _book_cover_plot.figure(sim, human, method_scores(sim, human))
