"""Passes after the best-of-starts solve of :func:`cogsim.fit.fit`, and the convergence check they end with.

A likelihood with a floor (a fixed contaminant, a lapse rate) is flat toward some parameter bounds: as the
unconstrained coordinate of a parameter goes to minus infinity the log-likelihood tends to a constant, the
gradient vanishes, and a solve that drifts there stops with a small gradient on a worse point. The gradient
norm alone then counts such a point as converged. For a model that declares ``initial(trials)`` (the
visual-search models, on which this was measured; any other model keeps its best-of-starts solve and the
gradient rule), passes (each unit solved once more, the better point kept per unit):

1. from the model's optional per-unit ``initial(trials)`` start (:func:`initial_starts`);
2. with at least 2 units, from the median over units of the estimates (unconstrained);
3. up to ``MAX_ROUNDS`` rounds of the *check*: every unit not yet settled solved again from its *probe*
   point (:func:`probe`), the L-BFGS memory cleared; a unit whose probe solve lowers its negative
   log-likelihood by more than ``STABLE_TOL`` per trial takes the new point, except in the last round,
   and is checked again in the next; a unit it does not lower is settled (its point and verdict final);
   the rounds end when no unit is lowered.

A unit is *converged* when its log-likelihood is finite, its final gradient norm is at most ``STALL_GTOL`` and
the check from its returned point does not lower its negative log-likelihood by more than ``STABLE_TOL`` per
trial (:func:`check`): the point is stable under a restart, and, where a parameter lies near a finite bound
(within ``NEAR_BOUND`` of its range, or of its own units when one bound is finite), under moving that
parameter back to its default. Near a bound the transform's slope is at most about ``NEAR_BOUND`` of its
largest value, so the gradient norm scarcely sees that parameter; the probe tests the plateau directly. A
maximum that really lies at the bound (e.g. an error rate of 0 for a unit without errors) is reached again
from the default and stays converged."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from cogsim.fit import _model, _objective
from cogsim.fit._compress import canonical
from cogsim.fit._data import MAX_BUCKETS, Packed
from cogsim.fit._optim import CONVERGED_GTOL
from cogsim.fit._solve import solve_starts

#: a check lowering the negative log-likelihood by more than this per trial marks a unit unconverged
STABLE_TOL = 1e-5
#: a parameter within this fraction of its range of a finite bound (this many of its units when one bound
#: is finite) is moved back to its default in the probe point
NEAR_BOUND = 0.01
#: at most this many rounds of the check (the last one only checks)
MAX_ROUNDS = 8
#: a unit whose final gradient norm (of the per-trial mean negative log-likelihood, unconstrained) exceeds
#: this is not converged even where its check does not lower it: it stopped on an edge of the likelihood (a
#: cliff where trials fall to a contaminant) that the optimiser cannot cross. 1000 x ``CONVERGED_GTOL``:
#: float32 L-BFGS stops at maxima of rugged likelihoods with norms of 1e-3 to 1e-2 (docs/fitting_log.md,
#: "Stalls on a cliff are not converged")
STALL_GTOL = 1.0


def near_bound(model, u: jax.Array) -> np.ndarray:
    """``[U, k]`` whether each parameter of each unit (unconstrained ``u [U, k]``) lies near a finite bound.

    Example:
      >>> from cogsim.fit import Param
      >>> class M:
      ...     name, params = "m", (Param("p", 0.0, 1.0, default=0.5), Param("t", 0.0, default=1.0))
      >>> u = _objective.to_unconstrained(M(), np.array([[0.005, 0.5], [0.5, 0.002]]))
      >>> near_bound(M(), u).tolist()
      [[True, False], [False, True]]
    """
    out = np.zeros(np.shape(u), bool)
    for i, p in enumerate(model.params):
        x = np.asarray(p.from_unconstrained(jnp.asarray(u)[:, i]), float)
        lo, hi = math.isfinite(p.low), math.isfinite(p.high)
        tol = NEAR_BOUND * (p.high - p.low) if lo and hi else NEAR_BOUND
        out[:, i] = (lo & (x - p.low <= tol)) | (hi & (p.high - x <= tol))
    return out


def probe(model, u: jax.Array) -> jax.Array:
    """The probe points ``[U, k]``: ``u`` with every parameter near a finite bound (:func:`near_bound`)
    set to its default (``u`` itself for a unit with none).

    Example:
      >>> from cogsim.fit import Param
      >>> class M:
      ...     name, params = "m", (Param("p", 0.0, 1.0, default=0.5), Param("mu", default=3.0))
      >>> u = _objective.to_unconstrained(M(), np.array([[0.001, 1.0], [0.3, 2.0]]))
      >>> np.asarray(probe(M(), u), float).round(3).tolist()
      [[0.0, 1.0], [-0.847, 2.0]]
    """
    u = jnp.asarray(u, jnp.float32)
    base = jnp.broadcast_to(_objective.default_u(model), u.shape)
    return jnp.where(jnp.asarray(near_bound(model, u)), base, u)


def initial_starts(model, packed: Packed) -> jax.Array | None:
    """Each unit's data-informed start ``[n_units, k]`` (unconstrained) from the model's optional
    ``initial(trials)`` (:func:`cogsim.fit._model.initial_point`, given the unit's real trials as numpy
    arrays, in the order of their values: :func:`cogsim.fit._compress.canonical`), or None when the model
    declares none.

    Example:
      >>> import pandas as pd
      >>> from cogsim.fit import Param
      >>> from cogsim.fit._data import pack
      >>> class M:
      ...     name, by_set_size, requires = "m", False, ()
      ...     params = (Param("mu", default=0.0),)
      ...     def loglik(self, p, t):
      ...         return -((t["x"] - p["mu"]) ** 2)
      ...     def initial(self, t):
      ...         return {"mu": float(np.median(t["x"]))}
      >>> data = pd.DataFrame({"subject": [1] * 10 + [2] * 12, "x": [1.0] * 10 + [5.0] * 12})
      >>> np.asarray(initial_starts(M(), pack(data, M(), by=("subject",)))).round(3).tolist()
      [[1.0], [5.0]]
    """
    if not callable(getattr(model, "initial", None)) or not model.params:
        return None
    packed = canonical(packed, model)  # each unit's trials in one order, whatever the data's row order
    trials = {c: np.asarray(a) for c, a in packed.trials.items()}
    mask = np.asarray(packed.mask)
    points = [
        _model.initial_point(model, {c: a[u][mask[u]] for c, a in trials.items()}) for u in range(len(mask))
    ]
    return _objective.to_unconstrained(model, np.array([[pt[p.name] for p in model.params] for pt in points]))


def solve_from(model, packed: Packed, prior, u_start: jax.Array, max_buckets: int = MAX_BUCKETS):
    """One L-BFGS solve of every unit from ``u_start [U, k]`` (memory cleared), as in
    :func:`cogsim.fit._fit.estimate`: ``(u [U, k], nll [U], grad_norm [U], n_iter [U])``, ``nll`` summed
    over the unit's trials."""
    return solve_starts(model, packed, prior, jnp.asarray(u_start, jnp.float32)[None], max_buckets)


