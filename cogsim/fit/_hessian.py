"""The data Hessians of the hierarchical E-step (:mod:`cogsim.fit._hierarchical`): every unit's negative
log-likelihood, its gradient and its Hessian at the MAPs, in one compiled program per model.

The Hessian is exact where JAX can take it: forward-over-reverse autodiff, ``jax.jacfwd`` of the exact
gradient (:func:`value_grad_and_hessian`; the value and gradient from the same program), symmetrised.
Whether it can is decided once per model, by tracing that program abstractly (``jax.eval_shape``) before its
first compilation: where tracing raises (a log-likelihood wrapped in a ``jax.custom_vjp``, which has no
forward-mode rule, or a primitive without a second-order rule), the model's Hessians are central finite
differences of the exact gradient (:func:`cogsim.fit._profile.value_grad_and_hessian_fd`, step
``FD_STEP`` = 1e-2), which any model with a gradient allows. A unit whose exact Hessian has a non-finite
entry gets the central-difference Hessian instead (that program is compiled only when it is needed).

Until 2026-12-07 every model's E-step Hessian was the central differences: on Wolfe et al.'s parallel model
they overstated units' Newton decrements by up to 800x (docs/fitting_log.md, "Protocol: exact Hessians in
the hierarchical E-step" and the two sections before it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import numpy as np

from cogsim.fit import _objective
from cogsim.fit._cache import cached
from cogsim.fit._profile import value_grad_and_hessian_fd
from cogsim.fit._solve import by_bucket

#: per model: whether its exact Hessian program traces (models that cannot be hashed are traced each time)
_EXACT: dict = {}
_EXACT_MAX = 64


def value_grad_and_hessian(fun: Callable[[jax.Array], jax.Array], u: jax.Array):
    """``(fun(u), grad(fun)(u), hessian(fun)(u))``, the Hessian by ``jax.jacfwd`` of the exact gradient
    (forward over reverse; symmetrised), the value and gradient from the same program.

    Example:
      >>> import jax.numpy as jnp
      >>> v, g, H = value_grad_and_hessian(lambda u: u[0] ** 3 + 3 * u[0] * u[1], jnp.array([1.0, 2.0]))
      >>> float(v), [float(x) for x in g], [[float(x) for x in row] for row in H]
      (7.0, [9.0, 3.0], [[6.0, 3.0], [3.0, 0.0]])
    """

    def grad_with_value(v):
        val, g = jax.value_and_grad(fun)(v)
        return g, (val, g)

    hess, (val, g) = jax.jacfwd(grad_with_value, has_aux=True)(u)
    return val, g, 0.5 * (hess + hess.T)


@functools.lru_cache(maxsize=32)
def hessian_program(model, exact: bool = True):
    """``(u [U, k], trials, mask) -> (nll [U], grad [U, k], hess [U, k, k])`` of the data alone (no prior),
    jitted: the exact Hessian (``exact``) or central differences of the exact gradient."""
    how = value_grad_and_hessian if exact else value_grad_and_hessian_fd

    def one(u, trials, mask):
        return how(lambda v: -_objective.loglik_sum(model, v, trials, mask), u)

    return jax.jit(jax.vmap(one))


def exact_available(model, u, trials, mask) -> bool:
    """Whether JAX can take ``model``'s exact Hessian: its program traces on arguments of these shapes
    (decided on the first call per model, then remembered)."""
    try:
        return _EXACT[model]
    except KeyError:
        pass
    except TypeError:  # an unhashable model: traced every time
        return _traces(model, u, trials, mask)
    if len(_EXACT) >= _EXACT_MAX:
        _EXACT.clear()
    _EXACT[model] = ok = _traces(model, u, trials, mask)
    return ok


def _traces(model, u, trials, mask) -> bool:
    try:
        jax.eval_shape(cached(hessian_program, model, True), u, trials, mask)
    except Exception:  # noqa: BLE001 - any tracing failure; a model that is broken fails the fallback too
        return False
    return True


def data_hessians(model, packed, u, max_buckets: int):
    """The data's nll ``[U]``, gradient ``[U, k]`` and Hessian ``[U, k, k]`` at ``u`` (float32, as
    numpy float64 arrays), on each group of units (:func:`cogsim.fit._solve.by_bucket`)."""
    exact = exact_available(model, u, packed.trials, packed.mask)

    def run(exact_):
        program = cached(hessian_program, model, exact_)
        return by_bucket(packed, lambda sub, idx: program(u[idx], sub.trials, sub.mask), max_buckets)

    nll, grad, hess = (np.asarray(a, float) for a in run(exact))
    bad = ~np.isfinite(hess).all(axis=(1, 2))
    if exact and bad.any():  # e.g. a second derivative that is NaN where the first is finite
        hess[bad] = np.asarray(run(False)[2], float)[bad]
    return nll, grad, hess
