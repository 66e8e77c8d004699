"""Trial-level models of change detection (columns ``set_size``, ``change``, ``correct``; optional
``base_rate``), in the form ``cogsim.fit`` fits.

- ``fixed_capacity`` (Rouder et al. 2008; :mod:`cogsim.models.capacity`): an attending observer (probability
  ``a``) holds ``K`` items, so the probe is in memory with probability ``d = min(K / N, 1)``; otherwise the
  observer guesses "change" with probability ``g``: ``P(hit) = a (d + (1 - d) g) + (1 - a) g``,
  ``P(FA) = a (1 - d) g + (1 - a) g``.
- ``sdt`` (equal-variance signal detection, the competitor of Rouder et al. 2008): sensitivity falls with set
  size, ``d' = d1 N^(-alpha)``; ``P("change") = Phi(d'/2 - c)`` on change trials, ``Phi(-d'/2 - c)`` on same
  trials.
- ``*_base_rate`` variants (need the ``base_rate`` column, the block's probability of a change): the guess
  rate or criterion shifts with the base rate, ``logit g = logit g0 + g_shift logit(base_rate)`` and
  ``c = c0 - c_shift logit(base_rate)``, as Rouder et al. fitted one guess rate per base-rate block.

The response is ``"change"`` when ``correct == change``; the log-likelihood is Bernoulli per trial.

The fixed-capacity likelihood is flat in ``K`` once ``K`` reaches the largest set size of the data (then
``d = 1`` at every set size): a fit that steps onto that plateau has a zero gradient in ``K`` and stays
there, with the lapse rate standing in for the misses. Both fixed-capacity models therefore declare start
points below it, ``K`` = 1.5 and 5 (:data:`K_STARTS`; the other parameters at their defaults), fitted
besides the default start (``K`` = 3) and the random ones: with the default, three starts over the
capacities reported for human observers (docs/fitting_log.md, "Start points below the capacity plateau").
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.stats import norm

from cogsim.models.capacity import predict
from cogsim.models.working_memory._model import Spec, WMModel, change_detection_design

K = Spec("K", 0.0, 20.0, 3.0, "capacity in items")
A = Spec("a", 0.0, 1.0, 0.9, "probability of attending the trial (1 - lapse rate)")
G = Spec("g", 0.0, 1.0, 0.5, "probability of guessing 'change' when the probe is not held")
G_SHIFT = Spec("g_shift", -5.0, 5.0, 0.0, "change in logit g per unit logit(base_rate)")
D1 = Spec("d1", 0.0, 20.0, 3.0, "sensitivity d' at set size 1")
ALPHA = Spec("alpha", -2.0, 4.0, 0.5, "power-law exponent: d' = d1 N^-alpha")
C = Spec("c", -5.0, 5.0, 0.0, "response criterion (positive: biased towards 'same')")
C_SHIFT = Spec("c_shift", -5.0, 5.0, 0.0, "criterion shift towards 'change' per unit logit(base_rate)")
#: the fixed-capacity models' start points of ``K`` besides the default 3, below the plateau ``K >= max N``
K_STARTS = (1.5, 5.0)
#: at one set size the data give a hit and a false-alarm rate (per base rate): ``K`` and ``a`` enter only
#: through ``a min(K/N, 1)``, ``d1`` and ``alpha`` only through ``d' = d1 N^-alpha``
_ONE_SET_SIZE = dict(min_set_sizes=2, confounded_why="two rates: hits and false alarms")
_ONE_SET_SIZE_BR = dict(min_set_sizes=2, confounded_why="two rates per base rate: hits and false alarms")


def _responded_change(trials):
    change = jnp.asarray(trials["change"], jnp.float32)
    correct = jnp.asarray(trials["correct"], jnp.float32)
    return change, change * correct + (1 - change) * (1 - correct)


def _bernoulli(p, y):
    p = jnp.clip(p, 1e-7, 1 - 1e-7)
    return y * jnp.log(p) + (1 - y) * jnp.log1p(-p)


def _logit_base_rate(trials):
    br = jnp.clip(jnp.asarray(trials["base_rate"], jnp.float32), 1e-4, 1 - 1e-4)
    return jnp.log(br) - jnp.log1p(-br)


def _p_capacity(params, trials, g):
    """P("change") per trial by :func:`cogsim.models.capacity.predict` (one guess rate per trial)."""
    n = jnp.asarray(trials["set_size"], jnp.float32)
    change = jnp.asarray(trials["change"], jnp.int32)
    p = {"K": params["K"], "a": params["a"], "g": jnp.broadcast_to(g, n.shape)}
    return predict(p, n, jnp.arange(n.shape[0]), change)


def _fc_loglik(params, trials):
    _, y = _responded_change(trials)
    return _bernoulli(_p_capacity(params, trials, params["g"]), y)


def _fc_br_g(params, trials):
    g0 = jnp.clip(params["g"], 1e-6, 1 - 1e-6)
    return jax.nn.sigmoid(jnp.log(g0) - jnp.log1p(-g0) + params["g_shift"] * _logit_base_rate(trials))


def _fc_br_loglik(params, trials):
    _, y = _responded_change(trials)
    return _bernoulli(_p_capacity(params, trials, _fc_br_g(params, trials)), y)


def _p_sdt(params, trials, c):
    n = jnp.asarray(trials["set_size"], jnp.float32)
    change = jnp.asarray(trials["change"], jnp.float32)
    d = params["d1"] * n ** (-params["alpha"])
    return norm.cdf((2 * change - 1) * d / 2 - c)


def _sdt_loglik(params, trials):
    _, y = _responded_change(trials)
    return _bernoulli(_p_sdt(params, trials, params["c"]), y)


def _sdt_br_loglik(params, trials):
    _, y = _responded_change(trials)
    return _bernoulli(_p_sdt(params, trials, params["c"] - params["c_shift"] * _logit_base_rate(trials)), y)


def _simulator(p_fn):
    def simulate(params, trials, key):
        change = jnp.asarray(trials["change"], jnp.float32)
        resp = jax.random.bernoulli(key, p_fn(params, trials)).astype(jnp.float32)
        return {"correct": (resp == change).astype(jnp.int32)}

    return simulate


FIXED_CAPACITY = WMModel(
    "fixed_capacity",
    (K, A, G),
    False,
    (),
    _fc_loglik,
    _simulator(lambda p, t: _p_capacity(p, t, p["g"])),
    change_detection_design,
    "Rouder et al. (2008) fixed capacity K with attention lapses (a) and guessing (g)",
    starts=tuple(((K.name, k),) for k in K_STARTS),
    confounded=("K", "a"),
    **_ONE_SET_SIZE,
)
FIXED_CAPACITY_BASE_RATE = WMModel(
    "fixed_capacity_base_rate",
    (K, A, G, G_SHIFT),
    False,
    ("base_rate",),
    _fc_br_loglik,
    _simulator(lambda p, t: _p_capacity(p, t, _fc_br_g(p, t))),
    change_detection_design,
    "fixed capacity with the guess rate shifting with the change base rate",
    starts=tuple(((K.name, k),) for k in K_STARTS),
    confounded=("K", "a"),
    **_ONE_SET_SIZE_BR,
)
SDT = WMModel(
    "sdt",
    (D1, ALPHA, C),
    False,
    (),
    _sdt_loglik,
    _simulator(lambda p, t: _p_sdt(p, t, p["c"])),
    change_detection_design,
    "equal-variance signal detection, d' = d1 N^-alpha, one criterion",
    confounded=("d1", "alpha"),
    **_ONE_SET_SIZE,
)
SDT_BASE_RATE = WMModel(
    "sdt_base_rate",
    (D1, ALPHA, C, C_SHIFT),
    False,
    ("base_rate",),
    _sdt_br_loglik,
    _simulator(lambda p, t: _p_sdt(p, t, p["c"] - p["c_shift"] * _logit_base_rate(t))),
    change_detection_design,
    "signal detection with the criterion shifting with the change base rate",
    confounded=("d1", "alpha"),
    **_ONE_SET_SIZE_BR,
)
