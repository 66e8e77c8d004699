"""Slots plus averaging (Zhang & Luck 2008): ``K`` slots, each holding one item with precision ``J1``.

With ``c`` slots and ``N`` items, ``c >= N``: the slots are spread evenly, so the probed item holds
``q = floor(c / N)`` or ``q + 1`` slots (the latter with probability ``r / N``, ``r = c - q N``) and its
precision is the slots' summed Fisher information (``q J1``; averaging ``q`` independent samples). ``c < N``:
the probed item holds one slot with probability ``c / N``, else the response is a guess. Both cases are one
formula (0 slots = uniform)::

    p(e) = (r / N) VM(e; kappa((q + 1) J1)) + (1 - r / N) VM(e; kappa(q J1))

A non-integer ``K`` mixes ``c = floor(K)`` and ``floor(K) + 1`` slots, weighted ``1 - frac(K)`` and
``frac(K)`` (capacity varying over trials), so ``p_mem = min(K / N, 1)``. ``J1`` is given as ``sd1_rad``, the
circular SD of a one-slot memory. Parameters are shared by all set sizes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cogsim.models.working_memory import _circular as circ
from cogsim.models.working_memory._model import Spec, WMModel, delayed_estimation_design

K_MAX = 8
K = Spec("K", 0.0, float(K_MAX), 3.0, "capacity: number of slots (non-integer: mixture of floor and ceil)")
SD1 = Spec("sd1_rad", 0.02, 4.0, 0.4, "circular SD of an item held in one slot (radians)")


def _slot_log(e, n, c, j1):
    q = jnp.floor(c / n)
    r = c - q * n
    hi = circ.vm_logpdf(e, circ.kappa_from_j((q + 1) * j1))
    lo = circ.vm_logpdf(e, circ.kappa_from_j(q * j1))
    return jnp.logaddexp(jnp.log(r / n) + hi, jnp.log1p(-r / n) + lo)


def _split(k):
    c0 = jnp.minimum(jnp.floor(k), K_MAX - 1)
    return c0, k - c0


def _loglik(params, trials):
    e, n = trials["error_rad"], jnp.asarray(trials["set_size"], jnp.float32)
    j1 = circ.j_from_kappa(circ.kappa_from_sd(params["sd1_rad"]))
    c0, w = _split(params["K"])
    return jnp.logaddexp(jnp.log1p(-w) + _slot_log(e, n, c0, j1), jnp.log(w) + _slot_log(e, n, c0 + 1, j1))


def _simulate(params, trials, key):
    n = jnp.asarray(trials["set_size"], jnp.float32)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    j1 = circ.j_from_kappa(circ.kappa_from_sd(params["sd1_rad"]))
    c0, w = _split(params["K"])
    c = c0 + jax.random.bernoulli(k1, w, n.shape)
    q = jnp.floor(c / n)
    r = c - q * n
    slots = q + jax.random.bernoulli(k2, r / n)
    kappa = circ.kappa_from_j(slots * j1)
    mem = circ.vm_sample(k3, kappa, n.shape)
    guess = jax.random.uniform(k4, n.shape, minval=-jnp.pi, maxval=jnp.pi)
    return {"error_rad": jnp.where(slots > 0, mem, guess)}


SLOTS_AVERAGING = WMModel(
    "slots_averaging",
    (K, SD1),
    False,
    (),
    _loglik,
    _simulate,
    delayed_estimation_design,
    "Zhang & Luck (2008) slots plus averaging: K slots of precision J1, shared by all set sizes",
)
