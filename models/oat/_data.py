"""Displays, scanpath token sequences and the outlier filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Int

from cogsim.errors import CogsimError


class Displays(NamedTuple):
    """A batch of displays (all with the same number of objects ``N``).

    Attributes:
      rows: ``[batch, N]`` grid row of each object.
      cols: ``[batch, N]`` grid column of each object.
      target: ``[batch]`` index (0..N-1) of the target object.
      appearance: ``[batch, N]`` int ids (``appearance="embedding"``; 0 is reserved for the blank BOS),
        ``[batch, N, H, W, 3]`` crops in [0, 1] (``"cnn"``), or None (``"none"``).
    """

    rows: Any
    cols: Any
    target: Any
    appearance: Any = None

    def take(self, idx) -> Displays:
        """The displays at ``idx`` (any index array)."""
        app = None if self.appearance is None else self.appearance[idx]
        return Displays(self.rows[idx], self.cols[idx], self.target[idx], app)


def grid_displays(
    targets: Int[np.ndarray, " batch"], *, n_rows: int, n_cols: int, appearance: Any = None
) -> Displays:
    """Displays with one object per cell of an ``n_rows x n_cols`` grid (row-major object indices).

    Example:
      >>> d = grid_displays(np.array([5]), n_rows=2, n_cols=3)
      >>> d.rows.tolist(), d.cols.tolist()
      ([[0, 0, 0, 1, 1, 1]], [[0, 1, 2, 0, 1, 2]])
    """
    t = np.asarray(targets, np.int32).reshape(-1)
    n = n_rows * n_cols
    if np.any((t < 0) | (t >= n)):
        raise CogsimError(
            f"grid_displays: targets must be in 0..{n - 1}; got {t[(t < 0) | (t >= n)][:5].tolist()}"
        )
    idx = np.arange(n, dtype=np.int32)
    rows = np.broadcast_to(idx // n_cols, (len(t), n)).copy()
    cols = np.broadcast_to(idx % n_cols, (len(t), n)).copy()
    return Displays(rows, cols, t, appearance)


def _as_jax(d: Displays) -> Displays:
    app = None if d.appearance is None else jnp.asarray(d.appearance)
    return Displays(
        jnp.asarray(d.rows, jnp.int32), jnp.asarray(d.cols, jnp.int32), jnp.asarray(d.target, jnp.int32), app
    )


def special_tokens(n_objects: int) -> dict[str, int]:
    """The token codes: objects 0..N-1, ``eos`` = N (the target token), ``pad`` = N+1, ``bos`` = N+2."""
    return {"eos": n_objects, "pad": n_objects + 1, "bos": n_objects + 2}


def encode_scanpaths(scanpaths: Sequence[Sequence[int]], n_objects: int, length: int) -> np.ndarray:
    """``[S, length + 2]`` token arrays ``BOS, fixations..., EOS, PAD...`` (longer scanpaths are an error).

    Example:
      >>> encode_scanpaths([[3, 1]], n_objects=4, length=3).tolist()
      [[6, 3, 1, 4, 5]]
    """
    sp = special_tokens(n_objects)
    out = np.full((len(scanpaths), length + 2), sp["pad"], np.int32)
    out[:, 0] = sp["bos"]
    for i, s in enumerate(scanpaths):
        s = np.asarray(s, np.int64)
        if len(s) > length:
            raise CogsimError(f"encode_scanpaths: scanpath {i} has {len(s)} fixations; the limit is {length}")
        if s.size and (s.min() < 0 or s.max() >= n_objects):
            raise CogsimError(f"encode_scanpaths: scanpath {i} holds objects outside 0..{n_objects - 1}")
        out[i, 1 : 1 + len(s)] = s
        out[i, 1 + len(s)] = sp["eos"]
    return out


def length_filter(lengths: Sequence[int], n_sd: float = 3.0) -> np.ndarray:
    """Boolean mask of scanpaths whose length lies within mean +- ``n_sd`` SD (OAT's outlier filter).

    Example:
      >>> int(length_filter([10] * 20 + [1000]).sum())
      20
    """
    x = np.asarray(lengths, float)
    m, s = x.mean(), x.std(ddof=1) if len(x) > 1 else 0.0
    return (x >= m - n_sd * s) & (x <= m + n_sd * s)


def tokens_to_scanpaths(tokens: Int[np.ndarray, "... L"], n_objects: int) -> list:
    """Cuts decoded token rows at EOS/PAD into lists of object indices (nested like ``tokens[..., 0]``)."""
    arr = np.asarray(tokens)
    if arr.ndim == 1:
        stop = np.nonzero(arr >= n_objects)[0]
        return arr[: stop[0] if len(stop) else len(arr)].tolist()
    return [tokens_to_scanpaths(a, n_objects) for a in arr]
