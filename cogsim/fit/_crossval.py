"""K-fold cross-validated log-likelihood: each unit's trials are split at random into K folds (fold of a
trial = its rank in a random permutation modulo K); each fold's log-likelihood is scored under the
estimates refitted on the other folds (started at the full-data estimates); the K held-out
log-likelihoods are summed."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from cogsim.fit import _objective
from cogsim.fit._optim import minimize


def folds(mask: jax.Array, k: int, *, key: jax.Array) -> jax.Array:
    """Fold index ``[n_units, max_trials]`` of each trial (-1 for padding); unit ``i`` uses
    ``fold_in(key, i)``."""

    def one(i, m):
        r = jax.random.uniform(jax.random.fold_in(key, i), m.shape)
        r = jnp.where(m, r, 2.0)
        rank = jnp.argsort(jnp.argsort(r))
        return jnp.where(m, rank % k, -1)

    return jax.vmap(one)(jnp.arange(mask.shape[0]), mask)


def cv_loglik(
    model, nll: Callable, u_hat: jax.Array, trials: dict, mask: jax.Array, *, k: int, key: jax.Array
) -> jax.Array:
    """Summed held-out log-likelihood per unit ``[n_units]``."""
    fold = folds(mask, k, key=key)

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
