"""Convergence diagnostics of MCMC draws: the rank-normalised split R-hat and the bulk effective sample size
of Vehtari, Gelman, Simpson, Carpenter and Buerkner (2021, Bayesian Analysis 16:667), as Stan computes them.

Both take draws ``[..., n_chains, n_draws]`` and return one value per leading index. Each chain is split in
halves (so a chain that drifts shows as two chains that disagree), the draws of a series replaced by the
normal scores of their ranks among all its draws (so heavy tails do not hide a disagreement), and:

- R-hat: the larger of the bulk value (on the ranks) and the tail value (on the ranks of the distances from
  the median), each ``sqrt(var_plus / W)`` with ``W`` the mean within-chain variance and ``var_plus`` its
  pooled estimate with the between-chain variance; 1 at convergence, above 1.01 a warning.
- bulk ESS: ``n_chains * n_draws / tau`` with ``tau = -1 + 2 sum_k P_k`` over Geyer's (1992) initial
  positive, monotone sequence of the pair sums ``P_k = rho_2k + rho_(2k+1)`` of the combined chains'
  autocorrelations.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from cogsim.errors import CogsimError


def _draws(draws, what: str) -> np.ndarray:
    """``draws`` as a float array ``[..., chains, n]`` with ``n >= 4`` (each split half holds two draws at
    least), else a CogsimError naming ``what``."""
    x = np.asarray(draws, float)
    if x.ndim < 2 or x.shape[-1] < 4 or x.shape[-2] < 1:
        raise CogsimError(
            f"{what} draws: got an array of shape {x.shape}; allowed: [..., chains, draws] with at least one "
            "chain of at least 4 draws (one chain of draws d: d[None, :])"
        )
    return x


def _split(draws: np.ndarray) -> np.ndarray:
    """``[..., 2 n_chains, n_draws // 2]``: every chain cut in halves (an odd last draw dropped)."""
    half = draws.shape[-1] // 2
    return np.concatenate([draws[..., :half], draws[..., half : 2 * half]], axis=-2)


def _rank_normal(draws: np.ndarray) -> np.ndarray:
    """The normal scores of the draws' ranks among all draws of their series (ties share their mean rank)."""
    lead, (m, n) = draws.shape[:-2], draws.shape[-2:]
    flat = draws.reshape(-1, m * n)
    ranks = stats.rankdata(flat, axis=1)
    z = stats.norm.ppf((ranks - 0.375) / (m * n + 0.25))
    return z.reshape(*lead, m, n)


def _rhat_plain(x: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    within = x.var(axis=-1, ddof=1).mean(axis=-1)
    between = n * x.mean(axis=-1).var(axis=-1, ddof=1)
    var_plus = (n - 1) / n * within + between / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(var_plus / within)


def rhat(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat (the larger of the bulk and the tail value) of draws ``[..., chains, n]``.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> round(float(rhat(rng.normal(size=(4, 1000)))), 2)
      1.0
      >>> float(rhat(rng.normal(size=(4, 1000)) + np.arange(4)[:, None])) > 1.5  # chains that disagree
      True
    """
    x = _split(_draws(draws, "rhat"))
    bulk = _rhat_plain(_rank_normal(x))
    folded = np.abs(x - np.median(x.reshape(*x.shape[:-2], -1), axis=-1)[..., None, None])
    return np.maximum(bulk, _rhat_plain(_rank_normal(folded)))


def ess_bulk(draws: np.ndarray) -> np.ndarray:
    """Bulk effective sample size of draws ``[..., chains, n]`` (rank-normalised split chains).

    Example:
      >>> rng = np.random.default_rng(0)
      >>> 3600 < float(ess_bulk(rng.normal(size=(4, 1000)))) < 4400  # independent draws: about 4000
      True
    """
    x = _rank_normal(_split(_draws(draws, "ess_bulk")))
    lead, (m, n) = x.shape[:-2], x.shape[-2:]
    x = x.reshape(-1, m, n)
    centred = x - x.mean(axis=-1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(centred, n=size, axis=-1)
    acov = np.fft.irfft(spec * np.conj(spec), n=size, axis=-1)[..., :n] / n  # biased, per chain
    mean_var = acov[..., 0].mean(axis=-1) * n / (n - 1)
    var_plus = mean_var * (n - 1) / n + (x.mean(axis=-1).var(axis=-1, ddof=1) if m > 1 else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]  # [series, lag]
    rho[:, 0] = 1.0
    n_pairs = n // 2
    pairs = rho[:, : 2 * n_pairs].reshape(-1, n_pairs, 2).sum(axis=-1)  # P_k
    positive = np.cumprod(pairs > 0, axis=1).astype(bool)  # the initial positive sequence
    monotone = np.minimum.accumulate(np.where(positive, pairs, np.inf), axis=1)
    tau = -1.0 + 2.0 * np.where(positive, monotone, 0.0).sum(axis=1)
    tau = np.maximum(tau, 1.0 / np.log10(m * n))
    ess = m * n / tau
    ess = np.where(np.isfinite(var_plus) & (var_plus > 0), ess, np.nan)
    return ess.reshape(lead)
