"""The OAT settings and the method-by-method scoring shared by the scanpath scenarios.

The baselines the methods include (random, centre-out, nearest-neighbour walk, target template) are models:
:mod:`cogsim.models.oat`.

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
    s = df.sort_values([by, "sample", "fixation_index"])
    d, smp = s[by].to_numpy(), s["sample"].to_numpy()
    obj = s.object_id.to_numpy().astype(int)
    cut = np.flatnonzero((d[1:] != d[:-1]) | (smp[1:] != smp[:-1])) + 1  # where a (display, sample) starts
    for a, b in zip(np.r_[0, cut], np.r_[cut, len(s)], strict=True):
        if b > a:
            out.setdefault(int(d[a]), []).append(obj[a:b].tolist())
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
    """Per method present in ``sim``: its :class:`cogsim._compare_scanpath.ScanpathScores`, the Sequence
    Score of each display (``per_display_ss``) and the display keys in that order (``displays``), against
    the scanpaths of ``ref`` (the reference method's rows).

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
        out[m] = {"scores": scores, "per_display_ss": per, "displays": keys}
    return out


def methods_table(res: dict[str, dict]) -> pd.DataFrame:
    """One row per method of :func:`method_scores`: SS, edit distance, behaviour, delta, TFP-AUC, ..."""
    return pd.DataFrame([{"method": m, **r["scores"].row()} for m, r in res.items()])
