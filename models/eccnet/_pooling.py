"""Eccentricity-dependent average pooling (eccNET, Gupta et al. 2021).

A pooling stage of stride 2 whose window grows with the distance from the fixation (the centre of the map).
The output map is split into concentric rings: a central disc (the fovea) pooled with the minimal window and
rings of fixed width outside it, each average-pooled with its own square window; the pooled maps are combined
by the ring masks. With the published settings the fovea has a radius of 4 deg, rings are 1 deg wide and the
window of a ring whose outer radius is ``ecc`` output pixels is::

    window = rf_min + round(slope * (2 * ecc - fovea * deg2px))

where ``deg2px`` is the number of input pixels per degree at that stage (30, 15, 8, 4, 2 for the five VGG
blocks of a 30 px/deg display) and ``slope`` the block's eccentricity slope (0, 0, 0.07, 0.16, 0.32).
Averages follow TensorFlow's 'same' padding: padded cells are left out of the count.

The geometry is static (NumPy), computed once per input size; the pooling itself is JAX.

Example:
  >>> import jax.numpy as jnp
  >>> plan = pooling_plan(64, deg2px=8, slope=0.07)
  >>> ecc_avg_pool(jnp.ones((1, 64, 64, 2)), plan).shape
  (1, 32, 32, 2)
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from cogsim.errors import CogsimError


@dataclasses.dataclass(frozen=True)
class Ring:
    """One ring of the plan (output pixels): ``inner <= distance < outer`` is pooled with ``window``."""

    inner: float
    outer: float
    window: int


@dataclasses.dataclass(frozen=True, eq=False)
class PoolingPlan:
    """Static geometry of one eccentricity-dependent pooling stage.

    Attributes:
      in_size: side of the (square) input map.
      out_size: side of the output map, ``ceil(in_size / stride)``.
      stride: pooling stride (2 in eccNET).
      rings: the rings from the centre outwards (the first is the fovea, the last extends to the corners).
      ring_index: ``[out, out]`` int map: which ring each output pixel belongs to.
    """

    in_size: int
    out_size: int
    stride: int
    rings: tuple[Ring, ...]
    ring_index: np.ndarray

    @property
    def windows(self) -> np.ndarray:
        """``[out, out]`` map of the window size used at every output pixel."""
        return np.array([r.window for r in self.rings])[self.ring_index]


def ring_windows(
    out_size: int,
    *,
    deg2px: float,
    slope: float,
    fovea: float = 4.0,
    ring_width: float = 1.0,
    rf_min: int = 2,
) -> tuple[Ring, ...]:
    """The rings and their windows for an output map of side ``out_size`` (the published construction).

    Radii are in output pixels around ``out_size // 2``. The fovea radius is ``round(fovea * deg2px / 2)`` and
    each ring adds ``round(ring_width * deg2px / 2)`` (one output pixel is two input pixels, so with the
    published ``fovea = 4`` the fovea reaches 4 deg and each ring is 1 deg wide). Python's ``round`` (half to
    even) is used, as in the original.

    Example:
      >>> [r.window for r in ring_windows(26, deg2px=2, slope=0.32)][:4]
      [2, 3, 3, 4]
    """
    if out_size < 1 or deg2px <= 0:
        raise CogsimError(f"ring_windows: out_size={out_size} must be >= 1 and deg2px={deg2px} > 0")
    ecc = round(fovea * deg2px / 2)
    step = max(round(ring_width * deg2px / 2), 1)
    half = out_size / 2
    if ecc > half:
        return (Ring(0.0, float("inf"), int(rf_min)),)
    rings = [Ring(0.0, float(ecc), int(rf_min))]
    while True:
        ecc += step
        window = int(rf_min + round(slope * (2 * ecc - fovea * deg2px)))
        rings.append(Ring(float(ecc - step), float(ecc) if ecc < half else float("inf"), window))
        if ecc >= half:
            return tuple(rings)


def pooling_plan(
    in_size: int,
    *,
    deg2px: float,
    slope: float,
    fovea: float = 4.0,
    ring_width: float = 1.0,
    rf_min: int = 2,
    stride: int = 2,
) -> PoolingPlan:
    """Builds the static plan of one pooling stage for a square input of side ``in_size``.

    A pixel at squared distance ``d2`` from the centre belongs to the first ring with ``d2 < outer**2`` (the
    strict inequality of the original's disc masks).
    """
    if in_size < 1 or stride < 1:
        raise CogsimError(f"pooling_plan: in_size={in_size} and stride={stride} must be >= 1")
    out = -(-in_size // stride)
    rings = ring_windows(out, deg2px=deg2px, slope=slope, fovea=fovea, ring_width=ring_width, rf_min=rf_min)
    c = out // 2
    yy, xx = np.mgrid[0:out, 0:out]
    d2 = (yy - c) ** 2 + (xx - c) ** 2
    index = np.full((out, out), len(rings) - 1, np.int32)
    for i in range(len(rings) - 2, -1, -1):
        index = np.where(d2 < rings[i].outer ** 2, i, index)
    return PoolingPlan(int(in_size), int(out), int(stride), rings, index)


def uniform_plan(in_size: int, *, window: int = 2, stride: int = 2) -> PoolingPlan:
    """A plan with one window everywhere (ordinary 'same' average pooling).

    Example:
      >>> uniform_plan(7).out_size
      4
    """
    out = -(-in_size // stride)
    return PoolingPlan(
        int(in_size),
        int(out),
        int(stride),
        (Ring(0.0, float("inf"), int(window)),),
        np.zeros((out, out), np.int32),
    )


def _same_padding(n: int, out: int, k: int, stride: int) -> tuple[int, int]:
    total = max((out - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def _count(n: int, out: int, k: int, stride: int) -> np.ndarray:
    """Number of valid (unpadded) input cells in each 1-D window."""
    lo, _ = _same_padding(n, out, k, stride)
    start = np.arange(out) * stride - lo
    return (np.minimum(start + k, n) - np.maximum(start, 0)).astype(np.float32)


def ecc_avg_pool(x: Float[Array, "batch h w c"], plan: PoolingPlan) -> Float[Array, "batch oh ow c"]:
    """Applies the plan: for every distinct window a separable 'same' average pool, combined by the rings.

    Args:
      x: ``[batch, in_size, in_size, channels]``.
      plan: from :func:`pooling_plan` or :func:`uniform_plan`.

    Returns:
      ``[batch, out_size, out_size, channels]``.
    """
    n, out, s = plan.in_size, plan.out_size, plan.stride
    if x.shape[1] != n or x.shape[2] != n:
        raise CogsimError(f"ecc_avg_pool: input is {x.shape[1]}x{x.shape[2]}, the plan expects {n}x{n}")
    windows = sorted({r.window for r in plan.rings})
    result = None
    win_map = plan.windows
    for k in windows:
        lo, hi = _same_padding(n, out, k, s)
        rows = lax.reduce_window(
            x, 0.0, lax.add, (1, k, 1, 1), (1, s, 1, 1), ((0, 0), (lo, hi), (0, 0), (0, 0))
        )
        both = lax.reduce_window(
            rows, 0.0, lax.add, (1, 1, k, 1), (1, 1, s, 1), ((0, 0), (0, 0), (lo, hi), (0, 0))
        )
        cnt = _count(n, out, k, s)
        pooled = both / jnp.asarray(cnt[:, None] * cnt[None, :])[None, :, :, None]
        if len(windows) == 1:
            return pooled
        sel = jnp.asarray(win_map == k)[None, :, :, None]
        result = jnp.where(sel, pooled, 0.0 if result is None else result)
    return result
