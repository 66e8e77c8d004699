"""eccNET: visual search with an eccentricity-dependent network (Gupta, Zhang, Wu, Wolfe & Kreiman 2021).

One search trial: the model fixates the display centre, sees a crop of side ``2 * (display + corner_bias)``
centred on the fixation (background outside the display), and computes a top-down attention map: each of the
search crop's conv3_3 / conv4_3 / conv5_3 maps (1/16 resolution, eccentricity-dependent pooling centred on
the fixation) is convolved with the matching target feature map (1/32) as a one-output 'same' kernel; the
three maps are min-max normalised, weighted by their raw maxima (normalised to sum 1, times the layer
switches), summed, and sharpened by three rounds of ``out += G_l(out) - G_u(out)`` (difference of
Gaussians). The map is resized to the crop (OpenCV's INTER_AREA upscaling), restricted to grid cells not yet
visited, and the next fixation is its arg-max. Inhibition of return is object based: the fixated cell is
repainted with the background and masked. The target is found when a 10 x 10 px window (1/3 deg) around the
fixation overlaps its cell; the budget is the number of cells + 1 saccades. ``n`` = saccades until found
(minimum 1; not found counts as the set size) and ``RT = 252.359 n + 376.271`` ms.

The fixation loop is batched: slots of trials advance together in a jitted, fixed-length masked scan
(finished trials are frozen, the step is skipped once all are done) and finished slots are refilled
between segments (by default a segment is a whole trial). Target kernels are computed once per trial, and
the translation-equivariant part of the backbone (blocks 1-2, whose pooling is uniform, and as many block-3
convolutions as the crop's margin allows) only around the display: every stage-2 cell whose receptive field
misses the display equals the same cell of an all-background crop (computed once per layout), so each
fixation runs that part on a patch of about the display's size instead of the twice-as-wide crop. This
reproduces the full-crop forward pass exactly (``SearchConfig(local_stem=False)`` switches it off).
:func:`search_per_fixation` is the same model written as the original's per-fixation Python loop (a full
forward pass of the crop per fixation, NumPy for the rest; used to check the batched loop and as the
benchmark peer).

Example:
  >>> import jax
  >>> from cogsim.models import eccnet_stimuli as st
  >>> trials = st.make_trials(st.EXPERIMENTS[3], key=jax.random.key(0), ppd=10.0, n_trials=1, set_sizes=(1,))
  >>> model = Extractor.gabor(Geometry(ppd=10.0))
  >>> res = search(model, trials, SearchConfig())
  >>> res[["condition", "set_size", "n_saccades", "found"]].values.tolist()
  [['non_cross', 1, 1, True], ['cross', 1, 1, True]]
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import lax
from jaxtyping import Array, Float

from cogsim import config as _config
from cogsim.errors import CogsimError
from cogsim.models import eccnet_backbone as bb
from cogsim.models.eccnet_backbone import Geometry
from cogsim.models.eccnet_stimuli import Trials

__all__ = ["Extractor", "Geometry", "SearchConfig", "search", "search_per_fixation", "rt_ms"]

MAX_CELLS = 36  # the largest grid (6 x 6); visited flags are padded to this length
KERNEL_SIDE = 7  # target kernels are zero-embedded in 7 x 7 so that experiments share one compiled step
DOG_SIDE = 7


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """Settings of the search loop (defaults: the published model)."""

    layer_weights: tuple[float, float, float] = _config.field(
        (1.0, 1.0, 1.0),
        low=0.0,
        doc="switches of the conv3_3 / conv4_3 / conv5_3 maps (0,0,1 = last layer only)",
    )
    weight_by_max: bool = _config.field(True, doc="weight layers by their raw maxima (the published 'nl')")
    corner_bias_deg: float = _config.field(
        64 / 30, low=0.0, doc="extra margin of the crop around the display"
    )
    recog_deg: float = _config.field(10 / 30, low=0.0, doc="side of the recognition window (deg)")
    rt_slope: float = _config.field(252.359, doc="ms per saccade")
    rt_intercept: float = _config.field(376.271, doc="ms")
    batch_size: int = _config.field(1, low=1, doc="trials advanced together (1 is fastest on the CPU)")
    segment: int = _config.field(
        MAX_CELLS + 1, low=1, doc="saccades per jitted segment between slot refills (default: a whole trial)"
    )
    local_stem: bool = _config.field(
        True,
        doc="compute the translation-equivariant blocks 1-2 only around the display (same result, less work)",
    )
    threads: int = _config.field(
        2, low=1, doc="host threads searching disjoint sets of trials at once (same result; 2 suits 2 cores)"
    )


def rt_ms(n_saccades: Any, cfg: SearchConfig | None = None) -> Any:
    """Reaction time of the published linear mapping.

    Example:
      >>> round(float(rt_ms(1)), 3)
      628.63
    """
    cfg = cfg or SearchConfig()
    return cfg.rt_slope * np.asarray(n_saccades, float) + cfg.rt_intercept


# ------------------------------------------------------------------------------------------- extractor
@dataclasses.dataclass(frozen=True, eq=False)
class Extractor:
    """The feature front end: a VGG16-layout backbone (``kind="vgg"``) or the Gabor control.

    Attributes:
      kind: "vgg" or "gabor".
      params: backbone parameters (None for the Gabor bank).
      preprocess: input mapping of the weights (see :data:`eccnet_backbone.UNIT_PREPROCESS`).
      geometry: the pooling geometry (pixels per degree, eccentricity slopes).
      name: a label.
    """

    kind: str
    params: Any
    preprocess: Mapping[str, Any]
    geometry: Geometry
    name: str = ""

    @classmethod
    def vgg(
        cls, params: Any, meta: Mapping[str, Any] | None, geometry: Geometry, name: str = "vgg"
    ) -> Extractor:
        """A backbone from parameters and their ``meta`` record (from :func:`eccnet_backbone.load_npz`)."""
        pre = dict((meta or {}).get("preprocess", bb.UNIT_PREPROCESS))
        return cls("vgg", params, pre, geometry, name)

    @classmethod
    def shipped(cls, name: str, geometry: Geometry) -> Extractor:
        """One of the backbones shipped with cogsim (e.g. ``"diet_normal"``)."""
        params, meta = bb.shipped(name)
        return cls.vgg(params, meta, geometry, name)

    @classmethod
    def gabor(cls, geometry: Geometry) -> Extractor:
        """The training-free Gabor / luminance-gradient control."""
        return cls("gabor", None, dict(bb.UNIT_PREPROCESS), geometry, "gabor")

    def with_geometry(self, geometry: Geometry) -> Extractor:
        return dataclasses.replace(self, geometry=geometry)

    def _key(self):
        return (self.kind, self.geometry, tuple(sorted((k, str(v)) for k, v in self.preprocess.items())))

    # equal (and hashed) by everything but the parameter values, so that backbones of the same shape share
    # compiled code (the parameters are traced arguments)
    def __eq__(self, other):
        return isinstance(other, Extractor) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def _features(self, params, x, *, target: bool):
        x = bb.preprocess(x, self.preprocess)
        if self.kind == "gabor":
            return bb.gabor_features(x, self.geometry, target=target)
        fn = bb.target_features if target else bb.search_features
        return fn(params, x, self.geometry)

    def search_features(self, params, x: Float[Array, "b s s 3"]) -> tuple[Array, ...]:
        """Search readouts of raw 0-255 crops."""
        return self._features(params, x, target=False)

    def target_features(self, params, t: Float[Array, "b h h 3"]) -> tuple[Array, ...]:
        """Target readouts of raw 0-255 target images."""
        return self._features(params, t, target=True)


# ----------------------------------------------------------------------------------------- map helpers
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


# ---------------------------------------------------------------------------------------------- problem
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


class _Stem(NamedTuple):
    """Static plan of the local stem (block-3 convolutions included, display margin and side of the patch)
    and of the head's windows (0: full map)."""

    n3: int
    margin: int
    side: int
    reach: tuple[int, int]  # input pixels a level-2 cell sees before / after its own 4 (receptive field)
    win3: int = 0  # side of the window of block 3's remaining convolutions (1/4 resolution)
    win4: int = 0  # side of block 4's window (1/8 resolution)
    span4: tuple[int, int] = (0, 0)  # input pixels a pool-3 cell sees before / after its own 8
    win1: int = 0  # side of the block-1 window recomputed when a cell is repainted (a cell and 2 px around)

    @property
    def canvas(self) -> int:
        """Side of the block-1 canvas: the patch plus the 3 pixels of its phases modulo 4."""
        return self.side + 3


