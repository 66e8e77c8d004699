"""Pareto-smoothed importance sampling (Vehtari, Gelman & Gabry 2017; Vehtari, Simpson, Gelman, Yao & Gabry
2024): importance weights whose largest values are replaced by the quantiles of a generalised Pareto
distribution fitted to them, and the fitted shape ``k`` as the diagnostic of how reliable the weighted
estimate is.

Every function works on columns: ``log_ratios`` ``[S, n]`` holds ``n`` independent sets of ``S`` draws (for
leave-one-out cross-validation, minus each trial's log-likelihood at every posterior draw), vectorised in
JAX, so that a unit's trials are smoothed in one program.

The tail holds the ``M = min(ceil(0.2 S), ceil(3 sqrt(S)))`` largest ratios (the relative efficiency of the
draws taken as 1); the generalised Pareto fit is Zhang & Stephens's (2009) empirical-Bayes estimate with
the weakly informative prior on ``k`` (centred at 0.5, worth 10 observations) that Vehtari et al. use;
smoothed weights are capped at the largest raw weight.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

#: the grid of the Zhang & Stephens estimate: ``MIN_GRID + floor(sqrt(M))`` points; its prior's scale
MIN_GRID, GRID_PRIOR = 30, 3.0
#: the weakly informative prior on ``k``: its centre and its weight in observations
K_PRIOR_CENTRE, K_PRIOR_WEIGHT = 0.5, 10.0
#: the fewest tail draws a fit is tried on (fewer: ``k`` is infinite and nothing is smoothed)
MIN_TAIL = 5


def tail_length(n_draws: int) -> int:
    """The number of largest ratios the generalised Pareto distribution is fitted to.

    Example:
      >>> tail_length(4000), tail_length(400)
      (190, 60)
    """
    return int(min(math.ceil(0.2 * n_draws), math.ceil(3.0 * math.sqrt(n_draws))))


def k_threshold(n_draws: int) -> float:
    """The largest ``k`` for which the smoothed estimate is reliable with ``n_draws`` draws:
    ``min(1 - 1 / log10(S), 0.7)`` (Vehtari et al. 2024).

    Example:
      >>> round(k_threshold(4000), 2), round(k_threshold(400), 2)
      (0.7, 0.62)
    """
    return float(min(1.0 - 1.0 / math.log10(n_draws), 0.7))


def gpd_fit(x: Float[Array, "m n"]) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """The generalised Pareto shape ``k`` (with the weakly informative prior) and scale ``sigma`` fitted to
    each column of ``x``, the exceedances over a threshold, sorted ascending down each column.

    Args:
      x: ``[m, n]`` non-negative, ascending in each column.

    Returns:
      ``(k, sigma)``, each ``[n]``; NaN where a column cannot be fitted (e.g. every value equal).

    Example:
      >>> import numpy as np
      >>> u = (np.arange(1, 2001) - 0.5) / 2000  # evenly spaced quantiles of a GPD with k = 0.3, sigma = 2
      >>> x = 2.0 * np.expm1(-0.3 * np.log1p(-u)) / 0.3
      >>> k, sigma = gpd_fit(jnp.asarray(x, jnp.float32)[:, None])
      >>> round(float(k[0]), 2), round(float(sigma[0]), 1)
      (0.3, 2.0)
    """
    m = x.shape[0]
    n_grid = MIN_GRID + int(math.floor(math.sqrt(m)))
    x_star = x[int(math.floor(m / 4.0 + 0.5)) - 1]  # the first quartile
    j = jnp.arange(1, n_grid + 1, dtype=x.dtype)[:, None]
    theta = 1.0 / x[-1] + (1.0 - jnp.sqrt(n_grid / (j - 0.5))) / (GRID_PRIOR * x_star)  # [grid, n]

    def mean_log1p(t):  # [grid, n]: the mean of log(1 - theta x) over each column's values
        return jnp.mean(jnp.log1p(-t[:, None, :] * x[None]), axis=1)

    k_grid = mean_log1p(theta)
    profile = m * (jnp.log(-theta / k_grid) - k_grid - 1.0)
    w = jax.nn.softmax(profile, axis=0)
    theta_hat = jnp.sum(theta * w, axis=0)
    k = jnp.mean(jnp.log1p(-theta_hat[None] * x), axis=0)
    sigma = -k / theta_hat
    k = (m * k + K_PRIOR_WEIGHT * K_PRIOR_CENTRE) / (m + K_PRIOR_WEIGHT)
    ok = jnp.isfinite(k) & jnp.isfinite(sigma) & (sigma > 0)
    return jnp.where(ok, k, jnp.nan), jnp.where(ok, sigma, jnp.nan)


def gpd_quantile(p: Float[Array, " m"], k, sigma):
    """The generalised Pareto distribution's quantiles at ``p`` (``[m, 1]`` against ``[n]`` parameters:
    ``[m, n]``); the exponential's where ``k`` is 0."""
    small = jnp.abs(k) < 1e-8
    safe = jnp.where(small, 1.0, k)
    return sigma * jnp.where(small, -jnp.log1p(-p), jnp.expm1(-safe * jnp.log1p(-p)) / safe)