def _lowered(new, old, n_trials) -> np.ndarray:
    """Per unit, whether ``new``'s negative log-likelihood is finite and lower than ``old``'s by more than
    ``STABLE_TOL`` per trial (an infinite ``old`` is lowered by any finite value)."""
    a, b = np.asarray(new[1], float), np.asarray(old[1], float)
    return np.isfinite(a) & ~(a >= b - STABLE_TOL * np.asarray(n_trials, float))


def _keep(new, old, take) -> tuple:
    pick = lambda a, b: jnp.where(jnp.asarray(take).reshape((-1,) + (1,) * (a.ndim - 1)), a, b)
    return tuple(pick(a, b) for a, b in zip(new, old, strict=True))


def check(model, packed: Packed, prior, sol, max_buckets: int = MAX_BUCKETS):
    """The convergence check of the solutions ``sol = (u, nll, grad_norm, n_iter)``: every unit solved from
    its :func:`probe` point. Returns ``(converged [U] bool, the check's solutions)``; a unit is converged
    when its ``nll`` is finite, its gradient norm at most ``STALL_GTOL`` and the check does not lower it by
    more than ``STABLE_TOL`` per trial."""
    again = solve_from(model, packed, prior, probe(model, sol[0]), max_buckets)
    lowered = _lowered(again, sol, packed.units["n_trials"].to_numpy())
    return _settled_ok(sol) & ~lowered, again


