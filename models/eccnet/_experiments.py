"""The six search-asymmetry experiments run through eccNET and its published variants (ablations).

Example:
  >>> VARIANTS
  ('eccNET', 'uniform_pooling', 'last_layer', 'gabor')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError
from cogsim.models.eccnet._extractor import Extractor
from cogsim.models.eccnet._search import search
from cogsim.models.eccnet._trial import SearchConfig
from cogsim.tasks import search_displays as sd

#: The full model and its published ablations: uniform pooling (no eccentricity dependence), the last layer
#: only, and the training-free Gabor front end.
VARIANTS = ("eccNET", "uniform_pooling", "last_layer", "gabor")


def variant(extractor: Extractor, name: str) -> tuple[Extractor, SearchConfig]:
    """The extractor and search settings of a model variant (one of :data:`VARIANTS`).

    Example:
      >>> from cogsim.models.eccnet import Geometry
      >>> ex, cfg = variant(Extractor.gabor(Geometry()), "last_layer")
      >>> cfg.layer_weights
      (0.0, 0.0, 1.0)
    """
    geo = extractor.geometry
    if name == "eccNET":
        return extractor, SearchConfig()
    if name == "uniform_pooling":
        return extractor.with_geometry(dataclasses.replace(geo, eccentricity=False)), SearchConfig()
    if name == "last_layer":
        return extractor, SearchConfig(layer_weights=(0.0, 0.0, 1.0))
    if name == "gabor":
        return Extractor.gabor(geo), SearchConfig()
    raise CogsimError(f"unknown model variant {name!r}; allowed: {', '.join(VARIANTS)}")


def search_experiments(
    extractor: Extractor,
    variants: Sequence[str],
    ppd: tuple[float, ...],
    experiments: Sequence[int],
    n_trials: int | None,
    ablation_trials: int | None,
    batch_size: int,
    *,
    key: jax.Array,
    label: Mapping[str, Any] | None = None,
    threads: int = 2,
) -> pd.DataFrame:
    """Searches every experiment's displays with each variant; one row per trial.

    Args:
      extractor: the front end of the full model (its geometry's ``ppd`` is replaced per experiment).
      variants: names from :data:`VARIANTS`.
      ppd: one resolution or one per experiment (:func:`cogsim.tasks.search_displays.ppd_of`).
      experiments: experiment numbers (1..6).
      n_trials: displays per condition and set size (None = published).
      ablation_trials: displays per cell for the variants other than "eccNET" (the first ones; None = all).
      batch_size: trials searched together.
      key: experiment ``e`` draws its displays from ``fold_in(key, e)``; every variant searches the same ones.
      label: constant columns put first (e.g. ``{"diet": "normal"}``).
      threads: host threads (:class:`SearchConfig`).

    Returns:
      The rows of :func:`search` with ``model`` (the variant) first and ``ppd`` last.
    """
    frames = []
    for e in experiments:
        exp = sd.EXPERIMENTS[e]
        p = sd.ppd_of(ppd, e)
        trials = sd.make_trials(exp, key=jax.random.fold_in(key, e), ppd=p, n_trials=n_trials)
        per = n_trials if n_trials is not None else exp.n_trials
        base = extractor.with_geometry(dataclasses.replace(extractor.geometry, ppd=p))
        for v in variants:
            ex, scfg = variant(base, v)
            scfg = dataclasses.replace(scfg, batch_size=batch_size, threads=threads)
            sub = trials
            if v != "eccNET" and ablation_trials is not None and ablation_trials < per:
                idx = np.flatnonzero((np.arange(len(trials)) % per) < ablation_trials)
                sub = trials.select(idx)
            df = search(ex, sub, scfg)
            df.insert(0, "model", v)
            df["ppd"] = p
            for k, val in (label or {}).items():
                df.insert(0, k, val)
            frames.append(df)
    return pd.concat(frames, ignore_index=True)
