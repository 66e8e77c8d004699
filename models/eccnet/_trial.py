"""One search trial: its settings, constants and state, the crop seen from a fixation, the next fixation,
inhibition of return, recognition and the RT mapping.

Example:
  >>> round(float(rt_ms(1)), 3)
  628.63
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array

from cogsim import config as cfglib
from cogsim.errors import CogsimError, ConfigError
from cogsim.models.eccnet._extractor import Extractor
from cogsim.models.eccnet._maps import area_upsample_matrix, dog_taps, embed_kernel
from cogsim.tasks.search_displays import Trials

MAX_CELLS = 36  # the largest grid (6 x 6); visited flags are padded to this length


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """Settings of the search loop (defaults: the published model)."""

    layer_weights: tuple[float, float, float] = cfglib.field(
        (1.0, 1.0, 1.0),
        low=0.0,
        doc="switches of the conv3_3 / conv4_3 / conv5_3 maps (0,0,1 = last layer only)",
    )
    weight_by_max: bool = cfglib.field(True, doc="weight layers by their raw maxima (the published 'nl')")
    corner_bias_deg: float = cfglib.field(64 / 30, low=0.0, doc="extra margin of the crop around the display")
    recog_deg: float = cfglib.field(10 / 30, low=0.0, doc="side of the recognition window (deg)")
    rt_slope: float = cfglib.field(252.359, low=0.0, doc="ms per saccade (> 0)")
    rt_intercept: float = cfglib.field(376.271, low=0.0, doc="ms")
    batch_size: int = cfglib.field(1, low=1, doc="trials advanced together (1 is fastest on the CPU)")
    segment: int = cfglib.field(
        MAX_CELLS + 1, low=1, doc="saccades per jitted segment between slot refills (default: a whole trial)"
    )
    local_stem: bool = cfglib.field(
        True,
        doc="compute the translation-equivariant blocks 1-2 only around the display (same result, less work)",
    )
    threads: int = cfglib.field(
        2, low=1, doc="host threads searching disjoint sets of trials at once (same result; 2 suits 2 cores)"
    )
    items_only: bool = cfglib.field(
        False, doc="fixate only cells holding an item (empty cells start inhibited; False: as published)"
    )

    def __post_validate__(self):
        if not self.rt_slope > 0:
            raise ConfigError("rt_slope", self.rt_slope, "a number > 0 (ms per saccade)")


def rt_ms(n_saccades: Any, cfg: SearchConfig | None = None) -> Any:
    """Reaction time of the published linear mapping.

    Example:
      >>> round(float(rt_ms(1)), 3)
      628.63
    """
    cfg = cfg or SearchConfig()
    return cfg.rt_slope * np.asarray(n_saccades, float) + cfg.rt_intercept


class _Const(NamedTuple):
    cell_map: Array  # [D, D] int32
    rects: Array  # [MAX_CELLS, 4]
    up: Array  # [S, m]
    dog: Array  # [2, DOG_SIDE]
    layer_weights: Array  # [3]
    weight_by_max: Array  # bool scalar
    background: Array  # float scalar
    budget: Array  # int scalar
    recog: Array  # int scalar


class _State(NamedTuple):
    image: Array  # [B, D, D] uint8
    kernels: tuple  # 3 x [B, 7, 7, C]
    target_rect: Array  # [B, 4]
    fix: Array  # [B, 2] int32
    visited: Array  # [B, MAX_CELLS] bool
    found: Array  # [B] bool
    n_sacc: Array  # [B] int32
    active: Array  # [B] bool
    path: Array  # [B, MAX_CELLS + 1, 2] int32
    b1: Any = None  # [B, S1, S1, C1]: block 1 of each slot's inhibited display on the stem's canvas


def _crop_side(trials: Trials, cfg: SearchConfig) -> tuple[int, int]:
    cb = int(round(cfg.corner_bias_deg * trials.ppd))
    return 2 * (trials.layout.display + cb), cb


def _map_side(extractor: Extractor, side: int) -> int:
    shapes = jax.eval_shape(
        lambda x: extractor.search_features(extractor.params, x),
        jax.ShapeDtypeStruct((1, side, side, 3), jnp.float32),
    )
    return int(shapes[0].shape[1])


def _constants(extractor: Extractor, trials: Trials, cfg: SearchConfig) -> _Const:
    lay = trials.layout
    side, _ = _crop_side(trials, cfg)
    m = _map_side(extractor, side)
    rects = np.zeros((MAX_CELLS, 4), np.int32)
    rects[: lay.n_cells] = lay.cell_rects
    if lay.n_cells > MAX_CELLS:
        raise CogsimError(f"eccNET search: at most {MAX_CELLS} grid cells; layout has {lay.n_cells}")
    return _Const(
        jnp.asarray(lay.cell_map),
        jnp.asarray(rects),
        jnp.asarray(area_upsample_matrix(m, side)),
        jnp.asarray(dog_taps(trials.experiment.dog)),
        jnp.asarray(cfg.layer_weights, jnp.float32),
        jnp.asarray(cfg.weight_by_max),
        jnp.asarray(float(lay.background)),
        jnp.asarray(lay.n_cells + 1, jnp.int32),
        jnp.asarray(max(int(round(cfg.recog_deg * trials.ppd)), 1), jnp.int32),
    )


@functools.partial(jax.jit, static_argnums=(0,))
def _target_kernels(extractor: Extractor, params, targets: Array) -> tuple:
    t = jnp.repeat(targets.astype(jnp.float32)[..., None], 3, axis=-1)
    return tuple(jax.vmap(embed_kernel)(f) for f in extractor.target_features(params, t))


def target_kernels(extractor: Extractor, trials: Trials, *, chunk: int = 64) -> tuple[Array, ...]:
    """The three target kernels of every trial, ``[n, 7, 7, C_l]`` each."""
    out = [
        _target_kernels(extractor, extractor.params, jnp.asarray(trials.targets[i : i + chunk]))
        for i in range(0, len(trials), chunk)
    ]
    return tuple(jnp.concatenate([o[i] for o in out]) for i in range(3))


# ------------------------------------------------------------------------------------------ one saccade
def _inhibited(image: Array, visited: Array, c: _Const) -> Array:
    """The display with visited cells repainted with the background (object-based inhibition of return)."""
    cm = c.cell_map
    gone = (cm >= 0) & visited[jnp.maximum(cm, 0)]
    return jnp.where(gone, c.background, image.astype(jnp.float32))


def _crop(image: Array, visited: Array, fix: Array, c: _Const, side: int, cb: int) -> Array:
    d = image.shape[0]
    img = _inhibited(image, visited, c)
    canvas = jnp.full((side, side), c.background, jnp.float32)
    off = d + cb - fix
    canvas = lax.dynamic_update_slice(canvas, img, (off[0], off[1]))
    return jnp.repeat(canvas[..., None], 3, axis=-1)


def _next_fixation(amap: Array, visited: Array, fix: Array, c: _Const, d: int, cb: int) -> Array:
    off = d + cb - fix
    rows = lax.dynamic_slice(c.up, (off[0], 0), (d, c.up.shape[1]))
    cols = lax.dynamic_slice(c.up, (off[1], 0), (d, c.up.shape[1]))
    full = rows @ amap @ cols.T
    cm = c.cell_map
    allowed = (cm >= 0) & ~visited[jnp.maximum(cm, 0)]
    idx = jnp.argmax(jnp.where(allowed, full, -jnp.inf))
    return jnp.stack([idx // d, idx % d]).astype(jnp.int32)


def _recognised(fix: Array, rect: Array, c: _Const) -> Array:
    top = fix - c.recog // 2
    return (
        (top[0] < rect[2]) & (rect[0] < top[0] + c.recog) & (top[1] < rect[3]) & (rect[1] < top[1] + c.recog)
    )


def _live(s: _State, c: _Const) -> Array:
    return s.active & ~s.found & (s.n_sacc < c.budget)
