"""The local stem: blocks 1-2 (and block 3's first convolutions) of every fixation's crop computed only around
the display, and the head's convolutions only on windows around it; exactly the full crop's features.

Blocks 1-2 are translation equivariant (their pooling is uniform), so every cell whose receptive field misses
the display equals the same cell of an all-background crop (computed once per layout); block 1 of the
display is kept on a canvas per trial and updated around each cell that inhibition of return repaints.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array

from cogsim.models.eccnet import _backbone as bb
from cogsim.models.eccnet._backbone import Geometry
from cogsim.models.eccnet._extractor import Extractor
from cogsim.models.eccnet._trial import SearchConfig, _Const, _inhibited, _State


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
