"""The top-down attention map of one crop and the OpenCV operations it is built from (Gaussian taps,
reflect-101 blur, INTER_AREA upscaling, kernels zero-embedded for 'same' correlation).

Example:
  >>> import jax.numpy as jnp
  >>> feats = tuple(jnp.ones((4, 4, 2)) for _ in range(3))
  >>> kernels = tuple(embed_kernel(jnp.ones((1, 1, 2))) for _ in range(3))
  >>> amap = attention_map(feats, kernels, jnp.ones(3), True, jnp.asarray(dog_taps(((3, 1), (5, 3)))))
  >>> amap.shape
  (4, 4)
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from cogsim.errors import CogsimError

KERNEL_SIDE = 7  # target kernels are zero-embedded in 7 x 7 so that experiments share one compiled step
DOG_SIDE = 7


def gaussian_taps(size: int, sigma: float) -> np.ndarray:
    """OpenCV's ``getGaussianKernel``: the fixed small tables for ``sigma <= 0`` and ``size`` in 1..7.

    Example:
      >>> gaussian_taps(3, 0).tolist()
      [0.25, 0.5, 0.25]
    """
    tables = {
        1: [1.0],
        3: [0.25, 0.5, 0.25],
        5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
        7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
    }
    if sigma <= 0 and size in tables:
        return np.asarray(tables[size], np.float32)
    if sigma <= 0:
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).astype(np.float32)


def dog_taps(dog) -> np.ndarray:
    """``[2, DOG_SIDE]`` centred 1-D taps of the lower and upper Gaussians (zero-embedded)."""
    out = np.zeros((2, DOG_SIDE), np.float32)
    for i, (size, sigma) in enumerate(dog):
        size = int(size)
        if size > DOG_SIDE or size % 2 == 0:
            raise CogsimError(f"difference of Gaussians: size {size} must be odd and <= {DOG_SIDE}")
        off = (DOG_SIDE - size) // 2
        out[i, off : off + size] = gaussian_taps(size, float(sigma))
    return out


def _blur(x: Array, taps: Array) -> Array:
    """Separable blur with reflect-101 borders (OpenCV's default)."""
    r = DOG_SIDE // 2
    p = jnp.pad(x, r, mode="reflect")
    rows = sum(taps[i] * p[i : i + x.shape[0], :] for i in range(DOG_SIDE))
    return sum(taps[i] * rows[:, i : i + x.shape[1]] for i in range(DOG_SIDE))


def area_upsample_matrix(src: int, dst: int) -> np.ndarray:
    """``[dst, src]`` weights of OpenCV's INTER_AREA resize when enlarging (nearest with edge blends).

    Example:
      >>> area_upsample_matrix(2, 4).tolist()
      [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    """
    scale, inv = src / dst, dst / src
    w = np.zeros((dst, src), np.float32)
    for dx in range(dst):
        sx = math.floor(dx * scale)
        fx = (dx + 1) - (sx + 1) * inv
        fx = 0.0 if fx <= 0 else fx - math.floor(fx)
        if sx >= src - 1:
            sx, fx = src - 1, 0.0
        w[dx, sx] += 1 - fx
        if fx > 0:
            w[dx, sx + 1] += fx
    return w


def embed_kernel(k: np.ndarray | Array, side: int = KERNEL_SIDE) -> Array:
    """Zero-embeds a ``[kh, kw, C]`` kernel in ``[side, side, C]``; a 'same' correlation is unchanged."""
    kh, kw = k.shape[0], k.shape[1]
    if kh > side or kw > side:
        raise CogsimError(f"target kernel {kh}x{kw} is larger than {side}x{side}; use a smaller target image")
    oy = (side - 1) // 2 - (kh - 1) // 2
    ox = (side - 1) // 2 - (kw - 1) // 2
    return jnp.zeros((side, side, k.shape[2]), jnp.float32).at[oy : oy + kh, ox : ox + kw].set(k)


def attention_map(feats, kernels, layer_weights, weight_by_max, dog_t) -> Float[Array, "m m"]:
    """The combined, DoG-sharpened top-down map of one crop.

    Features are ``[m, m, C_l]`` and kernels ``[7, 7, C_l]`` for the three layers.
    """
    maps, w = [], []
    for f, k in zip(feats, kernels, strict=True):
        out = lax.conv_general_dilated(
            f[None], k[..., None], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )[0, :, :, 0]
        lo, hi = jnp.min(out), jnp.max(out)
        w.append(hi)
        rng = hi - lo
        maps.append(jnp.where(rng > 1e-12, (out - lo) / jnp.where(rng > 1e-12, rng, 1.0), 0.0))
    w = jnp.stack(w)
    w = jnp.where(weight_by_max, w, jnp.ones_like(w)) * layer_weights
    tot = jnp.sum(w)
    w = jnp.where(
        tot > 0, w / jnp.where(tot > 0, tot, 1.0), layer_weights / jnp.maximum(jnp.sum(layer_weights), 1e-12)
    )
    out = sum(wi * mi for wi, mi in zip(w, maps, strict=True))
    for _ in range(3):
        out = out + (_blur(out, dog_t[0]) - _blur(out, dog_t[1]))
    return out
