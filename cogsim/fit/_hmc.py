"""Hamiltonian Monte Carlo for one log-density of a ``[k]`` vector, with Stan's warm-up: the step size by dual
averaging (Hoffman and Gelman 2014, target acceptance ``TARGET_ACCEPT``) and a diagonal mass matrix from the
draws' variances in windows that double in length (75 iterations of step size alone, windows of 25, 50,
100, ... iterations, the last 50 of step size alone again; scaled down for a shorter warm-up).

Each iteration draws a momentum ``p ~ N(0, M)``, runs a number of leapfrog steps drawn uniformly from 1
to ``2 n_leapfrog - 1`` (mean ``n_leapfrog``; with a fixed number, a trajectory near a multiple of the
posterior's period returns near its start and the chain hardly moves) of length ``eps`` (times a uniform
jitter in [0.9, 1.1] after the warm-up) and accepts the end with
probability ``min(1, exp(H0 - H1))``; an energy error above ``DIVERGENCE`` counts as a divergence (the
trajectory is rejected). The whole run, warm-up and sampling, is one ``lax.scan`` whose leapfrog loop holds
the program's one evaluation of the log-density and its gradient; the first iteration takes one step of
size 0, which evaluates them at the start without moving (accepted where finite; a start without a finite
log-density is left by the next iteration that reaches a finite one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

TARGET_ACCEPT = 0.8
DIVERGENCE = 1000.0
INIT_BUFFER, TERM_BUFFER, BASE_WINDOW = 75, 50, 25
_GAMMA, _T0, _KAPPA = 0.05, 10.0, 0.75


def adaptation_windows(n_warmup: int) -> tuple[tuple[int, int], ...]:
    """The mass-matrix windows ``(start, end)`` (iterations, end exclusive) of a warm-up of ``n_warmup``
    iterations, as Stan lays them out (a warm-up shorter than 150 iterations is split 15 % / 75 % / 10 %).

    Example:
      >>> adaptation_windows(1000)
      ((75, 100), (100, 150), (150, 250), (250, 450), (450, 950))
      >>> adaptation_windows(100)
      ((15, 90),)
    """
    init, term, base = INIT_BUFFER, TERM_BUFFER, BASE_WINDOW
    if n_warmup < 20:
        return ()
    if init + term + base > n_warmup:
        init, term = int(0.15 * n_warmup), int(0.1 * n_warmup)
        base = n_warmup - init - term
    end_slow = n_warmup - term
    out, start, size = [], init, base
    while start < end_slow:
        end = start + size
        if end + 2 * size > end_slow:  # the next window would not fit: this one runs to the end
            end = end_slow
        out.append((start, end))
        start, size = end, 2 * size
    return tuple(out)


class Draws(NamedTuple):
    u: jax.Array  # [n_samples, k] the draws after the warm-up
    accept: jax.Array  # [n_samples] acceptance probabilities
    divergent: jax.Array  # [n_samples] bool
    step_size: jax.Array  # the step size after the warm-up
    inv_mass: jax.Array  # [k] the diagonal inverse mass matrix after the warm-up


def run(
    logp: Callable[[jax.Array], jax.Array],
    u0: jax.Array,
    *,
    key: jax.Array,
    n_warmup: int,
    n_samples: int,
    n_leapfrog: int = 10,
) -> Draws:
    """Warm-up then ``n_samples`` HMC draws of the density ``exp(logp(u))`` from ``u0`` ``[k]``.

    Example:
      >>> d = run(lambda u: -0.5 * jnp.sum(u**2), jnp.ones(2), key=jax.random.key(0), n_warmup=200,
      ...         n_samples=1000)
      >>> d.u.shape, bool(abs(float(d.u.mean())) < 0.2), bool(0.8 < float(d.u.std()) < 1.2)
      ((1000, 2), True, True)
    """
    u0 = jnp.asarray(u0, jnp.float32)
    evaluate = value_and_finite_grad(logp)
    starts, ends = window_bounds(n_warmup)

    def iteration(carry, t):
        u, ev, adapt, key = carry
        key, *keys = jax.random.split(key, 5)
        u, ev, accept_p, divergent = move(evaluate, u, ev, adapt, t, keys, n_warmup, n_leapfrog)
        adapt = adapted(adapt, u, accept_p, t, n_warmup, starts, ends)
        return (u, ev, adapt, key), (u, accept_p, divergent)

    init = (u0, start_evaluation(u0.shape[0]), initial_adaptation(u0.shape[0]), key)
    carry, (us, acc, div) = jax.lax.scan(iteration, init, jnp.arange(n_warmup + n_samples))
    adapt = carry[2]
    return Draws(us[n_warmup:], acc[n_warmup:], div[n_warmup:], jnp.exp(adapt.log_eps_bar), adapt.inv_mass)


class Adaptation(NamedTuple):
    """The warm-up's state: the step size's dual averaging and the mass matrix's window (Welford)."""

    log_eps: jax.Array
    log_eps_bar: jax.Array
    h_bar: jax.Array
    m: jax.Array
    mu: jax.Array
    inv_mass: jax.Array  # [k]
    w_n: jax.Array
    w_mean: jax.Array  # [k]
    w_m2: jax.Array  # [k]


