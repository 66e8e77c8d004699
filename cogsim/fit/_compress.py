"""Identical trials counted once: each unit's distinct trials, weighted by how often they occur.

A unit's log-likelihood is a sum of per-trial terms, and a trial's term depends only on the columns the
model's ``loglik`` reads. Many data files record responses on a grid (a colour wheel in steps of 2 degrees,
RTs in whole milliseconds), so a unit of a few thousand trials may hold only a few hundred distinct rows of
those columns. :func:`compress` evaluates each distinct row once, weighted by its count: the same sum up to
float32 summation order, in fewer evaluations (the mask of :class:`cogsim.fit._data.Packed` becomes the
weights). Which columns a likelihood reads is found by tracing it (:func:`read_columns`); a model may also
declare ``sign_invariant`` columns whose sign its likelihood ignores (a von Mises error read through its
cosine), so that ``e`` and ``-e`` count as one row.

``fit`` does this by default for every model but those that declare ``initial(trials)``
(:func:`by_default`). Only the point estimates, their profile intervals and the hierarchical fits use the
weighted rows;
simulation (parametric bootstrap, predictive checks) and cross-validation keep every trial. A model whose
trials are not exchangeable (a term depending on other trials, e.g. a learning model) declares
``trialwise = False`` and is never compressed.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from cogsim.fit._data import Packed
from cogsim.fit._objective import read_columns

#: compress only when the padded width falls by at least this fraction (below it the saving does not pay
#: for a changed summation order)
MIN_SAVING = 0.1


def by_default(model) -> bool:
    """Whether ``fit`` evaluates ``model``'s distinct trials when the caller does not say: every model but
    those that declare ``initial(trials)`` (fitted with :mod:`cogsim.fit._passes`, measured evaluating every
    trial; with distinct trials their rugged solves moved to points that met the passes' rule on fewer
    units: docs/fitting_log.md, "Distinct trials on the visual-search models")."""
    return not callable(getattr(model, "initial", None))


def evaluated(packed: Packed, model, choice: bool | None) -> Packed:
    """What the solver evaluates: ``packed``'s distinct trials (:func:`compress`) when ``choice`` (``fit``'s
    ``compress``) is True, or None and :func:`by_default` says so; else ``packed`` itself."""
    return compress(packed, model) if (by_default(model) if choice is None else choice) else packed


def _row_bytes(columns: list[np.ndarray]) -> np.ndarray:
    """Each row of the given ``[n]`` / ``[n, m]`` columns as one byte string (equal bytes: equal values)."""
    flat = [np.ascontiguousarray(c.reshape(c.shape[0], -1)) for c in columns]
    joined = np.concatenate([c.view(np.uint8).reshape(c.shape[0], -1) for c in flat], axis=1)
    return np.ascontiguousarray(joined).view(np.dtype((np.void, joined.shape[1]))).ravel()


def compress(packed: Packed, model, min_saving: float = MIN_SAVING) -> Packed:
    """``packed`` with each unit's trials that agree on every column the likelihood reads merged into one
    row of weight equal to their count (first occurrences, in trial order; weights 0 on padding), or
    ``packed`` itself when the model is not ``trialwise`` or this would not shrink the padded width by
    ``min_saving`` (0: whatever the saving, so that whether a unit's rows are merged does not depend on the
    other units, as :func:`cogsim.fit.sample` needs).

    Example:
      >>> import pandas as pd
      >>> from cogsim.fit import Param
      >>> from cogsim.fit._data import pack
      >>> class M:
      ...     name, params, sign_invariant = "m", (Param("sd", 0.0, default=1.0),), ("x",)
      ...     def loglik(self, p, t):
      ...         return -0.5 * (t["x"] / p["sd"]) ** 2 - jnp.log(p["sd"])
      >>> df = pd.DataFrame({"subject": 1, "x": [1.0, -1.0, 2.0, 1.0], "trial": [1, 2, 3, 4]})
      >>> c = compress(pack(df, M(), by=("subject",), min_trials=2), M())
      >>> c.mask.tolist(), c.rows.tolist()
      ([[3.0, 1.0]], [[0, 2]])
    """
    if not getattr(model, "trialwise", True):
        return packed
    mask = np.asarray(packed.mask)
    if mask.dtype != bool:  # already weighted
        return packed
    first = {c: a[0] for c, a in packed.trials.items()}
    cols = read_columns(model, first)
    flip = set(getattr(model, "sign_invariant", ())) & set(cols)
    host = {c: np.asarray(packed.trials[c]) for c in cols}
    host = {c: (np.abs(a) if c in flip else a) for c, a in host.items()}
    picks, counts = [], []
    for u in range(mask.shape[0]):
        real = np.flatnonzero(mask[u])
        if not cols:  # the likelihood reads no column: every trial alike
            picks.append(real[:1])
            counts.append(np.array([real.size]))
            continue
        _, first_at, count = np.unique(
            _row_bytes([host[c][u, real] for c in cols]), return_index=True, return_counts=True
        )
        order = np.argsort(first_at)
        picks.append(real[first_at[order]])
        counts.append(count[order])
    width = max(p.size for p in picks)
    if width > (1.0 - min_saving) * mask.shape[1]:
        return packed
    slots = np.zeros((mask.shape[0], width), np.int64)
    weights = np.zeros((mask.shape[0], width), np.float32)
    for u, (p, c) in enumerate(zip(picks, counts, strict=True)):
        slots[u, : p.size], slots[u, p.size :] = p, p[0]
        weights[u, : p.size] = c
    at = (np.arange(mask.shape[0])[:, None], slots)  # gathered on the host: no small programs to compile
    trials = {c: jnp.asarray(np.asarray(a)[at]) for c, a in packed.trials.items()}
    rows = np.take_along_axis(packed.rows, slots, axis=1)
    return Packed(packed.units, trials, jnp.asarray(weights), rows, packed.keys, packed.source)
