"""Scanpath baselines and the method-by-method scoring shared by the scanpath scenarios.

Baselines on a grid of objects (object ``o`` sits in row ``o // n_cols``, column ``o % n_cols``; rows are
``row_pitch`` column widths apart):

- :func:`random_baseline`: uniform random objects with given lengths;
- :func:`centre_out`: objects in order of distance from the display centre (random ties) until the target;
- :func:`nn_walk`: from the display centre, always to the nearest unvisited object, until the target;
- :func:`target_template`: a saliency-free template matcher with eccentricity-dependent target visibility.

Settings: :class:`OATSettings`, the OAT architecture and training fields both scanpath scenarios share.

Scoring: :func:`method_scores` scores every method of a tidy fixation table (columns ``method``, a display
column, ``sample``, ``fixation_index``, ``object_id``, ``target_object_id``) against a reference method with
:func:`cogsim._compare_scanpath.score_scanpaths`, and :func:`methods_table` turns the result into a table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from cogsim import _compare_scanpath as cs
from cogsim import config as cfglib
from cogsim.models import oat


# ----------------------------------------------------------------------------------------------- settings
@dataclasses.dataclass(frozen=True)
class OATSettings:
    """OAT architecture and training fields of a scanpath scenario's config (defaults = the published OAT)."""

    d_model: int = cfglib.field(512, low=8, high=4096, doc="OAT token width")
    n_heads: int = cfglib.field(4, low=1, high=64, doc="attention heads")
    d_ff: int = cfglib.field(512, low=1, high=16384, doc="feed-forward width")
    n_layers: int = cfglib.field(4, low=1, high=24, doc="encoder layers = decoder layers")
    dropout: float = cfglib.field(0.1, low=0.0, high=0.9, doc="dropout rate")
    lr: float = cfglib.field(1e-4, low=1e-7, high=1.0, doc="Adam learning rate")
    batch_size: int = cfglib.field(20, low=1, high=4096, doc="scanpaths per step")

    def __post_validate__(self):
        if self.d_model % 2 or self.d_model % self.n_heads:
            raise cfglib.ConfigError(
                "d_model", self.d_model, f"even and a multiple of n_heads={self.n_heads}"
            )

    def oat_config(self, **display) -> oat.OATConfig:
        """The OAT architecture of these settings; ``display`` holds the other ``OATConfig`` fields."""
        return oat.OATConfig(
            d_model=self.d_model,
            n_heads=self.n_heads,
            d_ff=self.d_ff,
            n_encoder_layers=self.n_layers,
            n_decoder_layers=self.n_layers,
            dropout=self.dropout,
            **display,
        )


