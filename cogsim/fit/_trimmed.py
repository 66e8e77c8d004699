"""A unit's summed log-likelihood evaluated only up to its last real row, for models split into a
parameter part and a per-trial part.

A model may declare ``loglik_parts() -> (tables, rows)`` with ``loglik(params, trials) == rows(tables(params),
trials)``: ``tables`` computes everything that depends on the parameters only (e.g. a von Mises mixture per
set size), ``rows`` each trial's term from its own row of the trials alone. The solver evaluates every unit
padded to the longest unit (one compiled program per model), so a unit of 300 rows padded to 958 pays for 958
rows at every evaluation. :func:`trimmed_loglik_sum` builds the tables, then sums the first ``w`` rows only,
``w`` the smallest of a few static widths that holds the unit's last row of nonzero weight: one
``lax.switch``, of which one branch runs. The solver chooses the widths from its units' rows
(:func:`fitted_widths`: at most ``N_WIDTHS``, the fewest rows over all units; ``fit_hierarchical``'s solver
takes ``N_WIDTHS`` equal steps of the padded width, :func:`widths`). The switch is wrapped so that each branch
returns its own gradient in the tables (under reverse mode a plain switch carries every branch's residuals,
zero-filled, out of whichever branch ran). Under ``vmap`` with a batched mask a switch computes every branch,
so only the solver uses it, and only where it solves one problem at a time (:mod:`cogsim.fit._solve`). The
value is the plain sum's up to float32 summation order. (Summing the rows in fixed blocks in a loop that stops
at the last real row was tried first and rejected: XLA's CPU code for the same mixture ran about 3.5 times
slower per row inside a loop body; docs/fitting_log.md, "Padding skipped".)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

#: the most static widths a unit's rows are cut to; each is one more branch to compile (tried before the
#: protocol, as equal steps of the padded width, on van den Berg et al.'s workspace fits: 3 and 4 widths
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


def fitted_widths(lasts, n: int, n_widths: int = N_WIDTHS) -> tuple[int, ...]:
    """At most ``n_widths`` static widths for units whose last real rows are ``lasts`` (padded to ``n``):
    among the units' own values, the ones that minimise the rows evaluated over all units (each unit at the
    smallest width that holds its rows; exact, by dynamic programming over the sorted distinct values), the
    last replaced by ``n``.

    Example:
      >>> fitted_widths([244, 260, 300, 380, 391, 712, 714, 958], 958, n_widths=3)
      (391, 714, 958)
    """
    vals, counts = np.unique(np.clip(np.asarray(lasts, np.int64), 1, n), return_counts=True)
    d, g = len(vals), min(n_widths, len(vals))
    cum = np.concatenate([[0], np.cumsum(counts)])  # units with values before index j: cum[j]
    # cost[k][j]: the fewest rows that k + 1 groups spend on the values 0..j (the last group ending at j;
    # a group of values i..j costs vals[j] x its units); start[k][j]: where that last group starts
    cost = [vals * cum[1:]]
    start = [np.zeros(d, np.int64)]
    for k in range(1, g):
        c, a = np.full(d, np.iinfo(np.int64).max), np.zeros(d, np.int64)
        for j in range(k, d):
            i = np.arange(k, j + 1)
            total = cost[k - 1][i - 1] + vals[j] * (cum[j + 1] - cum[i])
            c[j], a[j] = total.min(), i[np.argmin(total)]
        cost.append(c)
        start.append(a)
    k = int(np.argmin([c[d - 1] for c in cost]))
    out, j = [], d - 1
    while True:
        out.append(int(vals[j]))
        if k == 0:
            break
        j, k = int(start[k][j]) - 1, k - 1
    out[0] = n  # the widest covers any mask
    return tuple(sorted(out))


def weighted_sum(ll, mask):
    """The summed log-likelihood: a bool mask selects rows, a float mask weights them (0 on padding)."""
    if mask.dtype == jnp.bool_:
        return jnp.sum(jnp.where(mask, ll, 0.0))
    return jnp.sum(jnp.where(mask > 0, ll * mask, 0.0))


def _first(w, rows_fn, tables, trials, mask):
    return weighted_sum(rows_fn(tables, jax.tree.map(lambda a: a[:w], trials)), mask[:w])


def _first_and_grad(w, rows_fn, tables, trials, mask):
    value, pull = jax.vjp(lambda t: _first(w, rows_fn, t, trials, mask), tables)
    return value, pull(jnp.ones_like(value))[0]


def _zero_cotangent(a):
    if jnp.issubdtype(a.dtype, jnp.inexact):
        return jnp.zeros_like(a)
    return np.zeros(a.shape, jax.dtypes.float0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _switched(ws, rows_fn, branch, tables, trials, mask):
    return jax.lax.switch(branch, [functools.partial(_first, w, rows_fn) for w in ws], tables, trials, mask)


def _switched_fwd(ws, rows_fn, branch, tables, trials, mask):
    # each branch returns its own gradient in the tables: under reverse mode a plain switch would carry
    # every branch's residuals out of whichever branch runs (zero-filled), about 30 µs per evaluation here
    branches = [functools.partial(_first_and_grad, w, rows_fn) for w in ws]
    value, grad = jax.lax.switch(branch, branches, tables, trials, mask)
    return value, (grad, branch, trials, mask)


def _switched_bwd(ws, rows_fn, res, ct):
    grad, branch, trials, mask = res
    zeros = jax.tree.map(_zero_cotangent, (branch, trials, mask))
    return zeros[0], jax.tree.map(lambda g: ct * g, grad), zeros[1], zeros[2]


_switched.defvjp(_switched_fwd, _switched_bwd)


def trimmed_loglik_sum(
    tables_fn, rows_fn, u: jax.Array, trials, mask: jax.Array, ws: tuple[int, ...] | None = None
) -> jax.Array:
    """``sum_r mask_r rows_fn(tables_fn(u), trials)_r`` (bool ``mask``: the selected rows) over one unit's
    rows, evaluating only the first ``w`` rows, ``w`` the smallest of the widths ``ws`` (default
    :func:`widths`; the largest must be the padded width) that holds the last row of nonzero mask.

    Args:
      tables_fn: ``u -> tables``.
      rows_fn: ``(tables, trials) -> [n]``, row ``r`` from row ``r`` of every trial array only.
      u: the unconstrained parameters ``[k]``.
      trials: column -> ``[n, ...]``.
      mask: ``[n]`` bool, or float weights (0 on padding).
      ws: the static widths, ascending, the last ``n`` (e.g. :func:`fitted_widths` of the units' rows).

    Example:
      >>> u, x = jnp.array([0.5]), jnp.arange(300.0)
      >>> tables, rows = (lambda u: u * 2.0), (lambda t, tr: t[0] * tr["x"])
      >>> mask = jnp.arange(300) < 200
      >>> value, grad = jax.value_and_grad(trimmed_loglik_sum, 2)(tables, rows, u, {"x": x}, mask)
      >>> float(value), float(grad[0])  # 2 u sum(x[:200]) and its derivative
      (19900.0, 39800.0)
    """
    n = mask.shape[0]
    ws = widths(n) if ws is None else tuple(ws)
    if ws[-1] != n:
        raise ValueError(f"trimmed_loglik_sum ws: got {ws}; allowed: ascending widths ending at {n}")
    real = mask if mask.dtype == jnp.bool_ else mask > 0
    last = jnp.max(jnp.where(real, jnp.arange(1, n + 1), 0))  # rows up to the last real one
    branch = jnp.searchsorted(jnp.asarray(np.asarray(ws, np.int32)), last.astype(jnp.int32))
    return _switched(ws, rows_fn, branch, tables_fn(u), trials, mask)
