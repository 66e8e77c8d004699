"""Evaluating sweep points in this process: ``sweep_point`` vmapped and jitted per static group, or
``simulate`` point by point; finished chunks go to a callback (a store shard, or a Slurm task's shard file).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim import config as cfglib
from cogsim import progress as progress_lib
from cogsim._data_files import data_version
from cogsim.errors import CogsimError
from cogsim.scenario_protocol import compare_options
from cogsim.store import Store, write_point_comparison
from cogsim.sweep.lease import Lease
from cogsim.sweep.plan import chunks, failed_note, group_points, param_value, vectorized


def seed_key(root_seed: int, seed: int) -> jax.Array:
    """The key of one seed: ``fold_in(key(root_seed), seed)``.

    Example:
      >>> import jax
      >>> same = jax.random.fold_in(jax.random.key(0), 3)
      >>> bool((jax.random.key_data(seed_key(0, 3)) == jax.random.key_data(same)).all())
      True
    """
    return jax.random.fold_in(jax.random.key(root_seed), seed)


def evaluate_points(
    mod,
    base_cfg: Any,
    points: Sequence[tuple[str, dict, int]],
    *,
    root_seed: int,
    chunk_size: int,
    on_chunk: Callable[[pd.DataFrame, list[str]], None],
    devices: Sequence[Any] | None = None,
    on_comparison: Callable[[str, dict], None] | None = None,
    on_error: Callable[[list[str], Exception], None] | None = None,
) -> None:
    """Evaluates ``points`` (``(point_id, params, seed)``) and hands each finished chunk to ``on_chunk``.

    With ``on_error``, a point (run through ``simulate``) or a chunk (vectorised; a whole static group when
    its program cannot be built) whose evaluation raises is handed to ``on_error(point_ids, exception)`` and
    the other points go on; without it the exception propagates. Errors of ``on_chunk`` always propagate.

    A scenario evaluated point by point through ``simulate`` is also compared with its human data at every
    point (when it has any: reference kind not ``"none"``); ``on_comparison(point_id, comparison_dict)``
    receives each, before the point's chunk is handed on, so a finished point always has its comparison.

    This is the executors' common core: the local executor calls it on every pending point, a Slurm array task
    on its slice. With several ``devices`` each chunk (padded to a multiple of their number) is sharded over a
    1-D device mesh; the numbers do not change.

    Example:
      >>> # evaluate_points(mod, cfg, [(pid, {"sim_K": 2.0}, 0)], root_seed=0, chunk_size=8, on_chunk=print)
    """
    vec = vectorized(mod)
    vectorised = hasattr(mod, "sweep_point")
    n_dev = len(devices) if devices else 1
    sharding = None
    if n_dev > 1:
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        sharding = NamedSharding(Mesh(np.asarray(devices), ("points",)), PartitionSpec("points"))

    def failed(ids: list[str], exc: Exception) -> None:
        if on_error is None:
            raise exc
        on_error(ids, exc)

    for static_json, pts in group_points(points, vec if vectorised else ()).items():
        if not vectorised:
            for pid, params, seed in pts:
                try:
                    c = cfglib.replace(base_cfg, **params)
                    df = mod.simulate(c, key=seed_key(root_seed, seed))
                    comp = point_comparison(mod, c, df) if on_comparison is not None else None
                except Exception as exc:  # noqa: BLE001 - this point fails, the others go on
                    failed([pid], exc)
                    continue
                if comp is not None:
                    on_comparison(pid, comp)
                df = df.assign(**{k: param_value(v) for k, v in params.items()}, seed=seed, point_id=pid)
                on_chunk(df, [pid])
            continue
        static = json.loads(static_json)
        vec_here = [k for k in vec if k in pts[0][1]]
        try:
            cfg = cfglib.replace(base_cfg, **{k: v for k, v in pts[0][1].items() if k in static})
            for v in vec_here:  # validate each value once, outside the traced function
                for value in dict.fromkeys(param_value(params[v]) for _, params, _ in pts):
                    cfglib.replace(cfg, **{v: value})
            fn = _compiled(mod, cfg, tuple(vec_here), root_seed)
        except Exception as exc:  # noqa: BLE001 - this static group fails, the others go on
            failed([pid for pid, _, _ in pts], exc)
            continue
        # One batch shape per group (one compilation): the chunk size, or the whole group if smaller, rounded
        # up to a multiple of the device count. Padding repeats the last point; its outputs are dropped.
        size = -(-min(chunk_size, len(pts)) // n_dev) * n_dev
        names = list(pts[0][1])
        for chunk in chunks(pts, size):
            n = len(chunk)
            pad = chunk + [chunk[-1]] * (size - n)
            seeds = np.asarray([s for _, _, s in pad], np.uint32)
            vals = {k: np.asarray([p[k] for _, p, _ in pad], np.float32) for k in vec_here}
            ids = [pid for pid, _, _ in chunk]
            try:
                if sharding is not None:
                    seeds, vals = jax.device_put((seeds, vals), sharding)
                out = jax.device_get(fn(jnp.asarray(seeds), {k: jnp.asarray(v) for k, v in vals.items()}))
                cols: dict[str, Any] = {k: [param_value(p[k]) for _, p, _ in chunk] for k in names}
                cols["seed"] = [s for _, _, s in chunk]
                cols["point_id"] = ids
                for m, v in out.items():
                    v = np.asarray(v)
                    if v.ndim != 1:
                        raise CogsimError(
                            f"sweep: {mod.__name__}.sweep_point output {m!r} has shape {v.shape[1:]} "
                            "per point; it must be a scalar"
                        )
                    cols[m] = v[:n]
            except Exception as exc:  # noqa: BLE001 - this chunk fails, the others go on
                failed(ids, exc)
                continue
            on_chunk(pd.DataFrame(cols), ids)


def point_comparison(mod, config: Any, sim: pd.DataFrame) -> dict | None:
    """One point's comparison with the scenario's human data (``Comparison.to_dict()``), or None when the
    scenario has none (reference kind ``"none"``)."""
    ref = mod.reference(config)
    if ref.kind == "none":
        return None
    comp = mod.compare(sim, ref.table, **compare_options(mod, config))
    return comp.with_context(data_kind=ref.kind).to_dict()


_CACHE: dict[Any, Callable] = {}


def _compiled(mod, cfg, vec: tuple[str, ...], root_seed: int):
    """``fn(seeds, vals)``: ``sweep_point`` vmapped over seeds and vectorised fields, jitted once per static
    config (the root key is an argument, so sweeps with other root seeds reuse the compilation)."""
    # the data files' versions too: sweep_point's data become constants of the compiled program
    cache_key = (mod.__name__, cfglib.to_json(cfg), vec, data_version(mod, cfg))
    if cache_key not in _CACHE:

        def one(root, seed, vals):
            c = dataclasses.replace(cfg, **vals)  # traced values; validated before tracing
            out = mod.sweep_point(c, key=jax.random.fold_in(root, seed))
            return {k: jnp.asarray(v) for k, v in out.items()}

        _CACHE[cache_key] = jax.jit(jax.vmap(one, in_axes=(None, 0, 0)))
    fn = _CACHE[cache_key]
    root = jax.random.key(root_seed)
    return lambda seeds, vals: fn(root, seeds, vals)


def local_worker() -> str:
    """This process's worker name in the index: ``local:<host>:<pid>``."""
    return f"local:{socket.gethostname()}:{os.getpid()}"


