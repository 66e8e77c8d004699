"""The fixed positional code: a table whose row cosines follow a Gaussian of the index distance."""

from __future__ import annotations

import functools

import numpy as np
from flax import nnx
from jaxtyping import Float

from cogsim.errors import CogsimError


def gaussian_similarity(n: int, sigma: float) -> np.ndarray:
    """The target cosine matrix ``exp(-(i - j)^2 / (2 sigma^2))``.

    Example:
      >>> np.round(gaussian_similarity(3, 2.0)[0], 3)
      array([1.   , 0.882, 0.607])
    """
    d = np.arange(n)[:, None] - np.arange(n)[None, :]
    return np.exp(-(d.astype(float) ** 2) / (2 * sigma**2))


def _table_loss_and_grad(w: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The published loss of the position table and its gradient (by hand; tested against jax.grad)."""
    n = len(w)
    r = np.linalg.norm(w, axis=1, keepdims=True)
    u = w / np.maximum(r, 1e-12)
    g = u @ u.T - target
    scale = 1.0 / (n * max(n - 1, 1))
    loss = (np.sum(g**2) + np.mean((r - r.mean()) ** 2)) * scale
    du = 4.0 * g @ u  # d/dU of sum((U U^T - T)^2), G symmetric
    dw = (du - np.sum(du * u, axis=1, keepdims=True) * u) / np.maximum(r, 1e-12)
    dw += 2.0 * (r - r.mean()) / n * u  # the variance of the row norms
    return float(loss), dw * scale


@functools.lru_cache(maxsize=32)
def _learn_table(n: int, dim: int, sigma: float, steps: int, lr: float, seed: int) -> np.ndarray:
    # Plain NumPy Adam (beta 0.9 / 0.999, eps 1e-8) in float64 on the hand-derived gradient: no compilation,
    # a fraction of a second for 10k steps. This offline fit of a fixed table stays outside cogsim.train:
    # optax's Adam (float32, or even float64 with its (1 - beta) constants) ends on a table that differs in
    # the last bits (1,204 of 1,204 entries of the 14 x 86 table, up to 7e-4), which would change every
    # trained OAT model's numbers.
    target = gaussian_similarity(n, sigma)
    w = np.random.default_rng(seed).standard_normal((n, dim))
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        _, g = _table_loss_and_grad(w, target)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w.astype(np.float32)


def learn_positional_table(
    n_positions: int, dim: int, *, sigma: float = 2.0, steps: int = 10_000, lr: float = 0.01, seed: int = 0
) -> np.ndarray:
    """Learns the ``n_positions x dim`` table whose row cosines follow a Gaussian of the index distance.

    The loss, as in the published ``positionalEncodingLearned.py``: the squared error between the cosine
    matrix of the rows and the Gaussian target, plus the variance of the row norms, divided by ``n (n - 1)``;
    Adam from a standard-normal table. Results are cached per argument set.

    Example:
      >>> w = learn_positional_table(14, 86, steps=3000)
      >>> np.round(neighbour_cosines(w, 2), 2)
      array([1.  , 0.88, 0.61])
    """
    if n_positions < 1 or dim < 1:
        raise CogsimError(f"learn_positional_table: n_positions={n_positions} and dim={dim} must be >= 1")
    return _learn_table(int(n_positions), int(dim), float(sigma), int(steps), float(lr), int(seed))


def neighbour_cosines(table: Float[np.ndarray, "n dim"], max_distance: int = 5) -> np.ndarray:
    """Mean cosine between rows ``i`` and ``i + d`` of ``table`` for ``d = 0..max_distance``."""
    w = np.asarray(table, float)
    wn = w / np.linalg.norm(w, axis=1, keepdims=True)
    sim = wn @ wn.T
    return np.array([np.mean(np.diag(sim, d)) for d in range(max_distance + 1)])


class PositionTable(nnx.Variable):
    """The fixed Gaussian-similarity position table (learned offline, not trained with the model)."""
