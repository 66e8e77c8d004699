"""Measurement models of delayed estimation: uniform guessing, the two-component mixture (Zhang & Luck 2008)
and the three-component mixture with swaps (Bays, Catalao & Husain 2009).

``e`` is the response error (response minus target, radians); VM is the von Mises density::

    uniform:    p(e) = 1 / (2 pi)
    mixture2p:  p(e) = p_mem VM(e; 0, kappa) + (1 - p_mem) / (2 pi)
    mixture3p:  p(e) = p_mem [(1 - p_swap) VM(e; 0, kappa) + p_swap mean_j VM(e; phi_j, kappa)]
                       + (1 - p_mem) / (2 pi)

with ``kappa`` the concentration whose circular SD is ``sd_rad`` and ``phi_j`` the non-targets relative to the
target (the ``nontargets`` trial array, NaN-padded; required: without it the model stops with an error
rather than act as ``mixture2p``).
In Bays' notation ``p_t = p_mem (1 - p_swap)``, ``p_n = p_mem p_swap``, ``p_u = 1 - p_mem``. With no
non-target (set size 1) the swap component is the target component.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cogsim.errors import CogsimError
from cogsim.models.working_memory import _circular as circ
from cogsim.models.working_memory._model import (
    DE_PATTERNS,
    Spec,
    WMModel,
    delayed_estimation_design,
    single_set_size_design,
)

P_MEM = Spec("p_mem", 0.0, 1.0, 0.8, "probability the probed item is in memory (1 - guess rate)")
SD = Spec("sd_rad", 0.02, 4.0, 0.5, "circular SD of the memory error (radians)")
P_SWAP = Spec("p_swap", 0.0, 1.0, 0.1, "share of memory responses that report a non-target (swaps)")


def _uniform_loglik(params, trials):
    return jnp.full(jnp.shape(trials["error_rad"]), -circ.LOG_2PI)


def _uniform_simulate(params, trials, key):
    n = jnp.shape(trials["set_size"])[0]
    return {"error_rad": jax.random.uniform(key, (n,), minval=-jnp.pi, maxval=jnp.pi)}


def _mix(log_mem, p_mem):
    """log(p_mem exp(log_mem) + (1 - p_mem) / 2 pi), stable."""
    return jnp.logaddexp(jnp.log(p_mem) + log_mem, jnp.log1p(-p_mem) - circ.LOG_2PI)


def _mixture2p_loglik(params, trials):
    kappa = circ.kappa_from_sd(params["sd_rad"])
    return _mix(circ.vm_logpdf(trials["error_rad"], kappa), params["p_mem"])


def _vm_sample(key, kappa, shape):
    return circ.vm_sample(key, kappa, shape)


def _mixture2p_simulate(params, trials, key):
    n = jnp.shape(trials["set_size"])[0]
    k1, k2, k3 = jax.random.split(key, 3)
    kappa = circ.kappa_from_sd(params["sd_rad"])
    mem = jax.random.bernoulli(k1, params["p_mem"], (n,))
    err = jnp.where(
        mem, _vm_sample(k2, kappa, (n,)), jax.random.uniform(k3, (n,), minval=-jnp.pi, maxval=jnp.pi)
    )
    return {"error_rad": err}


def _nontargets(trials, n):
    nt = trials.get("nontargets")
    if nt is None:  # without the non-targets the swap component cannot be told from the target's
        raise CogsimError(
            "mixture3p: the trials have no 'nontargets' array; allowed: data with the columns "
            "nontarget_1_rad, nontarget_2_rad, ... (the other items relative to the target, blank where "
            "absent)"
        )
    return jnp.asarray(nt, jnp.float32).reshape(n, -1)


def _mixture3p_loglik(params, trials):
    e = trials["error_rad"]
    n = jnp.shape(e)[0]
    kappa = circ.kappa_from_sd(params["sd_rad"])
    nt = _nontargets(trials, n)
    valid = ~jnp.isnan(nt)
    lt = circ.vm_logpdf(e, kappa)
    lnt = circ.vm_logpdf(e[:, None] - jnp.where(valid, nt, 0.0), kappa)
    m = jnp.sum(valid, axis=1)
    lswap = jax.nn.logsumexp(jnp.where(valid, lnt, -jnp.inf), axis=1) - jnp.log(jnp.maximum(m, 1))
    lswap = jnp.where(m > 0, lswap, lt)
    ps = params["p_swap"]
    log_mem = jnp.logaddexp(jnp.log1p(-ps) + lt, jnp.log(ps) + lswap)
    return _mix(log_mem, params["p_mem"])


def _mixture3p_inert(trials):
    """``p_swap`` where none of a unit's trials has a non-target (set size 1): the likelihood ignores it."""
    nt = trials.get("nontargets")
    return ("p_swap",) if nt is not None and not np.any(~np.isnan(np.asarray(nt, float))) else ()


def _no_memory(*names):
    """With ``p_mem`` held at 0 every response is a guess: ``names`` (the memory's parameters) are inert."""
    return lambda values: names if values.get("p_mem") == 0.0 else ()


def _mixture3p_simulate(params, trials, key):
    n = jnp.shape(trials["set_size"])[0]
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    kappa = circ.kappa_from_sd(params["sd_rad"])
    nt = _nontargets(trials, n)
    valid = ~jnp.isnan(nt)
    pick = jax.random.categorical(k4, jnp.where(valid, 0.0, -jnp.inf), axis=1)
    centre = jnp.where(
        jnp.any(valid, axis=1), jnp.take_along_axis(jnp.nan_to_num(nt), pick[:, None], 1)[:, 0], 0.0
    )
    swap = jax.random.bernoulli(k5, params["p_swap"], (n,))
    mem = jax.random.bernoulli(k1, params["p_mem"], (n,))
    recalled = circ.wrap(_vm_sample(k2, kappa, (n,)) + jnp.where(swap, centre, 0.0))
    guess = jax.random.uniform(k3, (n,), minval=-jnp.pi, maxval=jnp.pi)
    return {"error_rad": jnp.where(mem, recalled, guess)}


UNIFORM = WMModel(
    "uniform",
    (),
    False,
    (),
    _uniform_loglik,
    _uniform_simulate,
    delayed_estimation_design,
    "every response a guess: p(e) = 1/(2 pi)",
    pattern_columns=DE_PATTERNS,
)
MIXTURE2P = WMModel(
    "mixture2p",
    (P_MEM, SD),
    True,
    (),
    _mixture2p_loglik,
    _mixture2p_simulate,
    single_set_size_design,
    "Zhang & Luck (2008): von Mises memory + uniform guessing, per set size",
    pattern_columns=DE_PATTERNS,
    sign_invariant=("error_rad",),  # read through cos(error)
    inert_given_fn=_no_memory("sd_rad"),
)
MIXTURE3P = WMModel(
    "mixture3p",
    (P_MEM, P_SWAP, SD),
    True,
    ("nontargets",),  # the array the fitting layer stacks from the nontarget_{i}_rad columns
    _mixture3p_loglik,
    _mixture3p_simulate,
    single_set_size_design,
    "Bays et al. (2009): target, non-target (swap) and uniform components, per set size",
    pattern_columns=DE_PATTERNS,
    inert_fn=_mixture3p_inert,
    inert_given_fn=_no_memory("p_swap", "sd_rad"),
)
