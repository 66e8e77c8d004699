"""The three search displays of Wolfe, Palmer & Horowitz (2010), rendered procedurally and batched.

- ``feature``: a red vertical bar among green vertical bars;
- ``conjunction``: a red vertical bar among red horizontal and green vertical bars (half each, the odd one
  at random);
- ``spatial_configuration``: a digital (seven-segment) "2" among digital "5"s, all one colour.

Set sizes 3-18 (any up to the grid's cells), target present or absent. Items sit in the cells of a jittered
square grid; the geometry (pixels per degree, bar 1.0 x 0.3 deg, digits 1.0 x 0.6 deg with 0.15-deg strokes,
a 6 x 6 grid over 20 deg, black background) is this module's assumption where the paper gives no number, and
every value is a field of :class:`DisplaySpec`.

Example:
  >>> d = render("conjunction", [3, 18], [1, 0], seed=0)
  >>> d.images.shape, d.n_items.tolist(), d.target_index.tolist()[1]
  ((2, 600, 600, 3), [3, 18], -1)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cogsim.errors import CogsimError
from cogsim.tasks.search_displays import Experiment, Layout, Trials

TASKS = ("feature", "conjunction", "spatial_configuration")
RED, GREEN, WHITE = (255, 0, 0), (0, 255, 0), (255, 255, 255)
# seven segments (a, b, c, d, e, f, g) of the two digits
_SEGMENTS = {"2": "abged", "5": "afgcd"}


@dataclasses.dataclass(frozen=True)
class DisplaySpec:
    """Geometry of the displays (pixels per degree and item sizes in degrees).

    Example:
      >>> DisplaySpec().side, DisplaySpec(ppd=10.0).side  # 20 deg at 30 and at 10 px/deg
      (600, 200)
    """

    ppd: float = 30.0
    field_deg: float = 20.0
    grid: int = 6
    bar_deg: tuple[float, float] = (1.0, 0.3)
    digit_deg: tuple[float, float] = (1.0, 0.6)
    stroke_deg: float = 0.15
    jitter: float = 0.25  # fraction of a cell the item centre may move

    @property
    def side(self) -> int:
        """Display side in pixels."""
        return int(round(self.field_deg * self.ppd))


@dataclasses.dataclass(frozen=True)
class Displays:
    """A batch of rendered displays.

    Attributes:
      images: ``[batch, side, side, 3]`` uint8.
      boxes: ``[batch, max_items, 4]`` item boxes (row0, col0, row1, col1), -1 where padded.
      n_items: ``[batch]`` items per display.
      target_index: ``[batch]`` index of the target among the boxes, -1 on target-absent displays.

    Example:
      >>> d = render("feature", [3, 4], [1, 0], seed=0, spec=DisplaySpec(ppd=10.0))
      >>> d.n_items.tolist(), d.target_index.tolist(), d.boxes[0, -1].tolist()  # padded to 4 boxes
      ([3, 4], [0, -1], [-1, -1, -1, -1])
    """

    images: np.ndarray
    boxes: np.ndarray
    n_items: np.ndarray
    target_index: np.ndarray


def _bar(h: int, w: int) -> np.ndarray:
    return np.ones((h, w), bool)


def _digit(char: str, spec: DisplaySpec) -> np.ndarray:
    h, w = (int(round(v * spec.ppd)) for v in spec.digit_deg)
    s = max(1, int(round(spec.stroke_deg * spec.ppd)))
    m = np.zeros((h, w), bool)
    mid = h // 2
    seg = {
        "a": (slice(0, s), slice(0, w)),
        "g": (slice(mid - s // 2, mid - s // 2 + s), slice(0, w)),
        "d": (slice(h - s, h), slice(0, w)),
        "f": (slice(0, mid + 1), slice(0, s)),
        "b": (slice(0, mid + 1), slice(w - s, w)),
        "e": (slice(mid, h), slice(0, s)),
        "c": (slice(mid, h), slice(w - s, w)),
    }
    for k in _SEGMENTS[char]:
        m[seg[k]] = True
    return m


def _items(task: str, spec: DisplaySpec):
    """(target shape, target colour), and the distractor kinds [(shape, colour), ...]."""
    bh, bw = (int(round(v * spec.ppd)) for v in spec.bar_deg)
    vertical, horizontal = _bar(bh, bw), _bar(bw, bh)
    if task == "feature":
        return (vertical, RED), [(vertical, GREEN)]
    if task == "conjunction":
        return (vertical, RED), [(horizontal, RED), (vertical, GREEN)]
    return (_digit("2", spec), WHITE), [(_digit("5", spec), WHITE)]


def render(task: str, set_sizes, target_present, *, seed: int, spec: DisplaySpec | None = None) -> Displays:
    """Renders one display per (set size, presence) pair.

    Args:
      task: ``"feature"``, ``"conjunction"`` or ``"spatial_configuration"``.
      set_sizes: items per display, ``[batch]`` (1 to ``grid**2``).
      target_present: 1/0 per display, ``[batch]``.
      seed: the displays' seed (display ``i`` uses ``default_rng([seed, i])``).
      spec: the geometry (default :class:`DisplaySpec`).

    Raises:
      CogsimError: unknown task, a set size outside 1..grid**2, a presence other than 0/1, or a seed that is
        not an integer >= 0.

    Example:
      >>> d = render("feature", [3], [1], seed=0, spec=DisplaySpec(ppd=10.0))
      >>> def colour(k):  # the brightest pixel in item k's box
      ...     r0, c0, r1, c1 = d.boxes[0, k]
      ...     return d.images[0, r0:r1, c0:c1].reshape(-1, 3).max(axis=0).tolist()
      >>> int(d.target_index[0]), colour(0), colour(1)  # a red target among green bars
      (0, [255, 0, 0], [0, 255, 0])
    """
    spec = spec or DisplaySpec()
    if task not in TASKS:
        raise CogsimError(f"task: got {task!r}; allowed: {', '.join(TASKS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise CogsimError(f"seed: got {seed!r}; allowed: an integer >= 0")
    n = np.asarray(set_sizes, int).ravel()
    tp = np.asarray(target_present, int).ravel()
    cells = spec.grid**2
    if n.size != tp.size:
        raise CogsimError(f"target_present: got {tp.size} values; allowed: one per set size ({n.size})")
    if not np.isin(tp, (0, 1)).all():
        raise CogsimError(
            f"target_present: got {sorted(set(tp.tolist()))}; allowed: 1 (present) or 0 (absent)"
        )
    if n.size and (n.min() < 1 or n.max() > cells):
        raise CogsimError(f"set_sizes: got {int(n.min())}..{int(n.max())}; allowed: 1..{cells}")
    target, kinds = _items(task, spec)
    side, cell = spec.side, spec.side / spec.grid
    images = np.zeros((n.size, side, side, 3), np.uint8)
    boxes = np.full((n.size, int(n.max(initial=1)), 4), -1, int)
    t_index = np.full(n.size, -1, int)
    for i in range(n.size):
        rng = np.random.default_rng([seed, i])
        where = rng.choice(cells, n[i], replace=False)
        shapes = [kinds[j % len(kinds)] for j in rng.permutation(n[i])]
        if tp[i]:
            t_index[i] = int(rng.integers(n[i]))
            shapes[t_index[i]] = target
        for k, (c, (shape, colour)) in enumerate(zip(where, shapes, strict=True)):
            cy = (c // spec.grid + 0.5 + rng.uniform(-spec.jitter, spec.jitter)) * cell
            cx = (c % spec.grid + 0.5 + rng.uniform(-spec.jitter, spec.jitter)) * cell
            h, w = shape.shape
            r0, c0 = int(round(cy - h / 2)), int(round(cx - w / 2))
            images[i, r0 : r0 + h, c0 : c0 + w][shape] = colour
            boxes[i, k] = (r0, c0, r0 + h, c0 + w)
    return Displays(images, boxes, n, t_index)


#: Rec. 601 luma weights: the shipped eccNET backbones see grey displays (one channel repeated three times)
LUMA = (0.299, 0.587, 0.114)
#: difference-of-Gaussians of the eccNET map for these displays (the setting of Gupta et al.'s small-item
#: experiments 1, 5 and 6)
DOG = ((3, 1.0), (5, 3.0))


def eccnet_trials(
    task: str, set_sizes, *, seed: int, spec: DisplaySpec | None = None, target_box_deg: float = 1.6
) -> Trials:
    """Target-present displays as eccNET search trials: grey (Rec. 601 luma) images on the grid layout.

    The grid cells of :class:`DisplaySpec` are the search's cells (an item lies inside its cell); the target
    image is the target item centred in a ``target_box_deg`` square of background.

    Args:
      task: one of :data:`TASKS`.
      set_sizes: items per display, ``[batch]``.
      seed: the displays' seed (as in :func:`render`).
      spec: the geometry (default :class:`DisplaySpec`).
      target_box_deg: side of the target image (deg).

    Example:
      >>> t = eccnet_trials("feature", [3, 6], seed=0, spec=DisplaySpec(ppd=10.0))
      >>> t.images.shape, t.layout.n_cells, t.item_cells.sum(axis=1).tolist()
      ((2, 200, 200), 36, [3, 6])
    """
    spec = spec or DisplaySpec()
    n = np.asarray(set_sizes, int).ravel()
    d = render(task, n, np.ones_like(n), seed=seed, spec=spec)
    grey = np.rint(d.images.astype(np.float32) @ np.asarray(LUMA, np.float32)).astype(np.uint8)
    side, g = spec.side, spec.grid
    edges = np.rint(np.arange(g + 1) * side / g).astype(int)
    cell_map = np.full((side, side), -1, np.int32)
    rects = np.zeros((g * g, 4), np.int32)
    for i in range(g * g):
        y0, y1, x0, x1 = edges[i // g], edges[i // g + 1], edges[i % g], edges[i % g + 1]
        cell_map[y0:y1, x0:x1] = i
        rects[i] = (y0, x0, y1, x1)
    box = max(int(round(target_box_deg * spec.ppd)), 2)
    lay = Layout(side, int(edges[1]), g, box, 1, 0, cell_map, rects)
    exp = Experiment(0, f"Wolfe et al. (2010) {task}", (task, task), tuple(sorted(set(n.tolist()))), 0,
                     spec.field_deg, g, target_box_deg, 0, DOG)  # fmt: skip
    centre = lambda b: (int((b[0] + b[2]) // 2), int((b[1] + b[3]) // 2))  # noqa: E731
    targets = np.zeros((n.size, box, box), np.uint8)
    t_cell = np.zeros(n.size, np.int32)
    occupied = np.zeros((n.size, g * g), bool)
    for i in range(n.size):
        for k in range(n[i]):
            occupied[i, cell_map[centre(d.boxes[i, k])]] = True
        r0, c0, r1, c1 = d.boxes[i, d.target_index[i]]
        t_cell[i] = cell_map[centre((r0, c0, r1, c1))]
        oy, ox = (box - (r1 - r0)) // 2, (box - (c1 - c0)) // 2
        targets[i, oy : oy + r1 - r0, ox : ox + c1 - c0] = grey[i, r0:r1, c0:c1]
    cond = np.full(n.size, task, object)
    return Trials(exp, lay, float(spec.ppd), grey, targets, t_cell, n, cond, occupied)
