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
where unbounded). Each profile evaluation re-minimises the other parameters by ``N_NEWTON`` damped Newton
steps (Hessian by finite differences of the exact gradient, absolute eigenvalues floored, the best of
``STEPS`` step lengths, never a worse point), started from the nearest evaluated point inside the interval
moved along the estimates' linear response. Fixed iteration counts: no data-dependent loops, so one compiled
program serves every unit, parameter and side, and no lane waits for the slowest one.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from scipy import stats

N_ROOT = 10
N_NEWTON = 5
STEPS = (1.0, 0.5, 0.2, 0.05)
MAX_OFFSET = 40.0
FD_STEP = 1e-2
EIG_FLOOR = 1e-4


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


def newton_fixed(fun: Callable, u0: jax.Array, free: jax.Array, n_steps: int = N_NEWTON):
    """``n_steps`` damped Newton steps on ``fun`` over the coordinates where ``free`` is True.

    Each step: the Newton direction with the finite-difference Hessian's eigenvalues replaced by their
    absolute values (floored at ``EIG_FLOOR``), the best of ``STEPS`` step lengths, kept only if it lowers
    ``fun``. Returns ``(u, fun(u))``.
    """
    grad = jax.grad(fun)
    steps = jnp.asarray(STEPS, u0.dtype)
    both = free[:, None] & free[None, :]
    eye = jnp.eye(u0.shape[0], dtype=u0.dtype)

    def step(_, carry):
        u, f = carry
        g = jnp.where(free, grad(u), 0.0)
        hess = jnp.where(both, hessian_fd(grad, u), eye)
        lam, vec = jnp.linalg.eigh(hess)
        lam = jnp.maximum(jnp.abs(lam), EIG_FLOOR)
        d = -(vec @ ((vec.T @ g) / lam))
        d = jnp.where(free & jnp.isfinite(d), d, 0.0)
        d = d * jnp.minimum(1.0, MAX_OFFSET / 4 / jnp.maximum(jnp.linalg.norm(d), 1e-30))
        cand = u[None, :] + steps[:, None] * d[None, :]
        fs = jax.vmap(fun)(cand)
        fs = jnp.where(jnp.isfinite(fs), fs, jnp.inf)
        b = jnp.argmin(fs)
        better = fs[b] < f
        return jnp.where(better, cand[b], u), jnp.where(better, fs[b], f)

    f0 = fun(u0)
    return jax.lax.fori_loop(0, n_steps, step, (u0, jnp.where(jnp.isfinite(f0), f0, jnp.inf)))


def _side(fun, u_hat, f_hat, j, se_j, slope, direction, z_star):
    """The unconstrained end of the interval on one side (``+-inf`` when the threshold is never crossed).

    ``fun`` is the per-trial mean objective scaled so that ``(fun(u) - f_hat) * 2`` is the deviance
    (``fun`` is the summed nll). ``slope`` ``[k]``: the other parameters' linear response to ``u_j``.
    """
    free = jnp.arange(u_hat.shape[0]) != j

    def profile(t, warm):
        c = u_hat[j] + direction * t
        start = warm + slope * (c - warm[j])
        start = start.at[j].set(c)
        u, f = newton_fixed(fun, start, free)
        z = jnp.sqrt(2.0 * jnp.maximum(f - f_hat, 0.0))
        return z, u

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
        f_hat = fun(u_hat)
        hess = hessian_fd(jax.grad(fun), u_hat)
        cov = jnp.linalg.pinv(hess)
        var = jnp.diag(cov)
        ok = jnp.isfinite(var) & (var > 0)
        se = jnp.clip(jnp.where(ok, jnp.sqrt(jnp.abs(var)), 0.5), 0.05, 2.0)
        # linear response of the others to u_j at the estimate: cov[:, j] / cov[j, j]
        slopes = jnp.where(ok[None, :] & jnp.isfinite(cov), cov / jnp.where(ok, var, 1.0)[None, :], 0.0).T
        slopes = jnp.clip(slopes, -10.0, 10.0)
        js = jnp.repeat(jnp.arange(k), 2)
        dirs = jnp.tile(jnp.array([-1.0, 1.0]), k)
        ends_u = jax.vmap(lambda j, d: _side(fun, u_hat, f_hat, j, se[j], slopes[j], d, z_star))(js, dirs)
        ends = jnp.stack(
            [p.from_unconstrained(ends_u[2 * i : 2 * i + 2]) for i, p in enumerate(model.params)]
        )
        return jnp.min(ends, axis=1), jnp.max(ends, axis=1)

    return jax.jit(jax.vmap(one_unit))(u_hat, trials, mask)