def initial_adaptation(k: int) -> Adaptation:
    """The adaptation's start: step size 0.1, unit inverse mass, an empty window."""
    f, zk = jnp.float32(0.0), jnp.zeros(k, jnp.float32)
    return Adaptation(jnp.log(jnp.float32(0.1)), f, f, f, f, jnp.ones(k, jnp.float32), f, zk, zk)


def start_evaluation(k: int) -> tuple[jax.Array, jax.Array]:
    """``(log-density, gradient)`` before the first evaluation: minus infinity and zeros."""
    return jnp.asarray(-jnp.inf, jnp.float32), jnp.zeros(k, jnp.float32)


def value_and_finite_grad(f: Callable[[jax.Array], jax.Array]):
    """``u -> (f(u), grad f(u))`` with a non-finite value replaced by minus infinity and non-finite gradient
    entries by 0 (a trajectory that reaches such a point is rejected, not steered by NaNs)."""

    def safe(u):
        v = f(u)
        return jnp.where(jnp.isfinite(v), v, -jnp.inf)

    vg = jax.value_and_grad(safe)

    def evaluate(u):
        v, g = vg(u)
        return v, jnp.where(jnp.isfinite(g), g, 0.0)

    return evaluate


def window_bounds(n_warmup: int) -> tuple[jax.Array, jax.Array]:
    """The mass-matrix windows' starts and ends as arrays (``[-1]`` each for none)."""
    windows = adaptation_windows(n_warmup)
    return jnp.asarray([w[0] for w in windows] or [-1]), jnp.asarray([w[1] for w in windows] or [-1])


