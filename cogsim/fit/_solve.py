"""The jitted multi-start solver of :func:`cogsim.fit.fit`: every unit x start problem solved by one
L-BFGS program, in chunks, and the per-bucket driver that runs it on groups of units."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from cogsim.fit import _model, _objective
from cogsim.fit._cache import cached
from cogsim.fit._data import MAX_BUCKETS, Packed, buckets, take
from cogsim.fit._optim import minimize
from cogsim.fit._trimmed import fitted_widths

#: trials x problems per chunk of the solver: problems are solved in chunks of about this many trials
#: (at least one problem; the units' trial counts, also where their distinct trials are evaluated once),
#: each chunk's L-BFGS stopping when its own slowest problem stops
CHUNK_TRIALS = 2048


def chunk_size(n_problems: int, max_trials: int) -> int:
    """Problems per vectorised chunk: about ``CHUNK_TRIALS`` trials' worth, at least 1, at most all.

    Example:
      >>> chunk_size(1024, 160), chunk_size(128, 2560)
      (12, 1)
    """
    return int(max(1, min(n_problems, CHUNK_TRIALS // max(max_trials, 1))))


def in_chunks(fn, xs, batch: int, *, vectorised: bool = True):
    """``fn`` of one element mapped over the leading axis of the pytree ``xs`` in chunks of ``batch``
    (vmapped within a chunk, chunks one after another, so a chunk's loops end with its own slowest element;
    ``vectorised=False``: one element at a time), padded with copies of the last element to a whole number
    of chunks, which are dropped from the result.

    Example:
      >>> out = in_chunks(lambda x: x * 2.0, jnp.arange(5.0), 2)
      >>> [float(v) for v in out]
      [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    n = jax.tree.leaves(xs)[0].shape[0]
    pad = -n % batch
    grow = lambda a: jnp.concatenate([a, jnp.broadcast_to(a[-1:], (pad, *a.shape[1:]))]) if pad else a
    out = jax.lax.map(fn, jax.tree.map(grow, xs), batch_size=batch if vectorised else None)
    return jax.tree.map(lambda a: a[:n], out)


def _trims(model, batch: int) -> bool:
    """Whether the solver sums each unit's rows only up to its last real one (:mod:`cogsim.fit._trimmed`):
    for a model split into tables and rows, solved one problem at a time (outside any vmap, where a switch
    would run every branch)."""
    return batch == 1 and _model.loglik_parts(model) is not None


@functools.lru_cache(maxsize=64)
def _solver(model, prior_key, batch: int, normal: bool = False, widths: tuple[int, ...] | None = None):
    """The jitted multi-start solver of ``model``: ``solve(u0 [S, U, k], trials, mask)`` -> the best start's
    ``(u [U, k], nll [U], grad_norm [U], n_iter [U])`` of every unit (``nll`` summed over the unit's trials).
    With ``normal``, ``solve(u0, trials, mask, mean [U, k], sd [U, k])`` adds each unit's independent normal
    prior on its unconstrained values (:func:`cogsim.fit._objective.normal_nll`; the returned ``nll``
    includes it); the prior's mean and SD are arguments of the compiled program, so new values do not
    recompile it.
    The ``S x U`` problems run in chunks of ``batch`` (vmapped within a chunk, one chunk after another, so a
    chunk stops with its own slowest problem rather than the slowest of all); tiling the units over the
    starts and choosing the best start are part of the same program, so a fit compiles no small programs
    besides it. Cached per model object without a prior, so a second fit of the same model and shapes reuses
    the compiled code."""
    trimmed = _trims(model, batch)
    nll = _objective.make_nll(
        model, None if prior_key is None else dict(prior_key), trimmed=trimmed, widths=widths
    )
    if normal:
        nll = _objective.normal_nll(nll)

    def unit(args):
        u0, tr, m, nn, *extra = args
        return minimize(lambda u: nll(u, tr, m, *extra) / nn, u0)

    def solve_flat(u0, tr, m, nn, *extra):
        return in_chunks(unit, (u0, tr, m, nn, *extra), batch, vectorised=not trimmed)

    def solve(u0, trials, mask, *extra):
        n_starts, n_units = u0.shape[:2]
        n = jnp.maximum(jnp.sum(mask, axis=1), 1).astype(jnp.float32)
        tile = lambda a: jnp.broadcast_to(a, (n_starts, *a.shape)).reshape((-1, *a.shape[1:]))
        flat = solve_flat(
            u0.reshape((-1, u0.shape[-1])), jax.tree.map(tile, trials), tile(mask), tile(n), *map(tile, extra)
        )
        sol = jax.tree.map(lambda a: a.reshape((n_starts, n_units, *a.shape[1:])), flat)
        best = jnp.argmin(jnp.where(jnp.isfinite(sol.value), sol.value, jnp.inf), axis=0)
        pick = lambda a: jnp.take_along_axis(a, best.reshape((1, -1) + (1,) * (a.ndim - 2)), axis=0)[0]
        return pick(sol.u), pick(sol.value) * n, pick(sol.grad_norm), pick(sol.n_iter)

    return jax.jit(solve)


def by_bucket(packed: Packed, fn, max_buckets: int = MAX_BUCKETS):
    """``fn(sub_packed, unit_indices)`` on each group of units of similar trial counts
    (:func:`cogsim.fit._data.buckets`), the per-unit outputs (arrays or tuples of arrays with a leading unit
    axis) put back in the units' order; at most ``max_buckets`` groups."""
    groups = buckets(packed.units["n_trials"].to_numpy(), max_buckets)
    if len(groups) == 1:
        return fn(packed, groups[0])
    outs = [fn(take(packed, idx), idx) for idx in groups]
    inverse = np.argsort(np.concatenate(groups))
    single = not isinstance(outs[0], tuple)
    parts = [(o,) if single else o for o in outs]
    merged = tuple(jnp.concatenate([p[i] for p in parts])[inverse] for i in range(len(parts[0])))
    return merged[0] if single else merged


def solve_starts(model, packed: Packed, prior, u0: jax.Array, max_buckets: int = MAX_BUCKETS):
    """The best of the starts ``u0 [S, U, k]`` (unconstrained) for every unit, by :func:`_solver` on each
    group of units (:func:`by_bucket`): ``(u [U, k], nll [U], grad_norm [U], n_iter [U])``, ``nll`` summed
    over the unit's trials. Problems per chunk come from the units' trial counts, not the padded width, so
    that with distinct trials counted once a chunk holds as many problems as with every trial."""
    prior_key = tuple(sorted(prior.items())) if prior else None

    def solve(sub: Packed, idx):
        start = u0 if len(idx) == u0.shape[1] else u0[:, idx]  # one group: all units in order, no gather
        batch = chunk_size(start.shape[0] * len(sub.units), int(sub.units["n_trials"].max()))
        widths = None
        if _trims(model, batch):  # the widths of the trimmed sums
            mask = np.asarray(sub.mask) > 0
            lasts = np.where(mask.any(1), mask.shape[1] - np.argmax(mask[:, ::-1], axis=1), 1)  # real rows
            widths = fitted_widths(lasts, mask.shape[1])
        return cached(_solver, model, prior_key, batch, False, widths)(start, sub.trials, sub.mask)

    return by_bucket(packed, solve, max_buckets)
