"""Search displays: seeded generators for the six visual-search-asymmetry experiments (Gupta et al. 2021).

Geometry follows the published generators, expressed in degrees and rendered at any pixels-per-degree
(30 px/deg reproduces the published pixel sizes):

| Exp | items (deg) | display | grid | item box | background |
|---|---|---|---|---|---|
| 1 curvature | arc (r 1, 1.3 rad, 1/6 thick) vs line (1.2 x 0.2), 4 orientations | 11.3 | 6x6 | 1.6 | 0 |
| 2 lighting | disc 1.04 deg with a 16-step luminance ramp (0..255) | 6.6 | 4x4 | 1.04 | 27 |
| 3 intersection | cross vs non-cross (5.5, strokes 0.55), 4 variants | 20.5 | 3x3 | 5.9 | 255 |
| 4 T vs L | T vs L, 4 variants each | 20.5 | 3x3 | 5.9 | 255 |
| 5 orientation | bars 2 x 0.3 at 0 and 20 deg | 11.3 | 4x4 | 2.3 | 255 |
| 6 orientation | the same targets among -80..80 deg and the other target | 11.3 | 4x4 | 2.3 | 255 |

Each item is placed in a random grid cell with a random offset of up to ``cell - item`` (minus one) pixels;
the target's cell is the ground-truth region. Rotated items (arcs, lines, bars) are rendered analytically
with 4x4 supersampling; the others by the original's integer slicing. Random draws come from a NumPy
generator seeded by a JAX key (one stream per condition x set size), so the same key gives the same displays.
:data:`QUICK_PPD` holds the coarsest resolution per experiment at which the displays keep their search
behaviour (used by quick settings).

Example:
  >>> import jax
  >>> t = make_trials(EXPERIMENTS[2], key=jax.random.key(0), ppd=15.0, n_trials=2)
  >>> t.images.shape, t.layout.n_cells, sorted(str(c) for c in set(t.condition))
  ((12, 99, 99), 16, ['left_right', 'top_down'])
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np

from cogsim.errors import CogsimError, check_count


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One of the six experiments at the published geometry (sizes in degrees).

    Attributes:
      number: 1..6 in the paper's order.
      name: short name.
      conditions: the two condition keys (as in the packaged human data).
      set_sizes: numbers of items.
      n_trials: published displays per condition and set size.
      view_deg: display side.
      grid: cells per side.
      item_deg: side of an item's box.
      background: grey level of the display.
      dog: ``((size_l, sigma_l), (size_u, sigma_u))`` of the difference-of-Gaussians smoothing.

    Example:
      >>> e = EXPERIMENTS[4]
      >>> e.name, e.conditions, e.set_sizes, e.grid
      ('Intersection: T vs L', ('Ts', 'Ls'), (3, 6, 9), 3)
    """

    number: int
    name: str
    conditions: tuple[str, str]
    set_sizes: tuple[int, ...]
    n_trials: int
    view_deg: float
    grid: int
    item_deg: float
    background: int
    dog: tuple[tuple[int, float], tuple[int, float]]


_C, _T, _L = ((3, 1), (5, 3)), ((5, 3), (7, 5)), ((3, 0), (5, 1))  # difference-of-Gaussians settings
_S4 = (1, 4, 8, 12)
#: number, name, conditions, set sizes, trials, view (deg), grid, item (deg), background, DoG
EXPERIMENTS: dict[int, Experiment] = {
    e[0]: Experiment(*e)
    for e in (
        (1, "Curvature", ("curve_in_lines", "line_in_curves"), (8, 16, 32), 30, 11.3, 6, 1.6, 0, _C),
        (2, "Lighting direction", ("top_down", "left_right"), (1, 6, 12), 30, 6.6, 4, 1.04, 27, _L),
        (3, "Intersection: cross vs non-cross", ("non_cross", "cross"), (3, 6, 9), 36, 20.5, 3, 5.9, 255, _T),
        (4, "Intersection: T vs L", ("Ts", "Ls"), (3, 6, 9), 36, 20.5, 3, 5.9, 255, _T),
        (5, "Orientation, homogeneous", ("homo_t20", "homo_t0"), _S4, 30, 11.3, 4, 2.3, 255, _C),
        (6, "Orientation, heterogeneous", ("hetero_t0", "hetero_t20"), _S4, 30, 11.3, 4, 2.3, 255, _C),
    )
}


