"""Whether a model's fits reach the same maxima from different random starts (``cogsim.fit.start_agreement``).

A unit's ``converged`` is local: where a likelihood has several maxima per participant (the visual-search
models' on real data, docs/fitting_paradigms.md), fits from different random starts can end at different
maxima, each of them converged. :func:`start_agreement` fits the data several times, each with its own random
starts, and reports per participant every fit's log-likelihood and whether they agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, check_count
from cogsim.fit._fit import fit
from cogsim.fit._key import check_key


def start_agreement(
    model,
    data: pd.DataFrame,
    *,
    by: Sequence[str] = ("subject",),
    n_starts: int = 4,
    n_fits: int = 2,
    tol: float = 0.1,
    key: jax.Array,
    first=None,
    prior=None,
) -> pd.DataFrame:
    """Fits ``model`` ``n_fits`` times with different random starts and compares every participant's maxima.

    Fit ``i`` is ``fit(model, data, by=by, n_starts=n_starts, ci=None, key=jax.random.fold_in(key, i))``:
    the same default start, different random ones. A fit already made can stand in for fit 0 (``first``; as
    `cogsim fit --agreement` does with the fit it reports), so that only the others are computed. A
    participant's fits *agree* when their log-likelihoods lie within ``tol`` of each other; where they do
    not, the lower fits stopped at another maximum, and that participant's estimates depend on the starts
    (fit with more ``n_starts`` and compare again).

    Args:
      model: a :class:`cogsim.fit.Model`.
      data: the trials, one row each.
      by: the columns that identify a participant.
      n_starts: starts per participant in every fit (as :func:`cogsim.fit.fit`), 2 or more: the first start
        is the model's defaults in every fit, so with one start every fit is the same fit and they always
        agree; the extra starts are what differ between the fits.
      n_fits: how many fits, 2 or more.
      tol: the largest log-likelihood difference that counts as the same maximum.
      key: the root random key.
      first: None, or a fit of the same ``data`` by the same ``by`` already made (a
        :class:`cogsim.fit.FitResult` or its ``summary``): fit 0; fits ``1 ... n_fits - 1`` are computed.
      prior: as :func:`cogsim.fit.fit` (MAP fits; their data log-likelihoods are compared, equal where the
        fits reach the same mode).

    Raises:
      CogsimError: ``n_starts``, ``n_fits`` or ``tol`` out of range, or ``first`` not a fit of these
        participants.

    Returns:
      One row per participant: the ``by`` columns, ``loglik_0 ... loglik_<n_fits - 1>`` (each fit's
      log-likelihood), ``best_fit`` (the index of the highest), ``gap`` (highest minus lowest) and ``agree``
      (``gap <= tol``).

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np, pandas as pd
      >>> from cogsim.fit import Param
      >>> class Rate:  # one accuracy per participant: a single maximum
      ...     name, by_set_size, requires = "rate", False, ()
      ...     params = (Param("p", 0.0, 1.0, default=0.5),)
      ...     def loglik(self, q, t):
      ...         return jnp.where(t["correct"] == 1, jnp.log(q["p"]), jnp.log1p(-q["p"]))
      >>> trials = pd.DataFrame({"subject": np.repeat(["a", "b"], 40), "correct": np.tile([1, 1, 0, 1], 20)})
      >>> table = start_agreement(Rate(), trials, n_fits=3, key=jax.random.key(0))
      >>> list(table.columns)
      ['subject', 'loglik_0', 'loglik_1', 'loglik_2', 'best_fit', 'gap', 'agree']
      >>> bool(table["agree"].all())  # every fit finds it
      True
    """
    check_key(key, what="start_agreement")
    n_starts = check_count(
        "start_agreement",
        "n_starts",
        n_starts,
        low=2,
        detail=" (the extra starts are what differ between the fits; with one, every fit starts from the "
        "defaults)",
    )
    n_fits = check_count("start_agreement", "n_fits", n_fits, low=2)
    if not isinstance(tol, (int, float)) or isinstance(tol, bool) or not (math.isfinite(tol) and tol >= 0):
        raise CogsimError(f"start_agreement tol: got {tol!r}; allowed: a finite number >= 0")
    by = tuple(by)
    tables = [] if first is None else [_first_summary(first, by)]
    tables += [
        fit(
            model, data, by=by, n_starts=n_starts, ci=None, prior=prior, key=jax.random.fold_in(key, i)
        ).summary
        for i in range(len(tables), n_fits)
    ]
    if first is not None and not tables[0][list(by)].reset_index(drop=True).equals(
        tables[1][list(by)].reset_index(drop=True)
    ):
        raise CogsimError(
            f"start_agreement first: its participants differ from the data's by {list(by)}; allowed: a fit "
            "of the same data by the same columns"
        )
    out = tables[0][list(by)].reset_index(drop=True)
    values = np.stack([t["loglik"].to_numpy(float) for t in tables], axis=1)
    for i in range(n_fits):
        out[f"loglik_{i}"] = values[:, i]
    out["best_fit"] = np.argmax(values, axis=1)
    out["gap"] = values.max(axis=1) - values.min(axis=1)
    out["agree"] = out["gap"] <= tol
    return out


def _first_summary(first, by: tuple[str, ...]) -> pd.DataFrame:
    """The per-participant table of a fit passed as ``first`` (a result or its summary)."""
    table = getattr(first, "summary", first)
    if not isinstance(table, pd.DataFrame) or not {*by, "loglik"} <= set(table.columns):
        raise CogsimError(
            f"start_agreement first: got {type(first).__name__}; allowed: a FitResult (or its summary) with "
            f"columns {[*by, 'loglik']}"
        )
    return table
