"""K-fold cross-validated log-likelihood: each unit's trials are split at random into K folds (fold of a
trial = its rank in a random permutation modulo K); each fold's log-likelihood is scored under the
estimates refitted on the other folds (started at the full-data estimates); the K held-out
log-likelihoods are summed. A fold's training set holds fewer trials than the unit: :func:`small_folds_line`
says when that is fewer than a fit takes."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim.fit import _objective
from cogsim.fit._optim import minimize


def folds(mask: jax.Array, k: int, *, key: jax.Array, ids: np.ndarray) -> jax.Array:
    """Fold index ``[n_units, max_trials]`` of each trial (-1 for padding): a unit's trials ranked by
    uniform draws, trial ``j`` of the unit with random-stream id ``ids[u]`` keyed by ``fold_in(fold_in(key,
    id), j)``, fold = rank mod ``k``. A unit's folds depend on its id and its trials only (not on the other
    units, their order or the padding), so every model fitted to the same units with the same key is scored
    on the same folds."""

    def one(uid, m):
        ku = jax.random.fold_in(key, uid)
        r = jax.vmap(lambda j: jax.random.uniform(jax.random.fold_in(ku, j)))(jnp.arange(m.shape[0]))
        r = jnp.where(m, r, 2.0)
        rank = jnp.argsort(jnp.argsort(r))
        return jnp.where(m, rank % k, -1)

    return jax.vmap(one)(jnp.asarray(np.asarray(ids, np.uint32)), mask)


def cv_loglik(
    model,
    nll: Callable,
    u_hat: jax.Array,
    trials: dict,
    mask: jax.Array,
    *,
    k: int,
    key: jax.Array,
    ids: np.ndarray,
) -> jax.Array:
    """Summed held-out log-likelihood per unit ``[n_units]`` (folds by :func:`folds`)."""
    fold = folds(mask, k, key=key, ids=ids)

    def one_fold(f):
        train = mask & (fold != f)
        test = mask & (fold == f)

        def unit(u0, tr, m_train, m_test):
            n = jnp.maximum(jnp.sum(m_train), 1).astype(jnp.float32)
            u = minimize(lambda u: nll(u, tr, m_train) / n, u0).u
            return _objective.loglik_sum(model, u, tr, m_test)

        return jax.vmap(unit)(u_hat, trials, train, test)

    held_out = jax.jit(lambda fs: jax.lax.map(one_fold, fs))(jnp.arange(k))
    return jnp.sum(held_out, axis=0)


def small_folds_line(
    name: str, units: pd.DataFrame, by, *, cv: int | None, n_params: int, min_trials: int = 10
) -> str | None:
    """The line ``cogsim fit --cv K`` prints for a model some of whose folds train on fewer trials than a
    unit needs to be fitted, ``max(min_trials, n_params + 1)`` (None when no fold does, without ``cv`` or
    without parameters). A unit of ``n`` trials has folds of ``n // K`` or ``n // K + 1`` trials (ranks
    modulo K, :func:`folds`), each trained on the other ``n`` minus that many.

    Args:
      name: the model's name.
      units: the fit's units (:attr:`cogsim.fit.FitResult.units`: the ``by`` columns and ``n_trials``).
      by: the participant columns.
      cv: the number of folds, or None.
      n_params: the model's free parameters per unit.
      min_trials: as :func:`cogsim.fit.fit`.

    Example:
      >>> units = pd.DataFrame({"subject": [1, 2], "n_trials": [300, 12]})
      >>> print(small_folds_line("m", units, ("subject",), cv=5, n_params=3))
      m: with --cv 5, 2 of 10 folds (of 1 of 2 participants) train on fewer than 10 trials, the least a fit takes (max(10, parameters + 1)); their cv_loglik rests on such fits
    """  # noqa: E501
    if not cv or n_params == 0:
        return None
    need = max(int(min_trials), n_params + 1)
    n = units["n_trials"].to_numpy(int)
    small = sum((n - (n // cv + (f < n % cv))) < need for f in range(cv))
    if not np.any(small):
        return None
    who = units[list(by)].drop_duplicates()
    few = units.loc[small > 0, list(by)].drop_duplicates()
    noun = "participant" if len(who) == 1 else "participants"
    return (
        f"{name}: with --cv {cv}, {int(small.sum())} of {cv * len(n)} folds (of {len(few)} of {len(who)} "
        f"{noun}) train on fewer than {need} trials, the least a fit takes (max({int(min_trials)}, "
        "parameters + 1)); their cv_loglik rests on such fits"
    )
