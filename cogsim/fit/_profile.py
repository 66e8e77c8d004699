"""Profile-likelihood confidence intervals, every unit, parameter and side in one vectorised search.

For parameter ``j`` of a unit, the interval holds the values ``c`` whose profile
``P(c) = min_{others} nll(u_j = c)`` exceeds the minimum by at most ``chi2_1(level) / 2`` (1.92 at 95%).
Each side is searched in unconstrained coordinates on the signed root ``z(t) = sqrt(2 (P - P_min))`` at a
distance ``t`` from the estimate, which is linear in ``t`` for a quadratic profile (``z = t / se``):

- the first point is the Wald guess ``t = se * z*`` (``z* = sqrt(chi2_1(level))``, ``se`` from the
  Hessian, clipped to [0.05, 2]); while the threshold is not crossed, the next point is the secant through
  the last two points (the estimate, ``z = 0``, first), kept between 1.02 and 4 times the distance and
  never beyond 40 units, where the logit and softplus transforms have reached their bounds;
- once crossed, each point is the regula falsi point of the bracket with the Illinois rule (an end kept
  twice in a row has its distance to the threshold halved), kept at least 1 % of the bracket from its ends.

A side's search ends when its last point's ``z`` is within ``Z_TOL`` of ``z*`` (the end is then the linear
interpolation of ``z`` inside the bracket, or that point itself when nothing beyond it was evaluated), when
it never crossed by the largest distance (the limit is the parameter's bound, ``+-inf`` where unbounded),
when the bracket has shrunk to 1e-4 of its distance without ``z`` nearing ``z*`` (a jump), or after
``N_ROOT`` profile evaluations (the final interpolation). The end is then checked, because a
re-minimisation can stop in a local minimum of the other parameters (e.g. on a branch of minima that ends
beyond the end, at a kink, or in a second basin) and report a crossing that the profile does not have: the
profile is evaluated ``BEYOND`` (1.25) times as far, and then at the end again, started from that point's
other parameters and from the bracket's inner end's (the lower start kept). Where ``z`` at the end or beyond
is below ``z* - Z_CHECK``, the search goes on from there (a bracket from the end to the point beyond where
only the end is below, else beyond it; at most ``N_CHECK`` rounds, each with up to ``N_ROOT`` evaluations,
the last round's end kept even where its check fails); a profile that stays below the threshold thus
reaches the bound.

Each profile evaluation re-minimises the other parameters (:func:`newton_profile`) from the lower of two
starts: the nearest evaluated point inside the interval moved along the estimates' linear response (for the
point beyond the end: the estimate moved along it; for the end's check: the point beyond), and that point
with only the profiled parameter moved. The steps are quasi-Newton: the other parameters' Hessian starts as
the estimate's (central finite differences of the exact gradient, so models whose second derivatives JAX
lacks work too), is carried from one profile point to the next and BFGS-updated by every trial step; a step
is kept only where it lowers the objective (else the next try takes a quarter of it); the steps end when the
predicted decrease is below ``NEWTON_TOL`` or after ``N_NEWTON`` steps.

Both searches are ``while_loop``s, vmapped over the sides of the units of one chunk (about ``CHUNK_TRIALS``
trials' worth of units, as the solver's chunks: :func:`cogsim.fit._solve.in_chunks`), the chunks one after
another: a chunk's loop ends when all of its lanes are done, and one compiled program serves every unit,
parameter and side. The objective and its gradient are evaluated at one site per loop.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from scipy import stats

from cogsim.fit._solve import chunk_size, in_chunks

N_ROOT = 16
N_NEWTON = 5
Z_TOL = 1e-3
NEWTON_TOL = 1e-4
MAX_OFFSET = 40.0
FD_STEP = 1e-2
EIG_FLOOR = 1e-4
BEYOND = 1.25
Z_CHECK = 0.01
N_CHECK = 3


def hessian_fd(grad: Callable[[jax.Array], jax.Array], u: jax.Array, h: float = FD_STEP) -> jax.Array:
    """Symmetrised central finite differences of ``grad`` at ``u`` ``[k]`` (works for any model whose
    gradient exists, also where a second derivative is not implemented in JAX).

    Example:
      >>> H = hessian_fd(jax.grad(lambda u: u[0] ** 2 + 3 * u[0] * u[1]), jnp.array([1.0, 2.0]))
      >>> [[round(float(v), 3) for v in row] for row in H]
      [[2.0, 3.0], [3.0, 0.0]]
    """
    return _central(jax.vmap(grad)(_stencil(u, h)), h)  # one vmapped call: one copy when compiled


def value_and_hessian_fd(fun: Callable[[jax.Array], jax.Array], u: jax.Array, h: float = FD_STEP):
    """``(fun(u), hessian_fd(grad(fun), u))`` from one vmapped value-and-gradient call (one copy of ``fun``
    in a compiled program).

    Example:
      >>> v, H = value_and_hessian_fd(lambda u: u[0] ** 2 + 3 * u[0] * u[1], jnp.array([1.0, 2.0]))
      >>> float(v), [[round(float(x), 3) for x in row] for row in H]
      (7.0, [[2.0, 3.0], [3.0, 0.0]])
    """
    v, _, hess = value_grad_and_hessian_fd(fun, u, h)
    return v, hess


def value_grad_and_hessian_fd(fun: Callable[[jax.Array], jax.Array], u: jax.Array, h: float = FD_STEP):
    """``(fun(u), grad(fun)(u), hessian_fd(grad(fun), u))`` from the same one vmapped call as
    :func:`value_and_hessian_fd` (the gradient at ``u`` is exact, not a difference).

    Example:
      >>> v, g, H = value_grad_and_hessian_fd(lambda u: u[0] ** 2 + 3 * u[0] * u[1], jnp.array([1.0, 2.0]))
      >>> [round(float(x), 3) for x in g]
      [8.0, 3.0]
    """
    vs, gs = jax.vmap(jax.value_and_grad(fun))(jnp.concatenate([u[None, :], _stencil(u, h)]))
    return vs[0], gs[0], _central(gs[1:], h)


def _stencil(u: jax.Array, h: float) -> jax.Array:
    """The ``2k`` points ``u + h e_i`` (i = 1..k), then ``u - h e_i``."""
    eye = jnp.eye(u.shape[0], dtype=u.dtype) * h
    return jnp.concatenate([u + eye, u - eye])


def _central(gs: jax.Array, h: float) -> jax.Array:
    """The symmetrised central-difference Hessian from the gradients ``[2k, k]`` at the stencil points."""
    k = gs.shape[1]
    cols = (gs[:k] - gs[k:]) / (2 * h)
    return 0.5 * (cols + cols.T)


def _others(j: jax.Array, k: int) -> jax.Array:
    """The ``k - 1`` coordinates other than ``j``, in order."""
    idx = jnp.arange(k - 1)
    return idx + (idx >= j)


def _solve(hess: jax.Array, g: jax.Array) -> jax.Array:
    """``-|H|^-1 g`` with ``H``'s eigenvalues replaced by their absolute values, floored at ``EIG_FLOOR``."""
    lam, vec = jnp.linalg.eigh(hess)
    lam = jnp.maximum(jnp.abs(lam), EIG_FLOOR)
    return -(vec @ ((vec.T @ g) / lam))