#: Coarse resolutions per experiment (px/deg): coarse where the items are large (Exp 3-4 at 10 px/deg), the
#: published 30 px/deg for the small shaded discs of Exp 2 (at 15 px/deg a disc is below one conv5_3 cell of
#: eccNET and a lone disc is no longer found first).
QUICK_PPD: tuple[float, ...] = (15.0, 30.0, 10.0, 10.0, 15.0, 15.0)


def check_ppd(ppd: tuple[float, ...]) -> None:
    """Checks a resolution setting: one value for all experiments or one per experiment.

    Example:
      >>> check_ppd(QUICK_PPD)
      >>> try:
      ...     check_ppd((10.0, 20.0))
      ... except CogsimError as e:
      ...     print(e)
      config field 'ppd': got (10.0, 20.0); allowed: one value or six (one per experiment)
    """
    if len(ppd) not in (1, 6):
        raise CogsimError(f"config field 'ppd': got {ppd}; allowed: one value or six (one per experiment)")


def ppd_of(ppd: tuple[float, ...], experiment: int) -> float:
    """The resolution used for ``experiment`` (1..6) from a setting checked by :func:`check_ppd`.

    Example:
      >>> ppd_of((30.0,), 4), ppd_of(QUICK_PPD, 2)
      (30.0, 30.0)
    """
    return float(ppd[0] if len(ppd) == 1 else ppd[experiment - 1])


@dataclasses.dataclass(frozen=True, eq=False)
class Layout:
    """Pixel geometry of one experiment's displays.

    Attributes:
      display: display side (px).
      cell: cell side (px).
      grid: cells per side.
      item: item box side (px).
      jitter: exclusive upper bound of the random offset inside a cell (px).
      background: grey level.
      cell_map: ``[display, display]`` cell id of each pixel (-1 outside the grid).
      cell_rects: ``[n_cells, 4]`` (y0, x0, y1, x1) of each cell, end exclusive.

    Example:
      >>> g = layout(EXPERIMENTS[1], 30.0)  # a 6 x 6 grid of 56 px cells in a 339 px display
      >>> g.n_cells, g.cell_rects[7].tolist(), int(g.cell_map[60, 60]), int(g.cell_map[-1, -1])
      (36, [56, 56, 112, 112], 7, -1)
    """

    display: int
    cell: int
    grid: int
    item: int
    jitter: int
    background: int
    cell_map: np.ndarray
    cell_rects: np.ndarray

    @property
    def n_cells(self) -> int:
        return self.grid * self.grid


