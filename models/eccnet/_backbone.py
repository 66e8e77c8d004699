"""The eccNET backbone: VGG16's 13 convolutions in 5 blocks, with eccentricity-dependent pooling.

Parameters are a plain dict in Keras naming, ``{"block1_conv1": {"kernel": [3, 3, in, out], "bias": [out]},
...}``, so ImageNet VGG16 weights saved from Keras drop in through :func:`from_keras`; channel widths are read
from the kernels (the default VGG16 widths are 64, 128, 256, 512, 512; cogsim ships narrow backbones
trained on its procedural "developmental diet", see :mod:`cogsim.tasks.diets`).

Readouts follow the original: the search image gives conv3_3, conv4_3 and conv5_3 brought to 1/16 of the
input side by uniform 2x2 average pooling; the target image gives the same layers at 1/32. Every pooling
stage of the main path is the eccentricity-dependent pooling of :mod:`._pooling`, centred on the image
centre (the fixation).

Example:
  >>> import jax, jax.numpy as jnp
  >>> params = init_params(jax.random.key(0), widths=(1, 1, 2, 2, 2))
  >>> geo = Geometry(ppd=15.0)
  >>> r3, r4, r5 = search_features(params, jnp.zeros((1, 32, 32, 3)), geo)
  >>> r3.shape, r5.shape
  ((1, 2, 2, 2), (1, 2, 2, 2))
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from cogsim.errors import CogsimError
from cogsim.models.eccnet._pooling import PoolingPlan, ecc_avg_pool, pooling_plan, uniform_plan

#: (block, number of convolutions) of VGG16.
VGG_LAYOUT: tuple[tuple[int, int], ...] = ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
#: Channel widths of ImageNet VGG16.
VGG16_WIDTHS: tuple[int, ...] = (64, 128, 256, 512, 512)
#: Layer names in order, Keras style.
LAYER_NAMES: tuple[str, ...] = tuple(f"block{b}_conv{i}" for b, n in VGG_LAYOUT for i in range(1, n + 1))
#: The published per-block eccentricity slopes.
ECC_SLOPES: tuple[float, ...] = (0.0, 0.0, 0.07, 0.16, 0.32)
#: Keras/caffe VGG preprocessing: BGR order, per-channel mean on 0-255 values.
CAFFE_PREPROCESS = {"bgr": True, "mean": (103.939, 116.779, 123.68), "std": (1.0, 1.0, 1.0)}
#: Preprocessing of cogsim's diet-trained backbones: RGB, 0-255 mapped to about [-2, 2].
UNIT_PREPROCESS = {"bgr": False, "mean": (127.5, 127.5, 127.5), "std": (63.75, 63.75, 63.75)}


@dataclasses.dataclass(frozen=True)
class Geometry:
    """How the pooling stages map onto degrees of visual angle.

    Attributes:
      ppd: input pixels per degree (30 in the published displays).
      slopes: eccentricity slope of each block's pooling.
      fovea: fovea size parameter of the original (4: a 4-deg radius at the pooling output).
      ring_width: ring width in degrees.
      rf_min: the minimal (foveal) window.
      eccentricity: False gives uniform 2x2 pooling everywhere (the "no eccentricity" ablation).
    """

    ppd: float = 30.0
    slopes: tuple[float, ...] = ECC_SLOPES
    fovea: float = 4.0
    ring_width: float = 1.0
    rf_min: int = 2
    eccentricity: bool = True

    def deg2px(self, block: int) -> float:
        """Input pixels per degree at the pooling of ``block`` (1-based): ``round(ppd / 2**(block-1))``."""
        return float(round(self.ppd / 2 ** (block - 1)))

    def plan(self, block: int, in_size: int) -> PoolingPlan:
        """The pooling plan after ``block`` for an input map of side ``in_size``."""
        return _plan(self, block, in_size)


@functools.lru_cache(maxsize=256)
def _plan(geo: Geometry, block: int, in_size: int) -> PoolingPlan:
    if not geo.eccentricity:
        return uniform_plan(in_size, window=geo.rf_min)
    return pooling_plan(
        in_size,
        deg2px=geo.deg2px(block),
        slope=geo.slopes[block - 1],
        fovea=geo.fovea,
        ring_width=geo.ring_width,
        rf_min=geo.rf_min,
    )


@functools.lru_cache(maxsize=256)
def _uniform(in_size: int, window: int) -> PoolingPlan:
    return uniform_plan(in_size, window=window)


# ------------------------------------------------------------------------------------------------ params
def init_params(key: jax.Array, *, widths: tuple[int, ...] = VGG16_WIDTHS, in_channels: int = 3) -> dict:
    """He-initialised VGG16-layout parameters with the given block widths.

    Example:
      >>> p = init_params(jax.random.key(0), widths=(1, 1, 2, 2, 2))
      >>> p["block3_conv3"]["kernel"].shape
      (3, 3, 2, 2)
    """
    if len(widths) != 5 or any(int(w) < 1 for w in widths):
        raise CogsimError(f"init_params: widths must be 5 positive integers; got {widths}")
    params, cin, i = {}, in_channels, 0
    for b, n in VGG_LAYOUT:
        for _ in range(n):
            name = LAYER_NAMES[i]
            k = jax.random.fold_in(key, i)
            std = np.sqrt(2.0 / (9 * cin))
            params[name] = {
                "kernel": std * jax.random.normal(k, (3, 3, cin, int(widths[b - 1]))),
                "bias": jnp.zeros((int(widths[b - 1]),)),
            }
            cin, i = int(widths[b - 1]), i + 1
    return params


def widths_of(params: Mapping[str, Any]) -> tuple[int, ...]:
    """Block widths read from the kernels."""
    return tuple(int(params[f"block{b}_conv1"]["kernel"].shape[-1]) for b, _ in VGG_LAYOUT)


def layer_means(params: Mapping[str, Any], x: Float[Array, "b h w 3"]) -> dict[str, np.ndarray]:
    """Mean activation of every channel of every conv layer over images ``x`` (already preprocessed),
    with 2x2 average pooling between blocks."""
    out = {}
    for b, n in VGG_LAYOUT:
        for i in range(1, n + 1):
            name = f"block{b}_conv{i}"
            x = _conv(x, params[name]["kernel"], params[name]["bias"])
            out[name] = np.asarray(jnp.mean(x, axis=(0, 1, 2)))
        if b < 5:
            x = ecc_avg_pool(x, _uniform(x.shape[1], 2))
    return out


def normalize_activations(params: Mapping[str, Any], x: Float[Array, "b h w 3"]) -> dict:
    """Rescales a bias-free ReLU backbone so that every channel's mean activation over ``x`` is 1.

    Without biases the network is positively homogeneous, so scaling a channel's kernel by ``1/m`` and the
    next layer's input weights from that channel by ``m`` changes no pattern of activity, only the channel's
    scale; the scale of each layer's readout is otherwise arbitrary (it sets the raw-maximum weighting of the
    attention maps). The same normalisation was used for VGG by Gatys, Ecker & Bethge (2015). Channels whose
    mean is below 1e-3 of their layer's largest (silent channels) are left as they are.

    Example:
      >>> import jax
      >>> p = init_params(jax.random.key(0), widths=(2, 2, 2, 2, 2))
      >>> p = {k: {"kernel": v["kernel"], "bias": 0 * v["bias"]} for k, v in p.items()}
      >>> x = jax.random.normal(jax.random.key(1), (2, 16, 16, 3))
      >>> m = layer_means(normalize_activations(p, x), x)
      >>> bool(np.all((np.abs(m["block5_conv3"] - 1) < 1e-3) | (m["block5_conv3"] == 0)))
      True
    """
    if any(float(jnp.max(jnp.abs(params[n]["bias"]))) > 0 for n in LAYER_NAMES):
        raise CogsimError(
            "normalize_activations: the backbone has biases; only bias-free networks can be rescaled"
        )
    means = layer_means(params, x)
    out, prev = {}, None
    for name in LAYER_NAMES:
        m = means[name]
        live = m > 1e-3 * max(float(m.max()), 1e-12)
        scale = np.where(live, 1.0 / np.where(live, m, 1.0), 1.0).astype(np.float32)
        k = np.asarray(params[name]["kernel"], np.float32) * scale[None, None, None, :]
        if prev is not None:
            k = k * prev[None, None, :, None]
        out[name] = {"kernel": jnp.asarray(k), "bias": jnp.asarray(params[name]["bias"])}
        prev = 1.0 / scale
    return out


def preprocess(x: Float[Array, "... 3"], spec: Mapping[str, Any]) -> Float[Array, "... 3"]:
    """Maps 0-255 RGB images to the backbone's input space (channel order, mean, scale)."""
    if spec.get("bgr", False):
        x = x[..., ::-1]
    return (x - jnp.asarray(spec["mean"], jnp.float32)) / jnp.asarray(spec["std"], jnp.float32)


