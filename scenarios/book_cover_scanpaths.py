"""Book-cover search scanpaths (Sattar et al. 2015; Stauden et al. 2018) predicted by OAT (Fang et al. 2024).

Six people searched each collage of 84 book covers (a 6 x 14 grid) for a target cover shown beforehand; their
fixations, assigned to covers, form object-level scanpaths. The collage images are not available, so the
model sees the layout and the target only: each cover is a token with its grid position (the learned
Gaussian-similarity code) and, with ``appearance="embedding"``, a learned vector for "a distractor cover" or
"the target cover" (one per target image with ``target_identity=True``). With ``folds > 0`` (both presets)
the packaged collages are scored by cross-validation, folds grouped by target cover
(:func:`collage_folds`): each fold's collages by an OAT trained on the other folds' collages (every
``holdout_every``-th of them held out for early stopping). With ``folds=0`` OAT is trained on collages
``train_first..train_last`` and scored on ``eval_first..eval_last``; ``eval_data`` scores any folder of
collages in the packaged format instead. OAT is compared with:

- ``random``: uniform random covers, one sequence per human scanpath length (the floor; 0.059 SS on all data);
- ``centre_out``: covers in order of distance from the collage centre until the target;
- ``nn_walk``: from the cover nearest the centre, always to the nearest unvisited cover, until the target;
- ``target_template``: a saliency-free template matcher: at each fixation it moves to the unvisited cover with
  the most target evidence, ``d'(distance) * is_target + N(0, 1)`` with ``d' = template_dprime *
  exp(-distance / template_falloff)`` (distances in column pitches), until it fixates the target;
- ``human``: each person against the other five on the same collage (the ceiling; 0.204 SS on all data).

Metrics (:mod:`cogsim._compare_scanpath`): Sequence Score, edit distance, the behaviour vector and its
delta, the TFP curve and its area, the probability mismatch and the fixation-count error.

The checks are contrasts over collages with bootstrap CIs (:mod:`cogsim.scenarios._book_cover_checks`).

Run: ``cogsim run book_cover_scanpaths`` (quick: a small OAT, two folds); ``--preset paper`` trains the
published sizes for up to 500 epochs in each of four folds. Score a saved model on other collages
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
from cogsim.scenarios import _book_cover_checks, _book_cover_plot
from cogsim.scenarios import _scanpath_methods as sm
from cogsim.scenarios._book_cover_data import (
    N_COLS,
    N_OBJECTS,
    N_ROWS,
    N_TARGET_IMAGES,
    ROW_PITCH,
    collage_folds,
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
        doc="embedding: learned 'distractor' / 'target' vectors; none: layout only",
    )
    target_identity: bool = cfglib.field(
        False,
        doc="embedding: one learned vector per target image ('target k'; does not transfer to a new target "
        "cover) instead of one shared 'target' vector",
    )
    folds: int = cfglib.field(
        0,
        low=0,
        high=80,
        doc="cross-validation over the packaged collages, grouped by target cover (0 = the single split "
        "train_first..train_last / eval_first..eval_last)",
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
        if self.folds == 1:
            raise cfglib.ConfigError("folds", self.folds, "0 (single split) or >= 2")
        if self.load_model and self.save_model:
            raise cfglib.ConfigError(
                "save_model", self.save_model, "'' with load_model (a loaded model is not trained again)"
            )
        if self.folds and self.save_model and not self.eval_data:
            raise cfglib.ConfigError(
                "save_model",
                self.save_model,
                "'' with cross-validation (folds > 0 trains one model per fold)",
            )


#: the config fields naming the data compared with: the paper verdict is shown only for runs on its data
DATA_FIELDS = ("eval_data",)

PRESETS = {
    # Small OAT, fixed epoch budget with early stopping, larger learning rate.
    # Two folds (target covers 0, 2 vs 1, 3): every packaged collage is scored by a model that never saw it.
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
        folds=2,
    ),
    # Leave-one-target-cover-out cross-validation (four folds of 20 collages).
    "paper": Config(folds=4),
}


def model_config(config: Config) -> oat.OATConfig:
    """The OAT architecture for a scenario config."""
    return config.oat_config(
        n_rows=N_ROWS, n_cols=N_COLS, appearance=config.appearance, n_appearance=2 + N_TARGET_IMAGES
    )


# ------------------------------------------------------------------------------------------------ simulate
def train_model(
    config: Config,
    fix: pd.DataFrame,
    trials: pd.DataFrame,
    *,
    key: jax.Array,
    ids: list[int] | None = None,
    log=None,
) -> tuple[oat.OAT, dict]:
    """Trains OAT on collages ``ids`` (default ``train_first..train_last``), every ``holdout_every``-th of
    them held out for early stopping; returns the model and a summary (epochs, best epoch, time)."""
    by_trial = scanpaths_by_trial(fix)
    if ids is None:
        ids = list(range(config.train_first, config.train_last + 1))
    ids = [t for t in ids if t in by_trial]
    hold = [t for t in ids if config.holdout_every and t % config.holdout_every == 0]
    fit_ids = [t for t in ids if t not in hold]
    pairs = [(t, p) for t in fit_ids for p in by_trial[t]]
    if not pairs:
        raise CogsimError(f"book_cover_scanpaths: no training scanpaths in collages {ids[:3]}..")
    keep = oat.length_filter([len(p) for _, p in pairs], config.length_filter_sd)
    pairs = [x for x, k in zip(pairs, keep, strict=True) if k]
    longest = max(len(p) for _, p in pairs)
    index = {t: i for i, t in enumerate(fit_ids)}
    ident = config.target_identity
    train = oat.TrainData(
        displays_for(trials, fit_ids, target_identity=ident),
        oat.encode_scanpaths([p for _, p in pairs], N_OBJECTS, longest),
        np.array([index[t] for t, _ in pairs]),
    )
    k_init, k_fit = jax.random.split(key)
    model = oat.OAT(model_config(config), key=k_init)
    validation = (
        (displays_for(trials, hold, target_identity=ident), [by_trial[t] for t in hold]) if hold else None
    )
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


def _load_model(config: Config) -> tuple[oat.OAT, dict, int]:
    model = oat.load(config.load_model)
    mc = model.config
    if (mc.n_rows, mc.n_cols) != (N_ROWS, N_COLS) or mc.appearance not in ("embedding", "none"):
        raise CogsimError(
            f"load_model: {config.load_model!r} holds a {mc.n_rows}x{mc.n_cols} "
            f"'{mc.appearance}' model; this scenario needs a 6x14 'embedding' or 'none' model"
        )
    return model, {"loaded_from": config.load_model}, oat.load_meta(config.load_model).get("longest", 60)


def _score_collages(
    config: Config, model: oat.OAT, longest: int, e_fix, e_trials, *, key: jax.Array, rng
) -> list[dict]:
    """Rows of OAT (greedy, sampled), the baselines and the humans on the collages of ``e_fix``."""
    human = scanpaths_by_trial(e_fix)
    ids = sorted(human)
    if not ids:
        raise CogsimError(
            "book_cover_scanpaths: no evaluation scanpaths (check eval_first/eval_last/eval_data)"
        )
    targets = e_trials.set_index("trial").target_object_id
    max_len = config.max_len or longest + 1
    disp = displays_for(e_trials, ids, target_identity=config.target_identity)
    if model.config.appearance == "none":
        disp = disp._replace(appearance=None)
    greedy = oat.greedy(model, disp, max_len=max_len)
    sampled = oat.sample(model, disp, key=key, n_samples=config.n_samples, max_len=max_len)
    rows: list[dict] = []
    geo = {"n_rows": N_ROWS, "n_cols": N_COLS, "row_pitch": ROW_PITCH}
    tmpl = {"dprime": config.template_dprime, "falloff": config.template_falloff}
    for i, t in enumerate(ids):
        tg = int(targets[t])
        lengths = [len(human[t][s % len(human[t])]) for s in range(config.n_samples)]
        rows += fixation_rows("oat_greedy", t, tg, [greedy[i]])
        rows += fixation_rows("oat_sampled", t, tg, sampled[i])
        rows += fixation_rows("random", t, tg, random_baseline(lengths, N_OBJECTS, rng=rng))
        rows += fixation_rows("centre_out", t, tg, centre_out(tg, config.n_samples, rng=rng, **geo))
        rows += fixation_rows("nn_walk", t, tg, nn_walk(tg, config.n_samples, rng=rng, **geo))
        paths = target_template(tg, config.n_samples, rng=rng, **tmpl, **geo)
        rows += fixation_rows("target_template", t, tg, paths)
        rows += fixation_rows("human", t, tg, human[t])
    return rows


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """Trains (or loads) OAT, decodes the evaluation collages and runs the baselines.

    With ``folds > 0`` (and no ``eval_data``/``load_model``), each fold's collages are scored by a model
    trained on the other folds' collages (:func:`collage_folds`: collages grouped by target cover), so every
    packaged collage is scored by a model that never saw it or its target cover. With ``eval_data`` the
    model is trained on every packaged collage (``folds > 0``) or on ``train_first..train_last``.

    Returns:
      One row per fixation: ``method, trial, sample, fixation_index, object_id, target_object_id, fold``;
      the human scanpaths the methods are scored against are included as method "human" (sample =
      subject), and ``DataFrame.attrs["training"]`` summarises the training runs.
    """
    config = cfglib.validate(config)
    k_model, k_sample, k_base = jax.random.split(key, 3)
    fix, trials = load_collages()
    # the user's collages are checked before any training
    evaluation = load_collages(config.eval_data) if config.eval_data else None
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_base)).ravel()[-1].item())
    if config.folds and not (config.eval_data or config.load_model):
        fold_of = collage_folds(trials[trials.trial.isin(fix.trial)], config.folds)
        rows, info = [], {}
        for f in range(config.folds):
            test = sorted(t for t, g in fold_of.items() if g == f)
            train_ids = sorted(t for t, g in fold_of.items() if g != f)
            model, inf = train_model(config, fix, trials, ids=train_ids, key=jax.random.fold_in(k_model, f))
            e_fix = fix[fix.trial.isin(test)]
            key_f = jax.random.fold_in(k_sample, f)
            rows += _score_collages(config, model, inf["longest"], e_fix, trials, key=key_f, rng=rng)
            info[f"fold{f}"] = {**inf, "test_collages": test}
        out = fixation_frame(rows)
        out["fold"] = out.trial.map(fold_of).astype("int64")
    else:
        if config.load_model:
            model, info, longest = _load_model(config)
        else:
            ids = sorted(set(fix.trial)) if config.folds else None
            model, info = train_model(config, fix, trials, ids=ids, key=k_model)
            longest = info["longest"]
            if config.save_model:
                oat.save(config.save_model, model, meta=info)
        if evaluation is not None:
            e_fix, e_trials = evaluation
        else:
            sel = (fix.trial >= config.eval_first) & (fix.trial <= config.eval_last)
            e_fix, e_trials = fix[sel], trials
        out = fixation_frame(_score_collages(config, model, longest, e_fix, e_trials, key=k_sample, rng=rng))
        out["fold"] = np.zeros(len(out), np.int64)
    out.attrs["training"] = info
    return out


def reference(config: Config | None = None) -> Reference:
    """The human scanpaths of the collages a config scores, in the simulation schema: every collage of
    ``eval_data``; all 80 packaged ones under cross-validation (``folds > 0`` without ``load_model``); else
    ``eval_first..eval_last`` (65-80 without a config)."""
    source = "Sattar et al. (2015) book-cover search scanpaths"
    if config is not None and config.eval_data:
        fix, trials = load_collages(config.eval_data)
        return Reference(human_frame(fix, trials), kind="trial_level", source=config.eval_data)
    fix, trials = load_collages()
    if config is not None and config.folds and not config.load_model:
        sel = fix.trial > 0
    else:
        lo, hi = (config.eval_first, config.eval_last) if config is not None else (65, 80)
        sel = (fix.trial >= lo) & (fix.trial <= hi)
    return Reference(human_frame(fix[sel], trials), kind="trial_level", source=source)


# ------------------------------------------------------------------------------------------------ compare
def method_scores(sim: pd.DataFrame, human_df: pd.DataFrame, *, tfp_steps: int = 20) -> dict[str, dict]:
    """Per method: the :class:`ScanpathScores` and per-collage SS values against the human scanpaths (those
    stored in ``sim``, else ``human_df``)."""
    ref = sim[sim.method == "human"] if (sim.method == "human").any() else human_df
    return sm.method_scores(sim, ref, METHODS, by="trial", reference="human", max_steps=tfp_steps)


#: the last scores: compare() and plot() of one run score the same tables once
_LAST_SCORES: dict[str, object] = {}


def _fingerprint(df: pd.DataFrame) -> tuple:
    return id(df), len(df), int(pd.util.hash_pandas_object(df, index=True).sum())


def _scores_of(sim: pd.DataFrame, human: pd.DataFrame, tfp_steps: int | None = None) -> dict[str, dict]:
    """:func:`method_scores`, reused while ``sim`` and ``human`` are the same unchanged tables (and
    ``tfp_steps`` the same; None, as from plot(), takes the last scores of these tables, else 20)."""
    tables = (_fingerprint(sim), _fingerprint(human))
    if _LAST_SCORES.get("tables") != tables or tfp_steps not in (None, _LAST_SCORES.get("tfp_steps")):
        steps = Config().tfp_steps if tfp_steps is None else tfp_steps
        _LAST_SCORES.clear()
        _LAST_SCORES.update(tables=tables, tfp_steps=steps, res=method_scores(sim, human, tfp_steps=steps))
    return _LAST_SCORES["res"]


def compare(sim: pd.DataFrame, human: pd.DataFrame, *, tfp_steps: int = 20) -> cmp.Comparison:
    """OAT and the baselines against the human scanpaths (those stored in ``sim``, else ``human``), the
    target-fixation-probability curves over ``tfp_steps`` fixations (the config's, through the runner)."""
    res = _scores_of(sim, human, tfp_steps)
    ref = sim[sim.method == "human"] if (sim.method == "human").any() else human
    return _book_cover_checks.comparison_of(sim, ref, res)


# --------------------------------------------------------------------------------------------------- plot
def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """Example scanpaths on one validation collage, the TFP curves, and the Sequence Score by method."""
    return _book_cover_plot.figure(sim, human, _scores_of(sim, human))