def layout(exp: Experiment, ppd: float) -> Layout:
    """The pixel geometry of ``exp`` at ``ppd`` pixels per degree (the published int() truncations).

    Example:
      >>> g = layout(EXPERIMENTS[1], 30.0)
      >>> g.display, g.cell, g.item, g.jitter
      (339, 56, 48, 8)
    """
    if ppd <= 0:
        raise CogsimError(f"layout: ppd must be > 0; got {ppd}")
    d = int(exp.view_deg * ppd)
    cell = int(exp.view_deg / exp.grid * ppd)
    item = int(exp.item_deg * ppd)
    jitter = int((exp.view_deg / exp.grid - exp.item_deg) * ppd)
    if cell < 2 or item < 2:
        raise CogsimError(f"layout: ppd={ppd} is too small for experiment {exp.number} (cell {cell} px)")
    cell_map = np.full((d, d), -1, np.int32)
    rects = np.zeros((exp.grid**2, 4), np.int32)
    for i in range(exp.grid**2):
        y0, x0 = (i // exp.grid) * cell, (i % exp.grid) * cell
        cell_map[y0 : y0 + cell, x0 : x0 + cell] = i
        rects[i] = (y0, x0, y0 + cell, x0 + cell)
    return Layout(d, cell, exp.grid, item, max(jitter, 1), exp.background, cell_map, rects)


# ------------------------------------------------------------------------------------------------- items
def _supersample(inside, size: int, angle_deg: float, ss: int = 4) -> np.ndarray:
    """Coverage in [0, 1] of a shape given in unrotated box pixel coordinates, rotated counter-clockwise by
    ``angle_deg`` about the box centre (OpenCV's convention: image y points down)."""
    sub = (np.arange(size * ss) + 0.5) / ss
    yy, xx = np.meshgrid(sub, sub, indexing="ij")
    c = size / 2
    a = math.radians(angle_deg)
    dx, dy = xx - c, yy - c
    ux = math.cos(a) * dx - math.sin(a) * dy + c
    uy = math.sin(a) * dx + math.cos(a) * dy + c
    cov = inside(ux, uy).astype(np.float32)
    return cov.reshape(size, ss, size, ss).mean(axis=(1, 3))


def _paint(coverage: np.ndarray, fg: int, bg: int) -> np.ndarray:
    return np.round(bg + (fg - bg) * coverage).astype(np.uint8)


def curvature_items(ppd: float) -> dict[str, list[np.ndarray]]:
    """White arcs and lines on black, each in the four orientations -45, -90, -135 and 180 deg.

    Example:
      >>> items = curvature_items(15.0)
      >>> {k: (len(v), v[0].shape) for k, v in items.items()}  # 1.6 deg boxes at 15 px/deg
      {'curve': (4, (24, 24)), 'line': (4, (24, 24))}
    """
    size = int(1.6 * ppd)
    r, seg, thick = 1.0 * ppd, 1.3, max(int(ppd / 6), 1)
    cx = int(1.6 * ppd / 2)
    cy = int((1.6 - (math.cos(seg / 2) + 1)) * ppd / 2)
    a0, a1 = (
        math.radians(int((0.25 - seg / (4 * math.pi)) * 360)),
        math.radians(int((0.25 + seg / (4 * math.pi)) * 360)),
    )
    ends = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in (a0, a1)]

    def arc(x, y):
        ang = np.arctan2(y - cy, x - cx)
        on = (ang >= a0) & (ang <= a1)
        d = np.where(on, np.abs(np.hypot(x - cx, y - cy) - r), np.inf)
        for ex, ey in ends:
            d = np.minimum(d, np.hypot(x - ex, y - ey))
        return d <= thick / 2

    h, w = (1 / 6 + 1 / 30), 1.2
    r0, r1 = int((1.6 - h) * ppd / 2), int((1.6 + h) * ppd / 2)
    c0, c1 = int((1.6 - w) * ppd / 2), int((1.6 + w) * ppd / 2)

    def line(x, y):
        return (y >= r0) & (y < r1) & (x >= c0) & (x < c1)

    angles = (-45, -90, -135, 180)
    return {
        "curve": [_paint(_supersample(arc, size, a), 255, 0) for a in angles],
        "line": [_paint(_supersample(line, size, a), 255, 0) for a in angles],
    }


