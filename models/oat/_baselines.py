"""Scanpath baselines on a grid of objects: the simple models OAT is held up against.

Object ``o`` sits in row ``o // n_cols``, column ``o % n_cols``; rows are ``row_pitch`` column widths apart.

- :func:`random_baseline`: uniform random objects with given lengths;
- :func:`centre_out`: objects in order of distance from the display centre (random ties) until the target;
- :func:`nn_walk`: from the display centre, always to the nearest unvisited object, until the target;
- :func:`target_template`: a saliency-free template matcher with eccentricity-dependent target visibility.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _cell_xy(n_rows: int, n_cols: int, row_pitch: float) -> np.ndarray:
    idx = np.arange(n_rows * n_cols)
    return np.stack([idx % n_cols, (idx // n_cols) * row_pitch], axis=1).astype(float)


def _centre(n_rows: int, n_cols: int, row_pitch: float) -> np.ndarray:
    return np.array([(n_cols - 1) / 2, (n_rows - 1) / 2 * row_pitch])


def random_baseline(lengths: Sequence[int], n_objects: int, *, rng: np.random.Generator) -> list[list[int]]:
    """Uniform random objects, one sequence per given length.

    Example:
      >>> [len(p) for p in random_baseline([2, 5], 10, rng=np.random.default_rng(0))]
      [2, 5]
    """
    return [rng.integers(0, n_objects, int(n)).tolist() for n in lengths]


def centre_out(
    target: int, n: int, *, n_rows: int, n_cols: int, row_pitch: float = 1.0, rng: np.random.Generator
) -> list[list[int]]:
    """``n`` scanpaths visiting objects by distance from the display centre (random ties) up to the target.

    Example:
      >>> centre_out(4, 1, n_rows=3, n_cols=3, rng=np.random.default_rng(0))
      [[4]]
    """
    xy = _cell_xy(n_rows, n_cols, row_pitch)
    dist = np.linalg.norm(xy - _centre(n_rows, n_cols, row_pitch), axis=1)
    out = []
    for _ in range(n):
        order = np.lexsort((rng.random(len(dist)), np.round(dist, 9)))
        out.append(order[: int(np.nonzero(order == target)[0][0]) + 1].tolist())
    return out


def _walk(target: int, xy: np.ndarray, start_xy: np.ndarray, score, rng) -> list[int]:
    visited = np.zeros(len(xy), bool)
    pos, path = start_xy, []
    while True:
        s = score(np.linalg.norm(xy - pos, axis=1), rng)
        s = np.where(visited, -np.inf, s)
        nxt = int(np.argmax(s))
        path.append(nxt)
        visited[nxt] = True
        pos = xy[nxt]
        if nxt == target or visited.all():
            return path


def nn_walk(
    target: int, n: int, *, n_rows: int, n_cols: int, row_pitch: float = 1.0, rng: np.random.Generator
) -> list[list[int]]:
    """``n`` nearest-neighbour walks from the display centre (random ties), each until the target.

    Example:
      >>> nn_walk(5, 1, n_rows=1, n_cols=6, rng=np.random.default_rng(0))[0][-1]
      5
    """
    xy = _cell_xy(n_rows, n_cols, row_pitch)
    centre = _centre(n_rows, n_cols, row_pitch)
    return [
        _walk(target, xy, centre, lambda d, r: -np.round(d, 9) + 1e-6 * r.random(len(d)), rng)
        for _ in range(n)
    ]


def target_template(
    target: int,
    n: int,
    *,
    n_rows: int,
    n_cols: int,
    row_pitch: float = 1.0,
    dprime: float,
    falloff: float,
    rng: np.random.Generator,
) -> list[list[int]]:
    """``n`` scanpaths of a saliency-free template matcher with eccentricity-dependent target visibility.

    From the display centre, each fixation goes to the unvisited object with the largest evidence
    ``d'(distance) [object is the target] + N(0, 1)``, ``d'(x) = dprime * exp(-x / falloff)``, and the search
    ends on the target.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> target_template(3, 2, n_rows=2, n_cols=2, dprime=50.0, falloff=10.0, rng=rng)
      [[3], [3]]
    """
    xy = _cell_xy(n_rows, n_cols, row_pitch)
    is_t = np.arange(len(xy)) == target

    def score(d, r):
        return dprime * np.exp(-d / falloff) * is_t + r.standard_normal(len(d))

    return [_walk(target, xy, _centre(n_rows, n_cols, row_pitch), score, rng) for _ in range(n)]
