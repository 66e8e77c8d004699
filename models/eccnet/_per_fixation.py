"""The search model written as the original's per-fixation Python loop: a full forward pass of the crop per
fixation, NumPy for the rest (used to check the batched search and as the benchmark's peer)."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pandas as pd
from jaxtyping import Array

from cogsim.models.eccnet._extractor import Extractor
from cogsim.models.eccnet._search import _results_frame
from cogsim.models.eccnet._trial import MAX_CELLS, SearchConfig, _constants, _crop_side, target_kernels
from cogsim.tasks.search_displays import Trials


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
        if cfg.items_only:
            visited[: lay.n_cells] = ~trials.item_cells[t]
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
