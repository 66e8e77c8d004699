"""Synthetic shelf search: does OAT learn appearance effects when the objects have an appearance?

The book-cover data have no images, so OAT sees layout and target only there. This scenario generates
displays procedurally: a grid of coloured shapes (``n_colours`` colours x ``n_shapes`` shapes, each rendered
as a small RGB crop with pixel noise). One object is the target; ``n_similar`` of the distractors share one
feature with it (``similar_feature``: its colour by default) and the rest share none. Scanpaths come from a
similarity-guided searcher: from the display centre it fixates unvisited objects with probability
``softmax(beta_similarity * s_j - beta_distance * d_j)``, where ``s_j`` is the object's similarity to the
target (1 target, 0.5 one shared feature, 0 none) and ``d_j`` the distance (cells) from the current
fixation, until it fixates the target.

OAT with the crop CNN (``appearance="cnn"``) and OAT without appearance (``"none"``) are trained on the
searcher's scanpaths, each keeping the epoch with the lowest NLL on held-out displays, and scored on new
displays against fresh searcher scanpaths (the reference, in place of human data), next to random,
centre-out and nearest-neighbour baselines. The appearance effects checked: fixations on target-similar
distractors (share among distractor fixations, against chance), scanpath length growing with the number of
similar distractors, and OAT with appearance above OAT without it in Sequence Score and in the likelihood
(teacher-forced NLL) of the held-out searcher scanpaths.
Each check is a contrast over the evaluation displays with a CI (:mod:`cogsim.scenarios._shelf_checks`).

Run: ``cogsim run synthetic_shelf_search`` (quick: small models, one to two minutes on two CPU cores).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim import config as cfglib
from cogsim.models import oat
from cogsim.reference import Reference
from cogsim.scenarios import _scanpath_methods as sm
from cogsim.scenarios import _shelf_checks, _shelf_plot
from cogsim.scenarios._shelf_displays import COLOURS, SHAPES, ShelfDisplays, make_displays

DESCRIPTION = (
    "Synthetic coloured-shape search: does OAT (crop CNN vs no appearance) learn target-similarity effects?"
)

METHODS = ("oat_cnn", "oat_none", "random", "centre_out", "nn_walk", "searcher")


@dataclasses.dataclass(frozen=True)
class Config(sm.OATSettings):
    """Settings of the synthetic shelf-search scenario."""

    n_rows: int = cfglib.field(4, low=2, high=20, doc="grid rows")
    n_cols: int = cfglib.field(6, low=2, high=20, doc="grid columns")
    n_colours: int = cfglib.field(4, low=2, high=len(COLOURS), doc="distinct colours")
    n_shapes: int = cfglib.field(4, low=2, high=len(SHAPES), doc="distinct shapes")
    similar_levels: tuple[int, ...] = cfglib.field(
        (0, 4, 8, 12, 16), low=0, high=400, doc="numbers of target-similar distractors"
    )
    similar_feature: str = cfglib.field(
        "colour",
        choices=("colour", "shape", "either"),
        doc="the feature a target-similar distractor shares with the target",
    )
    crop: int = cfglib.field(14, low=11, high=256, doc="crop size in pixels (square)")
    pixel_noise: float = cfglib.field(0.05, low=0.0, high=1.0, doc="SD of the crops' pixel noise")
    beta_similarity: float = cfglib.field(
        2.5, low=0.0, high=100.0, doc="searcher: weight of target similarity"
    )
    beta_distance: float = cfglib.field(
        0.5, low=0.0, high=100.0, doc="searcher: weight of distance (per cell)"
    )
    n_train_displays: int = cfglib.field(400, low=2, high=1_000_000, doc="training displays")
    train_paths_per_display: int = cfglib.field(
        2, low=1, high=1000, doc="searcher scanpaths per training display"
    )
    n_eval_displays: int = cfglib.field(100, low=1, high=100_000, doc="evaluation displays")
    eval_paths_per_display: int = cfglib.field(
        10, low=1, high=1000, doc="searcher (reference) scanpaths per evaluation display"
    )
    n_samples: int = cfglib.field(20, low=1, high=10_000, doc="sampled scanpaths per evaluation display")
    epochs: int = cfglib.field(100, low=1, high=100_000, doc="training epochs (upper bound)")
    n_val_displays: int = cfglib.field(
        100,
        low=0,
        high=100_000,
        doc="held-out displays for early stopping on the NLL (0 = no early stopping)",
    )
    patience: int = cfglib.field(10, low=1, high=100_000, doc="early stopping: epochs without a better NLL")
    models: tuple[str, ...] = cfglib.field(("cnn", "none"), doc="OAT appearance encoders to train")

    def __post_validate__(self):
        super().__post_validate__()
        n = self.n_rows * self.n_cols
        if max(self.similar_levels) > n - 1:
            raise cfglib.ConfigError(
                "similar_levels", self.similar_levels, f"values <= {n - 1} (distractors)"
            )
        for m in self.models:
            if m not in ("cnn", "none"):
                raise cfglib.ConfigError("models", self.models, "names from ['cnn', 'none']")


PRESETS = {
    # Small OAT (d 64, 2 + 2 layers), at most 30 epochs, each model stopped on its held-out NLL.
    "quick": Config(
        d_model=64,
        n_heads=4,
        d_ff=64,
        n_layers=2,
        lr=2e-3,
        epochs=30,
        patience=5,
        n_train_displays=300,
        n_val_displays=50,
    ),
    "paper": Config(),
}


def oat_displays(d: ShelfDisplays, config: Config, *, appearance: str) -> oat.Displays:
    """The OAT inputs of generated displays."""
    base = oat.grid_displays(d.target, n_rows=config.n_rows, n_cols=config.n_cols)
    return base._replace(appearance=d.crops if appearance == "cnn" else None)


# -------------------------------------------------------------------------------------------- the searcher
def searcher_scanpaths(
    d: ShelfDisplays, config: Config, n_paths: int, *, key: jax.Array
) -> list[list[list[int]]]:
    """``n_paths`` scanpaths per display of the similarity-guided searcher
    (:func:`cogsim.models.oat.searcher_scanpaths`) with the config's weights: ``out[display][path]``."""
    return oat.searcher_scanpaths(
        d.similarity(),
        d.target,
        n_paths,
        key=key,
        n_rows=config.n_rows,
        n_cols=config.n_cols,
        beta_similarity=config.beta_similarity,
        beta_distance=config.beta_distance,
    )