def psis(
    log_ratios: Float[Array, "S n"],
) -> tuple[Float[Array, "S n"], Float[Array, " n"]]:
    """Pareto-smoothed, normalised log weights for each column of ``log_ratios``, and each column's ``k``.

    Where a column's tail is flat (every tail ratio equal: nothing to smooth) its raw weights are returned
    and its ``k`` is NaN; where the tail cannot be fitted otherwise (fewer than :data:`MIN_TAIL` tail draws,
    or a failed fit) the raw weights too, with ``k`` infinite (unreliable).

    Args:
      log_ratios: ``[S, n]`` log importance ratios, ``S`` draws down each column.

    Returns:
      ``(log_weights, k)``: ``[S, n]`` log weights that sum to 1 down each column (in the draws' own order),
      and ``[n]`` the Pareto shape estimates.

    Example:
      >>> import numpy as np  # ratios with a Pareto tail of shape 0.5 (index 2), 200 columns of 4000 draws
      >>> u = np.random.default_rng(0).uniform(size=(4000, 200))
      >>> lw, k = psis(jnp.asarray(-np.log(u) / 2.0, jnp.float32))
      >>> np.allclose(jnp.exp(lw).sum(0), 1.0, atol=1e-5), round(float(k.mean()), 1)
      (True, 0.5)
    """
    n_draws = log_ratios.shape[0]
    m = tail_length(n_draws)
    lw = log_ratios - jnp.max(log_ratios, axis=0, keepdims=True)
    if m < MIN_TAIL:
        k = jnp.full(lw.shape[1:], jnp.inf, lw.dtype)
        return lw - jax.nn.logsumexp(lw, axis=0, keepdims=True), k
    # the m + 1 largest of each column by top_k, behind a barrier: without it XLA's CPU compiler turns the
    # top_k into a full sort, about ten times slower here (4,000 draws)
    top, at = jax.lax.optimization_barrier(jax.lax.top_k(lw.T, m + 1))  # [n, m + 1], descending
    cutoff = top[:, m]  # [n]: the largest ratio left out of the tail
    tail = top[:, m - 1 :: -1].T  # [m, n]: ascending
    exceed = jnp.exp(tail) - jnp.exp(cutoff)[None]
    flat = exceed[-1] <= 0.0
    k, sigma = gpd_fit(jnp.where(flat[None], 1.0, exceed))
    p = ((jnp.arange(1, m + 1, dtype=lw.dtype) - 0.5) / m)[:, None]
    smooth = jnp.log(gpd_quantile(p, k[None], sigma[None]) + jnp.exp(cutoff)[None])
    smooth = jnp.minimum(smooth, 0.0)  # capped at the largest raw weight (lw's maximum is 0)
    fitted = jnp.isfinite(k) & ~flat
    new = jnp.where(fitted[None], smooth, tail)[::-1].T  # [n, m], descending like `at`
    cols = jnp.arange(lw.shape[1])[:, None]
    back = lw.T.at[cols, at[:, :m]].set(new).T
    k = jnp.where(fitted, k, jnp.where(flat, jnp.nan, jnp.inf))
    return back - jax.nn.logsumexp(back, axis=0, keepdims=True), k