def _settled_ok(sol) -> np.ndarray:
    """Per unit, whether ``sol``'s negative log-likelihood is finite and its gradient norm at most
    ``STALL_GTOL`` (the parts of the verdict that do not need the check's solve)."""
    return np.isfinite(np.asarray(sol[1], float)) & (np.asarray(sol[2], float) <= STALL_GTOL)


def refine(model, packed: Packed, prior, sol, max_buckets: int = MAX_BUCKETS, *, raw: Packed | None = None):
    """The passes after :func:`cogsim.fit._fit.estimate` (see the module's docstring) on its solutions
    ``sol = (u, nll, grad_norm, n_iter)``, for a model that declares ``initial(trials)``. Returns ``(u, nll,
    grad_norm, n_iter, converged)``; a model without free parameters is returned as it is (converged where
    finite), and a model without ``initial`` as well, converged by the gradient rule (gradient norm at most
    ``CONVERGED_GTOL``): the passes were measured on the visual-search models only (docs/fitting_log.md).
    ``packed`` holds the trials the solves evaluate (distinct trials with weights, as ``estimate``'s),
    ``raw`` every trial (for ``initial``; default ``packed``).

    Example:
      >>> import jax, pandas as pd
      >>> from cogsim.fit import Param
      >>> from cogsim.fit._data import pack
      >>> from cogsim.fit._fit import estimate
      >>> class Gauss:
      ...     name, by_set_size, requires = "gauss", False, ()
      ...     params = (Param("mu"), Param("sd", 0.0, default=1.0))
      ...     def loglik(self, p, t):
      ...         return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], p["sd"])
      >>> x = np.random.default_rng(0).normal(2.0, 0.5, 300)
      >>> data = pd.DataFrame({"subject": np.repeat([1, 2, 3], 100), "x": x})
      >>> packed = pack(data, Gauss(), by=("subject",))
      >>> sol = estimate(Gauss(), packed, {}, n_starts=2, key=jax.random.key(0))
      >>> *_, converged = refine(Gauss(), packed, {}, sol)
      >>> converged.tolist()
      [True, True, True]
    """
    sol = tuple(sol)
    finite = np.isfinite(np.asarray(sol[1], float))
    if np.shape(sol[0])[-1] == 0:
        return (*sol, finite)
    if not callable(getattr(model, "initial", None)):
        return (*sol, finite & (np.asarray(sol[2], float) <= CONVERGED_GTOL))
    n_trials = packed.units["n_trials"].to_numpy()
    init = initial_starts(model, packed if raw is None else raw)
    if init is not None:
        new = solve_from(model, packed, prior, init, max_buckets)
        sol = _keep(new, sol, _lowered(new, sol, 0))
    finite = np.isfinite(np.asarray(sol[1], float))
    if finite.sum() >= 2:
        centre = jnp.asarray(np.median(np.asarray(sol[0])[finite], axis=0))
        new = solve_from(model, packed, prior, jnp.broadcast_to(centre, np.shape(sol[0])), max_buckets)
        sol = _keep(new, sol, _lowered(new, sol, 0))
    # a unit is settled once its check does not lower it: its point and verdict are final; in later rounds
    # it is solved from where its check ended (a few iterations) and the result ignored, so that every
    # round solves the same shape and compiles nothing new
    settled = np.zeros(len(n_trials), bool)
    converged = np.zeros(len(n_trials), bool)
    ended = jnp.asarray(sol[0])
    for r in range(MAX_ROUNDS):
        start = jnp.where(jnp.asarray(settled)[:, None], ended, probe(model, sol[0]))
        new = solve_from(model, packed, prior, start, max_buckets)
        lowered = _lowered(new, sol, n_trials) & ~settled
        now = ~settled & ~lowered
        converged[now] = _settled_ok(sol)[now]
        ended = jnp.where(jnp.asarray(now)[:, None], new[0], ended)
        settled |= now
        if r == MAX_ROUNDS - 1 or not lowered.any():
            break
        sol = _keep(new, sol, lowered)
    return (*sol, converged)
