"""K-fold cross-validated log-likelihood: each unit's trials are split at random into K folds (fold of a
trial = its rank in a random permutation modulo K); each fold's log-likelihood is scored under the
estimates refitted on the other folds (started at the full-data estimates); the K held-out
log-likelihoods are summed."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

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