# ------------------------------------------------------------------------------------------------ simulate
def model_config(config: Config, appearance: str) -> oat.OATConfig:
    """The OAT architecture for a scenario config and appearance encoder."""
    return config.oat_config(
        n_rows=config.n_rows,
        n_cols=config.n_cols,
        appearance=appearance,
        crop_height=config.crop,
        crop_width=config.crop,
        cnn_pool=(2, 3),
    )


COLUMNS = {
    "method": "str",
    "display": "int64",
    "sample": "int64",
    "fixation_index": "int64",
    "object_id": "int64",
    "object_row": "int64",
    "object_col": "int64",
    "colour": "int64",
    "shape": "int64",
    "target_object_id": "int64",
    "n_similar": "int64",
    "similarity": "float64",
}


def _rows(method, disp: ShelfDisplays, paths_by_display, sim: np.ndarray, n_cols: int) -> list[dict]:
    rows = []
    for i, paths in enumerate(paths_by_display):
        for s, p in enumerate(paths):
            for k, o in enumerate(p):
                rows.append(
                    {
                        "method": method,
                        "display": i,
                        "sample": s,
                        "fixation_index": k,
                        "object_id": o,
                        "object_row": o // n_cols,
                        "object_col": o % n_cols,
                        "colour": int(disp.colour[i, o]),
                        "shape": int(disp.shape[i, o]),
                        "target_object_id": int(disp.target[i]),
                        "n_similar": int(disp.n_similar[i]),
                        "similarity": float(sim[i, o]),
                    }
                )
    return rows


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """Generates displays and searcher scanpaths, trains OAT (with and without appearance), decodes.

    Returns:
      One row per fixation (:data:`COLUMNS`): the object's grid cell, colour and shape, the display's target
      and number of similar distractors, and the object's similarity to the target. Method "searcher" holds
      the reference scanpaths of the evaluation displays; method "layout" lists every object of each
      evaluation display once (for figures).
    """
    config = cfglib.validate(config)
    k_train, k_ref, k_fit, k_sample, k_rand = jax.random.split(key, 5)
    seed = int(np.asarray(jax.random.randint(k_rand, (), 0, 2**31 - 1)))
    n_obj = config.n_rows * config.n_cols
    train_d = make_displays(config, config.n_train_displays, seed=seed)
    eval_d = make_displays(config, config.n_eval_displays, seed=seed + 1)
    train_paths = searcher_scanpaths(train_d, config, config.train_paths_per_display, key=k_train)
    ref_paths = searcher_scanpaths(eval_d, config, config.eval_paths_per_display, key=k_ref)
    if config.n_val_displays:  # held-out displays and searcher scanpaths: early stopping on the NLL
        val_d = make_displays(config, config.n_val_displays, seed=seed + 3)
        val_paths = searcher_scanpaths(
            val_d, config, config.train_paths_per_display, key=jax.random.fold_in(k_train, 1)
        )
    pairs = [(i, p) for i, paths in enumerate(train_paths) for p in paths]
    longest = max(len(p) for _, p in pairs)
    seqs = oat.encode_scanpaths([p for _, p in pairs], n_obj, longest)
    didx = np.array([i for i, _ in pairs])
    ref_flat = [p for paths in ref_paths for p in paths]
    ref_seqs = oat.encode_scanpaths(ref_flat, n_obj, max(len(p) for p in ref_flat))
    ref_didx = np.array([i for i, paths in enumerate(ref_paths) for _ in paths])
    sim_eval = eval_d.similarity()
    rows = _rows("layout", eval_d, [[list(range(n_obj))] for _ in ref_paths], sim_eval, config.n_cols)
    rows += _rows("searcher", eval_d, ref_paths, sim_eval, config.n_cols)
    info = {}
    for j, app in enumerate(config.models):
        model = oat.OAT(model_config(config, app), key=jax.random.fold_in(k_fit, 2 * j))
        data = oat.TrainData(oat_displays(train_d, config, appearance=app), seqs, didx)
        validation = (
            (oat_displays(val_d, config, appearance=app), val_paths) if config.n_val_displays else None
        )
        t0 = time.time()
        res = oat.fit(
            model,
            data,
            key=jax.random.fold_in(k_fit, 2 * j + 1),
            epochs=config.epochs,
            batch_size=min(config.batch_size, len(pairs)),
            lr=config.lr,
            validation=validation,
            patience=config.patience,
            select="nll",
            max_len=n_obj,
        )
        e_disp = oat_displays(eval_d, config, appearance=app)
        nll, _ = oat.teacher_forced_loss(res.model, e_disp.take(ref_didx), ref_seqs)
        per_display = [
            float(oat.teacher_forced_loss(res.model, e_disp.take(ref_didx[sel]), ref_seqs[sel])[0])
            for sel in (ref_didx == i for i in range(len(ref_paths)))
        ]
        info[app] = {
            "train_seconds": time.time() - t0,
            "epochs": len(res.history),
            "best_epoch": res.best_epoch,
            "final_loss": res.history[-1]["loss"],
            "final_accuracy": res.history[-1]["accuracy"],
            "eval_nll": float(nll),
            "eval_nll_per_display": per_display,
        }
        paths = oat.sample(
            res.model,
            e_disp,
            key=jax.random.fold_in(k_sample, j),
            n_samples=config.n_samples,
            max_len=n_obj,
        )
        rows += _rows(f"oat_{app}", eval_d, paths, sim_eval, config.n_cols)
    rng = np.random.default_rng(seed + 2)
    lengths = [[len(ref[s % len(ref)]) for s in range(config.n_samples)] for ref in ref_paths]
    geo = {"n_rows": config.n_rows, "n_cols": config.n_cols, "rng": rng}
    baselines = {
        "random": [oat.random_baseline(n, n_obj, rng=rng) for n in lengths],
        "centre_out": [oat.centre_out(int(t), config.n_samples, **geo) for t in eval_d.target],
        "nn_walk": [oat.nn_walk(int(t), config.n_samples, **geo) for t in eval_d.target],
    }
    for name, paths in baselines.items():
        rows += _rows(name, eval_d, paths, sim_eval, config.n_cols)
    out = pd.DataFrame(rows, columns=list(COLUMNS)).astype(COLUMNS)
    out.attrs["training"] = info
    return out


