"""Profile-likelihood confidence intervals, every unit and parameter in one vectorised search.

For parameter ``j`` of a unit, the interval holds the values ``c`` whose profile
``min_{others} nll(u_j = c)`` exceeds the minimum by at most ``chi2_1(level) / 2`` (1.92 at 95%).
Each side is searched in unconstrained coordinates: steps of ``h * 2^i`` (``h`` the Wald standard error
from the Hessian, clipped to [0.05, 2]) until the profile crosses the threshold (at most ``N_EXPAND``
steps, never beyond 40 units, where the logit and softplus transforms have reached their bounds), then
``N_BISECT`` bisections and a linear interpolation of the crossing. A side that never crosses ends at the
parameter's bound (``+-inf`` where unbounded). Each profile point re-optimises the other parameters from
the previous point (warm start).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from scipy import stats

from cogsim.fit._optim import minimize

N_EXPAND = 7
N_BISECT = 10
INNER_ITER = 60
MAX_OFFSET = 40.0


def _side(nll1, u_hat, nll_hat, n, j, h, direction, crit):
    """The unconstrained end of the interval on one side (``+-inf`` when the threshold is never crossed).

    One loop of ``N_EXPAND + N_BISECT`` profile evaluations: expansion steps until the threshold is
    crossed, then bisection of the bracket (one profile evaluation per step, so it compiles once).
    """

    def step(i, carry):
        found, c_in, d_in, c_out, d_out, warm = carry
        expanding = ~found & (i < N_EXPAND)
        c_expand = u_hat[j] + direction * jnp.minimum(h * 2.0 ** jnp.minimum(i, N_EXPAND), MAX_OFFSET)
        c = jnp.where(expanding, c_expand, jnp.where(found, 0.5 * (c_in + c_out), c_in))
        sol = minimize(lambda v: nll1(v.at[j].set(c)) / n, warm.at[j].set(c), max_iter=INNER_ITER)
        d = sol.value * n - nll_hat
        out = d >= crit
        move_in = (expanding & ~out) | (found & ~out)
        move_out = out & (expanding | found)
        return (
            found | (expanding & out),
            jnp.where(move_in, c, c_in),
            jnp.where(move_in, d, d_in),
            jnp.where(move_out, c, c_out),
            jnp.where(move_out, d, d_out),
            jnp.where(move_in, sol.u, warm),
        )

    init = (jnp.asarray(False), u_hat[j], jnp.asarray(0.0), u_hat[j], jnp.asarray(0.0), u_hat)
    found, c_in, d_in, c_out, d_out, _ = jax.lax.fori_loop(0, N_EXPAND + N_BISECT, step, init)
    w = jnp.clip((crit - d_in) / jnp.maximum(d_out - d_in, 1e-12), 0.0, 1.0)
    c = c_in + w * (c_out - c_in)
    return jnp.where(found, c, direction * jnp.inf)


def profile_intervals(
    model, nll: Callable, u_hat: jax.Array, trials: dict, mask: jax.Array, *, level: float = 0.95
) -> tuple[jax.Array, jax.Array]:
    """Lower and upper profile-likelihood limits ``[n_units, k]`` in the parameters' own (constrained) scale.

    Args:
      model: the fitted model (its ``params`` give the transforms).
      nll: ``nll(u, trials, mask)`` of one unit (summed scale).
      u_hat: ``[n_units, k]`` the unconstrained estimates.
      trials: column -> ``[n_units, max_trials]``.
      mask: ``[n_units, max_trials]``.
      level: the confidence level.
    """
    crit = float(stats.chi2.ppf(level, 1)) / 2.0
    k = len(model.params)

    def one_unit(u_hat, trials, mask):
        nll1 = lambda u: nll(u, trials, mask)
        n = jnp.maximum(jnp.sum(mask), 1).astype(jnp.float32)
        nll_hat = nll1(u_hat)
        hess = jax.hessian(nll1)(u_hat)
        var = jnp.diag(jnp.linalg.pinv(hess))
        se = jnp.where(jnp.isfinite(var) & (var > 0), jnp.sqrt(jnp.abs(var)), 0.5)
        h = jnp.clip(se, 0.05, 2.0)
        js = jnp.repeat(jnp.arange(k), 2)
        dirs = jnp.tile(jnp.array([-1.0, 1.0]), k)
        ends_u = jax.vmap(lambda j, d: _side(nll1, u_hat, nll_hat, n, j, h[j], d, crit))(js, dirs)
        ends = jnp.stack(
            [p.from_unconstrained(ends_u[2 * i : 2 * i + 2]) for i, p in enumerate(model.params)]
        )
        return jnp.min(ends, axis=1), jnp.max(ends, axis=1)

    return jax.jit(jax.vmap(one_unit))(u_hat, trials, mask)