def newton_profile(
    fun: Callable,
    u0: jax.Array,
    j: jax.Array,
    hess: jax.Array | None = None,
    alt: jax.Array | None = None,
    *,
    n_steps: int = N_NEWTON,
    tol: float = NEWTON_TOL,
):
    """Minimises ``fun`` over every coordinate of ``u0`` but ``j`` (held at ``u0[j]``), quasi-Newton.

    ``hess`` ``[k - 1, k - 1]``: the other coordinates' Hessian to start from (e.g. the estimate's, or the
    one returned for the previous profile point; by default central finite differences of the exact
    gradient at ``u0``). ``alt`` ``[k]``: another start (same ``u[j]``), kept instead of ``u0`` where
    ``fun`` is lower there. The Hessian's eigenvalues' absolute values are floored at ``EIG_FLOOR``, and
    every trial step's curvature pair updates it (BFGS, pairs with ``s.y > 0``). A step that does not
    lower ``fun`` is not taken and the next try is a quarter as long. Ends when the predicted decrease
    ``-g.d / 2`` is at most ``tol`` or after ``n_steps`` steps. Returns ``(u, fun(u), hess)``; the value
    is ``inf`` where ``fun`` is not finite at ``u0``.

    Example:
      >>> f = lambda u: (u[0] - 1.0) ** 2 + (u[1] - u[0]) ** 2 + jnp.exp(u[1] - 2.0)
      >>> u, v, _ = newton_profile(f, jnp.array([3.0, 0.0]), jnp.asarray(0))
      >>> round(float(u[0]), 3), round(float(u[1]), 3)
      (3.0, 2.315)
    """
    k = u0.shape[0]
    if k == 1:  # nothing to re-minimise
        f0 = fun(u0)
        return u0, jnp.where(jnp.isfinite(f0), f0, jnp.inf), jnp.zeros((0, 0), u0.dtype)
    vg = jax.value_and_grad(fun)
    idx = _others(j, k)  # the free coordinates
    if hess is None:
        hess = hessian_fd(jax.grad(fun), u0)[idx][:, idx]
    hess = jnp.where(jnp.isfinite(hess), hess, jnp.eye(k - 1, dtype=u0.dtype))  # e.g. a saturated logit
    lam, vec = jnp.linalg.eigh(0.5 * (hess + hess.T))
    hess = (vec * jnp.maximum(jnp.abs(lam), EIG_FLOOR)) @ vec.T
    starts = u0[None] if alt is None else jnp.stack([u0, alt])
    n_starts = starts.shape[0]

    def direction(hess, g):
        d = _solve(hess, g)
        d = jnp.where(jnp.all(jnp.isfinite(d)), d, 0.0)
        return d * jnp.minimum(1.0, MAX_OFFSET / 4 / jnp.maximum(jnp.linalg.norm(d), 1e-30))

    def cond(carry):
        i, _, _, g, hess, _ = carry
        return (i < 0) | ((i < n_steps) & (-jnp.dot(g, direction(hess, g)) / 2 > tol))

    def body(carry):
        # the first passes (i < 0) evaluate the starts, the lower kept; then one quasi-Newton step each
        i, u, f, g, hess, a = carry
        start = i < 0
        s = jnp.where(start, 0.0, a * direction(hess, g))
        trial = jnp.where(start, starts[jnp.maximum(i + n_starts, 0)], u.at[idx].add(s))
        ft, gt = vg(trial)  # the one evaluation site
        gt = gt[idx]
        finite = jnp.isfinite(ft) & jnp.all(jnp.isfinite(gt))
        # a start replaces the one before where it is finite and that one is not lower (or not a number)
        take = jnp.where(i == -n_starts, True, jnp.isfinite(ft) & ~(f <= ft))
        f_start = jnp.where(jnp.isfinite(ft), ft, jnp.inf)
        g_start = jnp.where(finite, gt, 0.0)  # no finite gradient: no step
        better = finite & (ft < f)
        y = gt - g
        sy = jnp.dot(s, y)
        hs = hess @ s
        shs = jnp.dot(s, hs)
        upd = (
            hess + jnp.outer(y, y) / jnp.where(sy > 0, sy, 1.0) - jnp.outer(hs, hs) / jnp.maximum(shs, 1e-30)
        )
        keep = finite & (sy > 1e-10 * jnp.linalg.norm(s) * jnp.linalg.norm(y)) & (shs > 0)
        new_hess = jnp.where(keep & jnp.all(jnp.isfinite(upd)), 0.5 * (upd + upd.T), hess)
        moved = (jnp.where(better, trial, u), jnp.where(better, ft, f), jnp.where(better, gt, g))
        started = (jnp.where(take, trial, u), jnp.where(take, f_start, f), jnp.where(take, g_start, g))
        u, f, g = (jnp.where(start, b, m) for b, m in zip(started, moved, strict=True))
        return (
            i + 1,
            u,
            f,
            g,
            jnp.where(start, hess, new_hess),
            jnp.where(start, 1.0, jnp.where(better, 1.0, a * 0.25)),
        )

    zk, inf = jnp.zeros(k - 1, u0.dtype), jnp.asarray(jnp.inf, u0.dtype)
    init = (jnp.asarray(-n_starts), u0, inf, zk, hess, jnp.asarray(1.0, u0.dtype))
    _, u, f, _, hess, _ = jax.lax.while_loop(cond, body, init)
    return u, f, hess


