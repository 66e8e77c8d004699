"""Replica exchange (parallel tempering) around :mod:`cogsim.fit._hmc`: one chain of a posterior whose modes
HMC alone does not cross.

A chain runs ``R`` replicas, replica ``r`` sampling the tempered density ``beta_r loglik(u) + logprior(u)``
on a ladder ``1 = beta_0 > beta_1 > ... > beta_{R-1} > 0``: near ``beta = 0`` the likelihood hardly counts,
so the hottest replica moves over the prior freely and carries states between modes. Every iteration each
replica takes one HMC transition of :func:`cogsim.fit._hmc.move` (its own step size and mass matrix, adapted
by Stan's warm-up as a lone chain's are), then neighbours propose to exchange their states, the even pairs
``(0, 1), (2, 3), ...`` at even iterations and the odd pairs at odd ones (the deterministic even-odd scheme,
non-reversible: Okabe et al. 2001; Syed, Bouchard-Cote, Deligiannidis & Doucet 2022, JRSS B 84:321), each
accepted with probability ``min(1, exp((beta_r - beta_{r+1}) (loglik_{r+1} - loglik_r)))`` (the priors
cancel). Each move leaves the product of the tempered densities invariant, so replica 0's draws are draws of
the posterior. The exchanges happen during the warm-up too; the draws kept are replica 0's after it.

The ladder is tuned during the warm-up (``adapt_ladder=True``), as Syed et al. (2022, section 5) tune it:
a pair's rejection rate ``1 - a_r`` measures the communication barrier between its two temperatures, the
rates summed from ``beta = 1`` give the barrier's cumulative profile ``Lambda`` over ``log beta``
(piecewise linear between the ladder's rungs), and the new rungs are where ``Lambda`` reaches equal shares
of its total, so that every pair is rejected about equally often and no pair stays a gap that the chain's
exchanges do not cross. The rungs move at the ends of the mass-matrix windows but the last, from the rates
measured since the previous move (each pair's rejection counted at least 0.001); the ends, 1 and
``beta_min``, stay. The last window and the draws run on the final ladder, so the draws come from one fixed
ladder and the chain is a replica-exchange chain as above.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from cogsim.errors import CogsimError
from cogsim.fit import _hmc


class TemperedDraws(NamedTuple):
    u: jax.Array  # [n_samples, k] replica 0's draws after the warm-up
    accept: jax.Array  # [n_samples] replica 0's acceptance probabilities
    divergent: jax.Array  # [n_samples] bool, replica 0's
    step_size: jax.Array  # replica 0's step size after the warm-up
    inv_mass: jax.Array  # [k] replica 0's diagonal inverse mass matrix after the warm-up
    swap_rate: jax.Array  # [R - 1] mean acceptance probability of exchanges between replicas r and r + 1
    betas: jax.Array  # [R] the ladder the draws ran on


def ladder(n_temperatures: int, beta_min: Float[Array, ""] | float) -> jax.Array:
    """``n_temperatures`` inverse temperatures spaced evenly in ``log beta`` from 1 down to ``beta_min``.

    Example:
      >>> [round(float(b), 4) for b in ladder(3, 0.01)]
      [1.0, 0.1, 0.01]
    """
    frac = jnp.arange(n_temperatures, dtype=jnp.float32) / max(n_temperatures - 1, 1)
    return jnp.exp(frac * jnp.log(jnp.asarray(beta_min, jnp.float32)))


def retuned(betas: Float[Array, " R"], swap_rate: Float[Array, " R-1"]) -> jax.Array:
    """The ladder from ``betas[0]`` to ``betas[-1]`` whose rungs split the barrier ``sum(1 - swap_rate)``
    (each term at least 0.001), interpolated linearly in ``log beta`` between the rungs, into equal shares.

    Example:
      >>> b = retuned(ladder(4, 0.001), jnp.array([0.9, 0.9, 0.0]))  # the hot pair never exchanges
      >>> [round(float(x), 4) for x in b]  # rungs move into its gap
      [1.0, 0.0063, 0.0025, 0.001]
    """
    n = betas.shape[0]
    x = jnp.log(betas)
    lam = jnp.concatenate([jnp.zeros(1), jnp.cumsum(jnp.maximum(1.0 - swap_rate, 1e-3))])
    x_new = jnp.interp(lam[-1] * jnp.arange(n) / (n - 1), lam, x)
    return jnp.exp(x_new).at[0].set(betas[0]).at[-1].set(betas[-1])


#: ``sample(n_temperatures="auto")``: the longest ladder it gives, and the most sampling runs it makes
MAX_TEMPERATURES, AUTO_RUNS = 64, 4


def auto_temperatures(temperatures: int, barrier: float) -> int | None:
    """``sample(n_temperatures="auto")``'s next ladder length after a run with ``temperatures`` replicas that
    measured ``barrier`` (the largest over the units): None when :func:`temperatures_for` asks for at most
    ``temperatures``, when ``temperatures`` is already :data:`MAX_TEMPERATURES` or the barrier is not finite;
    otherwise what it asks for or twice ``temperatures``, whichever is more (a ladder of ``R`` rungs cannot
    measure a barrier above ``R - 1``), at most :data:`MAX_TEMPERATURES`.

    Example:
      >>> auto_temperatures(2, 0.4), auto_temperatures(2, 0.9), auto_temperatures(8, 6.5)
      (None, 4, 16)
    """
    if not isinstance(temperatures, numbers.Integral) or isinstance(temperatures, bool) or temperatures < 1:
        raise CogsimError(f"auto_temperatures temperatures: got {temperatures!r}; allowed: an integer >= 1")
    if not isinstance(barrier, numbers.Real) or isinstance(barrier, bool):
        raise CogsimError(f"auto_temperatures barrier: got {barrier!r}; allowed: a number")
    if not math.isfinite(barrier) or temperatures >= MAX_TEMPERATURES:
        return None
    needed = temperatures_for(barrier)
    return None if needed <= temperatures else min(MAX_TEMPERATURES, max(needed, 2 * temperatures))


def temperatures_for(barrier: float) -> int:
    """The fewest temperatures whose ladder, with every neighbouring pair rejected equally often, keeps each
    pair's rejection rate at most 0.5 across a communication ``barrier`` (the pairs' rejection rates summed,
    as :func:`cogsim.fit.sample` reports it): ``ceil(2 barrier + 1)``, at least 2.

    Example:
      >>> temperatures_for(0.3), temperatures_for(3.2)
      (2, 8)
    """
    if (
        not isinstance(barrier, numbers.Real)
        or isinstance(barrier, bool)
        or not math.isfinite(barrier)
        or barrier < 0
    ):
        raise CogsimError(f"temperatures_for barrier: got {barrier!r}; allowed: a finite number >= 0")
    return max(2, math.ceil(2.0 * barrier + 1.0 - 1e-9))


def _tempered(beta, ll, lpr, gll, gpr):
    return beta * ll + lpr, beta * gll + gpr, ll, lpr, gll, gpr


def _exchange(betas, u, ev, t, key):
    """The even (``t`` even) or odd neighbour pairs' exchanges; returns the states after them, their
    untempered evaluations ``(loglik, logprior, their gradients)``, and each pair's acceptance probability
    (NaN for the pairs not proposed at ``t``)."""
    n = betas.shape[0]
    r = jnp.arange(n)
    up = jnp.minimum(r + 1, n - 1)
    ll = ev[2]
    lower = (r % 2 == t % 2) & (r + 1 < n)  # r proposes to exchange with r + 1
    log_a = (betas - betas[up]) * (ll[up] - ll)
    log_a = jnp.where(jnp.isnan(log_a), -jnp.inf, log_a)  # both states without a finite likelihood
    a = jnp.where(lower, jnp.exp(jnp.minimum(log_a, 0.0)), 0.0)
    swap = lower & (jax.random.uniform(key, (n,)) < a)
    from_below = jnp.concatenate([jnp.zeros(1, bool), swap[:-1]])
    perm = jnp.where(swap, r + 1, jnp.where(from_below, r - 1, r))
    return u[perm], tuple(x[perm] for x in ev[2:]), jnp.where(lower, a, jnp.nan)[:-1]


def run(
    loglik: Callable[[jax.Array], jax.Array],
    logprior: Callable[[jax.Array], jax.Array],
    u0: Float[Array, " k"],
    *,
    betas: Float[Array, " R"],
    key: jax.Array,
    n_warmup: int,
    n_samples: int,
    n_leapfrog: int = 10,
    adapt_ladder: bool = True,
) -> TemperedDraws:
    """Warm-up then ``n_samples`` draws of ``exp(loglik(u) + logprior(u))`` by HMC with replica exchange over
    the inverse temperatures ``betas`` (``betas[0]`` = 1, decreasing; the start of the ladder, tuned during
    the warm-up unless ``adapt_ladder`` is False); every replica starts at ``u0``.

    Example:
      >>> # two modes 8 apart, weights 0.3 and 0.7: HMC alone stays in the one it starts in
      >>> def loglik(u):
      ...     return jnp.logaddexp(jnp.log(0.3) - 0.5 * jnp.sum((u + 4) ** 2),
      ...                          jnp.log(0.7) - 0.5 * jnp.sum((u - 4) ** 2))
      >>> prior = lambda u: -0.5 * jnp.sum((u / 10) ** 2)
      >>> d = run(loglik, prior, jnp.full(1, -4.0), betas=ladder(6, 0.01), key=jax.random.key(0),
      ...         n_warmup=300, n_samples=3000)
      >>> bool(0.6 < float((d.u[:, 0] > 0).mean()) < 0.8)
      True
    """
    u0 = jnp.asarray(u0, jnp.float32)
    betas = jnp.asarray(betas, jnp.float32)
    n, k = betas.shape[0], u0.shape[0]
    vg_l, vg_p = _hmc.value_and_finite_grad(loglik), _hmc.value_and_finite_grad(logprior)

    def at(beta):
        def evaluate(u):
            (ll, gll), (lpr, gpr) = vg_l(u), vg_p(u)
            return _tempered(beta, ll, lpr, gll, gpr)

        return evaluate

    starts, ends = _hmc.window_bounds(n_warmup)
    retunes = jnp.asarray([w[1] for w in _hmc.adaptation_windows(n_warmup)[:-1]] if adapt_ladder else [])
    retunes = retunes if retunes.size else jnp.asarray([-1])

    def replica(beta, u, ev, adapt, key, t):
        key, *keys = jax.random.split(key, 5)
        u, ev, accept_p, divergent = _hmc.move(at(beta), u, ev, adapt, t, keys, n_warmup, n_leapfrog)
        adapt = _hmc.adapted(adapt, u, accept_p, t, n_warmup, starts, ends)
        return u, ev, adapt, key, accept_p, divergent

    def iteration(carry, t):
        u, ev, adapt, keys, k_swap, betas, a_sum, a_n = carry
        u, ev, adapt, keys, accept_p, divergent = jax.vmap(replica, (0, 0, 0, 0, 0, None))(
            betas, u, ev, adapt, keys, t
        )
        k_swap, k_now = jax.random.split(k_swap)
        u, parts, swap_p = _exchange(betas, u, ev, t, k_now)
        proposed = ~jnp.isnan(swap_p)
        a_sum, a_n = a_sum + jnp.where(proposed, swap_p, 0.0), a_n + proposed
        move_rungs = jnp.any(t + 1 == retunes)
        betas = jnp.where(move_rungs, retuned(betas, a_sum / jnp.maximum(a_n, 1)), betas)
        ev = jax.vmap(_tempered)(betas, *parts)  # each replica's state tempered at its (new) rung
        a_sum, a_n = jnp.where(move_rungs, 0.0, a_sum), jnp.where(move_rungs, 0, a_n)
        carry = (u, ev, adapt, keys, k_swap, betas, a_sum, a_n)
        return carry, (u[0], accept_p[0], divergent[0], swap_p)

    lp0, g0 = _hmc.start_evaluation(k)
    ev0 = tuple(jnp.broadcast_to(x, (n, *x.shape)) for x in (lp0, g0, lp0, lp0, g0, g0))
    adapt0 = jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), _hmc.initial_adaptation(k))
    k_rep, k_swap = jax.random.split(key)
    init = (
        jnp.broadcast_to(u0, (n, k)), ev0, adapt0, jax.random.split(k_rep, n), k_swap, betas,
        jnp.zeros(n - 1, jnp.float32), jnp.zeros(n - 1, jnp.int32),
    )  # fmt: skip
    carry, (us, acc, div, swap_p) = jax.lax.scan(iteration, init, jnp.arange(n_warmup + n_samples))
    adapt = carry[2]
    return TemperedDraws(
        us[n_warmup:],
        acc[n_warmup:],
        div[n_warmup:],
        jnp.exp(adapt.log_eps_bar[0]),
        adapt.inv_mass[0],
        jnp.nanmean(swap_p[n_warmup:], axis=0),
        carry[5],
    )
