"""Linear interpolation in a fixed increasing table, its interval found by one lookup instead of a search.

``jnp.interp`` finds each query's interval by a binary search (``searchsorted``), a loop of ``log2(n)``
steps; under ``value_and_grad`` in a solver's loop that search costs about as much as the rest of a
per-set-size table. :class:`Lookup` precomputes, on a uniform grid four times finer than the table's
narrowest interval, how many knots lie at or below each grid point; a query's grid cell then gives its
interval up to one knot either way, which two comparisons settle. The interval is the search's, and the
interpolation formula is ``jnp.interp``'s, so values and gradients are the same, bit for bit
(tests/models/test_working_memory.py checks this on the package's tables).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from cogsim.errors import CogsimError

#: grid points per narrowest interval of the table: a float32 query's cell is off by at most one cell, so
#: a query lies within 2 cells (half the narrowest interval) of its cell's start: at most one knot between
GRID_PER_INTERVAL = 4


@dataclasses.dataclass(frozen=True)
class Lookup:
    """A table ``fp(xp)`` (``xp`` strictly increasing, float32) with its interval lookup.

    Attributes:
      xp: the knots ``[n]`` (float32).
      fp: the values ``[n]`` (float32).
      padded: the knots with ``-inf`` before and ``+inf`` after ``[n + 2]``.
      start: the first grid point (``xp[0]``).
      inv_step: grid points per unit of ``x``.
      below: ``[m]`` int32, the number of knots at or below each grid point.
      neighbours: ``[n + 1, 2]``, row ``c`` holding ``padded[c]`` and ``padded[c + 1]`` (the two knots
        :meth:`search` compares a query with, read by one gather instead of two).
      segments: ``[n - 1, 4]``, row ``i - 1`` holding ``xp[i - 1], fp[i - 1], xp[i], fp[i]`` (the interval
        :meth:`interp` interpolates in, read by one gather instead of four).
    """

    xp: jnp.ndarray
    fp: jnp.ndarray
    padded: jnp.ndarray
    start: float
    inv_step: float
    below: jnp.ndarray
    neighbours: jnp.ndarray
    segments: jnp.ndarray

    @classmethod
    def build(cls, xp, fp) -> Lookup:
        """The lookup of the table ``fp(xp)``, both cast to float32.

        Example:
          >>> t = Lookup.build([0.0, 1.0, 3.0], [0.0, 10.0, 30.0])
          >>> float(t.interp(jnp.asarray(2.0)))
          20.0
        """
        xp32 = np.asarray(xp, np.float32)
        if xp32.ndim != 1 or xp32.size < 2 or not np.all(np.diff(xp32) > 0):
            bad = (
                xp32.shape
                if xp32.ndim != 1 or xp32.size < 2
                else xp32[: int(np.argmin(np.diff(xp32) > 0)) + 2]
            )
            raise CogsimError(
                f"Lookup.build xp: got {bad!r} (shape, or the knots up to the first that does not increase); "
                "allowed: a strictly increasing 1-d table of at least 2 knots (float32)"
            )
        step = float(np.min(np.diff(xp32.astype(np.float64)))) / GRID_PER_INTERVAL
        x64 = xp32.astype(np.float64)
        m = int(np.ceil((x64[-1] - x64[0]) / step)) + 2
        grid = x64[0] + step * np.arange(m)
        below = np.searchsorted(x64, grid, side="right").astype(np.int32)
        padded = np.concatenate([[-np.inf], xp32, [np.inf]]).astype(np.float32)
        fp32 = np.asarray(fp, np.float32)
        return cls(
            jnp.asarray(xp32),
            jnp.asarray(fp32),
            jnp.asarray(padded),
            float(x64[0]),
            1.0 / step,
            jnp.asarray(below),
            jnp.asarray(np.stack([padded[:-1], padded[1:]], axis=1)),
            jnp.asarray(segments(xp32, fp32)),
        )

    def search(self, x):
        """``searchsorted(xp, x, side="right")`` for finite ``x`` inside the table (other ``x``: an index
        that :meth:`interp` overrides by its end values)."""
        x = jnp.asarray(x, jnp.float32)
        cell = jnp.floor((x - self.start) * self.inv_step)
        cell = jnp.clip(jnp.nan_to_num(cell), 0, self.below.shape[0] - 1).astype(jnp.int32)
        c = self.below[cell]  # knots at or below the cell's start: the answer up to one either way
        pair = self.neighbours[c]  # padded[c] = xp[c - 1], the last counted knot; padded[c + 1] = xp[c]
        up = (pair[..., 1] <= x).astype(jnp.int32)
        down = (pair[..., 0] > x).astype(jnp.int32)
        return c + up - down

    def interp(self, x):
        """``jnp.interp(x, xp, fp)``: the same values and gradients (ends held outside the table)."""
        x = jnp.asarray(x, jnp.float32)
        xp, fp = self.xp, self.fp
        i = jnp.clip(self.search(x), 1, xp.shape[0] - 1)
        seg = self.segments[i - 1]  # xp[i - 1], fp[i - 1], xp[i], fp[i]
        df = seg[..., 3] - seg[..., 1]
        dx = seg[..., 2] - seg[..., 0]
        delta = x - seg[..., 0]
        dx0 = jnp.abs(dx) <= np.spacing(np.finfo(np.float32).eps)  # as jnp.interp (never true here)
        f = jnp.where(dx0, seg[..., 1], seg[..., 1] + (delta / jnp.where(dx0, 1, dx)) * df)
        f = jnp.where(x < xp[0], fp[0], f)
        return jnp.where(x > xp[-1], fp[-1], f)


def segments(xp, *tables) -> np.ndarray:
    """``[n - 1, 2 (1 + len(tables))]``: row ``i - 1`` holds ``xp[i - 1]`` and each table at ``i - 1``, then
    the same at ``i``: an interval's ends, read by one gather.

    Example:
      >>> segments(np.array([0.0, 1.0, 3.0]), np.array([5.0, 6.0, 7.0])).tolist()
      [[0.0, 5.0, 1.0, 6.0], [1.0, 6.0, 3.0, 7.0]]
    """
    cols = np.stack([np.asarray(xp, np.float32), *(np.asarray(t, np.float32) for t in tables)], axis=1)
    return np.concatenate([cols[:-1], cols[1:]], axis=1)
