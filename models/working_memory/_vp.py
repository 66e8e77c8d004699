"""Variable precision (van den Berg, Shin, Chou, George & Ma 2012).

The precision (Fisher information) ``J`` of the probed item varies over trials and items:
``J ~ Gamma(shape Jbar / tau, scale tau)`` with mean ``Jbar = J1 N^(-alpha)``; given ``J`` the error is
von Mises with ``kappa(J)`` (``J = kappa I1(kappa) / I0(kappa)``)::

    p(e) = integral Gamma(J; Jbar / tau, tau) VM(e; 0, kappa(J)) dJ

The integral is a fixed quadrature over ``y = log x``, ``x = J / tau ~ Gamma(k, 1)``, ``k = Jbar / tau``,
whose density ``exp(k y - e^y) / Gamma(k)`` is smooth and decays fast on the right: ``N_NODES`` mid points
uniform in ``y`` on ``max(psi(k) - 10 sqrt(1/k + 1/k^2), log(J_FLAT / tau))`` and ``log(k + 10 sqrt k + 30)``,
each weighted by the closed-form density times the spacing. Below the window lie two masses, each by the
lower incomplete gamma function's power series ``P(k, x) = x^k e^-x / Gamma(k + 1) sum_n x^n / ((k + 1)
... (k + n))`` (``TAIL_TERMS`` terms: exact in float32 where ``x`` is much below ``k + 1``, smooth
elsewhere, where the mass is next to 0): the mass below ``J_FLAT``, where the von Mises is uniform, goes to
a node at ``J = 0``; the mass between ``J_FLAT`` and the window's left end (a tail beyond 10 sd, next to
nothing, or none where the window starts at ``J_FLAT``) to a node at that end. The window's nodes share the
rest in proportion to their weights; the weights sum to 1. (Until 2026-12-07 the node at ``J = 0`` took
``1 - sum`` of the others, which where the tail is empty is float32 rounding, 0 or about 2e-7 from one
parameter value to the next: a trial far from the target, whose likelihood that node's uniform density
outweighs, had a log-likelihood that jumped by tens between neighbouring parameter values;
docs/fitting_log.md, "vp's weight for a uniform report".) No regularised incomplete gamma function (nor its
costly derivative in the shape) is needed. Measured error
(tests/models/test_working_memory.py; van den Berg et al.'s fitted range, J1 in {3, 30, 300}, alpha in
{0.5, 1.5}, tau in {0.05, 2, 20, 200}, set sizes 1-8): the density differs from the same rule with 4,000
nodes by at most 1.5e-4 of its peak (24 nodes: 1.7e-3, 48 nodes: 2.4e-6) and from 4,000 incomplete-gamma
cells by at most 7.7e-4 (the cells' own error at the narrowest gamma); it matches a histogram of 200,000
simulated errors. Again with the tail's two nodes (2026-12-07, the same grid, errors at 201 points): at most
1.2e-4 of the peak against both 4,000 nodes and 4,000 cells (the code before them, the same script: 1.5e-4
against both).

Each node's weight is floored at 1e-30 before its logarithm (:func:`_tables`), so the node at ``J = 0`` acts
as a lapse of at least 1e-30: the density is at least ``1e-30 / (2 pi)`` and a trial's log-likelihood at
least about -70.9. A set size outside ``1..N_MAX`` or not a whole number gives NaN
(:func:`._circular.rows_by_set_size`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln, i0e

from cogsim.models.working_memory import _circular as circ
from cogsim.models.working_memory._model import DE_PATTERNS, Spec, WMModel, delayed_estimation_design

N_NODES = 32
TAIL_TERMS = 12
J_FLAT = 1e-8  # precision below which a von Mises is uniform to 1.5e-4 of its density (kappa = sqrt(2 J))
N_MAX = 32  # largest set size the precomputed per-set-size tables cover

J1 = Spec("J1", 0.01, 1000.0, 10.0, "mean precision (Fisher information) at set size 1")
ALPHA = Spec("alpha", -1.0, 4.0, 1.0, "power-law exponent: mean precision J1 N^-alpha")
TAU = Spec("tau", 0.01, 1000.0, 5.0, "scale of the gamma distribution of precision")


def _log_gamma_density(y, k):
    """``log`` of the density of ``y = log x``, ``x ~ Gamma(k, 1)``: ``k y - e^y - lgamma(k)``, written as
    ``-k (expm1(d) - d) + c(k)`` with ``d = y - log k`` and ``c(k) = k log k - k - lgamma(k)`` (Stirling's
    series above k = 10), so that float32 keeps its precision at large ``k``."""
    d = y - jnp.log(k)
    big = jnp.maximum(k, 10.0)
    c_big = 0.5 * jnp.log(big / (2 * jnp.pi)) - 1 / (12 * big) + 1 / (360 * big**3)
    small = jnp.minimum(k, 10.0)
    c_small = small * jnp.log(small) - small - gammaln(small)
    return -k * (jnp.expm1(d) - d) + jnp.where(k > 10.0, c_big, c_small)


def lower_tail(k, x, n_terms: int = TAIL_TERMS):
    """``P(k, x)``, the probability that a ``Gamma(k, 1)`` variable is below ``x``, by the first ``n_terms``
    terms of its power series (exact for ``x`` much below ``k + 1``; an underestimate otherwise).

    Example:
      >>> round(float(lower_tail(jnp.float32(1.0), jnp.float32(0.5))), 5)  # 1 - exp(-0.5)
      0.39347
    """
    ratios = x / (k + jnp.arange(1, n_terms, dtype=jnp.float32))
    series = 1.0 + jnp.sum(jnp.cumprod(ratios))
    return jnp.exp(k * jnp.log(x) - x - gammaln(k + 1.0)) * series


def nodes(jbar, tau, n_nodes: int = N_NODES):
    """Quadrature nodes ``J [n + 2]`` and weights ``[n + 2]`` (summing to 1) of ``Gamma(jbar / tau, tau)``:
    node 0 is ``J = 0`` (a uniform report) with the mass below ``J_FLAT``, node 1 the window's left end with
    the mass between ``J_FLAT`` and it, then the window's ``n`` nodes."""
    k = jbar / tau
    # the window: E[y] = digamma(k), sd(y) = sqrt(trigamma(k)) <= sqrt(1/k + 1/k^2); held fixed under
    # differentiation (the integral does not depend on it), so no polygamma derivatives are compiled
    kw, tw = jax.lax.stop_gradient(k), jax.lax.stop_gradient(tau)
    hi = jnp.log(kw + 10 * jnp.sqrt(kw) + 30.0)
    lo = jnp.maximum(digamma(kw) - 10 * jnp.sqrt(1 / kw + 1 / kw**2), jnp.log(J_FLAT / tw))
    h = (hi - lo) / n_nodes
    y = lo + (jnp.arange(n_nodes) + 0.5) * h
    w = h * jnp.exp(_log_gamma_density(y, k))
    flat = jnp.minimum(lower_tail(k, J_FLAT / tw), 1.0)  # below J_FLAT: uniform
    edge = jnp.clip(lower_tail(k, jnp.exp(lo)) - flat, 0.0, 1.0 - flat)  # J_FLAT to the window's left end
    w = w * ((1.0 - flat - edge) / jnp.maximum(jnp.sum(w), 1e-30))
    j = jnp.concatenate([jnp.zeros(1), tau * jnp.exp(jnp.concatenate([lo[None], y]))])
    return j, jnp.concatenate([flat[None], edge[None], w])


