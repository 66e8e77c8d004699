"""The batched search: slots of trials advance together in a jitted, fixed-length masked scan (finished trials
are frozen, the step is skipped once all are done); finished slots are refilled between segments (by default a
segment is a whole trial). Target kernels are computed once per trial, the stem around the display only
(:mod:`._stem`); trials are split over host threads.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import lax
from jaxtyping import Array

from cogsim.errors import CogsimError
from cogsim.models.eccnet import _backbone as bb
from cogsim.models.eccnet._extractor import Extractor
from cogsim.models.eccnet._maps import attention_map
from cogsim.models.eccnet._stem import (
    _bg_stem,
    _block1_canvas,
    _local_features,
    _repaint_block1,
    _Stem,
    _stem_plan,
)
from cogsim.models.eccnet._trial import (
    MAX_CELLS,
    SearchConfig,
    _Const,
    _constants,
    _crop,
    _crop_side,
    _live,
    _next_fixation,
    _recognised,
    _State,
    rt_ms,
    target_kernels,
)
from cogsim.tasks.search_displays import Trials


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
      trials: displays from :func:`cogsim.tasks.search_displays.make_trials`.
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


def _start_trial(
    st: dict[str, Any], i: int, trials: Trials, kern_np, t: int, items_only: bool = False
) -> None:
    """Puts trial ``t`` into slot ``i`` of the host-side state ``st`` (see :func:`_empty_state`): its display,
    target kernels and target cell, the first fixation at the display's centre, nothing visited yet (with
    ``items_only``, the empty cells count as visited)."""
    lay = trials.layout
    st["image"][i] = trials.images[t]
    for j in range(3):
        st["kernels"][j][i] = kern_np[j][t]
    st["target_rect"][i] = lay.cell_rects[trials.target_cell[t]]
    st["fix"][i] = (lay.display // 2, lay.display // 2)
    st["visited"][i] = False
    if items_only:
        st["visited"][i, : lay.n_cells] = ~trials.item_cells[t]
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


#: held by a thread for its first segment, which compiles the segment's program (the threads' shards share
#: it): XLA's CPU compiler once crashed with a segmentation fault compiling it in two threads at once (the
#: tests' visual_search_asymmetry run); after the first thread, the others find it compiled
_FIRST_SEGMENT = threading.Lock()


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
        _start_trial(st, i, trials, kern_np, t, cfg.items_only)
        slot_trial[i] = t

    for i in range(b):
        fill(i, order[queue])
        queue += 1
    budget = lay.n_cells + 1
    # block-1 canvases stay on the device (filled in the jitted segment for slots that start a trial)
    b1 = None if stem is None else jnp.zeros((b, stem.canvas, stem.canvas, bb.widths_of(extractor.params)[0]))
    first = True
    while True:
        state = _device_state(st, b1)
        steps = min(cfg.segment, budget)
        with _FIRST_SEGMENT if first else contextlib.nullcontext():  # compiled by one thread at a time
            state = _segment(extractor, side, cb, stem, steps, extractor.params, state, c, bg)
        first = False
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