# ----------------------------------------------------------------------------------------------- forward
def _conv(x: Array, kernel: Array, bias: Array) -> Array:
    y = lax.conv_general_dilated(
        x, kernel.astype(x.dtype), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return jax.nn.relu(y + bias.astype(x.dtype))


def _block(params: Mapping[str, Any], x: Array, b: int, start: int = 0, stop: int | None = None) -> Array:
    """Convolutions ``start..stop-1`` (0-based, all by default) of block ``b``."""
    for i in range(start + 1, (dict(VGG_LAYOUT)[b] if stop is None else stop) + 1):
        p = params[f"block{b}_conv{i}"]
        x = _conv(x, p["kernel"], p["bias"])
    return x


def block_window(
    params: Mapping[str, Any], x: Array, b: int, start: Array, size: int, first: int = 0
) -> Array:
    """Convolutions ``first..`` of block ``b`` ('SAME', as :func:`_block`) on a square ``[b, S, S, C]`` map,
    evaluated only on rows and columns ``start .. start + size - 1``: ``[b, size, size, C']``.

    Exactly the corresponding window of the full block: 'VALID' convolutions on a zero-padded slice, with
    every intermediate result zeroed outside the map (where 'SAME' padding reads zeros). ``start`` is a
    traced ``[2]`` int array; ``start + size <= S``.
    """
    n = dict(VGG_LAYOUT)[b] - first
    side = x.shape[1]
    y = lax.dynamic_slice(
        jnp.pad(x, ((0, 0), (n, n), (n, n), (0, 0))),
        (0, start[0], start[1], 0),
        (x.shape[0], size + 2 * n, size + 2 * n, x.shape[3]),
    )
    for i in range(n):
        p = params[f"block{b}_conv{first + i + 1}"]
        y = lax.conv_general_dilated(
            y, p["kernel"].astype(y.dtype), (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        y = jax.nn.relu(y + p["bias"].astype(y.dtype))
        m = y.shape[1]
        rows = start[0] - n + i + 1 + jnp.arange(m)
        cols = start[1] - n + i + 1 + jnp.arange(m)
        inside = ((rows >= 0) & (rows < side))[:, None] & ((cols >= 0) & (cols < side))[None, :]
        y = jnp.where(inside[None, :, :, None], y, 0.0)
    return y


def _pool(x: Array, geo: Geometry, b: int) -> Array:
    return ecc_avg_pool(x, geo.plan(b, x.shape[1]))


def _down(x: Array, times: int, window: int) -> Array:
    for _ in range(times):
        x = ecc_avg_pool(x, _uniform(x.shape[1], window))
    return x


def search_stem(
    params: Mapping[str, Any], x: Float[Array, "b s s 3"], geo: Geometry, n3: int = 0
) -> Float[Array, "b q q c"]:
    """Blocks 1-2 with their pooling, then the first ``n3`` convolutions of block 3 (1/4 of the input side).

    With the published slopes (0 for blocks 1 and 2) this part is translation equivariant (stride-2 2x2
    pooling): it can be computed on any window of a crop whose origin is a multiple of 4.
    """
    return stem_after_block1(params, _block(params, x, 1), geo, n3)


def stem_after_block1(
    params: Mapping[str, Any], y: Float[Array, "b s s c"], geo: Geometry, n3: int = 0
) -> Float[Array, "b q q c2"]:
    """:func:`search_stem` from the output of block 1's convolutions (before block 1's pooling)."""
    x = _pool(_block(params, _pool(y, geo, 1), 2), geo, 2)
    return _block(params, x, 3, 0, n3)


def search_head(params: Mapping[str, Any], h: Array, geo: Geometry, n3: int = 0) -> tuple[Array, ...]:
    """The rest of :func:`search_features` from the output of :func:`search_stem` (same ``n3``)."""
    return _readouts(params, *head_maps(params, h, geo, n3), geo)


def _readouts(params: Mapping[str, Any], c3: Array, c4: Array, geo: Geometry) -> tuple[Array, ...]:
    """conv3_3, conv4_3 and conv5_3 at 1/16 of the input side from full-resolution conv3_3 and conv4_3."""
    c5 = _block(params, _pool(c4, geo, 4), 5)
    return _down(c3, 2, geo.rf_min), _down(c4, 1, geo.rf_min), c5


def search_head_window(
    params: Mapping[str, Any],
    h: Array,
    geo: Geometry,
    n3: int,
    *,
    bg_c3: Array,
    bg_c4: Array,
    start3: Array,
    win3: int,
    start4: Array,
    win4: int,
) -> tuple[Array, ...]:
    """:func:`search_head` with block 3's remaining convolutions and block 4 computed only on square windows.

    Outside its window a map is taken from ``bg_c3`` / ``bg_c4`` (conv3_3 / conv4_3 of an input that agrees
    with ``h`` wherever those cells can see), so the result equals :func:`search_head` when the windows
    cover every cell that differs. ``win3 = 0`` (or no convolution left in block 3) / ``win4 = 0``
    compute the full map.
    """
    n_rest = dict(VGG_LAYOUT)[3] - n3
    if n_rest and win3:
        w = block_window(params, h, 3, start3, win3, first=n3)
        c3 = lax.dynamic_update_slice(bg_c3, w, (0, start3[0], start3[1], 0))
    else:
        c3 = _block(params, h, 3, n3)
    p3 = _pool(c3, geo, 3)
    if win4:
        w = block_window(params, p3, 4, start4, win4)
        c4 = lax.dynamic_update_slice(bg_c4, w, (0, start4[0], start4[1], 0))
    else:
        c4 = _block(params, p3, 4)
    return _readouts(params, c3, c4, geo)


def head_maps(params: Mapping[str, Any], h: Array, geo: Geometry, n3: int = 0) -> tuple[Array, Array]:
    """conv3_3 and conv4_3 (full resolution) of :func:`search_head` from the stem output ``h``."""
    c3 = _block(params, h, 3, n3)
    return c3, _block(params, _pool(c3, geo, 3), 4)


def search_features(
    params: Mapping[str, Any], x: Float[Array, "b s s 3"], geo: Geometry
) -> tuple[Array, ...]:
    """conv3_3, conv4_3 and conv5_3 of a (preprocessed) search crop, all at 1/16 of the input side.

    The main path is pooled after blocks 1-4 with the eccentricity-dependent plans (centred on the crop);
    the readouts are brought down by uniform 2x2 average pooling.
    """
    return search_head(params, search_stem(params, x, geo), geo)


def target_features(
    params: Mapping[str, Any], t: Float[Array, "b h h 3"], geo: Geometry
) -> tuple[Array, ...]:
    """conv3_3, conv4_3 and conv5_3 of a (preprocessed) target image, pooled to 1/32 of its side."""
    for b in (1, 2):
        t = _pool(_block(params, t, b), geo, b)
    p3 = _pool(_block(params, t, 3), geo, 3)
    p4 = _pool(_block(params, p3, 4), geo, 4)
    p5 = _pool(_block(params, p4, 5), geo, 5)
    return _down(p3, 2, geo.rf_min), _down(p4, 1, geo.rf_min), p5


def classifier_features(params: Mapping[str, Any], x: Float[Array, "b h w 3"], *, return_maps: bool = False):
    """Global average of conv5_3 with 2x2 average pooling between blocks (used for training).

    The input side must be a multiple of 16 (the pooling is a reshape-mean, which differentiates fast).
    With ``return_maps`` also returns the conv3_3, conv4_3 and conv5_3 maps.
    """
    if x.shape[1] % 16 or x.shape[2] % 16:
        raise CogsimError(f"classifier_features: image side must be a multiple of 16; got {x.shape[1:3]}")
    maps = []
    for b in (1, 2, 3, 4):
        x = _block(params, x, b)
        if b >= 3:
            maps.append(x)
        n, h, w, c = x.shape
        x = x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))
    x = _block(params, x, 5)
    maps.append(x)
    gap = jnp.mean(x, axis=(1, 2))
    return (gap, tuple(maps)) if return_maps else gap