def _tables(params, n_nodes, n_rows=N_MAX):
    ns = jnp.arange(1, n_rows + 1, dtype=jnp.float32)
    jbar = params["J1"] * ns ** (-params["alpha"])
    j, w = jax.vmap(lambda jb: nodes(jb, params["tau"], n_nodes))(jbar)
    kappa = circ.kappa_from_j(j)
    logw = jnp.log(jnp.maximum(w, 1e-30)) - circ.LOG_2PI - jnp.log(i0e(kappa))
    return kappa, logw


def loglik_nodes(params, trials, n_nodes: int = N_NODES):
    """Per-trial log-likelihood with ``n_nodes`` quadrature cells (the model uses ``N_NODES``)."""
    kappa, logw = _tables(params, n_nodes)
    return circ.mixture_by_set_size(logw, kappa, trials["set_size"], trials["error_rad"])


def _loglik(params, trials):
    return loglik_nodes(params, trials)


def _mixture(params, *, n_rows):
    kappa, logw = _tables(params, N_NODES, n_rows)
    return logw, kappa


def _simulate(params, trials, key):
    n = jnp.asarray(trials["set_size"], jnp.float32)
    k1, k2 = jax.random.split(key)
    jbar = params["J1"] * n ** (-params["alpha"])
    j = params["tau"] * jax.random.gamma(k1, jbar / params["tau"])
    kappa = jnp.maximum(circ.kappa_from_j(j), 1e-6)
    return {"error_rad": circ.vm_sample(k2, kappa, n.shape)}


VP = WMModel(
    "vp",
    (J1, ALPHA, TAU),
    False,
    (),
    _loglik,
    _simulate,
    delayed_estimation_design,
    "van den Berg et al. (2012) variable precision: J ~ Gamma(mean J1 N^-alpha, scale tau)",
    pattern_columns=DE_PATTERNS,
    max_set_size=N_MAX,
    sign_invariant=("error_rad",),  # read through cos(error)
    tables_fn=_mixture,
    # one set size gives one mean precision J1 N^-alpha: J1 and alpha lie on a ridge
    min_set_sizes=2,
    confounded=("J1", "alpha"),
    confounded_why="one mean precision, J1 N^-alpha",
)