def move(evaluate, u, ev, adapt: Adaptation, t, keys, n_warmup: int, n_leapfrog: int):
    """One HMC transition from ``u`` (``ev``: ``evaluate(u)``, a tuple whose first two items are the
    log-density and its gradient, then anything else ``evaluate`` returns) with the adaptation's step size
    and mass; returns the new ``u``, its ``ev``, the acceptance probability and whether it diverged."""
    k_mom, k_acc, k_jit, k_len = keys
    k = u.shape[0]
    inv_mass = adapt.inv_mass
    warm = t < n_warmup
    eps = jnp.exp(jnp.where(warm, adapt.log_eps, adapt.log_eps_bar))
    eps = eps * jnp.where(warm, 1.0, jax.random.uniform(k_jit, minval=0.9, maxval=1.1))
    p = jax.random.normal(k_mom, (k,)) / jnp.sqrt(inv_mass)
    h0 = -ev[0] + 0.5 * jnp.sum(inv_mass * p * p)
    n_steps = jax.random.randint(k_len, (), 1, 2 * n_leapfrog)  # 1 .. 2 L - 1: mean L
    first = t == 0  # one step of size 0: the log-density and gradient at the start, nothing moved
    eps, n_steps = jnp.where(first, 0.0, eps), jnp.where(first, 1, n_steps)

    def step(_, s):
        u, ev, p = s
        p = p + 0.5 * eps * ev[1]
        u = u + eps * inv_mass * p
        ev = evaluate(u)  # the one evaluation site
        return u, ev, p + 0.5 * eps * ev[1]

    u1, ev1, p1 = jax.lax.fori_loop(0, n_steps, step, (u, ev, p))
    h1 = -ev1[0] + 0.5 * jnp.sum(inv_mass * p1 * p1)
    finite = jnp.isfinite(h1)
    delta = jnp.where(finite, h0 - h1, -jnp.inf)
    accept_p = jnp.minimum(1.0, jnp.exp(jnp.minimum(delta, 0.0)))
    accept_p = jnp.where(first, finite.astype(jnp.float32), accept_p)
    accept_p = jnp.where(jnp.isnan(accept_p), 0.0, accept_p)
    divergent = ~first & (~finite | (h1 - h0 > DIVERGENCE))
    take = jax.random.uniform(k_acc) < accept_p
    u = jnp.where(take, u1, u)
    ev = jax.tree.map(lambda a, b: jnp.where(take, a, b), ev1, ev)
    return u, ev, accept_p, divergent


def adapted(a: Adaptation, u, accept_p, t, n_warmup: int, starts, ends) -> Adaptation:
    """The adaptation after iteration ``t`` (at ``u``, accepted with ``accept_p``): dual averaging of the
    step size during the warm-up; the draws' variances over the current window, set as the inverse mass at
    its end, when the averaging restarts (Stan's)."""
    log_eps, log_eps_bar, h_bar, m, mu, inv_mass, w_n, w_mean, w_m2 = a
    warm = t < n_warmup
    m1 = m + 1.0
    h_bar1 = (1.0 - 1.0 / (m1 + _T0)) * h_bar + (TARGET_ACCEPT - accept_p) / (m1 + _T0)
    log_eps1 = mu - jnp.sqrt(m1) / _GAMMA * h_bar1
    eta = m1**-_KAPPA
    log_eps_bar1 = eta * log_eps1 + (1.0 - eta) * log_eps_bar
    pairs = ((log_eps1, log_eps), (log_eps_bar1, log_eps_bar), (h_bar1, h_bar), (m1, m))
    log_eps, log_eps_bar, h_bar, m = (jnp.where(warm, a, b) for a, b in pairs)

    in_window = jnp.any((t >= starts) & (t < ends))
    w_n1 = w_n + 1.0
    d = u - w_mean
    w_mean1 = w_mean + d / w_n1
    w_m2_1 = w_m2 + d * (u - w_mean1)
    pairs = ((w_n1, w_n), (w_mean1, w_mean), (w_m2_1, w_m2))
    w_n, w_mean, w_m2 = (jnp.where(in_window, a, b) for a, b in pairs)
    closes = jnp.any(t + 1 == ends)
    var = w_m2 / jnp.maximum(w_n - 1.0, 1.0)
    regular = (w_n / (w_n + 5.0)) * var + 1e-3 * (5.0 / (w_n + 5.0))
    inv_mass = jnp.where(closes, regular, inv_mass)
    w_n, w_mean, w_m2 = (jnp.where(closes, jnp.zeros_like(a), a) for a in (w_n, w_mean, w_m2))
    mu = jnp.where(closes, jnp.log(10.0) + log_eps, mu)
    h_bar, m, log_eps_bar = (jnp.where(closes, 0.0, a) for a in (h_bar, m, log_eps_bar))
    return Adaptation(log_eps, log_eps_bar, h_bar, m, mu, inv_mass, w_n, w_mean, w_m2)
