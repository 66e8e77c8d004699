"""A similarity-guided searcher on a grid of objects: a stochastic model of visual-search scanpaths.

At each step the searcher samples the next unvisited object from
``softmax(beta_similarity * s - beta_distance * distance)``, where ``s`` is the object's similarity to the
target and ``distance`` the grid distance from the current fixation (the first from the display centre),
and stops on the target. It generates reference scanpaths with known structure for synthetic experiments.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float, Int


@functools.partial(jax.jit, static_argnames=("n_rows", "n_cols", "beta_similarity", "beta_distance"))
def _search(sim, target, keys, *, n_rows: int, n_cols: int, beta_similarity: float, beta_distance: float):
    """One searcher scanpath per row of ``sim [P, N]``: ``[P, N]`` object indices, -1 after the target."""
    n_obj = n_rows * n_cols
    idx = jnp.arange(n_obj)
    xy = jnp.stack([idx // n_cols, idx % n_cols], 1).astype(jnp.float32)
    centre = jnp.asarray([(n_rows - 1) / 2, (n_cols - 1) / 2], jnp.float32)

    def one(s, tgt, k):
        def step(carry, t):
            pos, visited, done = carry
            dist = jnp.linalg.norm(xy - pos, axis=1)
            logits = jnp.where(visited, -1e9, beta_similarity * s - beta_distance * dist)
            nxt = jax.random.categorical(jax.random.fold_in(k, t), logits)
            visited = visited.at[nxt].set(visited[nxt] | ~done)
            return (jnp.where(done, pos, xy[nxt]), visited, done | (nxt == tgt)), jnp.where(done, -1, nxt)

        init = (centre, jnp.zeros(n_obj, bool), jnp.asarray(False))
        return jax.lax.scan(step, init, jnp.arange(n_obj))[1]

    return jax.vmap(one)(sim, target, keys)


def searcher_scanpaths(
    similarity: Float[np.ndarray, "displays objects"],
    target: Int[np.ndarray, " displays"],
    n_paths: int,
    *,
    key: jax.Array,
    n_rows: int,
    n_cols: int,
    beta_similarity: float,
    beta_distance: float,
) -> list[list[list[int]]]:
    """``n_paths`` similarity-guided searcher scanpaths per display: ``out[display][path]``.

    Vectorised in JAX over displays and paths (padded to a power of two, so that batches of similar size
    share one compilation). Path ``p`` of display ``i`` uses the key ``fold_in(key, i * n_paths + p)``.

    Args:
      similarity: ``[D, N]`` similarity of each object to its display's target (row-major grid objects).
      target: ``[D]`` index of each display's target object.
      n_paths: scanpaths per display.
      key: the root key.
      n_rows, n_cols: the grid (``N = n_rows * n_cols``).
      beta_similarity, beta_distance: weights of similarity and distance in the choice of the next object.

    Example:
      >>> sim = np.array([[0.0, 0.0, 0.0, 1.0]])
      >>> paths = searcher_scanpaths(sim, np.array([3]), 2, key=jax.random.key(0), n_rows=2, n_cols=2,
      ...                            beta_similarity=50.0, beta_distance=0.0)
      >>> paths
      [[[3], [3]]]
    """
    n_disp = len(target)
    p = n_disp * n_paths
    size = max(64, 1 << (p - 1).bit_length())
    row = np.minimum(np.arange(size) // n_paths, n_disp - 1)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(size))
    arr = np.asarray(
        _search(
            jnp.asarray(np.asarray(similarity)[row], jnp.float32),
            jnp.asarray(np.asarray(target)[row]),
            keys,
            n_rows=n_rows,
            n_cols=n_cols,
            beta_similarity=float(beta_similarity),
            beta_distance=float(beta_distance),
        )
    )[:p].reshape(n_disp, n_paths, -1)
    return [[r[r >= 0].tolist() for r in disp] for disp in arr]