def _side(fun, u_hat, f_hat, j, se_j, slope, hess_free, direction, z_star):
    """The unconstrained end of the interval on one side (``+-inf`` when the threshold is never crossed).

    ``fun`` is the unit's summed nll, so that ``(fun(u) - f_hat) * 2`` is the deviance. ``slope`` ``[k]``:
    the other parameters' linear response to ``u_j``; ``hess_free``: the other parameters' Hessian at the
    estimate (each profile point starts from the previous point's updated one).

    One loop evaluates one profile point per iteration in three phases: 0 searches (secant, then Illinois
    regula falsi), 1 evaluates the point ``BEYOND`` times the end's distance, 2 re-evaluates the end from
    that point's and the bracket's inner end's other parameters (the lower start kept). The end is kept
    unless the profile is found below the threshold at the end or beyond it (by more than ``Z_CHECK``);
    then the search goes on from the lower points (at most ``N_CHECK`` rounds).
    """

    def profile(t, warm, alt, hess):
        c = u_hat[j] + direction * t
        u, f, hess = newton_profile(fun, alt.at[j].set(c), j, hess, warm.at[j].set(c))
        z = jnp.sqrt(2.0 * jnp.maximum(f - f_hat, 0.0))
        return z, u, hess

    def regula_falsi(t_in, t_out, e_in, e_out):
        e_out = jnp.where(jnp.isfinite(e_out), e_out, 1e30)
        w = jnp.clip(-e_in / jnp.maximum(e_out - e_in, 1e-12), 0.01, 0.99)
        return t_in + w * (t_out - t_in)

    def secant(t_prev, z_prev, t, z):
        """The next distance before a bracket: the secant through the last two points, 1.02-4x ``t``."""
        slope_z = (z - z_prev) / jnp.maximum(t - t_prev, 1e-12)
        grow = jnp.where(slope_z > 0, t + (z_star - z) / jnp.where(slope_z > 0, slope_z, 1.0), 4.0 * t)
        return jnp.minimum(jnp.clip(grow, 1.02 * t, 4.0 * t), MAX_OFFSET)

    def end_of(found, t_in, z_in, t_out, z_out, t_hit):
        z_out = jnp.where(jnp.isfinite(z_out), z_out, 1e30)
        w = jnp.clip((z_star - z_in) / jnp.maximum(z_out - z_in, 1e-12), 0.0, 1.0)
        return jnp.where(found, t_in + w * (t_out - t_in), t_hit)

    def cond(s):
        return ~s["done"] & (s["i"] < N_CHECK * (N_ROOT + 2))

    def body(s):
        ph = s["phase"]
        # every phase starts from the inner end as is; the other start: in phase 0 the inner end moved along
        # the linear response, in phase 1 the estimate moved along it, in phase 2 the point beyond
        base = jnp.where(ph == 1, u_hat, s["warm"])
        lin = base + slope * (u_hat[j] + direction * s["t"] - base[j])
        z, u, hess = profile(s["t"], s["warm"], jnp.where(ph == 2, s["u_b"], lin), s["hess"])
        t = s["t"]
        n = dict(s, i=s["i"] + 1, hess=hess)

        # phase 0: the search
        out = z >= z_star
        hit = jnp.abs(z - z_star) <= Z_TOL
        found = s["found"]
        t_in2, z_in2 = jnp.where(out, s["t_in"], t), jnp.where(out, s["z_in"], z)
        t_out2, z_out2 = jnp.where(out, t, s["t_out"]), jnp.where(out, z, s["z_out"])
        kept2 = jnp.where(out, -1, 1)  # +1: the in-end was replaced, -1: the out-end
        e_in2 = jnp.where(out, jnp.where(found & (s["kept"] == -1), s["e_in"] / 2, s["e_in"]), z - z_star)
        e_out2 = jnp.where(out, z - z_star, jnp.where(found & (s["kept"] == 1), s["e_out"] / 2, s["e_out"]))
        found2 = found | out
        warm2 = jnp.where(out, s["warm"], u)
        t_hit2 = jnp.where(hit & ~found2, t, s["t_hit"])
        t_next = jnp.where(
            found2, regula_falsi(t_in2, t_out2, e_in2, e_out2), secant(s["t_in"], s["z_in"], t, z)
        )
        never = ~found2 & (t >= MAX_OFFSET)
        collapsed = found2 & (t_out2 - t_in2 <= 1e-4 * t_out2)  # a jump: nothing more from bisecting
        t_end = end_of(found2, t_in2, z_in2, t_out2, z_out2, t_hit2)
        stop = hit | collapsed | (s["n"] + 1 >= N_ROOT)
        s0 = dict(n, n=s["n"] + 1, found=found2, t_in=t_in2, z_in=z_in2, t_out=t_out2, z_out=z_out2,
                  e_in=e_in2, e_out=e_out2, kept=kept2, warm=warm2, t_hit=t_hit2, t=t_next,
                  phase=jnp.where(stop & ~never, 1, 0), t_end=jnp.where(never, jnp.inf, t_end))  # fmt: skip
        s0["done"] = never | (stop & ~jnp.isfinite(t_end))
        s0["t"] = jnp.where(stop, jnp.minimum(BEYOND * t_end, MAX_OFFSET), t_next)

        # phase 1: the point beyond the end
        s1 = dict(n, phase=2, z_b=z, u_b=u, t_b=t, t=s["t_end"])

        # phase 2: the end again; below the threshold there or beyond: the search goes on
        end_low = z < z_star - Z_CHECK
        beyond_low = s["z_b"] < z_star - Z_CHECK
        again = (end_low | beyond_low) & (s["rnd"] + 1 < N_CHECK)
        # the new inner end: the point beyond where it is below, else the end; beyond is the outer end
        b_in = beyond_low
        f2 = ~b_in
        t_in3 = jnp.where(b_in, s["t_b"], t)
        z_in3 = jnp.where(b_in, s["z_b"], z)
        warm3 = jnp.where(b_in, s["u_b"], u)
        t_out3 = jnp.where(f2, s["t_b"], jnp.inf)
        z_out3 = jnp.where(f2, s["z_b"], jnp.inf)
        e_in3, e_out3 = z_in3 - z_star, z_out3 - z_star
        t_next3 = jnp.where(f2, regula_falsi(t_in3, t_out3, e_in3, e_out3), secant(t, z, s["t_b"], s["z_b"]))
        s2 = dict(n, phase=0, n=0, rnd=s["rnd"] + 1, found=f2, kept=0, warm=warm3, t_hit=jnp.inf, t=t_next3)
        s2.update(t_in=t_in3, z_in=z_in3, t_out=t_out3, z_out=z_out3, e_in=e_in3, e_out=e_out3)
        s2 = {k: jnp.where(again, v, n[k]) for k, v in s2.items()}
        s2["done"] = ~again

        return jax.tree.map(lambda a, b, c: jnp.where(ph == 0, a, jnp.where(ph == 1, b, c)), s0, s1, s2)

    t0 = jnp.clip(se_j * z_star, 1e-3, MAX_OFFSET)
    zero, inf = jnp.asarray(0.0), jnp.asarray(jnp.inf)
    init = {"i": jnp.asarray(0), "n": jnp.asarray(0), "rnd": jnp.asarray(0), "phase": jnp.asarray(0),
            "done": jnp.asarray(False), "found": jnp.asarray(False), "t_in": zero, "z_in": zero,
            "t_out": inf, "z_out": inf, "e_in": -jnp.asarray(z_star), "e_out": inf, "kept": jnp.asarray(0),
            "warm": u_hat, "t": t0, "t_hit": inf, "hess": hess_free, "t_end": inf, "t_b": inf, "z_b": zero,
            "u_b": u_hat}  # fmt: skip
    s = jax.lax.while_loop(cond, body, init)
    return jnp.where(jnp.isfinite(s["t_end"]), u_hat[j] + direction * s["t_end"], direction * jnp.inf)


