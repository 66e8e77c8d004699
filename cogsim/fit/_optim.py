"""The package's one optimiser: L-BFGS (memory ``MEMORY`` curvature pairs, the initial inverse Hessian scaled
by ``s.y / y.y`` of the newest pair at every iteration) with a Wolfe line search that brackets and
interpolates, in unconstrained coordinates, one problem at a time under ``jax.vmap`` (participants, set
sizes, starts, folds and bootstrap replicates in one batch; profile intervals re-minimise by a few
quasi-Newton steps from the estimate's Hessian instead, see :mod:`cogsim.fit._profile`).

The whole solve is one ``lax.while_loop`` whose body evaluates the objective and its gradient exactly once
(at the line search's trial point; the first pass evaluates the start itself), so a compiled program holds
one copy of the likelihood however many line-search steps or iterations it takes. The line search keeps the
best trial step satisfying Armijo's sufficient decrease ``f(u + a d) <= f(u) + 1e-4 a g.d`` (``a_lo``) and a
step beyond the minimum along the line (``a_hi``): a trial that also satisfies the strong curvature
condition ``|g(u + a d).d| <= 0.9 |g.d|`` ends it; before a bracket exists the step doubles (up to
``MAX_STEP``), after it the next trial is the minimiser of the quadratic through ``a_lo``'s value and slope
and ``a_hi``'s value, kept within [0.1, 0.9] of the bracket. After ``MAX_LINESEARCH`` trials the line search
ends at ``a_lo``. An accepted step stores its curvature pair when ``s.y > 0``; the next direction is ``-H g``
by the two-loop recursion with trial step 1. The first direction is steepest descent with a step of at most
1 in norm; a direction that is not a descent direction clears the memory.

Stopping rule (per problem, on the objective's per-trial mean so that it does not depend on trial counts):
the gradient's 2-norm in unconstrained coordinates falls to ``gtol`` (1e-5), or a line search ends without
a step that lowers the objective (float32 resolution reached, or ``MAX_LINESEARCH`` trials failed), or an
accepted step does not lower it (the approximate Wolfe condition accepts an equal value; such solves used to
cycle at float32 resolution until the iteration limit), or
``max_iter`` accepted iterations (or ``EVAL_FACTOR * max_iter`` evaluations). Only points that lower the
objective are accepted: the result is never worse than the start. A start whose value or gradient is not
finite is not moved from: the solve ends at once with the value ``inf`` (the caller keeps another start).
A problem counts as *converged* when its final gradient norm is at most ``CONVERGED_GTOL`` (1e-3): then the
log-likelihood is within about ``n * 1e-6 / (2 h)`` of its maximum (``h`` the per-trial curvature), far
below 0.1 for any realistic ``n``. This is :func:`cogsim.fit.fit`'s ``converged`` for every model
without passes (the hierarchical fit's per unit is its Newton decrement in nats instead, see
:mod:`cogsim.fit._hierarchical`); for a model with passes (one that declares
``initial(trials)``) ``fit`` reports the check of :mod:`cogsim.fit._passes` instead (the gradient norm
passes plateaus at the bounds).
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
CURVATURE = 0.9
MAX_STEP = 1e4
MEMORY = 10
APPROX_FTOL = 1e-6


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
    a_lo: jax.Array  # best Armijo step of this line search (0: none yet)
    f_lo: jax.Array
    g_lo: jax.Array
    a_hi: jax.Array  # the bracket's other end (inf: none yet); may lie below a_lo
    f_hi: jax.Array
    mem: jax.Array  # [2, MEMORY, k] curvature pairs s and y, newest last (zeros: empty)
    n_pairs: jax.Array  # curvature pairs stored since the last reset (0: steepest descent)
    it: jax.Array  # accepted iterations
    evals: jax.Array
    trials: jax.Array  # trial points of the current line search
    stalled: jax.Array


def _safe(fun: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    def f(u):
        v = fun(u)
        return jnp.where(jnp.isfinite(v), v, jnp.inf)

    return f


def _two_loop(mem, g):
    """``-H g`` for the L-BFGS inverse Hessian of the pairs in ``mem`` (empty slots, ``s.y <= 0``, are
    skipped), its initial matrix ``(s.y / y.y) I`` of the newest pair. Both loops are ``lax.scan`` over the
    memory's slots (one compiled body each, not ``MEMORY`` unrolled copies: the optimiser's program compiles
    several times faster)."""
    sm, ym = mem[0], mem[1]
    sy = jnp.sum(sm * ym, axis=1)
    valid = sy > 0
    rho = jnp.where(valid, 1.0 / jnp.where(valid, sy, 1.0), 0.0)

    def newest_first(q, pair):
        s, y, r = pair
        alpha = r * jnp.dot(s, q)
        return q - alpha * y, alpha

    q, alphas = jax.lax.scan(newest_first, g, (sm, ym, rho), reverse=True)
    gamma = jnp.where(valid[-1], sy[-1] / jnp.maximum(jnp.dot(ym[-1], ym[-1]), 1e-30), 1.0)

    def oldest_first(r, pair):
        s, y, rh, alpha = pair
        return r + s * (alpha - rh * jnp.dot(y, r)), None

    r, _ = jax.lax.scan(oldest_first, gamma * q, (sm, ym, rho, alphas))
    return -r


def _steepest(g):
    """Steepest descent scaled to a step of at most 1 in norm."""
    return -g / jnp.maximum(1.0, jnp.linalg.norm(g))


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
    value_and_grad = jax.value_and_grad(fun)
    u0 = jnp.asarray(u0, jnp.float32)
    k = u0.shape[0]
    f32 = lambda v: jnp.asarray(v, jnp.float32)
    zk = jnp.zeros(k, jnp.float32)
    inf = f32(jnp.inf)
    # the first body evaluates at u0 itself (step 0): accepted when finite
    init = _State(
        u0, inf, zk, zk, f32(0.0), f32(0.0), inf, zk, inf, inf,
        jnp.zeros((2, MEMORY, k), jnp.float32),
        jnp.asarray(0), jnp.asarray(-1), jnp.asarray(0), jnp.asarray(0), jnp.asarray(False),
    )  # fmt: skip
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
        first = st.evals == 0
        u_try = st.u + st.step * st.d
        f_try, g_try = value_and_grad(u_try)  # the one evaluation site
        gd0 = jnp.dot(st.g, st.d)
        gd_try = jnp.dot(g_try, st.d)
        finite = jnp.isfinite(f_try) & jnp.all(jnp.isfinite(g_try))
        armijo = (f_try <= st.f + ARMIJO * st.step * gd0) & (f_try < st.f_lo)
        # near a minimum float32 cannot resolve Armijo's decrease: Hager and Zhang's approximate condition
        approx = (gd_try <= (2.0 * ARMIJO - 1.0) * gd0) & (f_try <= st.f_lo) & (f_try <= st.f)
        approx = approx & (f_try <= st.f + APPROX_FTOL * jnp.abs(st.f))
        better = (finite & (armijo | approx)) | (first & finite)
        wolfe = better & (jnp.abs(gd_try) <= CURVATURE * jnp.abs(gd0))

        # the bracket: a trial without sufficient decrease, or one past the minimum along d, closes it
        up = better & (gd_try >= 0)
        a_hi = jnp.where(~better, st.step, jnp.where(up, st.a_lo, st.a_hi))
        f_hi = jnp.where(~better, f_try, jnp.where(up, st.f_lo, st.f_hi))
        a_lo = jnp.where(better, st.step, st.a_lo)
        f_lo = jnp.where(better, f_try, st.f_lo)
        g_lo = jnp.where(better, g_try, st.g_lo)
        trials = st.trials + 1
        no_move = jnp.all(u_try == st.u)
        done = first | wolfe | (trials >= MAX_LINESEARCH) | no_move
        accept = done & ((a_lo > 0) | first)

        # the next trial of this line search: double the step, or interpolate inside the bracket
        gd_lo = jnp.dot(g_lo, st.d)
        delta = a_hi - a_lo
        denom = 2.0 * (f_hi - f_lo - gd_lo * delta)
        t = -gd_lo * delta / jnp.where(jnp.isfinite(denom) & (denom > 0), denom, jnp.inf)
        t = jnp.clip(jnp.where(jnp.isfinite(t) & (t > 0), t, 0.5), 0.1, 0.9)
        nxt = jnp.where(jnp.isfinite(a_hi), a_lo + t * delta, jnp.minimum(2.0 * st.step, MAX_STEP))

        # accepted: move to a_lo, store the curvature pair, next direction -H g
        u_new = jnp.where(first, u_try, st.u + a_lo * st.d)
        sv, yv = u_new - st.u, g_lo - st.g
        sy = jnp.dot(sv, yv)
        store = accept & ~first & (sy > 1e-10 * jnp.linalg.norm(sv) * jnp.linalg.norm(yv)) & (sy > 0)
        pushed = jnp.concatenate([st.mem[:, 1:], jnp.stack([sv, yv])[:, None]], axis=1)
        mem = jnp.where(store, pushed, st.mem)
        pairs = st.n_pairs + store.astype(st.n_pairs.dtype)
        d_acc = jnp.where(pairs > 0, _two_loop(mem, g_lo), _steepest(g_lo))
        descent = jnp.all(jnp.isfinite(d_acc)) & (jnp.dot(d_acc, g_lo) < 0)
        d_acc = jnp.where(descent, d_acc, _steepest(g_lo))
        mem = jnp.where(descent, mem, jnp.zeros_like(mem))  # not a descent direction: clear the memory
        pairs = jnp.where(descent, pairs, 0)

        pick = lambda a, b: jnp.where(accept, a, b)
        return _State(
            pick(u_new, st.u),
            pick(f_lo, st.f),
            pick(g_lo, st.g),
            pick(d_acc, st.d),
            pick(f32(1.0), nxt.astype(jnp.float32)),
            pick(f32(0.0), a_lo),
            f_lo,
            g_lo,
            pick(inf, a_hi),
            pick(inf, f_hi),
            pick(mem, st.mem),
            pick(pairs, st.n_pairs),
            st.it + accept.astype(st.it.dtype),
            st.evals + 1,
            jnp.where(done, 0, trials),
            (done & ~accept) | (accept & ~first & ~(f_lo < st.f)),  # no lower point, or a step without gain
        )

    st = jax.lax.while_loop(cond, body, init)
    return Solution(st.u, st.f, jnp.linalg.norm(st.g), jnp.maximum(st.it, 0))
