"""Profile-likelihood confidence intervals, every unit, parameter and side in one vectorised search.

For parameter ``j`` of a unit, the interval holds the values ``c`` whose profile
``P(c) = min_{others} nll(u_j = c)`` exceeds the minimum by at most ``chi2_1(level) / 2`` (1.92 at 95%).
Each side is searched in unconstrained coordinates on the signed root ``z(t) = sqrt(2 (P - P_min))`` at a
distance ``t`` from the estimate, which is linear in ``t`` for a quadratic profile (``z = t / se``):

- the first point is the Wald guess ``t = se * z*`` (``z* = sqrt(chi2_1(level))``, ``se`` from the
  Hessian, clipped to [0.05, 2]); while the threshold is not crossed, the next point extrapolates ``z``
  linearly through the origin (between 1.5 and 4 times the distance, never beyond 40 units, where the logit
  and softplus transforms have reached their bounds);
- once crossed, each point interpolates ``z`` linearly inside the bracket (kept at least 5 % of the bracket
  from its ends); the limit is the final interpolation.

``N_ROOT`` profile evaluations per side. A side that never crosses ends at the parameter's bound (``+-inf``
where unbounded). Each profile evaluation re-minimises the other parameters with the package's optimiser
(:func:`cogsim.fit._optim.minimize` on the per-trial mean, the profiled coordinate held at its value),
started from the nearest evaluated point inside the interval moved along the estimates' linear response.
The standard errors and responses come from a finite-difference Hessian of the exact gradient at the
estimate. The program holds two copies of the likelihood (the Hessian's vectorised gradients and the
optimiser's one evaluation), and one compiled program serves every unit, parameter and side.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from scipy import stats

from cogsim.fit._optim import minimize

N_ROOT = 10
MAX_OFFSET = 40.0
FD_STEP = 1e-2


def hessian_fd(grad: Callable[[jax.Array], jax.Array], u: jax.Array, h: float = FD_STEP) -> jax.Array:
    """Symmetrised central finite differences of ``grad`` at ``u`` ``[k]`` (works for any model whose
    gradient exists, also where a second derivative is not implemented in JAX).

    Example:
      >>> H = hessian_fd(jax.grad(lambda u: u[0] ** 2 + 3 * u[0] * u[1]), jnp.array([1.0, 2.0]))
      >>> [[round(float(v), 3) for v in row] for row in H]
      [[2.0, 3.0], [3.0, 0.0]]
    """
    k = u.shape[0]
    eye = jnp.eye(k, dtype=u.dtype) * h
    cols = jax.vmap(lambda e: (grad(u + e) - grad(u - e)) / (2 * h))(eye)
    return 0.5 * (cols + cols.T)


def value_and_hessian_fd(fun: Callable[[jax.Array], jax.Array], u: jax.Array, h: float = FD_STEP):
    """``fun(u)`` and :func:`hessian_fd` of its gradient, from one vectorised ``value_and_grad`` of ``fun`` at
    ``u`` and the ``2 k`` points ``u +- h e_i`` (one evaluation site)."""
    k = u.shape[0]
    eye = jnp.eye(k, dtype=u.dtype) * h
    pts = jnp.concatenate([u[None, :], u[None, :] + eye, u[None, :] - eye])
    vals, grads = jax.vmap(jax.value_and_grad(fun))(pts)
    cols = (grads[1 : k + 1] - grads[k + 1 :]) / (2 * h)
    return vals[0], 0.5 * (cols + cols.T)


def _side(fun, n, u_hat, f_hat, j, se_j, slope, direction, z_star):
    """The unconstrained end of the interval on one side (``+-inf`` when the threshold is never crossed).

    ``fun`` is the summed nll, so that ``(fun(u) - f_hat) * 2`` is the deviance; ``n`` the unit's trial
    count (the inner maximisations run on the per-trial mean, as :func:`fit` does). ``slope`` ``[k]``: the
    other parameters' linear response to ``u_j``.
    """

    def profile(t, warm):
        c = u_hat[j] + direction * t
        start = warm + slope * (c - warm[j])
        start = start.at[j].set(c)
        sol = minimize(lambda u: fun(u.at[j].set(c)) / n, start)
        f = sol.value * n
        z = jnp.sqrt(2.0 * jnp.maximum(f - f_hat, 0.0))
        return z, sol.u.at[j].set(c)

    def step(i, carry):
        found, t_in, z_in, t_out, z_out, warm, t = carry
        z, u = profile(t, warm)
        out = z >= z_star
        found_now = found | out
        t_in2 = jnp.where(out, t_in, t)
        z_in2 = jnp.where(out, z_in, z)
        t_out2 = jnp.where(out, t, t_out)
        z_out2 = jnp.where(out, z, z_out)
        warm2 = jnp.where(out, warm, u)
        # next distance: extrapolate (no bracket yet) or interpolate inside the bracket
        grow = t * jnp.clip(z_star / jnp.maximum(z, 1e-6) * 1.1, 1.5, 4.0)
        grow = jnp.minimum(grow, MAX_OFFSET)
        w = jnp.clip((z_star - z_in2) / jnp.maximum(z_out2 - z_in2, 1e-12), 0.05, 0.95)
        inner = t_in2 + w * (t_out2 - t_in2)
        t_next = jnp.where(found_now, inner, grow)
        # not crossed at the largest distance: nothing further to search
        return found_now, t_in2, z_in2, t_out2, z_out2, warm2, t_next

    t0 = jnp.clip(se_j * z_star, 1e-3, MAX_OFFSET)
    init = (jnp.asarray(False), jnp.asarray(0.0), jnp.asarray(0.0), t0, z_star, u_hat, t0)
    found, t_in, z_in, t_out, z_out, _, _ = jax.lax.fori_loop(0, N_ROOT, step, init)
    w = jnp.clip((z_star - z_in) / jnp.maximum(z_out - z_in, 1e-12), 0.0, 1.0)
    c = u_hat[j] + direction * (t_in + w * (t_out - t_in))
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
    z_star = float(stats.chi2.ppf(level, 1)) ** 0.5
    k = len(model.params)

    def one_unit(u_hat, trials, mask):
        fun = lambda u: nll(u, trials, mask)
        n = jnp.maximum(jnp.sum(mask), 1).astype(jnp.float32)
        f_hat, hess = value_and_hessian_fd(fun, u_hat)
        cov = jnp.linalg.pinv(hess)
        var = jnp.diag(cov)
        ok = jnp.isfinite(var) & (var > 0)
        se = jnp.clip(jnp.where(ok, jnp.sqrt(jnp.abs(var)), 0.5), 0.05, 2.0)
        # linear response of the others to u_j at the estimate: cov[:, j] / cov[j, j]
        slopes = jnp.where(ok[None, :] & jnp.isfinite(cov), cov / jnp.where(ok, var, 1.0)[None, :], 0.0).T
        slopes = jnp.clip(slopes, -10.0, 10.0)
        js = jnp.repeat(jnp.arange(k), 2)
        dirs = jnp.tile(jnp.array([-1.0, 1.0]), k)
        ends_u = jax.vmap(lambda j, d: _side(fun, n, u_hat, f_hat, j, se[j], slopes[j], d, z_star))(js, dirs)
        ends = jnp.stack(
            [p.from_unconstrained(ends_u[2 * i : 2 * i + 2]) for i, p in enumerate(model.params)]
        )
        return jnp.min(ends, axis=1), jnp.max(ends, axis=1)

    return jax.jit(jax.vmap(one_unit))(u_hat, trials, mask)
