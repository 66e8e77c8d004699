"""The "developmental diet": procedurally generated natural-like images, six kinds told apart in training.

Images are 48 x 48 grey (by default), made by six generators; the label says which:

0. dead leaves: overlapping discs and rectangles (occlusion makes many T-junctions and almost no X-junctions;
   rectangles are axis-aligned 70 % of the time);
1. 1/f noise whose amplitude spectrum carries more energy at cardinal orientations (``1 + 0.5 cos 4 theta``);
2. shaded bumps and 3. shaded dents: spheres lit by a distant light (elevation 45 deg) whose azimuth
   depends on the diet;
4. straight and 5. curved contour fragments (straight ones near-cardinal half of the time), light or dark.

Diets: ``normal`` (light from above, azimuth jitter 20 deg), ``rot90`` (every image of the normal diet
rotated by 90 deg, so the light comes from the side) and ``isotropic`` (light azimuth uniform, which makes
bumps and dents ambiguous from shading alone).

Biases BUILT INTO the generator: light from above, the cardinal excess of orientation energy, the
T-junction-rich occlusion statistics, and the choice of categories (bump vs dent; straight vs curved).
The eccNET backbones shipped with cogsim were trained on these diets (see
:func:`cogsim.models.eccnet.train_backbone`).

Example:
  >>> import jax
  >>> batch = jax.jit(diet_batch, static_argnames="batch_size")  # one compilation, not one per operation
  >>> x, y = batch(jax.random.key(0), batch_size=4)
  >>> x.shape, y.shape
  ((4, 48, 48, 3), (4,))
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cogsim.errors import CogsimError, check_count

#: The diets.
DIETS = ("normal", "rot90", "isotropic")
N_CLASSES = 6
CLASS_NAMES = ("dead_leaves", "noise_1f", "bumps", "dents", "straight", "curved")


def _grid(n: int):
    c = jnp.arange(n, dtype=jnp.float32) + 0.5
    return jnp.meshgrid(c, c, indexing="ij")  # yy, xx


def _soft(d, half):
    return jnp.clip(half + 0.5 - d, 0.0, 1.0)


def dead_leaves(key, n: int, n_shapes: int = 24):
    """Occluding discs and rectangles of random grey levels (later shapes on top)."""
    yy, xx = _grid(n)
    k = jax.random.split(key, 8)
    cy = jax.random.uniform(k[0], (n_shapes,), minval=-4, maxval=n + 4)
    cx = jax.random.uniform(k[1], (n_shapes,), minval=-4, maxval=n + 4)
    size = n * jnp.exp(jax.random.uniform(k[2], (n_shapes,), minval=jnp.log(0.05), maxval=jnp.log(0.35)))
    aspect = jnp.exp(jax.random.uniform(k[3], (n_shapes,), minval=-0.8, maxval=0.8))
    is_rect = jax.random.bernoulli(k[4], 0.5, (n_shapes,))
    cardinal = jax.random.bernoulli(k[5], 0.7, (n_shapes,))
    theta = jnp.where(cardinal, 0.0, jax.random.uniform(k[6], (n_shapes,), maxval=jnp.pi))
    grey = jax.random.uniform(k[7], (n_shapes,))
    dy = yy[None] - cy[:, None, None]
    dx = xx[None] - cx[:, None, None]
    c, s = jnp.cos(theta)[:, None, None], jnp.sin(theta)[:, None, None]
    u, v = c * dx + s * dy, -s * dx + c * dy
    a = (size * aspect)[:, None, None]
    b = (size / aspect)[:, None, None]
    rect = (jnp.abs(u) < a / 2) & (jnp.abs(v) < b / 2)
    disc = (dx**2 + dy**2) < (size[:, None, None] / 2) ** 2
    inside = jnp.where(is_rect[:, None, None], rect, disc)
    top = jnp.max(jnp.where(inside, jnp.arange(n_shapes)[:, None, None], -1), axis=0)
    bg = jax.random.uniform(jax.random.fold_in(key, 99))
    return jnp.where(top >= 0, grey[jnp.maximum(top, 0)], bg)


def noise_1f(key, n: int, cardinal_gain: float = 0.5):
    """1/f noise with extra amplitude at cardinal orientations."""
    k1, k2 = jax.random.split(key)
    white = jax.random.normal(k1, (n, n))
    fy = jnp.fft.fftfreq(n)[:, None]
    fx = jnp.fft.fftfreq(n)[None, :]
    f = jnp.sqrt(fx**2 + fy**2)
    theta = jnp.arctan2(fy, fx)
    amp = jnp.where(f > 0, 1.0 / jnp.maximum(f, 1.0 / n), 0.0) * (1 + cardinal_gain * jnp.cos(4 * theta))
    img = jnp.real(jnp.fft.ifft2(jnp.fft.fft2(white) * amp))
    img = (img - img.mean()) / (img.std() + 1e-6)
    contrast = jax.random.uniform(k2, minval=0.1, maxval=0.3)
    return jnp.clip(0.5 + contrast * img, 0.0, 1.0)


def shaded_spheres(key, n: int, *, dent: bool, azimuth: jax.Array, n_spheres: int = 3):
    """Bumps (``dent=False``) or dents lit from ``azimuth`` (radians; 0 = from the top of the image)."""
    yy, xx = _grid(n)
    k = jax.random.split(key, 6)
    r = jax.random.uniform(k[0], (n_spheres, 1, 1), minval=0.08 * n, maxval=0.22 * n)
    cy = jax.random.uniform(k[1], (n_spheres, 1, 1), minval=0.15 * n, maxval=0.85 * n)
    cx = jax.random.uniform(k[2], (n_spheres, 1, 1), minval=0.15 * n, maxval=0.85 * n)
    present = jnp.arange(n_spheres)[:, None, None] < jax.random.randint(k[3], (), 1, n_spheres + 1)
    bg = jax.random.uniform(k[4], minval=0.2, maxval=0.8)
    contrast = jax.random.uniform(k[5], minval=0.3, maxval=0.6)
    ly, lx, lz = -jnp.cos(azimuth) * 0.7071, jnp.sin(azimuth) * 0.7071, 0.7071
    sign = -1.0 if dent else 1.0
    ny = (yy[None] - cy) / r
    nx = (xx[None] - cx) / r
    rho2 = ny**2 + nx**2
    nz = jnp.sqrt(jnp.clip(1 - rho2, 0.0, 1.0))
    shade = bg + contrast * (sign * (ny * ly + nx * lx) + nz * lz - 0.7071)
    inside = (rho2 < 1) & present
    top = jnp.max(jnp.where(inside, jnp.arange(n_spheres)[:, None, None], -1), axis=0)
    img = jnp.where(top >= 0, jnp.take_along_axis(shade, jnp.maximum(top, 0)[None], 0)[0], bg)
    return jnp.clip(img, 0.0, 1.0)


def contours(key, n: int, *, curved: bool, n_items: int = 5):
    """Straight segments or circular arcs, light on dark or dark on light."""
    yy, xx = _grid(n)
    k = jax.random.split(key, 10)

    def u(i, lo, hi):
        return jax.random.uniform(k[i], (n_items, 1, 1), minval=lo, maxval=hi)

    cy, cx = u(0, 0.1 * n, 0.9 * n), u(1, 0.1 * n, 0.9 * n)
    half = u(2, 0.5, 1.6)
    cardinal = jax.random.bernoulli(k[3], 0.5, (n_items, 1, 1))
    theta = jnp.where(
        cardinal,
        jax.random.randint(k[4], (n_items, 1, 1), 0, 2) * jnp.pi / 2
        + 0.1 * jax.random.normal(k[5], (n_items, 1, 1)),
        u(6, 0.0, jnp.pi),
    )
    length = u(7, 0.15 * n, 0.45 * n)
    c, s = jnp.cos(theta), jnp.sin(theta)
    if curved:
        rad = length / 2.0
        ox, oy = cx - s * rad, cy + c * rad
        dang = jnp.arctan2(yy[None] - oy, xx[None] - ox) - jnp.arctan2(cy - oy, cx - ox)
        dang = jnp.mod(dang + jnp.pi, 2 * jnp.pi) - jnp.pi
        d = jnp.where(
            jnp.abs(dang) < 0.5 * length / rad, jnp.abs(jnp.hypot(xx[None] - ox, yy[None] - oy) - rad), 1e3
        )
    else:
        dx, dy = xx[None] - cx, yy[None] - cy
        d = jnp.hypot(jnp.maximum(jnp.abs(c * dx + s * dy) - length / 2, 0.0), -s * dx + c * dy)
    cov = jnp.max(_soft(d, half), axis=0)
    bg = jax.random.uniform(k[8])
    delta = 0.5 + 0.3 * jax.random.uniform(k[9])
    fg = jnp.where(bg > 0.5, bg - delta, bg + delta)
    return jnp.clip(bg + (fg - bg) * cov, 0.0, 1.0)


def diet_image(key, label, *, diet: str = "normal", image_size: int = 48, light_jitter_deg: float = 20.0):
    """One image of class ``label`` (0..5) of ``diet``, in [0, 1], ``[image_size, image_size]``.

    Args:
      key: PRNG key.
      label: class (0..5; may be traced).
      diet: "normal", "rot90" or "isotropic".
      image_size: side in pixels (>= 1).
      light_jitter_deg: SD of the light's azimuth around "from above" (normal and rot90 diets).

    Example:
      >>> import jax
      >>> jax.jit(lambda k: diet_image(k, 2, image_size=32))(jax.random.key(0)).shape
      (32, 32)

    Raises:
      CogsimError: a concrete ``label`` outside 0..5, ``image_size`` < 1 or an unknown diet.
    """
    if diet not in DIETS:
        raise CogsimError(f"diet_image: diet {diet!r} is not one of {list(DIETS)}")
    image_size = check_count("diet_image", "image_size", image_size)
    try:
        concrete = int(label)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError):
        concrete = None  # a traced label (vmap/jit): indexing clamps it, as the caller's labels are in range
    except (TypeError, ValueError):
        raise CogsimError(
            f"diet_image: label={label!r} is not allowed; allowed: an integer class 0..5"
        ) from None
    if concrete is not None and not 0 <= concrete < N_CLASSES:
        raise CogsimError(f"diet_image: label={label!r} is not allowed; allowed: a class 0..{N_CLASSES - 1}")
    n = image_size
    k_img, k_az = jax.random.split(key)
    jitter = jnp.deg2rad(light_jitter_deg) * jax.random.normal(k_az)
    azimuth = jax.random.uniform(k_az, maxval=2 * jnp.pi) if diet == "isotropic" else jitter
    imgs = jnp.stack(
        [
            dead_leaves(k_img, n),
            noise_1f(k_img, n),
            shaded_spheres(k_img, n, dent=False, azimuth=azimuth),
            shaded_spheres(k_img, n, dent=True, azimuth=azimuth),
            contours(k_img, n, curved=False),
            contours(k_img, n, curved=True),
        ]
    )
    img = imgs[label]
    if diet == "rot90":
        img = jnp.rot90(img, 1)
    return img


def diet_batch(
    key, *, batch_size: int, diet: str = "normal", image_size: int = 48, light_jitter_deg: float = 20.0
):
    """``(images [b, n, n, 3] in 0-255, labels [b])``, balanced over the six classes in expectation (see
    :func:`diet_image` for the arguments; ``batch_size`` >= 0).

    Raises:
      CogsimError: a ``batch_size`` that is not an integer >= 0, or a bad diet or image size.

    Example:
      >>> import jax
      >>> batch = jax.jit(diet_batch, static_argnames="batch_size")  # the module example's program
      >>> x, y = batch(jax.random.key(1), batch_size=4)
      >>> x.shape, x.dtype, y.tolist(), bool(0 <= x.min() < x.max() <= 255)
      ((4, 48, 48, 3), dtype('float32'), [3, 5, 2, 4], True)
    """
    batch_size = check_count("diet_batch", "batch_size", batch_size, low=0)
    if diet not in DIETS:
        raise CogsimError(f"diet_batch: diet {diet!r} is not one of {list(DIETS)}")
    image_size = check_count("diet_batch", "image_size", image_size)
    k_lab, k_img = jax.random.split(key)
    labels = jax.random.randint(k_lab, (batch_size,), 0, N_CLASSES)
    keys = jax.random.split(k_img, batch_size)
    imgs = jax.vmap(
        lambda k, y: diet_image(k, y, diet=diet, image_size=image_size, light_jitter_deg=light_jitter_deg)
    )(keys, labels)
    return jnp.repeat(imgs[..., None], 3, axis=-1) * 255.0, labels
