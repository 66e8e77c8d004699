"""Generated shelf displays: a grid of coloured shapes with a target and target-similar distractors.

Each object is rendered as a small RGB crop (its colour inside its shape, grey outside, plus pixel noise);
``n_similar`` distractors share one feature with the target and the rest share none.
"""

from __future__ import annotations

import dataclasses

import numpy as np

COLOURS = np.array(
    [
        [0.90, 0.15, 0.15],
        [0.15, 0.65, 0.20],
        [0.15, 0.30, 0.90],
        [0.95, 0.80, 0.10],
        [0.70, 0.20, 0.80],
        [0.10, 0.75, 0.80],
    ],
    np.float32,
)
SHAPES = ("square", "disc", "triangle", "cross", "bar")


def shape_mask(shape: str, size: int) -> np.ndarray:
    """A boolean ``size x size`` mask of ``shape`` centred in the crop (a 1-pixel margin).

    Example:
      >>> int(shape_mask("square", 5).sum())
      9
    """
    y, x = np.mgrid[0:size, 0:size].astype(float)
    c = (size - 1) / 2
    r = (size - 2) / 2
    u, v = (x - c) / r, (y - c) / r
    if shape == "square":
        m = (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    elif shape == "disc":
        m = u**2 + v**2 <= 0.85**2
    elif shape == "triangle":
        m = (v <= 0.8) & (v >= -0.8) & (np.abs(u) <= (v + 0.8) / 1.6 * 0.9)
    elif shape == "cross":
        m = ((np.abs(u) <= 0.25) & (np.abs(v) <= 0.85)) | ((np.abs(v) <= 0.25) & (np.abs(u) <= 0.85))
    elif shape == "bar":
        m = (np.abs(u) <= 0.9) & (np.abs(v) <= 0.3)
    else:
        raise ValueError(shape)
    return m


@dataclasses.dataclass(frozen=True)
class ShelfDisplays:
    """Generated displays: object features, targets, crops and the number of similar distractors."""

    colour: np.ndarray  # [D, N]
    shape: np.ndarray  # [D, N]
    target: np.ndarray  # [D]
    n_similar: np.ndarray  # [D]
    crops: np.ndarray  # [D, N, crop, crop, 3]

    def similarity(self) -> np.ndarray:
        """``[D, N]`` similarity of each object to the target (1, 0.5 or 0)."""
        d = np.arange(len(self.target))
        tc, ts = self.colour[d, self.target], self.shape[d, self.target]
        return 0.5 * (self.colour == tc[:, None]) + 0.5 * (self.shape == ts[:, None])


def make_displays(config, n: int, *, seed: int) -> ShelfDisplays:
    """``n`` displays; ``n_similar`` cycles through ``similar_levels``.

    Args:
      config: the scenario's settings (``n_rows``, ``n_cols``, ``n_colours``, ``n_shapes``,
        ``similar_levels``, ``similar_feature``, ``crop``, ``pixel_noise``).
      n: number of displays.
      seed: the NumPy seed of the features, layouts and pixel noise.

    Example:
      >>> from types import SimpleNamespace
      >>> cfg = SimpleNamespace(n_rows=4, n_cols=6, n_colours=4, n_shapes=4, similar_levels=(0, 8),
      ...                       similar_feature="colour", crop=14, pixel_noise=0.05)
      >>> d = make_displays(cfg, 2, seed=0)
      >>> d.crops.shape, d.n_similar.tolist()
      ((2, 24, 14, 14, 3), [0, 8])
    """
    rng = np.random.default_rng(seed)
    n_obj = config.n_rows * config.n_cols
    masks = np.stack([shape_mask(s, config.crop) for s in SHAPES[: config.n_shapes]])
    colour = np.zeros((n, n_obj), np.int32)
    shape = np.zeros((n, n_obj), np.int32)
    target = rng.integers(0, n_obj, n).astype(np.int32)
    levels = np.array(config.similar_levels)[np.arange(n) % len(config.similar_levels)]
    for i in range(n):
        tc, ts = rng.integers(config.n_colours), rng.integers(config.n_shapes)
        others_c = [c for c in range(config.n_colours) if c != tc]
        others_s = [s for s in range(config.n_shapes) if s != ts]
        feats = []
        for j in range(n_obj - 1):
            if j < levels[i]:  # shares exactly one feature
                share_colour = {"colour": True, "shape": False}.get(
                    config.similar_feature, rng.random() < 0.5
                )
                if share_colour:
                    feats.append((tc, rng.choice(others_s)))
                else:
                    feats.append((rng.choice(others_c), ts))
            else:
                feats.append((rng.choice(others_c), rng.choice(others_s)))
        order = rng.permutation(n_obj - 1)
        slots = [k for k in range(n_obj) if k != target[i]]
        for k, j in zip(slots, order, strict=True):
            colour[i, k], shape[i, k] = feats[j]
        colour[i, target[i]], shape[i, target[i]] = tc, ts
    crops = np.full((n, n_obj, config.crop, config.crop, 3), 0.5, np.float32)
    m = masks[shape]  # [n, N, h, w]
    crops = np.where(m[..., None], COLOURS[colour][:, :, None, None, :], crops)
    crops = np.clip(crops + config.pixel_noise * rng.standard_normal(crops.shape), 0, 1).astype(np.float32)
    return ShelfDisplays(colour, shape, target, levels.astype(np.int32), crops)
