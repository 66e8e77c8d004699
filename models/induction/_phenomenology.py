"""Reddy's three-logit phenomenological model of the abrupt jump, and its fit to a measured loss curve."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def phenomenological_loss(theta: Float[Array, "3"], *, N: int, L: int) -> jax.Array:
    """Three nested logits: ``p1 = sigmoid(beta1)``, ``p2 = e^(a p1) / (e^(a p1) + N - 1)``,
    ``loss = -log(e^(xi p2) / (e^(xi p2) + L - 1))`` with ``theta = (beta1, a, xi)``.

    Example:
      >>> round(float(phenomenological_loss(jnp.zeros(3), N=8, L=32)), 4) == round(math.log(32), 4)
      True
    """
    beta1, a, xi = theta[0], theta[1], theta[2]
    p1 = jax.nn.sigmoid(beta1)
    p2 = jnp.exp(a * p1) / (jnp.exp(a * p1) + N - 1)
    return -(xi * p2 - jnp.logaddexp(xi * p2, jnp.log(L - 1.0)))


def phenomenological_curve(
    theta0: Float[Array, "3"], lr: float, num_steps: int, *, N: int, L: int
) -> jax.Array:
    """Gradient descent on ``(beta1, a, xi)`` from ``theta0``; the loss before each of the ``num_steps + 1``
    steps."""
    g = jax.value_and_grad(lambda th: phenomenological_loss(th, N=N, L=L))

    def step(th, _):
        v, gr = g(th)
        return th - lr * gr, v

    th, losses = jax.lax.scan(step, jnp.asarray(theta0, jnp.float32), None, length=num_steps)
    return jnp.concatenate([losses, phenomenological_loss(th, N=N, L=L)[None]])


@dataclasses.dataclass(frozen=True)
class PhenoFit:
    """A fit of the phenomenological model to a measured loss curve."""

    beta1_0: float
    a_0: float
    xi_0: float
    lr: float
    rmse: float
    steps: np.ndarray
    fitted: np.ndarray


def fit_phenomenological(steps: Any, loss: Any, *, N: int, L: int, max_step: int | None = None) -> PhenoFit:
    """Least-squares fit of the three-logit model's loss curve to a measured curve (e.g. the IC loss).

    Free parameters: the initial ``beta1``, ``a``, ``xi`` and the learning rate (the time scale). The model's
    step ``t`` is matched to training step ``t``.

    Example:
      >>> c = np.asarray(phenomenological_curve(jnp.array([-2.0, 1.0, 1.0]), 0.5, 400, N=4, L=8))
      >>> f = fit_phenomenological(np.arange(0, 401, 20), c[::20], N=4, L=8)
      >>> f.rmse < 0.05
      True
    """
    from scipy import optimize

    steps = np.asarray(steps, int)
    loss = np.asarray(loss, float)
    ok = np.isfinite(loss)
    steps, loss = steps[ok], loss[ok]
    max_step = int(max_step or steps.max())
    # gradient flow integrated with at most 400 Euler steps of size lr * stride, read at the measured steps
    n_int = max(1, min(max_step, 400))
    stride = max_step / n_int
    times = jnp.arange(n_int + 1) * stride
    at = jnp.asarray(steps, jnp.float32)
    target = jnp.asarray(loss, jnp.float32)

    def model(z):
        th = jnp.stack([z[0], z[1], jnp.exp(z[2])])
        c = phenomenological_curve(th, jnp.exp(z[3]) * stride, n_int, N=N, L=L)
        return jnp.interp(at, times, c)

    def mse(z):
        v = jnp.mean((model(z) - target) ** 2)
        return jnp.where(jnp.isfinite(v), v, 1e6)

    # coarse random search over (beta1_0, a_0, log xi_0, log lr) in one vmapped call, then Nelder-Mead
    rng = np.random.default_rng(0)
    n_cand = 2048
    lo = np.array([-8.0, -1.0, math.log(1e-3), math.log(1e-4 * 1000.0 / max_step)])
    hi = np.array([2.0, 4.0, math.log(5.0), math.log(10.0 * 1000.0 / max_step)])
    cand = lo + (hi - lo) * rng.random((n_cand, 4))
    scores = np.asarray(jax.jit(jax.vmap(mse))(jnp.asarray(cand, jnp.float32)))
    mse_jit = jax.jit(mse)
    obj = lambda z: float(mse_jit(jnp.asarray(z, jnp.float32)))
    best = None
    for z0 in cand[np.argsort(scores)[:3]]:
        r = optimize.minimize(
            obj, z0, method="Nelder-Mead", options={"maxiter": 300, "xatol": 1e-3, "fatol": 1e-7}
        )
        if best is None or r.fun < best.fun:
            best = r
    z = best.x
    fitted = np.asarray(model(jnp.asarray(z, jnp.float32)), float)
    return PhenoFit(
        float(z[0]),
        float(z[1]),
        float(math.exp(z[2])),
        float(math.exp(z[3])),
        float(np.sqrt(np.mean((fitted - loss) ** 2))),
        steps,
        fitted,
    )


def jump_step(steps: Any, acc: Any, *, threshold: float) -> float:
    """First logged step at which ``acc`` reaches ``threshold`` (NaN if never).

    Example:
      >>> jump_step([0, 10, 20], [0.1, 0.5, 0.95], threshold=0.5)
      10.0
    """
    steps, acc = np.asarray(steps, float), np.asarray(acc, float)
    hit = np.nonzero(acc >= threshold)[0]
    return float(steps[hit[0]]) if hit.size else math.nan