def profile_program(model, nll: Callable, *, level: float = 0.95) -> Callable:
    """The jitted program ``(u_hat, trials, mask) -> (lower, upper)`` of :func:`profile_intervals`."""
    z_star = float(stats.chi2.ppf(level, 1)) ** 0.5
    k = len(model.params)

    def one_unit(u_hat, trials, mask):
        fun = lambda u: nll(u, trials, mask)
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
        free = jax.vmap(_others, in_axes=(0, None))(jnp.arange(k), k)  # [k, k - 1]
        blocks = jax.vmap(lambda f: hess[f][:, f])(free)  # the others' Hessian, per profiled parameter

        def side(j, d):
            return _side(fun, u_hat, f_hat, j, se[j], slopes[j], blocks[j], d, z_star)

        ends_u = jax.vmap(side)(js, dirs)
        ends = jnp.stack(
            [p.from_unconstrained(ends_u[2 * i : 2 * i + 2]) for i, p in enumerate(model.params)]
        )
        return jnp.min(ends, axis=1), jnp.max(ends, axis=1)

    def every_unit(u_hat, trials, mask):  # in chunks of units, each ending with its own slowest side
        batch = chunk_size(u_hat.shape[0], mask.shape[1])
        return in_chunks(lambda xs: one_unit(*xs), (u_hat, trials, mask), batch)

    return jax.jit(every_unit)


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
    return profile_program(model, nll, level=level)(u_hat, trials, mask)
