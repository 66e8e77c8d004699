"""The training-free control of the eccNET front end: a fixed Gabor / luminance-gradient filter bank with
the backbone's pooling chain.

Example:
  >>> import jax.numpy as jnp
  >>> from cogsim.models.eccnet._backbone import Geometry
  >>> [f.shape for f in gabor_features(jnp.zeros((1, 64, 64, 3)), Geometry(ppd=15.0))]
  [(1, 4, 4, 20), (1, 4, 4, 20), (1, 4, 4, 20)]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from cogsim.models.eccnet._backbone import Geometry, _down, _pool


def gabor_bank(*, size: int = 7, wavelength: float = 4.0, n_orient: int = 4) -> np.ndarray:
    """A ``[size, size, 1, 2 * (2 * n_orient + 2)]`` bank: even/odd Gabors and x/y luminance gradients, each
    with both signs (so that ReLU keeps both polarities). Every filter sums to zero: like the diet-trained
    backbones, the bank ignores uniform fields.

    Example:
      >>> gabor_bank().shape
      (7, 7, 1, 20)
    """
    r = (size - 1) / 2
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    sigma = wavelength / 2
    env = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    filters = []
    for i in range(n_orient):
        th = np.pi * i / n_orient
        u = xx * np.cos(th) + yy * np.sin(th)
        even = env * np.cos(2 * np.pi * u / wavelength)
        odd = env * np.sin(2 * np.pi * u / wavelength)
        filters += [even - even.mean(), odd]
    filters += [env * xx / sigma**2, env * yy / sigma**2]
    bank = np.stack([f / np.abs(f).sum() for f in filters], -1)
    return np.concatenate([bank, -bank], -1)[:, :, None, :].astype(np.float32)


def _gabor(x: Array) -> Array:
    bank = jnp.asarray(gabor_bank())
    grey = jnp.mean(x, axis=-1, keepdims=True)
    return jax.nn.relu(
        lax.conv_general_dilated(grey, bank, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    )


def gabor_features(x: Float[Array, "b s s 3"], geo: Geometry, *, target: bool = False) -> tuple[Array, ...]:
    """The training-free control: the filter bank applied to the input pyramid of the same pooling chain.

    The (preprocessed) image is pooled like the VGG main path (blocks 1-2, then the eccentricity-dependent
    stages 3 and 4); the bank is applied at the inputs of blocks 3, 4 and 5 and the three maps are brought
    to 1/16 (search) or 1/32 (target) like the VGG readouts.
    """
    g = _pool(_pool(x, geo, 1), geo, 2)
    f3 = _gabor(g)
    g4 = _pool(g, geo, 3)
    f4 = _gabor(g4)
    f5 = _gabor(_pool(g4, geo, 4))
    if target:
        f3, f4, f5 = _pool(f3, geo, 3), _pool(f4, geo, 4), _pool(f5, geo, 5)
    return _down(f3, 2, geo.rf_min), _down(f4, 1, geo.rf_min), f5
