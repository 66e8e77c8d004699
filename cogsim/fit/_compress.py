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

from cogsim.errors import CogsimError
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
    ``compress``) is True, or None and :func:`by_default` says so; else every trial in :func:`canonical`
    order."""
    if by_default(model) if choice is None else choice:
        return compress(packed, model)
    return canonical(packed, model)


def check_choice(where: str, value) -> bool | None:
    """``compress`` as given when it is None, True or False (NumPy's bools too); else a CogsimError naming
    ``where`` and the value.

    Example:
      >>> check_choice("fit", None) is None, check_choice("fit", False)
      (True, False)
      >>> check_choice("fit", "yes")
      Traceback (most recent call last):
      ...
      cogsim.errors.CogsimError: fit: got compress='yes'; allowed: True, False or None (the model's default)
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    raise CogsimError(f"{where}: got compress={value!r}; allowed: True, False or None (the model's default)")


def is_weighted(packed: Packed) -> bool:
    """Whether ``packed`` holds distinct trials weighted by their counts (:func:`compress`)."""
    return np.asarray(packed.mask).dtype != bool


def canonical(packed: Packed, model) -> Packed:
    """``packed`` with each unit's trials in the order of their values (every column's bytes, row by row;
    padded slots repeat the first), so that the solver evaluates the same arrays whatever the data's row
    order; ``packed`` itself for a model whose trials are not exchangeable (``trialwise = False``) or
    weights that are already distinct rows.

    Example:
      >>> import pandas as pd
      >>> from cogsim.fit import Param
      >>> from cogsim.fit._data import pack
      >>> class M:
      ...     name, params = "m", (Param("sd", 0.0, default=1.0),)
      ...     def loglik(self, p, t):
      ...         return -0.5 * (t["x"] / p["sd"]) ** 2 - jnp.log(p["sd"])
      >>> df = pd.DataFrame({"subject": 1, "x": [3.0, 1.0, 2.0]})
      >>> a = canonical(pack(df, M(), by=("subject",), min_trials=2), M())
      >>> b = canonical(pack(df.iloc[::-1], M(), by=("subject",), min_trials=2), M())
      >>> a.trials["x"].tolist() == b.trials["x"].tolist(), sorted(a.rows[0].tolist())
      (True, [0, 1, 2])
    """
    mask = np.asarray(packed.mask)
    if not getattr(model, "trialwise", True) or mask.dtype != bool:
        return packed
    host = {c: np.asarray(a) for c, a in packed.trials.items()}
    cols = sorted(host)
    slots = np.zeros(mask.shape, np.int64)
    for u in range(mask.shape[0]):
        real = np.flatnonzero(mask[u])
        if not real.size:
            continue
        order = real[np.argsort(_row_bytes([host[c][u, real] for c in cols]), kind="stable")]
        slots[u, real] = order
        slots[u, ~mask[u]] = order[0]
    return _gathered(packed, slots, packed.mask)


def _gathered(packed: Packed, slots: np.ndarray, mask) -> Packed:
    """``packed`` with unit ``u``'s slot ``j`` holding its trial ``slots[u, j]``, and ``mask`` (gathered on
    the host: no small programs to compile)."""
    at = (np.arange(slots.shape[0])[:, None], slots)
    trials = {c: jnp.asarray(np.asarray(a)[at]) for c, a in packed.trials.items()}
    rows = np.take_along_axis(packed.rows, slots, axis=1)
    return Packed(packed.units, trials, mask, rows, packed.keys, packed.source)


def _row_bytes(columns: list[np.ndarray]) -> np.ndarray:
    """Each row of the given ``[n]`` / ``[n, m]`` columns as one byte string (equal bytes: equal values)."""
    flat = [np.ascontiguousarray(c.reshape(c.shape[0], -1)) for c in columns]
    joined = np.concatenate([c.view(np.uint8).reshape(c.shape[0], -1) for c in flat], axis=1)
    return np.ascontiguousarray(joined).view(np.dtype((np.void, joined.shape[1]))).ravel()


def compress(packed: Packed, model, min_saving: float = MIN_SAVING) -> Packed:
    """``packed`` with each unit's trials that agree on every column the likelihood reads merged into one
    row of weight equal to their count (in the order of their values, each represented by the same member
    whatever the data's row order; weights 0 on padding), or ``packed`` itself when the model is not
    ``trialwise``, or every trial in :func:`canonical` order when this would not shrink the padded width by
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
      >>> c.mask.tolist(), c.rows.tolist()  # x = 2 once (row 2); |x| = 1 three times, as row 0
      ([[1.0, 3.0]], [[2, 0]])
      >>> s = compress(pack(df.iloc[[3, 2, 1, 0]], M(), by=("subject",), min_trials=2), M())
      >>> s.trials["x"].tolist() == c.trials["x"].tolist()  # the same rows in any row order
      True
    """
    if not getattr(model, "trialwise", True):
        return packed
    mask = np.asarray(packed.mask)
    if mask.dtype != bool:  # already weighted
        return packed
    first = {c: a[0] for c, a in packed.trials.items()}
    cols = read_columns(model, first)
    flip = set(getattr(model, "sign_invariant", ())) & set(cols)
    every = {c: np.asarray(a) for c, a in packed.trials.items()}
    host = {c: (np.abs(every[c]) if c in flip else every[c]) for c in cols}
    picks, counts = [], []
    for u in range(mask.shape[0]):
        real = np.flatnonzero(mask[u])
        if not cols:  # the likelihood reads no column: every trial alike
            picks.append(real[:1])
            counts.append(np.array([real.size]))
            continue
        # whatever the data's row order: the distinct rows in the order of their values, each standing for
        # its group by the member whose every column's bytes come first (so that e.g. e and -e of a
        # sign-invariant column always give the same representative)
        read = [host[c][u, real] for c in cols]
        order = np.argsort(_row_bytes(read + [every[c][u, real] for c in sorted(every)]), kind="stable")
        _, first_at, count = np.unique(_row_bytes(read)[order], return_index=True, return_counts=True)
        picks.append(real[order[first_at]])
        counts.append(count)
    width = max(p.size for p in picks)
    if width > (1.0 - min_saving) * mask.shape[1]:
        return canonical(packed, model)
    slots = np.zeros((mask.shape[0], width), np.int64)
    weights = np.zeros((mask.shape[0], width), np.float32)
    for u, (p, c) in enumerate(zip(picks, counts, strict=True)):
        slots[u, : p.size], slots[u, p.size :] = p, p[0]
        weights[u, : p.size] = c
    return _gathered(packed, slots, jnp.asarray(weights))