def reference(config: Config | None = None) -> Reference:
    """No human data: an empty frame in the simulation schema (the reference is the simulated searcher)."""
    return Reference(
        pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()}),
        kind="none",
        source="no human data: the simulated searcher is the reference",
    )


# ------------------------------------------------------------------------------------------------ compare
def effects(sim: pd.DataFrame, n_objects: int | None = None) -> pd.DataFrame:
    """Per method: the share of distractor fixations on target-similar distractors, the chance share, and the
    slope of scanpath length on the number of similar distractors (with its CI)."""
    rows = []
    n_obj = n_objects or int(sim.object_id.max()) + 1  # the layout rows list every object
    sim = sim[sim.method != "layout"]
    for m, g in sim.groupby("method", sort=False):
        distr = g[g.object_id != g.target_object_id]
        share = float((distr.similarity == 0.5).mean()) if len(distr) else np.nan
        # chance: the fraction of similar distractors among the distractors of each fixation's display
        chance = float((distr.n_similar / (n_obj - 1)).mean()) if len(distr) else np.nan
        lengths = g.groupby(["display", "sample"]).agg(
            n=("object_id", "size"), n_similar=("n_similar", "first")
        )
        # one point per display (its mean length): samples of one display are not independent
        per = lengths.groupby("display").agg(n=("n", "mean"), n_similar=("n_similar", "first"))
        fit = cmp.fit_line(per.n_similar, per.n) if per.n_similar.nunique() > 1 and len(per) > 2 else None
        rows.append(
            {
                "method": m,
                "similar_share": share,
                "chance_share": chance,
                "length_slope": fit.slope if fit else np.nan,
                "slope_low": fit.slope_ci[0] if fit else np.nan,
                "slope_high": fit.slope_ci[1] if fit else np.nan,
                "mean_length": float(lengths.n.mean()),
            }
        )
    return pd.DataFrame(rows)


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """OAT with and without appearance against the searcher's scanpaths; the appearance effects."""
    ref = sim[sim.method == "searcher"]
    res = sm.method_scores(sim, ref, METHODS, by="display", reference="searcher", max_steps=10)
    scores = {m: r["scores"] for m, r in res.items()}
    eff = effects(sim)
    e = eff.set_index("method")
    ceiling = scores["searcher"].sequence_score
    metrics = [
        cmp.Metric(
            f"{m}.SS",
            s.sequence_score,
            human=None if m == "searcher" else ceiling,
            note="searcher vs other searcher runs (ceiling)" if m == "searcher" else "",
        )
        for m, s in scores.items()
    ]
    metrics += [cmp.Metric(f"{m}.delta", s.delta) for m, s in scores.items() if m != "searcher"]
    for m in e.index:
        metrics.append(
            cmp.Metric(
                f"{m}.similar_share",
                float(e.similar_share[m]),
                human=float(e.similar_share.get("searcher", np.nan)),
                note=f"chance {e.chance_share[m]:.3f}",
            )
        )
        metrics.append(
            cmp.Metric(
                f"{m}.length_slope",
                float(e.length_slope[m]),
                float(e.slope_low[m]),
                float(e.slope_high[m]),
                human=float(e.length_slope.get("searcher", np.nan)),
                note="fixations per similar distractor",
            )
        )
    nll = {
        m: float(info["eval_nll"])
        for m, info in ((f"oat_{a}", i) for a, i in sim.attrs.get("training", {}).items())
        if "eval_nll" in info
    }
    metrics += [
        cmp.Metric(f"{m}.nll", v, note="teacher-forced NLL of the evaluation searcher scanpaths (nats/token)")
        for m, v in nll.items()
    ]
    n_obj = int(sim.object_id.max()) + 1  # the layout rows list every object
    checks = _shelf_checks.checks(sim, res, eff, n_obj)
    key = "oat_cnn.similar_share" if "oat_cnn" in e.index else None
    return cmp.Comparison(
        tuple(metrics), tuple(checks), key=key, tables={"methods": sm.methods_table(res), "effects": eff}
    )


# --------------------------------------------------------------------------------------------------- plot
def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """An example display with searcher and OAT scanpaths; length by similar distractors; similar share."""
    return _shelf_plot.figure(sim, effects(sim))