# ---------------------------------------------------------------------------------------------- baselines
def _cell_xy(n_rows: int, n_cols: int, row_pitch: float) -> np.ndarray:
    idx = np.arange(n_rows * n_cols)
    return np.stack([idx % n_cols, (idx // n_cols) * row_pitch], axis=1).astype(float)


def _centre(n_rows: int, n_cols: int, row_pitch: float) -> np.ndarray:
    return np.array([(n_cols - 1) / 2, (n_rows - 1) / 2 * row_pitch])


def random_baseline(lengths: Sequence[int], n_objects: int, *, rng: np.random.Generator) -> list[list[int]]:
    """Uniform random objects, one sequence per given length.

    Example:
      >>> [len(p) for p in random_baseline([2, 5], 10, rng=np.random.default_rng(0))]
      [2, 5]
    """
    return [rng.integers(0, n_objects, int(n)).tolist() for n in lengths]


def centre_out(
    target: int, n: int, *, n_rows: int, n_cols: int, row_pitch: float = 1.0, rng: np.random.Generator
) -> list[list[int]]:
    """``n`` scanpaths visiting objects by distance from the display centre (random ties) up to the target.

    Example:
      >>> centre_out(4, 1, n_rows=3, n_cols=3, rng=np.random.default_rng(0))
      [[4]]
    """
    xy = _cell_xy(n_rows, n_cols, row_pitch)
    dist = np.linalg.norm(xy - _centre(n_rows, n_cols, row_pitch), axis=1)
    out = []
    for _ in range(n):
        order = np.lexsort((rng.random(len(dist)), np.round(dist, 9)))
        out.append(order[: int(np.nonzero(order == target)[0][0]) + 1].tolist())
    return out


def _walk(target: int, xy: np.ndarray, start_xy: np.ndarray, score, rng) -> list[int]:
    visited = np.zeros(len(xy), bool)
    pos, path = start_xy, []
    while True:
        s = score(np.linalg.norm(xy - pos, axis=1), rng)
        s = np.where(visited, -np.inf, s)
        nxt = int(np.argmax(s))
        path.append(nxt)
        visited[nxt] = True
        pos = xy[nxt]
        if nxt == target or visited.all():
            return path


def nn_walk(
    target: int, n: int, *, n_rows: int, n_cols: int, row_pitch: float = 1.0, rng: np.random.Generator
) -> list[list[int]]:
    """``n`` nearest-neighbour walks from the display centre (random ties), each until the target.

    Example:
      >>> nn_walk(5, 1, n_rows=1, n_cols=6, rng=np.random.default_rng(0))[0][-1]
      5
    """
    xy = _cell_xy(n_rows, n_cols, row_pitch)
    centre = _centre(n_rows, n_cols, row_pitch)
    return [
        _walk(target, xy, centre, lambda d, r: -np.round(d, 9) + 1e-6 * r.random(len(d)), rng)
        for _ in range(n)
    ]


def target_template(
    target: int,
    n: int,
    *,
    n_rows: int,
    n_cols: int,
    row_pitch: float = 1.0,
    dprime: float,
    falloff: float,
    rng: np.random.Generator,
) -> list[list[int]]:
    """``n`` scanpaths of a saliency-free template matcher with eccentricity-dependent target visibility.

    From the display centre, each fixation goes to the unvisited object with the largest evidence
    ``d'(distance) [object is the target] + N(0, 1)``, ``d'(x) = dprime * exp(-x / falloff)``, and the search
    ends on the target.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> target_template(3, 2, n_rows=2, n_cols=2, dprime=50.0, falloff=10.0, rng=rng)
      [[3], [3]]
    """
    xy = _cell_xy(n_rows, n_cols, row_pitch)
    is_t = np.arange(len(xy)) == target

    def score(d, r):
        return dprime * np.exp(-d / falloff) * is_t + r.standard_normal(len(d))

    return [_walk(target, xy, _centre(n_rows, n_cols, row_pitch), score, rng) for _ in range(n)]


# ------------------------------------------------------------------------------------------------ scoring
def groups(df: pd.DataFrame, by: str) -> dict[int, list[list[int]]]:
    """``display -> [scanpath per sample]`` from a tidy fixation table (``by`` names the display column).

    Example:
      >>> df = pd.DataFrame({"trial": [1, 1, 1], "sample": [0, 0, 1], "fixation_index": [0, 1, 0],
      ...                    "object_id": [5, 6, 7]})
      >>> groups(df, "trial")
      {1: [[5, 6], [7]]}
    """
    out: dict[int, list[list[int]]] = {}
    for (d, _), g in df.sort_values([by, "sample", "fixation_index"]).groupby([by, "sample"]):
        out.setdefault(int(d), []).append(g.object_id.astype(int).tolist())
    return out


def method_scores(
    sim: pd.DataFrame,
    ref: pd.DataFrame,
    methods: Sequence[str],
    *,
    by: str,
    reference: str,
    max_steps: int,
) -> dict[str, dict]:
    """Per method present in ``sim``: its :class:`cogsim._compare_scanpath.ScanpathScores` and the Sequence
    Score of each display, against the scanpaths of ``ref`` (the reference method's rows).

    The reference method itself (``reference``, when listed in ``methods``) is scored against its own other
    scanpaths of the same display (``exclude_self``), which gives the ceiling.
    """
    hum = groups(ref, by)
    targets = {int(d): int(g.target_object_id.iloc[0]) for d, g in ref.groupby(by)}
    out = {}
    for m in methods:
        sub = ref if m == reference else sim[sim.method == m]
        if not len(sub):
            continue
        mod = groups(sub, by)
        keys = [k for k in hum if k in mod]
        h = {k: hum[k] for k in keys}
        md = {k: mod[k] for k in keys}
        excl = m == reference
        scores = cs.score_scanpaths(md, h, targets, max_steps=max_steps, exclude_self=excl)
        per = np.array(
            [cs.mean_pairwise({k: md[k]}, {k: h[k]}, cs.sequence_score, exclude_self=excl) for k in keys]
        )
        out[m] = {"scores": scores, "per_display_ss": per}
    return out


def methods_table(res: dict[str, dict]) -> pd.DataFrame:
    """One row per method of :func:`method_scores`: SS, edit distance, behaviour, delta, TFP-AUC, ..."""
    return pd.DataFrame([{"method": m, **r["scores"].row()} for m, r in res.items()])
