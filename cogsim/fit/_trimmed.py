"""A unit's summed log-likelihood evaluated only up to its last real row, for models split into a
parameter part and a per-trial part.

A model may declare ``loglik_parts() -> (tables, rows)`` with ``loglik(params, trials) ==
rows(tables(params), trials)``: ``tables`` computes everything that depends on the parameters only (e.g. a
von Mises mixture per set size), ``rows`` each trial's term from its own row of the trials alone. The
solver evaluates every unit padded to the longest unit (one compiled program per model), so a unit of 300
rows padded to 958 pays for 958 rows at every evaluation. :func:`trimmed_loglik_sum` builds the tables,
then sums the rows of the first ``w`` rows only, ``w`` the smallest of ``N_WIDTHS`` widths (equal steps up
to the padded width, all static) that covers the unit's last row of nonzero weight: one ``lax.switch`` over
``N_WIDTHS`` branches, of which one runs. Under ``vmap`` with a batched mask a switch computes every branch,
so only the solver uses it, and only where it solves one problem at a time (:mod:`cogsim.fit._solve`). The
value is the plain sum's up to float32 summation order. (Summing the rows in fixed blocks in a loop that
stops at the last real row was measured first and rejected: XLA's CPU code for the same mixture ran about
3.5 times slower per row inside a loop body; docs/fitting_log.md, "Padding skipped".)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

#: the number of static widths a unit's rows are cut to (equal steps of the padded width); each is one more
#: branch to compile (tried before the protocol on van den Berg et al.'s workspace fits: 3 and 4 widths
#: ran the second fit 2.2 s, 6 and 8 widths 2.35 and 2.3 s, and compiled 0.1-1.5 s longer)
N_WIDTHS = 4


def widths(n: int, n_widths: int = N_WIDTHS) -> tuple[int, ...]:
    """The static widths ``ceil(n k / n_widths)``, ``k = 1..n_widths`` (duplicates dropped), ending at ``n``.

    Example:
      >>> widths(958)
      (240, 479, 719, 958)
      >>> widths(3)
      (1, 2, 3)
    """
    return tuple(sorted({-(-n * k // n_widths) for k in range(1, n_widths + 1)}))


def _weighted(ll, mask):
    """The summed log-likelihood: a bool mask selects rows, a float mask weights them (0 on padding)."""
    if mask.dtype == jnp.bool_:
        return jnp.sum(jnp.where(mask, ll, 0.0))
    return jnp.sum(jnp.where(mask > 0, ll * mask, 0.0))


def _first(w, rows_fn, tables, trials, mask):
    return _weighted(rows_fn(tables, jax.tree.map(lambda a: a[:w], trials)), mask[:w])


def trimmed_loglik_sum(tables_fn, rows_fn, u: jax.Array, trials, mask: jax.Array) -> jax.Array:
    """``sum_r mask_r rows_fn(tables_fn(u), trials)_r`` (bool ``mask``: the selected rows) over one unit's
    rows, evaluating only the first ``w`` rows, ``w`` the smallest of :func:`widths` that holds the last row
    of nonzero mask.

    Args:
      tables_fn: ``u -> tables``.
      rows_fn: ``(tables, trials) -> [n]``, row ``r`` from row ``r`` of every trial array only.
      u: the unconstrained parameters ``[k]``.
      trials: column -> ``[n, ...]``.
      mask: ``[n]`` bool, or float weights (0 on padding).

    Example:
      >>> u, x = jnp.array([0.5]), jnp.arange(300.0)
      >>> tables, rows = (lambda u: u * 2.0), (lambda t, tr: t[0] * tr["x"])
      >>> mask = jnp.arange(300) < 200
      >>> value, grad = jax.value_and_grad(trimmed_loglik_sum, 2)(tables, rows, u, {"x": x}, mask)
      >>> float(value), float(grad[0])  # 2 u sum(x[:200]) and its derivative
      (19900.0, 39800.0)
    """
    n = mask.shape[0]
    ws = widths(n)
    real = mask if mask.dtype == jnp.bool_ else mask > 0
    last = jnp.max(jnp.where(real, jnp.arange(1, n + 1), 0))  # rows up to the last real one
    branch = jnp.searchsorted(jnp.asarray(np.asarray(ws, np.int32)), last.astype(jnp.int32))
    branches = [functools.partial(_first, w, rows_fn) for w in ws]
    return jax.lax.switch(branch, branches, tables_fn(u), trials, mask)
