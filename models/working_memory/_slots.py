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

The likelihood is therefore piecewise in ``K``: within ``[c, c + 1]`` each trial's likelihood is linear in
``K``, and at every integer ``K`` the pair of slot counts changes, so the derivative jumps. Each segment can
hold its own local maximum, and a gradient method started in one segment does not see the others. The model
declares one start point per segment (``K = c + 0.5``, ``c = 0 .. K_MAX - 1``; ``sd1_rad`` at its default),
fitted besides the default and random starts, so the best-of-starts estimate covers every segment whatever
the set sizes of the data. For the same reason ``cogsim.fit.sample`` samples it with replica exchange over 8
temperatures unless told otherwise (``sample_temperatures``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import i0e

from cogsim.models.working_memory import _circular as circ
from cogsim.models.working_memory._model import DE_PATTERNS, Spec, WMModel, delayed_estimation_design

K_MAX = 8
N_MAX = 16  # largest set size of the per-set-size tables
TINY = 1e-30
K = Spec("K", 0.0, float(K_MAX), 3.0, "capacity: number of slots (non-integer: mixture of floor and ceil)")
SD1 = Spec("sd1_rad", 0.02, 4.0, 0.4, "circular SD of an item held in one slot (radians)")


def _split(k):
    c0 = jnp.minimum(jnp.floor(k), K_MAX - 1)
    return c0, k - c0


def _components(params, n_rows=N_MAX):
    """Per set size ``N = 1..n_rows``: the four von Mises components' log weights and concentrations
    ``[n_rows, 4]`` (``floor(K)`` or ``floor(K) + 1`` slots, times ``q`` or ``q + 1`` slots on the probe)."""
    n = jnp.arange(1, n_rows + 1, dtype=jnp.float32)
    j1 = circ.j_from_kappa(circ.kappa_from_sd(params["sd1_rad"]))
    c0, w = _split(params["K"])
    logws, kappas = [], []
    # log(w + TINY), not log(w): at an integer K (w = 0, e.g. the default K = 3) log(w) is -inf and its
    # gradient 0 x inf = NaN, which froze a start there; w + TINY == w in float32 for any w > 1e-22, and at
    # w = 0 the gradient is the right-hand derivative
    for c, lw in ((c0, jnp.log1p(-w)), (c0 + 1, jnp.log(w + TINY))):
        q = jnp.floor(c / n)
        r = c - q * n
        logws += [lw + jnp.log(r / n), lw + jnp.log1p(-r / n)]
        kappas += [circ.kappa_from_j((q + 1) * j1), circ.kappa_from_j(q * j1)]
    kappa = jnp.maximum(jnp.stack(kappas, axis=1), 0.0)
    logw = jnp.stack(logws, axis=1) - circ.LOG_2PI - jnp.log(i0e(kappa))
    return jnp.maximum(logw, -1e30), kappa  # finite: no -inf in the mixture's log-sum-exp


def _tables(params, *, n_rows):
    return _components(params, n_rows)


def _loglik(params, trials):
    logw, kappa = _components(params)
    # per set size, not per trial: four concentrations per set size, each trial's row read by a gather
    return circ.mixture_by_set_size(logw, kappa, trials["set_size"], trials["error_rad"])


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
    pattern_columns=DE_PATTERNS,
    max_set_size=N_MAX,
    tables_fn=_tables,
    starts=tuple(((K.name, c + 0.5),) for c in range(K_MAX)),
    sign_invariant=("error_rad",),  # read through cos(error)
    # a local maximum per capacity segment: plain HMC's chains settled, and agreed, in a segment without
    # posterior mass (docs/fitting_log.md, "Replica exchange for posteriors with separated modes")
    sample_temperatures=8,
)
