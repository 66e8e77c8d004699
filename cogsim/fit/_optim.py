"""The package's one optimiser: optax L-BFGS (zoom line search) in unconstrained coordinates, one problem
at a time under ``jax.vmap`` (participants, set sizes, starts, folds and bootstrap replicates in one batch).

Stopping rule (per problem, on the objective's per-trial mean so that it does not depend on trial counts):
the gradient's 2-norm in unconstrained coordinates falls to ``gtol`` (1e-5), or an iteration raises the
objective or does not move (float32 resolution reached), or ``max_iter`` iterations. A problem counts as
*converged* when its final gradient norm is at most ``CONVERGED_GTOL`` (1e-3): then the log-likelihood
is within about ``n * 1e-6 / (2 h)`` of its maximum (``h`` the per-trial curvature), far below 0.1
for any realistic ``n``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

GTOL = 1e-5
CONVERGED_GTOL = 1e-3
MAX_ITER = 200


class Solution(NamedTuple):
    u: jax.Array  # [k] the minimiser, unconstrained
    value: jax.Array  # objective at u
    grad_norm: jax.Array
    n_iter: jax.Array


def _safe(fun: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    def f(u):
        v = fun(u)
        return jnp.where(jnp.isfinite(v), v, jnp.inf)

    return f


def minimize(
    fun: Callable[[jax.Array], jax.Array], u0: jax.Array, *, max_iter: int = MAX_ITER, gtol: float = GTOL
) -> Solution:
    """Minimises ``fun`` (a scalar function of a ``[k]`` vector) from ``u0`` by L-BFGS.

    Example:
      >>> sol = minimize(lambda u: jnp.sum((u - 3.0) ** 2), jnp.zeros(2))
      >>> [round(float(v), 3) for v in sol.u]
      [3.0, 3.0]
    """
    fun = _safe(fun)
    opt = optax.lbfgs(memory_size=10, linesearch=optax.scale_by_zoom_linesearch(max_linesearch_steps=25))
    value_and_grad = optax.value_and_grad_from_state(fun)
    u0 = jnp.asarray(u0, jnp.float32)
    v0, g0 = jax.value_and_grad(fun)(u0)

    def cond(carry):
        _, _, value, grad, it, stalled = carry
        gn = jnp.linalg.norm(grad)
        return (it < max_iter) & (gn > gtol) & ~stalled & jnp.isfinite(value)

    def body(carry):
        u, state, value, _, it, _ = carry
        v, g = value_and_grad(u, state=state)
        updates, state = opt.update(g, state, u, value=v, grad=g, value_fn=fun)
        u_new = optax.apply_updates(u, updates)
        v_new = optax.tree.get(state, "value")
        g_new = optax.tree.get(state, "grad")
        # keep the better point when the step made things worse (never return a worse point)
        keep = jnp.isfinite(v_new) & (v_new <= v)
        stalled = ~keep | jnp.all(u_new == u)
        u_out = jnp.where(keep, u_new, u)
        v_out = jnp.where(keep, v_new, v)
        g_out = jnp.where(keep, g_new, g)
        return u_out, state, v_out, g_out, it + 1, stalled

    state = opt.init(u0)
    u, _, value, grad, it, _ = jax.lax.while_loop(
        cond, body, (u0, state, v0, g0, jnp.asarray(0), jnp.asarray(False))
    )
    return Solution(u, value, jnp.linalg.norm(grad), it)
