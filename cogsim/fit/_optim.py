"""The package's one optimiser: quasi-Newton BFGS (dense ``[k, k]`` inverse-Hessian approximation; models
have a handful of parameters, so it is smaller than an L-BFGS memory) with a backtracking (Armijo) line
search in unconstrained coordinates, one problem at a time under ``jax.vmap`` (participants, set sizes,
starts, folds, profile points and bootstrap replicates in one batch).

The whole solve is one ``lax.while_loop`` whose body evaluates the objective and its gradient exactly once
(at the line search's trial point; the first pass evaluates the start itself), so a compiled program holds
one copy of the likelihood however many line-search steps or iterations it takes. Each pass either accepts
the trial point (Armijo's sufficient decrease ``f(u + a d) <= f(u) + 1e-4 a g.d``; the step's curvature
pair updates the inverse Hessian when ``s.y > 0``, scaled by ``s.y / y.y`` at the first pair, and the next
direction is ``-H g`` with trial step 1) or shrinks the step (the minimiser of the quadratic through
``f(u)``, ``g.d`` and the trial value, clipped to [0.1, 0.5] of the step). The first direction is steepest
descent with a step of at most 1 in norm; a direction that is not a descent direction resets ``H``.

Stopping rule (per problem, on the objective's per-trial mean so that it does not depend on trial counts):
the gradient's 2-norm in unconstrained coordinates falls to ``gtol`` (1e-5), or the search stalls (float32
resolution reached: the trial point equals the current point, or ``MAX_LINESEARCH`` shrinks in a row fail,
or ``N_TINY`` accepted steps in a row lower the objective by at most ``FTOL`` of it), or ``max_iter``
accepted iterations (or ``EVAL_FACTOR * max_iter`` evaluations). Only points that lower the objective are
accepted: the result is never worse than the start. A problem counts as *converged* when its final gradient
norm is at most ``CONVERGED_GTOL`` (1e-3): then the log-likelihood is within about ``n * 1e-6 / (2 h)`` of its
maximum (``h`` the per-trial curvature), far below 0.1 for any realistic ``n``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

GTOL = 1e-5
CONVERGED_GTOL = 1e-3
MAX_ITER = 200
MAX_LINESEARCH = 30
EVAL_FACTOR = 4
ARMIJO = 1e-4
FTOL = 1e-6
N_TINY = 3


class Solution(NamedTuple):
    u: jax.Array  # [k] the minimiser, unconstrained
    value: jax.Array  # objective at u
    grad_norm: jax.Array
    n_iter: jax.Array


class _State(NamedTuple):
    u: jax.Array  # current (accepted) point
    f: jax.Array
    g: jax.Array
    d: jax.Array  # search direction from u
    step: jax.Array  # trial step length along d
    h: jax.Array  # [k, k] inverse-Hessian approximation
    n_pairs: jax.Array  # curvature pairs in h (0: steepest descent)
    it: jax.Array  # accepted iterations
    evals: jax.Array
    shrinks: jax.Array  # consecutive rejected trial points
    tiny: jax.Array  # consecutive accepted steps that lowered the objective by at most FTOL (relative)
    stalled: jax.Array


def _safe(fun: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    def f(u):
        v = fun(u)
        return jnp.where(jnp.isfinite(v), v, jnp.inf)

    return f


def _bfgs_update(h, sv, yv, first):
    """The BFGS update of the inverse-Hessian approximation ``h`` ``[k, k]`` by the pair ``(s, y)``
    (``s.y > 0``); on the first pair ``h`` starts as ``(s.y / y.y) I``."""
    k = sv.shape[0]
    sy = jnp.dot(sv, yv)
    eye = jnp.eye(k, dtype=sv.dtype)
    h = jnp.where(first, eye * sy / jnp.maximum(jnp.dot(yv, yv), 1e-30), h)
    rho = 1.0 / jnp.where(sy > 0, sy, 1.0)
    left = eye - rho * jnp.outer(sv, yv)
    return left @ h @ left.T + rho * jnp.outer(sv, sv)


def _steepest(g):
    """Steepest descent scaled to a step of at most 1 in norm."""
    return -g / jnp.maximum(1.0, jnp.linalg.norm(g))


def minimize(
    fun: Callable[[jax.Array], jax.Array], u0: jax.Array, *, max_iter: int = MAX_ITER, gtol: float = GTOL
) -> Solution:
    """Minimises ``fun`` (a scalar function of a ``[k]`` vector) from ``u0`` by BFGS.

    Example:
      >>> sol = minimize(lambda u: jnp.sum((u - 3.0) ** 2), jnp.zeros(2))
      >>> [round(float(v), 3) for v in sol.u]
      [3.0, 3.0]
    """
    fun = _safe(fun)
    value_and_grad = jax.value_and_grad(fun)
    u0 = jnp.asarray(u0, jnp.float32)
    k = u0.shape[0]
    # the first body evaluates at u0 itself (step 0 from f = inf): accepted when finite
    init = _State(
        u0,
        jnp.asarray(jnp.inf, jnp.float32),
        jnp.zeros(k, jnp.float32),
        jnp.zeros(k, jnp.float32),
        jnp.asarray(0.0, jnp.float32),
        jnp.eye(k, dtype=jnp.float32),
        jnp.asarray(0),
        jnp.asarray(-1),
        jnp.asarray(0),
        jnp.asarray(0),
        jnp.asarray(0),
        jnp.asarray(False),
    )
    max_evals = EVAL_FACTOR * max_iter

    def cond(st: _State):
        return (st.evals == 0) | (
            (st.it < max_iter)
            & (st.evals < max_evals)
            & (jnp.linalg.norm(st.g) > gtol)
            & ~st.stalled
            & jnp.isfinite(st.f)
        )

    def body(st: _State):
        u_try = st.u + st.step * st.d
        f_try, g_try = value_and_grad(u_try)  # the one evaluation site
        gd = jnp.dot(st.g, st.d)
        ok_grad = jnp.all(jnp.isfinite(g_try))
        accept = jnp.isfinite(f_try) & ok_grad & (f_try <= st.f + ARMIJO * st.step * gd) & (f_try <= st.f)
        first = st.evals == 0
        no_move = jnp.all(u_try == st.u)

        # accepted: update the inverse Hessian with the curvature pair, next direction -H g
        sv, yv = u_try - st.u, g_try - st.g
        sy = jnp.dot(sv, yv)
        store = accept & (sy > 1e-10 * jnp.linalg.norm(sv) * jnp.linalg.norm(yv)) & (sy > 0)
        h_new = jnp.where(store, _bfgs_update(st.h, sv, yv, st.n_pairs == 0), st.h)
        pairs = st.n_pairs + store.astype(st.n_pairs.dtype)
        d_acc = jnp.where(pairs > 0, -(h_new @ g_try), _steepest(g_try))
        descent = jnp.all(jnp.isfinite(d_acc)) & (jnp.dot(d_acc, g_try) < 0)
        d_acc = jnp.where(descent, d_acc, _steepest(g_try))
        h_acc = jnp.where(descent, h_new, jnp.eye(k, dtype=h_new.dtype))  # not a descent direction: reset
        pairs = jnp.where(descent, pairs, 0)

        # rejected: shrink the step (quadratic model, clipped to [0.1, 0.5] of the step)
        denom = 2.0 * (f_try - st.f - gd * st.step)
        quad = -gd * st.step**2 / jnp.where(jnp.isfinite(denom) & (denom > 0), denom, jnp.inf)
        shrunk = jnp.clip(jnp.where(jnp.isfinite(quad), quad, 0.5 * st.step), 0.1 * st.step, 0.5 * st.step)

        pick = lambda a, b: jnp.where(accept, a, b)
        shrinks = jnp.where(accept, 0, st.shrinks + 1)
        small = accept & ~first & (st.f - f_try <= FTOL * jnp.maximum(jnp.abs(st.f), 1.0))
        tiny = jnp.where(small, st.tiny + 1, jnp.where(accept, 0, st.tiny))
        return _State(
            pick(u_try, st.u),
            pick(f_try, st.f),
            pick(g_try, st.g),
            pick(d_acc, st.d),
            pick(jnp.asarray(1.0, jnp.float32), shrunk),
            pick(h_acc, st.h),
            pick(pairs, st.n_pairs),
            st.it + accept.astype(st.it.dtype),
            st.evals + 1,
            shrinks,
            tiny,
            jnp.where(first, ~accept, no_move | (shrinks >= MAX_LINESEARCH) | (tiny >= N_TINY) | (gd >= 0)),
        )

    st = jax.lax.while_loop(cond, body, init)
    return Solution(st.u, st.f, jnp.linalg.norm(st.g), jnp.maximum(st.it, 0))
