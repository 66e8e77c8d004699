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

DESCRIPTION = (
    "Synthetic coloured-shape search: OAT (crop CNN vs no appearance) learns target-similarity effects"
)

COLOURS = np.array(
    [
        [0.90, 0.15, 0.15],
        [0.15, 0.65, 0.20],
        [0.15, 0.30, 0.90],
        [0.95, 0.80, 0.10],
        [0.70, 0.20, 0.80],
        [0.10, 0.75, 0.80],
    ],
    np.float32,
)
SHAPES = ("square", "disc", "triangle", "cross", "bar")
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


# ------------------------------------------------------------------------------------------------ displays
def shape_mask(shape: str, size: int) -> np.ndarray:
    """A boolean ``size x size`` mask of ``shape`` centred in the crop (a 1-pixel margin).

    Example:
      >>> int(shape_mask("square", 5).sum())
      9
    """
    y, x = np.mgrid[0:size, 0:size].astype(float)
    c = (size - 1) / 2
    r = (size - 2) / 2
    u, v = (x - c) / r, (y - c) / r
    if shape == "square":
        m = (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    elif shape == "disc":
        m = u**2 + v**2 <= 0.85**2
    elif shape == "triangle":
        m = (v <= 0.8) & (v >= -0.8) & (np.abs(u) <= (v + 0.8) / 1.6 * 0.9)
    elif shape == "cross":
        m = ((np.abs(u) <= 0.25) & (np.abs(v) <= 0.85)) | ((np.abs(v) <= 0.25) & (np.abs(u) <= 0.85))
    elif shape == "bar":
        m = (np.abs(u) <= 0.9) & (np.abs(v) <= 0.3)
    else:
        raise ValueError(shape)
    return m


@dataclasses.dataclass(frozen=True)
class ShelfDisplays:
    """Generated displays: object features, targets, crops and the number of similar distractors."""

    colour: np.ndarray  # [D, N]
    shape: np.ndarray  # [D, N]
    target: np.ndarray  # [D]
    n_similar: np.ndarray  # [D]
    crops: np.ndarray  # [D, N, crop, crop, 3]

    def similarity(self) -> np.ndarray:
        """``[D, N]`` similarity of each object to the target (1, 0.5 or 0)."""
        d = np.arange(len(self.target))
        tc, ts = self.colour[d, self.target], self.shape[d, self.target]
        return 0.5 * (self.colour == tc[:, None]) + 0.5 * (self.shape == ts[:, None])


def make_displays(config: Config, n: int, *, seed: int) -> ShelfDisplays:
    """``n`` displays; ``n_similar`` cycles through ``similar_levels``.

    Example:
      >>> d = make_displays(dataclasses.replace(PRESETS["quick"], similar_levels=(0, 8)), 2, seed=0)
      >>> d.crops.shape, d.n_similar.tolist()
      ((2, 24, 14, 14, 3), [0, 8])
    """
    rng = np.random.default_rng(seed)
    n_obj = config.n_rows * config.n_cols
    masks = np.stack([shape_mask(s, config.crop) for s in SHAPES[: config.n_shapes]])
    colour = np.zeros((n, n_obj), np.int32)
    shape = np.zeros((n, n_obj), np.int32)
    target = rng.integers(0, n_obj, n).astype(np.int32)
    levels = np.array(config.similar_levels)[np.arange(n) % len(config.similar_levels)]
    for i in range(n):
        tc, ts = rng.integers(config.n_colours), rng.integers(config.n_shapes)
        others_c = [c for c in range(config.n_colours) if c != tc]
        others_s = [s for s in range(config.n_shapes) if s != ts]
        feats = []
        for j in range(n_obj - 1):
            if j < levels[i]:  # shares exactly one feature
                share_colour = {"colour": True, "shape": False}.get(
                    config.similar_feature, rng.random() < 0.5
                )
                if share_colour:
                    feats.append((tc, rng.choice(others_s)))
                else:
                    feats.append((rng.choice(others_c), ts))
            else:
                feats.append((rng.choice(others_c), rng.choice(others_s)))
        order = rng.permutation(n_obj - 1)
        slots = [k for k in range(n_obj) if k != target[i]]
        for k, j in zip(slots, order, strict=True):
            colour[i, k], shape[i, k] = feats[j]
        colour[i, target[i]], shape[i, target[i]] = tc, ts
    crops = np.full((n, n_obj, config.crop, config.crop, 3), 0.5, np.float32)
    m = masks[shape]  # [n, N, h, w]
    crops = np.where(m[..., None], COLOURS[colour][:, :, None, None, :], crops)
    crops = np.clip(crops + config.pixel_noise * rng.standard_normal(crops.shape), 0, 1).astype(np.float32)
    return ShelfDisplays(colour, shape, target, levels.astype(np.int32), crops)


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
        info[app] = {
            "train_seconds": time.time() - t0,
            "epochs": len(res.history),
            "best_epoch": res.best_epoch,
            "final_loss": res.history[-1]["loss"],
            "final_accuracy": res.history[-1]["accuracy"],
            "eval_nll": float(nll),
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
    checks = []
    if "oat_cnn" in e.index:
        checks.append(
            cmp.Check(
                "OAT (cnn) fixates target-similar distractors above chance",
                bool(e.similar_share["oat_cnn"] > e.chance_share["oat_cnn"]),
                f"{e.similar_share['oat_cnn']:.3f} vs chance {e.chance_share['oat_cnn']:.3f}",
            )
        )
        checks.append(
            cmp.Check(
                "OAT (cnn) scanpaths lengthen with similar distractors (display-level slope CI > 0)",
                bool(e.slope_low["oat_cnn"] > 0),
                f"slope {e.length_slope['oat_cnn']:.3f} [{e.slope_low['oat_cnn']:.3f}, "
                f"{e.slope_high['oat_cnn']:.3f}]",
            )
        )
    if "oat_cnn" in e.index and "oat_none" in e.index:
        a, b = e.similar_share["oat_cnn"], e.similar_share["oat_none"]
        checks.append(
            cmp.Check(
                "OAT with appearance fixates similar distractors more than OAT without",
                bool(a > b),
                f"{a:.3f} vs {b:.3f}",
            )
        )
    if "oat_cnn" in scores and "oat_none" in scores:
        a, b = scores["oat_cnn"].sequence_score, scores["oat_none"].sequence_score
        checks.append(
            cmp.Check(
                "OAT with appearance matches the searcher better than without (SS)",
                a > b,
                f"{a:.3f} vs {b:.3f}",
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
    if {"oat_cnn", "oat_none"} <= set(nll):
        a, b = nll["oat_cnn"], nll["oat_none"]
        checks.append(
            cmp.Check(
                "OAT with appearance predicts the searcher's held-out scanpaths better (lower NLL)",
                a < b,
                f"{a:.4f} vs {b:.4f}",
            )
        )
    if "oat_cnn" in scores and "random" in scores:
        a, b = scores["oat_cnn"].sequence_score, scores["random"].sequence_score
        checks.append(cmp.Check("OAT (cnn) SS above random", a > b, f"{a:.3f} vs {b:.3f}"))
    key = "oat_cnn.similar_share" if "oat_cnn" in e.index else None
    return cmp.Comparison(
        tuple(metrics), tuple(checks), key=key, tables={"methods": sm.methods_table(res), "effects": eff}
    )


# --------------------------------------------------------------------------------------------------- plot
_MARKERS = {"square": "s", "disc": "o", "triangle": "^", "cross": "P", "bar": "_"}


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """An example display with searcher and OAT scanpaths; length by similar distractors; similar share."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    ref = sim[sim.method == "searcher"]
    d0 = int(ref[ref.n_similar == ref.n_similar.max()].display.min())
    layout = sim[(sim.method == "layout") & (sim.display == d0)]
    g = sim[sim.display == d0]
    a = axes[0]
    for _, r in layout.iterrows():
        is_t = r.object_id == r.target_object_id
        a.scatter(
            r.object_col,
            r.object_row,
            s=260 if is_t else 150,
            marker=_MARKERS[SHAPES[r["shape"]]],
            color=COLOURS[r.colour],
            edgecolor="black" if is_t else "none",
            linewidth=2.0,
            zorder=2,
        )
        if r.similarity == 0.5:
            a.scatter(r.object_col, r.object_row, s=420, facecolor="none", edgecolor="#999", lw=0.8, zorder=1)
    for k, (m, color) in enumerate([("searcher", "black"), ("oat_cnn", "C0"), ("oat_none", "C1")]):
        sub = g[(g.method == m) & (g["sample"] == 0)].sort_values("fixation_index")
        if len(sub):
            off = 0.08 * (k - 1)
            a.plot(
                sub.object_col + off,
                sub.object_row + off,
                "-",
                color=color,
                lw=1.2,
                zorder=3,
                label=f"{m} ({len(sub)} fix.)",
            )
            a.scatter(
                sub.object_col.iloc[:1] + off, sub.object_row.iloc[:1] + off, s=30, color=color, zorder=4
            )
    n_rows, n_cols = int(sim.object_row.max()) + 1, int(sim.object_col.max()) + 1
    a.set_xlim(-0.7, n_cols - 0.3)
    a.set_ylim(n_rows - 0.3, -0.7)
    a.set_aspect("equal")
    a.set_xticks([])
    a.set_yticks([])
    a.set_title(f"display {d0}: target outlined black, similar distractors ringed", fontsize=9)
    a.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, -0.28), ncol=3, frameon=False)
    a = axes[1]
    for m in ("oat_cnn", "oat_none", "random", "searcher"):  # the layout walks are much longer
        grp = sim[sim.method == m]
        if not len(grp):
            continue
        per = grp.groupby(["display", "sample"]).agg(n=("object_id", "size"), k=("n_similar", "first"))
        mean = per.groupby("k").n.mean()
        style = {"color": "black", "lw": 2.2} if m == "searcher" else {"ls": ":" if m == "random" else "-"}
        a.plot(mean.index, mean.values, marker="o", label=m, **style)
    a.set_xlabel("target-similar distractors")
    a.set_ylabel("scanpath length (fixations)")
    a.set_title("search length by similar distractors", fontsize=9)
    a.legend(fontsize=7, frameon=False)
    a = axes[2]
    eff = effects(sim)
    a.bar(eff.method, eff.similar_share, color=["black" if m == "searcher" else "C0" for m in eff.method])
    a.scatter(eff.method, eff.chance_share, marker="_", s=400, color="red", label="chance", zorder=3)
    a.set_ylabel("share of distractor fixations on similar ones")
    a.set_title("fixations on target-similar distractors", fontsize=9)
    a.tick_params(axis="x", labelrotation=30, labelsize=8)
    a.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