def run_pending(
    store: Store,
    mod,
    base_cfg,
    *,
    root_seed: int,
    chunk_size: int,
    progress: bool | None = None,
    ids: Sequence[str] | None = None,
    worker: str | None = None,
    devices: Sequence[Any] | None = None,
    log=print,
) -> None:
    """Evaluates the store's pending points (optionally only ``ids``) in this process.

    Example:
      >>> # run_pending(store, scenario_registry.get("change_detection"), cfg, root_seed=0, chunk_size=64)

    ``progress``: a tqdm bar (True), status lines (False) or tqdm on a terminal and lines elsewhere (None).
    """
    with contextlib.suppress(Exception):  # adopt finished shards of killed processes first
        store.sync()
    todo = store.pending(ids)
    todo_pts = store.point_items(todo)
    counts = store.counts()
    log(f"sweep {store.root.name}: {counts['done']} done, {len(todo_pts)} to run")
    if not todo_pts:
        return
    worker = worker or local_worker()
    bar = progress_lib.bar(len(todo_pts), desc="sweep points", show=progress)
    failed: set[str] = set()

    def on_chunk(df, ids_):
        store.write_shard(df, ids_, worker=worker)
        bar.update(len(ids_))

    def on_error(ids_, exc):
        # recorded as the Slurm executor records a failed array task: status failed, the error, the worker
        error = point_error(exc)
        store.mark(ids_, "failed", worker=worker, error=error, held_by=worker)
        failed.update(ids_)
        log(f"sweep: {len(ids_)} point(s) failed: {error}")

    store.mark([p[0] for p in todo_pts], "running", worker=worker)
    lease = Lease(store, worker)  # renewed while this process runs, so a killed one is seen as interrupted
    try:
        evaluate_points(
            mod,
            base_cfg,
            todo_pts,
            root_seed=root_seed,
            chunk_size=chunk_size,
            on_chunk=on_chunk,
            devices=devices,
            on_comparison=lambda pid, comp: write_point_comparison(store.root, pid, comp),
            on_error=on_error,
        )
    except BaseException as exc:  # the sweep itself stops (an interrupt, a store error): the rest fail
        left = [i for i in store.pending([p[0] for p in todo_pts]) if i not in failed]
        store.mark(left, "failed", worker=worker, error=point_error(exc))
        raise
    finally:
        lease.stop()
        bar.close()
    note = failed_note(store)
    if note:
        log(note)


def point_error(exc: BaseException) -> str:
    """The one-line reason stored for points whose evaluation raised ``exc``: ``Type: first line``."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