def lighting_items(ppd: float) -> dict[str, np.ndarray]:
    """Shaded discs: the base disc is dark at the top and bright at the bottom (lit from below).

    Example:
      >>> items = lighting_items(30.0)
      >>> sorted(items), items["bottom_lit"].shape
      (['bottom_lit', 'left_lit', 'right_lit', 'top_lit'], (31, 31))
      >>> disc = items["bottom_lit"]
      >>> int(disc[7, 15]), int(disc[23, 15]), int(disc[0, 0])  # upper half, lower half, background
      (51, 187, 27)
    """
    size = int(1.04 * ppd)
    back = 27
    levels = list(range(0, 256, 17))
    step = max(int(size / 15), 1)
    ramp = np.zeros((size, size), np.uint8)
    for i in range(0, size, step):
        ramp[i:, :] = levels[min(i // step, 15)]
    c = int(size / 2)
    yy, xx = np.mgrid[0:size, 0:size]
    disc = (yy - c) ** 2 + (xx - c) ** 2 < c**2
    base = np.where(disc, ramp, back).astype(np.uint8)
    return {
        "bottom_lit": base,
        "top_lit": base[::-1].copy(),
        "right_lit": base.T.copy(),
        "left_lit": base.T[:, ::-1].copy(),
    }


def _variants(fig: np.ndarray) -> list[np.ndarray]:
    return [fig, fig[::-1].copy(), fig.T.copy(), fig.T[:, ::-1].copy()]


def intersection_items(ppd: float) -> dict[str, list[np.ndarray]]:
    """Black-stroke figures on white: crosses, non-crosses, Ts and Ls, four variants each.

    Example:
      >>> items = intersection_items(10.0)
      >>> sorted(items), len(items["T"]), items["T"][0].shape
      (['L', 'T', 'cross', 'non_cross'], 4, (59, 59))
      >>> [round(float((items[k][0] == 0).mean()), 3) for k in ("T", "L")]  # the same amount of ink
      [0.165, 0.165]
    """
    lh = lw = 5.5
    wt, border = 0.55, 0.4
    n = int(lh * ppd)
    box = int((lh + border) * ppd)
    off = int(border / 2 * ppd)
    s = max(int(wt * ppd), 1)

    def frame(fig):
        out = np.full((box, box), 255, np.uint8)
        out[off : off + n, off : off + n] = fig
        return out

    def blank():
        return np.full((n, n), 255, np.uint8)

    vs, ve = int((lw - wt) * ppd / 2), int((lw + wt) * ppd / 2)
    cross = blank()
    cross[:, vs:ve] = 0
    cross[int(3 * wt * ppd) : int(4 * wt * ppd), :] = 0
    non = blank()
    non[:, vs:ve] = 0
    non[int(3 * wt * ppd) : int(4 * wt * ppd), : int(lw * ppd / 2)] = 0
    non[int(6 * wt * ppd) : int(7 * wt * ppd), int(lw * ppd / 2) :] = 0
    ell = blank()
    ell[:, :s] = 0
    ell[int((lh - wt) * ppd) : int(lh * ppd), :] = 0
    tee = blank()
    tee[:, vs:ve] = 0
    tee[:s, :] = 0
    return {k: _variants(frame(v)) for k, v in (("cross", cross), ("non_cross", non), ("L", ell), ("T", tee))}


def bar_item(ppd: float, angle_deg: float) -> np.ndarray:
    """A black 2 x 0.3 deg bar on white, rotated by ``angle_deg`` (OpenCV angle: 20 deg tilt = -20).

    Example:
      >>> bar = bar_item(10.0, 0.0)  # 2.3 deg box at 10 px/deg
      >>> bar.shape, bar.dtype, int((bar < 128).sum())  # about 20 x 3 dark pixels
      ((23, 23), dtype('uint8'), 60)
    """
    lh, lw = 2.0, 0.3
    size = int((lh + lw) * ppd)
    r0, r1 = int(lw * ppd / 2), int((2 * lh + lw) * ppd / 2)
    c0, c1 = int(lh * ppd / 2), int((lh + 2 * lw) * ppd / 2)

    def bar(x, y):
        return (y >= r0) & (y < r1) & (x >= c0) & (x < c1)

    return _paint(_supersample(bar, size, angle_deg), 0, 255)


# ------------------------------------------------------------------------------------------------ trials
@dataclasses.dataclass(frozen=True, eq=False)
class Trials:
    """Displays of one experiment: all conditions x set sizes x trials.

    Attributes:
      experiment: the :class:`Experiment`.
      layout: the pixel :class:`Layout`.
      ppd: pixels per degree used.
      images: ``[n, display, display]`` uint8 grey displays.
      targets: ``[n, item, item]`` uint8 target images.
      target_cell: ``[n]`` cell id of the target.
      set_size: ``[n]``.
      condition: ``[n]`` condition keys.
      item_cells: ``[n, n_cells]`` bool, cells holding an item.

    Example:
      >>> import jax
      >>> t = make_trials(EXPERIMENTS[2], key=jax.random.key(0), ppd=15.0, n_trials=2)
      >>> len(t), t.set_size.tolist()[:6], t.item_cells.sum(axis=1).tolist()[:6]
      (12, [1, 1, 6, 6, 12, 12], [1, 1, 6, 6, 12, 12])
      >>> six = t.select(t.set_size == 6)
      >>> six.images.shape, six.condition.tolist()
      ((4, 99, 99), ['top_down', 'top_down', 'left_right', 'left_right'])
    """

    experiment: Experiment
    layout: Layout
    ppd: float
    images: np.ndarray
    targets: np.ndarray
    target_cell: np.ndarray
    set_size: np.ndarray
    condition: np.ndarray
    item_cells: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def select(self, idx) -> Trials:
        """A subset of the trials (same layout)."""
        idx = np.asarray(idx)
        return dataclasses.replace(
            self,
            images=self.images[idx],
            targets=self.targets[idx],
            target_cell=self.target_cell[idx],
            set_size=self.set_size[idx],
            condition=self.condition[idx],
            item_cells=self.item_cells[idx],
        )


def _stimuli(exp: Experiment, condition: str, ppd: float):
    """``(target_images, distractor_images, assignment)``; assignment is 'cycle', 'random' or 'hetero'."""
    if exp.number == 1:
        it = curvature_items(ppd)
        tgt, dis = ("curve", "line") if condition == "curve_in_lines" else ("line", "curve")
        return it[tgt], it[dis], "cycle"
    if exp.number == 2:
        it = lighting_items(ppd)
        if condition == "top_down":
            return [it["top_lit"]], [it["bottom_lit"]], "random"
        return [it["left_lit"]], [it["right_lit"]], "random"
    if exp.number in (3, 4):
        it = intersection_items(ppd)
        pairs = {
            "cross": ("cross", "non_cross"),
            "non_cross": ("non_cross", "cross"),
            "Ls": ("L", "T"),
            "Ts": ("T", "L"),
        }
        tgt, dis = pairs[condition]
        return it[tgt], it[dis], "random"
    t0, t20 = bar_item(ppd, 0), bar_item(ppd, -20)
    if condition == "homo_t0":
        return [t0], [t20], "random"
    if condition == "homo_t20":
        return [t20], [t0], "random"
    others = [bar_item(ppd, a) for a in (-80, -60, -40, 20, 40, 60, 80)]
    if condition == "hetero_t0":
        return [t0], others + [t20], "hetero"
    return [t20], others + [t0], "hetero"


def _display(exp, lay, rng, n_items, targets, distractors, mode):
    img = np.full((lay.display, lay.display), lay.background, np.uint8)
    cells = rng.choice(lay.n_cells, n_items, replace=False)
    t_pos = int(rng.integers(n_items))
    if mode == "hetero":
        k = len(distractors)
        if n_items - 1 > k:
            ids = np.concatenate(
                [rng.choice(k, k, replace=False), rng.choice(k, n_items - 1 - k, replace=False)]
            )
        else:
            ids = rng.choice(k, n_items - 1, replace=False)
        ids = ids[rng.permutation(len(ids))]
    target_img, j = None, 0
    for i, c in enumerate(cells):
        y = (c // lay.grid) * lay.cell + int(rng.integers(lay.jitter))
        x = (c % lay.grid) * lay.cell + int(rng.integers(lay.jitter))
        if i == t_pos:
            pick = i % len(targets) if mode == "cycle" else int(rng.integers(len(targets)))
            item = targets[pick]
            target_img = item
        elif mode == "cycle":
            item = distractors[i % len(distractors)]
        elif mode == "hetero":
            item = distractors[int(ids[j])]
            j += 1
        else:
            item = distractors[int(rng.integers(len(distractors)))]
        h = min(item.shape[0], lay.display - y)
        w = min(item.shape[1], lay.display - x)
        img[y : y + h, x : x + w] = item[:h, :w]
    return img, target_img, int(cells[t_pos]), cells


def make_trials(
    exp: Experiment,
    *,
    key: jax.Array,
    ppd: float = 30.0,
    n_trials: int | None = None,
    conditions: tuple[str, ...] | None = None,
    set_sizes: tuple[int, ...] | None = None,
) -> Trials:
    """Generates the displays of ``exp``: every condition x set size with ``n_trials`` each.

    Args:
      exp: one of :data:`EXPERIMENTS`.
      key: JAX key; condition ``c`` and set size ``s`` draw from ``fold_in(fold_in(key, c), s)``.
      ppd: pixels per degree (30 = the published sizes).
      n_trials: displays per condition and set size (default: the published count).
      conditions: subset of ``exp.conditions`` (default both).
      set_sizes: subset of set sizes (default all published).

    Example:
      >>> t = make_trials(EXPERIMENTS[5], key=jax.random.key(1), ppd=15.0, n_trials=1, set_sizes=(1,))
      >>> t.item_cells.sum(axis=1).tolist()
      [1, 1]
    """
    n_trials = exp.n_trials if n_trials is None else int(n_trials)
    conditions = exp.conditions if conditions is None else tuple(conditions)
    set_sizes = exp.set_sizes if set_sizes is None else tuple(set_sizes)
    lay = layout(exp, ppd)
    for c in conditions:
        if c not in exp.conditions:
            raise CogsimError(
                f"make_trials: experiment {exp.number} has conditions {exp.conditions}; got {c!r}"
            )
    for i, s in enumerate(set_sizes):
        cells = f" (the cells of experiment {exp.number})"
        check_count("make_trials", f"set_sizes[{i}]", s, high=lay.n_cells, detail=cells)
    if n_trials < 1:
        raise CogsimError(f"make_trials: n_trials must be >= 1; got {n_trials}")
    imgs, tgts, tcell, ss, cond, occ = [], [], [], [], [], []
    for c in conditions:
        targets, distractors, mode = _stimuli(exp, c, ppd)
        ci = exp.conditions.index(c)
        for s in set_sizes:
            k = jax.random.fold_in(jax.random.fold_in(key, ci), s)
            rng = np.random.default_rng(np.asarray(jax.random.key_data(k)).astype(np.uint32))
            for _ in range(n_trials):
                img, t_img, cell, cells = _display(exp, lay, rng, s, targets, distractors, mode)
                box = np.full((lay.item, lay.item), lay.background, np.uint8)
                box[: t_img.shape[0], : t_img.shape[1]] = t_img[: lay.item, : lay.item]
                mask = np.zeros(lay.n_cells, bool)
                mask[cells] = True
                imgs.append(img)
                tgts.append(box)
                tcell.append(cell)
                ss.append(s)
                cond.append(c)
                occ.append(mask)
    return Trials(
        exp,
        lay,
        float(ppd),
        np.stack(imgs),
        np.stack(tgts),
        np.asarray(tcell, np.int32),
        np.asarray(ss, np.int32),
        np.asarray(cond),
        np.stack(occ),
    )