def _stem_reach(n3: int) -> tuple[int, int]:
    """Receptive field ``[4j - a, 4j + b)`` (input pixels) of stage-2 cell ``j`` after ``n3`` block-3 convs
    (``a, b``)."""
    n1, n2 = dict(bb.VGG_LAYOUT)[1], dict(bb.VGG_LAYOUT)[2]
    a = 4 * n3 + 2 * n2 + n1
    return a, a + 4


def _stem_plan(
    extractor: Extractor, d: int, side: int, cb: int, cfg: SearchConfig, cell: int | None = None
) -> _Stem | None:
    """The largest local stem that reproduces the full crop exactly for every fixation, or None.

    Blocks 1-2 (and block 3's convolutions) only see the crop through receptive fields of a few pixels; every
    level-2 cell whose field misses the display equals the same cell of an all-background crop. Those that see
    the display are computed on a small patch (display plus margin, origin a multiple of 4 in crop
    coordinates). This is exact when the first two poolings are 2x2 everywhere and no cell that sees the
    display also sees the crop's border (the display is ``corner_bias`` away from it).

    Block 1 has no pooling, so its output for every fixation is a window of one block-1 map of the display
    on a slightly larger canvas (:func:`_block1_canvas`), computed once per trial and updated around each
    cell that inhibition of return repaints (``cell``: side of a grid cell in pixels; the whole display when
    None).
    """
    if not cfg.local_stem or extractor.kind != "vgg":
        return None
    geo = extractor.geometry
    for b, n in ((1, side), (2, -(-side // 2))):
        plan = geo.plan(b, n)
        if plan.stride != 2 or any(r.window != 2 for r in plan.rings):
            return None
    s2 = -(-side // 4)
    o = np.arange(cb + 1, d + cb + 1)  # display origin in the crop, for every fixation row or column
    for n3 in range(dict(bb.VGG_LAYOUT)[3], -1, -1):
        a, b = _stem_reach(n3)
        j_lo = (o - b) // 4 + 1  # the level-2 cells that see the display
        j_hi = -(-(o + d + a) // 4) - 1
        if np.any(4 * j_lo - a < 0) or np.any(4 * j_hi + b > side):
            continue  # a cell sees both the display and the crop's border
        for margin in range(a + b + 1):
            r = (o - margin) % 4
            p = (o - margin - r) // 4
            lo = j_lo - p
            if np.any(p < 0) or np.any(4 * lo < a):
                continue
            length = 4 * int(np.max(j_hi - p)) + b  # the patch must hold the fields of every such cell
            length = 4 * (-(-length // 4))
            if np.all(p + length // 4 <= s2):
                win1 = min((cell or d) + 4, length + 3)
                return _head_windows(_Stem(n3, margin, length, (a, b), win1=win1), geo, d, s2, o)
    return None


def _head_windows(stem: _Stem, geo: Geometry, d: int, s4: int, o: np.ndarray) -> _Stem:
    """Adds the head's windows: the smallest squares that hold, for every fixation, each conv3_x / conv4_x
    cell that sees the display, with the convolutions' own reach (bounds of :func:`_window_starts`)."""
    a, b = stem.reach
    n_rest = dict(bb.VGG_LAYOUT)[3] - stem.n3
    lo3, hi3 = (o - b) // 4 + 1, -(-(o + d + a) // 4) - 1  # level-2 cells that see the display
    win3 = int(np.max(hi3 - lo3)) + 1 + 2 * n_rest if n_rest else 0
    plan = geo.plan(3, s4)
    s8 = plan.out_size
    ks = sorted({r.window for r in plan.rings})
    lo_max = max(max((s8 - 1) * plan.stride + k - s4, 0) // 2 for k in ks)  # 'same' padding before
    span = (4 * (lo_max + n_rest) + a, 4 * (max(ks) - 1 + n_rest) + b)
    lo4, hi4 = (o - span[1]) // 8 + 1, -(-(o + d + span[0]) // 8) - 1  # pool-3 cells that see it
    win4 = int(np.max(hi4 - lo4)) + 1 + 2 * dict(bb.VGG_LAYOUT)[4]
    return stem._replace(
        win3=win3 if win3 < s4 else 0, win4=win4 if win4 < s8 else 0, span4=tuple(int(v) for v in span)
    )


def _window_starts(stem: _Stem, o: Array, d: int, s4: int) -> tuple[Array, Array]:
    """Origins of the head's windows for a display at crop offset ``o`` ``[2]`` (clipped into the map)."""
    a, b = stem.reach
    n_rest = dict(bb.VGG_LAYOUT)[3] - stem.n3
    start3 = jnp.clip((o - b) // 4 + 1 - n_rest, 0, max(s4 - stem.win3, 0))
    s8 = -(-s4 // 2)
    start4 = jnp.clip((o - stem.span4[1]) // 8 + 1 - dict(bb.VGG_LAYOUT)[4], 0, max(s8 - stem.win4, 0))
    return start3, start4


def _bg_stem(extractor: Extractor, params, c: _Const, side: int, n3: int) -> tuple[Array, Array, Array]:
    """Stem output ``[1, s/4, s/4, C]``, conv3_3 and conv4_3 of an all-background crop."""
    x = jnp.full((1, side, side, 3), c.background, jnp.float32)
    h = bb.search_stem(params, bb.preprocess(x, extractor.preprocess), extractor.geometry, n3)
    return (h, *bb.head_maps(params, h, extractor.geometry, n3))


def _stem_canvas(extractor: Extractor, image: Array, visited: Array, c: _Const, stem: _Stem) -> Array:
    """The inhibited display at ``margin + 3`` on the block-1 canvas, preprocessed: ``[1, S1, S1, 3]``."""
    canvas = jnp.full((stem.canvas, stem.canvas), c.background, jnp.float32)
    o = stem.margin + 3
    canvas = lax.dynamic_update_slice(canvas, _inhibited(image, visited, c), (o, o))
    return bb.preprocess(jnp.repeat(canvas[None, ..., None], 3, axis=-1), extractor.preprocess)


def _block1_canvas(
    extractor: Extractor, params, image: Array, visited: Array, c: _Const, stem: _Stem
) -> Array:
    """Block 1's convolutions of the inhibited display on the stem's canvas: ``[S1, S1, C1]``.

    The patch of a fixation whose display offset has phase ``r`` modulo 4 is the window starting at
    ``3 - r``; its cells that see the display only read values that do not depend on the patch's border.
    """
    x = _stem_canvas(extractor, image, visited, c, stem)
    return bb.block_window(params, x, 1, jnp.zeros(2, jnp.int32), stem.canvas)[0]


def _repaint_block1(
    extractor: Extractor, params, b1: Array, image: Array, visited: Array, cell: Array, c: _Const, stem: _Stem
) -> Array:
    """``b1`` updated after ``cell`` was repainted: block 1 recomputed on the cell and 2 pixels around it."""
    rect = c.rects[jnp.maximum(cell, 0)]
    start = jnp.clip(stem.margin + 3 + rect[:2] - 2, 0, stem.canvas - stem.win1)
    x = _stem_canvas(extractor, image, visited, c, stem)
    w = bb.block_window(params, x, 1, start, stem.win1)[0]
    return lax.dynamic_update_slice(b1, w, (start[0], start[1], 0))


def _local_features(
    extractor: Extractor, params, s: _State, c: _Const, side: int, cb: int, stem: _Stem, bg: Array
) -> tuple[Array, ...]:
    """The search readouts of every slot's crop, computing the stem only around the display (block 1
    comes from the slots' block-1 canvases ``s.b1``)."""
    d = s.image.shape[1]
    a, b = stem.reach
    j = jnp.arange(bg[0].shape[1])

    def patch(b1, fix):
        o = d + cb - fix
        r = (o - stem.margin) % 4
        y = lax.dynamic_slice(b1, (3 - r[0], 3 - r[1], 0), (stem.side, stem.side, b1.shape[-1]))
        sees = [(4 * j - a < o[i] + d) & (4 * j + b > o[i]) for i in range(2)]
        return y, (o - stem.margin - r) // 4, sees[0][:, None] & sees[1]

    y1, origin, sees = jax.vmap(patch)(s.b1, s.fix)
    local = bb.stem_after_block1(params, y1, extractor.geometry, stem.n3)

    def paste(loc, p, m):
        full = lax.dynamic_update_slice(bg[0][0], loc, (p[0], p[1], 0))
        return jnp.where(m[..., None], full, bg[0][0])

    h = jax.vmap(paste)(local, origin, sees)
    if not (stem.win3 or stem.win4):
        return bb.search_head(params, h, extractor.geometry, stem.n3)

    def head(hh, fix):
        start3, start4 = _window_starts(stem, d + cb - fix, d, bg[0].shape[1])
        f = bb.search_head_window(
            params, hh[None], extractor.geometry, stem.n3, bg_c3=bg[1], bg_c4=bg[2],
            start3=start3, win3=stem.win3, start4=start4, win4=stem.win4,
        )  # fmt: skip
        return tuple(x[0] for x in f)

    return jax.vmap(head)(h, s.fix)


def _attention_maps(feats, kernels, c: _Const, *, sequential: bool | None = None) -> Array:
    """:func:`attention_map` of every slot (each with its own target kernels).

    Under ``vmap`` the per-slot kernels turn the modulation into one grouped convolution, which XLA's CPU
    backend runs 20-30 times slower than the separate convolutions (20 ms against 0.7 ms for 4 slots at
    the quick Exp 3 geometry), so on a CPU (``sequential=None``) the slots are mapped one after another;
    elsewhere (a GPU) they are vmapped. Either way each slot's map is the convolution of its own features.
    """
    if sequential is None:
        sequential = jax.default_backend() == "cpu"

    def one(args):
        f3, f4, f5, k3, k4, k5 = args
        return attention_map((f3, f4, f5), (k3, k4, k5), c.layer_weights, c.weight_by_max, c.dog)

    args = (*feats, *kernels)
    if sequential:
        return lax.map(one, args)
    return jax.vmap(lambda *a: one(a))(*args)


def _step(
    extractor: Extractor, side: int, cb: int, stem: _Stem | None, params, s: _State, c: _Const, bg
) -> _State:
    d = s.image.shape[1]
    if stem is None:
        crops = jax.vmap(lambda im, v, f: _crop(im, v, f, c, side, cb))(s.image, s.visited, s.fix)
        feats = extractor.search_features(params, crops)
    else:
        feats = _local_features(extractor, params, s, c, side, cb, stem, bg)
    amaps = _attention_maps(feats, s.kernels, c)
    new = jax.vmap(lambda a, v, f: _next_fixation(a, v, f, c, d, cb))(amaps, s.visited, s.fix)
    live = _live(s, c)
    cell = c.cell_map[new[:, 0], new[:, 1]]
    hit = (cell >= 0)[:, None] & (jnp.arange(MAX_CELLS)[None, :] == cell[:, None])
    visited = jnp.where(live[:, None], s.visited | hit, s.visited)
    found = jnp.where(live, jax.vmap(lambda f, r: _recognised(f, r, c))(new, s.target_rect), s.found)
    n = s.n_sacc + live.astype(jnp.int32)
    path = jnp.where(
        live[:, None, None] & (jnp.arange(MAX_CELLS + 1)[None, :, None] == n[:, None, None] - 1),
        new[:, None, :],
        s.path,
    )
    fix = jnp.where(live[:, None], new, s.fix)
    b1 = s.b1
    if stem is not None:  # the newly inhibited cells (none where not live: the same values rewritten)
        b1 = jax.vmap(lambda b, im, v, k: _repaint_block1(extractor, params, b, im, v, k, c, stem))(
            b1, s.image, visited, jnp.where(live, cell, -1)
        )
    return s._replace(fix=fix, visited=visited, found=found, n_sacc=n, path=path, b1=b1)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _segment(
    extractor: Extractor,
    side: int,
    cb: int,
    stem: _Stem | None,
    n_steps: int,
    params,
    s: _State,
    c: _Const,
    bg,
) -> _State:
    def body(st, _):
        st = lax.cond(
            jnp.any(_live(st, c)),
            lambda x: _step(extractor, side, cb, stem, params, x, c, bg),
            lambda x: x,
            st,
        )
        return st, None

    if stem is not None:  # block-1 canvases of the slots that start a trial
        fresh = s.active & (s.n_sacc == 0)

        def start(b1):
            new = jax.vmap(lambda im, v: _block1_canvas(extractor, params, im, v, c, stem))(
                s.image, s.visited
            )
            return jnp.where(fresh[:, None, None, None], new, b1)

        s = s._replace(b1=lax.cond(jnp.any(fresh), start, lambda b1: b1, s.b1))
    return lax.scan(body, s, None, length=n_steps)[0]


_bg_stem_jit = jax.jit(_bg_stem, static_argnums=(0, 3, 4))


# ------------------------------------------------------------------------------------------------ driver
def _empty_state(b: int, d: int, kernels) -> dict[str, np.ndarray]:
    return {
        "image": np.zeros((b, d, d), np.uint8),
        "kernels": [np.zeros((b, *k.shape[1:]), np.float32) for k in kernels],
        "target_rect": np.zeros((b, 4), np.int32),
        "fix": np.zeros((b, 2), np.int32),
        "visited": np.zeros((b, MAX_CELLS), bool),
        "found": np.zeros(b, bool),
        "n_sacc": np.zeros(b, np.int32),
        "active": np.zeros(b, bool),
        "path": np.full((b, MAX_CELLS + 1, 2), -1, np.int32),
    }


def search(
    extractor: Extractor,
    trials: Trials,
    cfg: SearchConfig,
    *,
    kernels: tuple[Array, ...] | None = None,
    return_paths: bool = False,
) -> pd.DataFrame:
    """Runs every trial's search, batched; one row per trial.

    Args:
      extractor: the feature front end (its geometry's ``ppd`` must match the trials').
      trials: displays from :func:`eccnet_stimuli.make_trials`.
      cfg: the search settings.
      kernels: precomputed :func:`target_kernels` (computed when None).
      return_paths: add a ``fixations`` column (list of (row, col) display pixels).

    Returns:
      DataFrame: experiment, condition, set_size, trial, target_cell, n_saccades (the published scoring),
      found, rt_ms.
    """
    if abs(extractor.geometry.ppd - trials.ppd) > 1e-9:
        raise CogsimError(
            f"search: extractor ppd {extractor.geometry.ppd} differs from the trials' {trials.ppd}"
        )
    lay = trials.layout
    side, cb = _crop_side(trials, cfg)
    c = _constants(extractor, trials, cfg)
    kernels = target_kernels(extractor, trials) if kernels is None else kernels
    kern_np = [np.asarray(k) for k in kernels]
    stem = _stem_plan(extractor, lay.display, side, cb, cfg, cell=lay.cell)
    bg = None if stem is None else _bg_stem_jit(extractor, extractor.params, c, side, stem.n3)
    n = len(trials)
    # trials are independent: disjoint shards run in host threads (jitted calls release the GIL)
    shards = [np.arange(i, n, cfg.threads) for i in range(min(cfg.threads, n))]
    run = functools.partial(_search_trials, extractor, trials, cfg, c, kern_np, stem, bg, side, cb)
    results = {}
    if len(shards) == 1:
        results.update(run(shards[0]))
    else:
        with concurrent.futures.ThreadPoolExecutor(len(shards)) as pool:
            for r in pool.map(run, shards):
                results.update(r)
    return _results_frame(trials, results, cfg, return_paths)


def _start_trial(st: dict[str, Any], i: int, trials: Trials, kern_np, t: int) -> None:
    """Puts trial ``t`` into slot ``i`` of the host-side state ``st`` (see :func:`_empty_state`): its display,
    target kernels and target cell, the first fixation at the display's centre, nothing visited yet."""
    lay = trials.layout
    st["image"][i] = trials.images[t]
    for j in range(3):
        st["kernels"][j][i] = kern_np[j][t]
    st["target_rect"][i] = lay.cell_rects[trials.target_cell[t]]
    st["fix"][i] = (lay.display // 2, lay.display // 2)
    st["visited"][i] = False
    st["found"][i] = False
    st["n_sacc"][i] = 0
    st["active"][i] = True
    st["path"][i] = -1


def _device_state(st: dict[str, Any], b1=None) -> _State:
    """The host-side state ``st`` as the jitted segment's :class:`_State` (``b1``: the block-1 canvases)."""
    return _State(
        jnp.asarray(st["image"]),
        tuple(jnp.asarray(k) for k in st["kernels"]),
        *(jnp.asarray(st[f]) for f in ("target_rect", "fix", "visited", "found", "n_sacc", "active", "path")),
        b1,
    )


def _search_trials(extractor, trials, cfg, c, kern_np, stem, bg, side, cb, order) -> dict:
    """Searches the trials ``order`` in ``cfg.batch_size`` slots: ``{trial: (found, n_saccades, path)}``."""
    lay = trials.layout
    n = len(order)
    b = min(cfg.batch_size, n)
    st = _empty_state(b, lay.display, kern_np)
    slot_trial = np.full(b, -1)
    queue = 0
    results = {}

    def fill(i, t):
        _start_trial(st, i, trials, kern_np, t)
        slot_trial[i] = t

    for i in range(b):
        fill(i, order[queue])
        queue += 1
    budget = lay.n_cells + 1
    # block-1 canvases stay on the device (filled in the jitted segment for slots that start a trial)
    b1 = None if stem is None else jnp.zeros((b, stem.canvas, stem.canvas, bb.widths_of(extractor.params)[0]))
    while True:
        state = _device_state(st, b1)
        state = _segment(extractor, side, cb, stem, min(cfg.segment, budget), extractor.params, state, c, bg)
        for k in ("fix", "visited", "found", "n_sacc", "path"):
            st[k] = np.array(getattr(state, k))
        b1 = state.b1
        finished = st["active"] & (st["found"] | (st["n_sacc"] >= budget))
        for i in np.flatnonzero(finished):
            t = int(slot_trial[i])
            results[t] = (
                bool(st["found"][i]),
                int(st["n_sacc"][i]),
                st["path"][i][: st["n_sacc"][i]].tolist(),
            )
            st["active"][i] = False
            if queue < n:
                fill(i, order[queue])
                queue += 1
        if not st["active"].any():
            break
    return results


def _results_frame(trials: Trials, results: dict, cfg: SearchConfig, return_paths: bool) -> pd.DataFrame:
    n = len(trials)
    found = np.array([results[t][0] for t in range(n)])
    raw = np.array([results[t][1] for t in range(n)])
    n_sacc = np.where(found, np.maximum(raw, 1), trials.set_size)
    df = pd.DataFrame(
        {
            "experiment": trials.experiment.number,
            "condition": trials.condition,
            "set_size": trials.set_size,
            "trial": np.arange(n),
            "target_cell": trials.target_cell,
            "n_saccades": n_sacc.astype(int),
            "found": found,
            "rt_ms": rt_ms(n_sacc, cfg),
        }
    )
    if return_paths:
        df["fixations"] = [results[t][2] for t in range(n)]
    return df


# -------------------------------------------------------------------------------- the per-fixation loop
def search_per_fixation(
    extractor: Extractor,
    trials: Trials,
    cfg: SearchConfig,
    *,
    kernels: tuple[Array, ...] | None = None,
    return_paths: bool = False,
) -> pd.DataFrame:
    """The same model as :func:`search`, structured like the original: a Python loop over trials and
    fixations, one jitted forward pass of the search crop per fixation, NumPy for the rest."""
    lay = trials.layout
    side, cb = _crop_side(trials, cfg)
    c = _constants(extractor, trials, cfg)
    kernels = target_kernels(extractor, trials) if kernels is None else kernels
    kern_np = [np.asarray(k) for k in kernels]
    up = np.asarray(c.up)
    dog = np.asarray(c.dog)
    lw = np.asarray(cfg.layer_weights, np.float32)
    forward = _forward_one(extractor)
    d, bg = lay.display, float(lay.background)
    recog = int(c.recog)
    results = {}
    for t in range(len(trials)):
        image = trials.images[t].astype(np.float32)
        mask = np.ones((d, d), bool)
        visited = np.zeros(MAX_CELLS, bool)
        fix = np.array([d // 2, d // 2])
        rect = lay.cell_rects[trials.target_cell[t]]
        path, found = [], False
        for _ in range(lay.n_cells + 1):
            canvas = np.full((side, side), bg, np.float32)
            off = d + cb - fix
            canvas[off[0] : off[0] + d, off[1] : off[1] + d] = np.where(mask, image, bg)
            feats = [
                np.asarray(f[0]) for f in forward(extractor.params, np.repeat(canvas[None, ..., None], 3, -1))
            ]
            maps, w = [], []
            for f, k in zip(feats, kern_np, strict=True):
                out = _np_correlate(f, k[t])
                w.append(out.max())
                rng = out.max() - out.min()
                maps.append((out - out.min()) / rng if rng > 1e-12 else np.zeros_like(out))
            w = (np.asarray(w) if cfg.weight_by_max else np.ones(3)) * lw
            w = w / w.sum() if w.sum() > 0 else lw / max(lw.sum(), 1e-12)
            amap = sum(wi * mi for wi, mi in zip(w, maps, strict=True))
            for _ in range(3):
                amap = amap + (_np_blur(amap, dog[0]) - _np_blur(amap, dog[1]))
            full = up[off[0] : off[0] + d] @ amap @ up[off[1] : off[1] + d].T
            allowed = (lay.cell_map >= 0) & ~visited[np.maximum(lay.cell_map, 0)]
            idx = int(np.argmax(np.where(allowed, full, -np.inf)))
            fix = np.array([idx // d, idx % d])
            path.append(fix.tolist())
            cell = lay.cell_map[fix[0], fix[1]]
            if cell >= 0:
                visited[cell] = True
                mask &= lay.cell_map != cell
            top = fix - recog // 2
            if (
                top[0] < rect[2]
                and rect[0] < top[0] + recog
                and top[1] < rect[3]
                and rect[1] < top[1] + recog
            ):
                found = True
                break
        results[t] = (found, len(path), path)
    return _results_frame(trials, results, cfg, return_paths)


@functools.lru_cache(maxsize=8)
def _forward_one(extractor: Extractor):
    return jax.jit(extractor.search_features)


def _np_correlate(f: np.ndarray, k: np.ndarray) -> np.ndarray:
    """'same' cross-correlation of ``[m, m, C]`` with an embedded ``[7, 7, C]`` kernel (zero padding)."""
    r = k.shape[0] // 2
    p = np.pad(f, ((r, r), (r, r), (0, 0)))
    m0, m1 = f.shape[:2]
    out = np.zeros((m0, m1), np.float32)
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            if np.any(k[a, b]):
                out += p[a : a + m0, b : b + m1] @ k[a, b]
    return out


def _np_blur(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    r = len(taps) // 2
    p = np.pad(x, r, mode="reflect")
    rows = sum(taps[i] * p[i : i + x.shape[0], :] for i in range(len(taps)))
    return sum(taps[i] * rows[:, i : i + x.shape[1]] for i in range(len(taps)))
