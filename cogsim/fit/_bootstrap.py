"""Parametric-bootstrap confidence intervals: simulate each unit's trials from its estimates, refit, and
take percentiles of the refitted values (the model must have ``simulate``)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from cogsim.errors import CogsimError
from cogsim.fit import _objective
from cogsim.fit._optim import minimize


def simulate_units(model, u: jax.Array, trials: dict, *, key: jax.Array, ids: jax.Array) -> dict:
    """Each unit's trials with the response columns replaced by draws from ``model.simulate`` at ``u``
    ``[n_units, k]``; the unit with random-stream id ``ids[i]`` (:func:`cogsim.fit._data.unit_ids`) uses
    ``fold_in(key, ids[i])``."""
    if not callable(getattr(model, "simulate", None)):
        raise CogsimError(f"model {model.name!r} has no simulate(); allowed: ci='profile' or ci=None")

    def one(i, u, tr):
        drawn = model.simulate(_objective.values(model, u), tr, key=jax.random.fold_in(key, i))
        return {**tr, **{c: jnp.asarray(v).astype(tr[c].dtype) if c in tr else v for c, v in drawn.items()}}

    return jax.vmap(one)(jnp.asarray(ids, jnp.uint32), u, trials)


def bootstrap_intervals(
    model,
    nll: Callable,
    u_hat: jax.Array,
    trials: dict,
    mask: jax.Array,
    *,
    n_boot: int,
    level: float,
    key: jax.Array,
    ids: np.ndarray,
) -> tuple[jax.Array, jax.Array]:
    """Percentile limits ``[n_units, k]`` (constrained scale) from ``n_boot`` simulate-and-refit replicates,
    replicate ``b`` keyed by ``fold_in(key, b)`` (unit by unit as :func:`simulate_units`), each refit started
    at the estimates."""
    n = jnp.maximum(jnp.sum(mask, axis=1), 1).astype(jnp.float32)
    ids = jnp.asarray(np.asarray(ids, np.uint32))

    def replicate(b):
        sim = simulate_units(model, u_hat, trials, key=jax.random.fold_in(key, b), ids=ids)
        refit = jax.vmap(lambda u0, tr, m, nn: minimize(lambda u: nll(u, tr, m) / nn, u0).u)
        u = refit(u_hat, sim, mask, n)
        return jnp.stack([p.from_unconstrained(u[:, i]) for i, p in enumerate(model.params)], axis=-1)

    draws = jax.jit(lambda bs: jax.lax.map(replicate, bs, batch_size=8))(jnp.arange(n_boot))
    alpha = (1.0 - level) / 2.0
    return jnp.quantile(draws, alpha, axis=0), jnp.quantile(draws, 1.0 - alpha, axis=0)
