"""Von Mises densities and the conversions between circular SD, concentration and Fisher information.

``A(kappa) = I1(kappa) / I0(kappa)``; circular SD ``sd = sqrt(-2 ln A(kappa))``; Fisher information
``J = kappa A(kappa)`` (van den Berg et al. 2012). The inverse maps (SD -> kappa, J -> kappa) interpolate a
float64 table over ``log kappa`` in [-9, 13] (8,001 points, linear in log-log coordinates): relative error in
kappa below 1e-5 inside the table, clamped outside it (kappa below 1.2e-4 acts as 0, i.e. uniform). The
tables of ``J`` find a query's interval by :class:`._lookup.Lookup` (the same values and gradients as
``jnp.interp``, without its binary search).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import i0e
from scipy import special

from cogsim.models.working_memory._lookup import Lookup, segments

LOG_2PI = float(np.log(2 * np.pi))

_LOGK = np.linspace(-9.0, 13.0, 8001)
_K = np.exp(_LOGK)
_A = special.i1e(_K) / special.i0e(_K)
# log(-log A): exact in float64 also where A is within 1e-8 of 1 (log1p of the ratio's distance from 1).
_LOG_HALF_SD2 = np.log(-np.log1p((special.i1e(_K) - special.i0e(_K)) / special.i0e(_K)))
_LOG_J = _LOGK + np.log(_A)
_T_SD = jnp.asarray(_LOG_HALF_SD2[::-1].copy())  # increasing
_T_SD_LOGK = jnp.asarray(_LOGK[::-1].copy())
_J_TO_LOGK = Lookup.build(_LOG_J, _LOGK)  # log J -> log kappa
_LOGK_TO_J = Lookup.build(_LOGK, _LOG_J)  # log kappa -> log J
# on the same knots: log i0e(kappa) and its derivative in kappa, A(kappa) - 1 (float64, then float32)
_LOG_I0E = jnp.asarray(np.log(special.i0e(_K)).astype(np.float32))
_A_MINUS_1 = jnp.asarray((_A - 1.0).astype(np.float32))
_J_SMALL = float(np.exp(_LOG_J[0]))  # below the table: kappa = sqrt(2 J)
# each interval of the J table with its three columns at both ends: [n - 1, 8], one gather per query
_J_ROWS = jnp.asarray(segments(_J_TO_LOGK.xp, _J_TO_LOGK.fp, _LOG_I0E, _A_MINUS_1))


def wrap(x):
    """Angles wrapped to [-pi, pi)."""
    return jnp.mod(x + jnp.pi, 2 * jnp.pi) - jnp.pi


def vm_logpdf(x, kappa):
    """``log VM(x; 0, kappa)`` on the circle, stable for large kappa (``kappa = 0``: uniform)."""
    kappa = jnp.maximum(kappa, 0.0)
    return kappa * (jnp.cos(x) - 1.0) - LOG_2PI - jnp.log(i0e(kappa))


def kappa_from_sd(sd):
    """Concentration of the von Mises whose circular SD is ``sd`` (radians)."""
    sd = jnp.asarray(sd, jnp.float32)
    return jnp.exp(jnp.interp(jnp.log(0.5 * sd**2), _T_SD, _T_SD_LOGK))


def sd_from_kappa(kappa):
    """Circular SD ``sqrt(-2 ln A(kappa))`` of a von Mises with concentration ``kappa``."""
    logk = jnp.log(jnp.maximum(kappa, 1e-30))
    return jnp.sqrt(2 * jnp.exp(jnp.interp(logk, _T_SD_LOGK[::-1], _T_SD[::-1])))


def kappa_from_j(j):
    """Concentration whose Fisher information ``kappa A(kappa)`` is ``j``; ``j <= 0`` gives 0 (uniform)."""
    j = jnp.asarray(j, jnp.float32)
    k = jnp.exp(_J_TO_LOGK.interp(jnp.log(jnp.maximum(j, 1e-30))))
    return jnp.where(j <= _J_SMALL, jnp.sqrt(2 * jnp.maximum(j, 1e-30)), k)  # finite gradient at 0


def _table_rows(x):
    """``log kappa``, ``log i0e(kappa)``, ``A(kappa) - 1`` at ``log J = x`` by linear interpolation in the J
    table's interval of ``x`` (found once for all three; ends held outside it), and the interval's
    ``d log kappa / d log J``."""
    lookup = _J_TO_LOGK
    xp = lookup.xp
    i = jnp.clip(lookup.search(x), 1, xp.shape[0] - 1)
    row = _J_ROWS[i - 1]  # at i - 1: log J, log kappa, log i0e, A - 1; then the same at i
    dx = row[..., 4] - row[..., 0]
    delta = x - row[..., 0]
    out = []
    for c in (1, 2, 3):
        f = row[..., c] + (delta / dx) * (row[..., 4 + c] - row[..., c])  # jnp.interp's formula
        out.append(jnp.where(x < xp[0], _J_ROWS[0, c], jnp.where(x > xp[-1], _J_ROWS[-1, 4 + c], f)))
    inside = (x >= xp[0]) & (x <= xp[-1])
    return (*out, jnp.where(inside, (row[..., 5] - row[..., 1]) / dx, 0.0))


@jax.custom_jvp
def _logk_and_log_i0e(x):
    return _table_rows(x)[:2]


@_logk_and_log_i0e.defjvp
def _logk_and_log_i0e_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    logk, log_i0e, a_minus_1, slope = _table_rows(x)
    dlogk = slope * dx
    # d log i0e / d kappa = A(kappa) - 1, times d kappa = kappa d log kappa: the derivative of the function
    # itself (interpolated to O(h^2)), not the slope of the interpolated log i0e (O(h))
    return (logk, log_i0e), (dlogk, a_minus_1 * jnp.exp(logk) * dlogk)


def kappa_and_log_i0e_from_j(j):
    """``(kappa_from_j(j), log i0e(kappa))`` from one interval search: ``kappa`` as :func:`kappa_from_j`
    (the same values), ``log i0e(kappa)`` interpolated linearly in ``log J`` between the table's knots
    (within 1e-6 of ``jnp.log(i0e(kappa))``) and its derivative from ``A(kappa) - 1`` interpolated the
    same way (tests/models/test_working_memory.py checks both), at a fraction of the cost of evaluating
    ``i0e`` and its gradient. Below the table (``kappa < 1.2e-4``, ``j <= 0`` included) ``kappa`` is
    ``sqrt(2 J)`` and ``log i0e(kappa) = -kappa + kappa^2 / 4`` (error O(kappa^3)).

    Example:
      >>> k, li = kappa_and_log_i0e_from_j(jnp.array([0.5, 40.0]))
      >>> bool(jnp.allclose(li, jnp.log(i0e(k)), atol=1e-6))
      True
    """
    j = jnp.asarray(j, jnp.float32)
    logk, log_i0e = _logk_and_log_i0e(jnp.log(jnp.maximum(j, 1e-30)))
    small = j <= _J_SMALL
    ks = jnp.sqrt(2 * jnp.maximum(j, 1e-30))
    return jnp.where(small, ks, jnp.exp(logk)), jnp.where(small, -ks + ks * ks / 4, log_i0e)


def j_from_kappa(kappa):
    """Fisher information ``kappa A(kappa)`` of a von Mises with concentration ``kappa``."""
    logk = jnp.log(jnp.maximum(kappa, 1e-30))
    return jnp.where(kappa > 1e-30, jnp.exp(_LOGK_TO_J.interp(logk)), 0.0)


def rows_by_set_size(table, set_size):
    """``table[set_size - 1]`` ``[n_trials, ...]``: the rows of a per-set-size table ``[N_MAX, ...]`` for each
    trial; a set size outside ``1..N_MAX`` or not a whole number reads a row of NaN (so a model using it
    declares ``max_set_size = N_MAX``, and ``cogsim.fit.fit`` refuses data beyond it; until 2026-12-07 such a
    trial read a row of zeros, or for a set size below 1 a row from the table's end). The same values as the
    product of a one-hot encoding of the set sizes with the table, at a fraction of its cost under
    ``value_and_grad`` (a gather, whose gradient is a scatter-add of ``n_trials`` rows, instead of two
    ``[n_trials, N_MAX]`` matrix products); the gradient differs from the product's by float32 rounding
    (order of summation).

    Example:
      >>> t = jnp.arange(6.0).reshape(3, 2)
      >>> rows_by_set_size(t, jnp.array([3, 1, 4, 0])).tolist()
      [[4.0, 5.0], [0.0, 1.0], [nan, nan], [nan, nan]]
    """
    n = jnp.asarray(set_size)
    idx = n.astype(jnp.int32) - 1
    rows = jnp.take(table, idx, axis=0, mode="fill", fill_value=0)
    inside = (idx >= 0) & (idx < table.shape[0])
    if not jnp.issubdtype(n.dtype, jnp.integer):
        inside = inside & (n == jnp.floor(n))  # 2.5 is no set size (NaN fails both tests)
    inside = inside.reshape(inside.shape + (1,) * (rows.ndim - inside.ndim))
    return jnp.where(inside, rows, jnp.nan)  # valid rows unchanged; outside the table NaN, not a stray row


def mixture_by_set_size(logw, kappa, set_size, error_rad):
    """Per-trial log-likelihood ``[n_trials]`` of a von Mises mixture given per set size: trial ``t`` reads
    row ``set_size[t] - 1`` of the log weights (von Mises normaliser included) and concentrations
    ``[N_MAX, n_components]``, ``log sum_c exp(logw_c + kappa_c (cos e - 1))``; NaN for a set size outside
    ``1..N_MAX`` or not a whole number (:func:`rows_by_set_size`). Both rows come from one
    gather of the two tables stacked (the same values as two :func:`rows_by_set_size`; under
    ``value_and_grad`` one scatter-add instead of two, so the gradient differs from theirs by float32
    rounding: order of summation).

    Example:
      >>> logw = jnp.array([[-LOG_2PI], [-LOG_2PI - 1.0]])
      >>> ll = mixture_by_set_size(logw, jnp.zeros((2, 1)), jnp.array([1, 2]), jnp.array([0.3, 2.0]))
      >>> [round(float(v), 4) for v in ll]
      [-1.8379, -2.8379]
    """
    both = rows_by_set_size(jnp.stack([logw, kappa], axis=1), set_size)  # [n_trials, 2, n_components]
    cos1 = (jnp.cos(error_rad) - 1.0)[:, None]
    return jax.nn.logsumexp(both[:, 0] + both[:, 1] * cos1, axis=1)


def vm_sample(key, kappa, shape):
    """Draws from ``VM(0, kappa)`` (Best & Fisher 1979 rejection sampler, vectorised; all draws finish
    together, acceptance above 65 % at every kappa). ``kappa`` broadcasts to ``shape``; below 1e-6 it acts
    as 1e-6 (density within 1e-6 of uniform)."""
    kappa = jnp.broadcast_to(jnp.maximum(jnp.asarray(kappa, jnp.float32), 1e-6), shape)
    s = jnp.sqrt(1 + 4 * kappa**2)
    tau = 1 + s
    rho = tau * 2 * kappa / ((s + 1) * (tau + jnp.sqrt(2 * tau)))  # (tau - sqrt(2 tau)) / (2 kappa), stable
    r = (1 + rho**2) / (2 * rho)

    def body(carry):
        k, theta, done = carry
        k, k1, k2, k3 = jax.random.split(k, 4)
        z = jnp.cos(jnp.pi * jax.random.uniform(k1, shape))
        f = (1 + r * z) / (r + z)
        c = kappa * (r - f)
        u2 = jax.random.uniform(k2, shape, minval=1e-12)
        ok = (c * (2 - c) - u2 > 0) | (jnp.log(c / u2) + 1 - c >= 0)
        t = jnp.sign(jax.random.uniform(k3, shape) - 0.5) * jnp.arccos(jnp.clip(f, -1.0, 1.0))
        return k, jnp.where(done, theta, t), done | ok

    init = (key, jnp.zeros(shape), jnp.zeros(shape, bool))
    _, theta, _ = jax.lax.while_loop(lambda c: ~jnp.all(c[2]), body, init)
    return theta
