"""Parameter sweeps: a grid over config fields and seeds, vectorised, chunked, stored, resumable.

A sweep runs a scenario at every point of ``grid x seeds``. Points are grouped by the values of their *static*
fields (one compilation per group); within a group the *vectorised* fields (the scenario's
``SWEEP_VECTORIZED``) and the seeds are stacked and evaluated with ``jax.vmap`` over chunks of
``chunk_size`` points. Each finished chunk is written to the :class:`cogsim.store.Store` as one shard, so a
killed sweep, started again with the same command, runs only the missing points.

Seeds and keys: the key of seed ``s`` is ``fold_in(key(root_seed), s)``, the same for every grid point (common
random numbers: differences between grid points are not blurred by different noise). Results therefore do not
depend on chunk size, executor or order.

Scenarios with ``sweep_point(config, *, key) -> dict[str, scalar]`` are vectorised; others are run point by
point through ``simulate`` (their tidy output is stored with the point's fields and seed as extra columns).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim import config as _config
from cogsim.errors import CogsimError
from cogsim.store import Store, point_id, provenance, write_run_json

EXECUTORS = ("local",)


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """Everything that defines a sweep; its hash names the run folder, so the same command resumes."""

    scenario: str
    grid: dict[str, tuple[Any, ...]]
    seeds: tuple[int, ...]
    preset: str = "quick"
    overrides: tuple[str, ...] = ()
    root_seed: int = 0

    def run_id(self) -> str:
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return f"{self.scenario}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"

    def points(self) -> list[tuple[dict[str, Any], int]]:
        names = list(self.grid)
        combos = itertools.product(*(self.grid[n] for n in names))
        return [(dict(zip(names, c)), s) for c in combos for s in self.seeds]


def parse_grid(items: Sequence[str], base_cfg: Any) -> dict[str, tuple[Any, ...]]:
    """Parses ``["a=1,2,3", "b.c=0.1,0.2"]`` to typed value tuples, validating each value.

    Example:
      >>> import dataclasses
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     lr: float = 0.1
      >>> parse_grid(["lr=0.1,0.2"], C())
      {'lr': (0.1, 0.2)}
    """
    grid: dict[str, tuple[Any, ...]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise CogsimError(f"--grid {item!r}: expected field=v1,v2,... (e.g. --grid n_boot=100,200)")
        f, tp = _config._lookup_field(base_cfg, key, text)
        values = tuple(_config.parse_value(v, tp, path=key) for v in text.split(","))
        for v in values:  # validate each value in context
            _config.replace(base_cfg, **{key: v})
        if key in grid:
            raise CogsimError(f"--grid: field {key!r} given twice")
        grid[key] = values
    return grid


def seed_key(root_seed: int, seed: int) -> jax.Array:
    """The key of one seed: ``fold_in(key(root_seed), seed)``."""
    return jax.random.fold_in(jax.random.key(root_seed), seed)


def _vectorized(mod) -> tuple[str, ...]:
    return tuple(getattr(mod, "SWEEP_VECTORIZED", ()))


def _group_points(points: Sequence[tuple[str, dict, int]], vec: Sequence[str]):
    groups: dict[str, list] = {}
    for pid, params, seed in points:
        static = {k: v for k, v in params.items() if k not in vec}
        groups.setdefault(json.dumps(static, sort_keys=True, default=str), []).append((pid, params, seed))
    return groups


def _chunks(seq: Sequence, size: int):
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def evaluate_points(mod, base_cfg: Any, points: Sequence[tuple[str, dict, int]], *, root_seed: int,
                    chunk_size: int, on_chunk: Callable[[pd.DataFrame, list[str]], None]) -> None:
    """Evaluates ``points`` (``(point_id, params, seed)``) and hands each finished chunk to ``on_chunk``.

    This is the executors' common core: the local executor calls it on every pending point, a Slurm array task on
    its slice.
    """
    vec = _vectorized(mod)
    vectorised = hasattr(mod, "sweep_point")
    for static_json, pts in _group_points(points, vec if vectorised else ()).items():
        static = json.loads(static_json)
        cfg = _config.replace(base_cfg, **{k: v for k, v in pts[0][1].items() if k in static})
        if not vectorised:
            for pid, params, seed in pts:
                c = _config.replace(base_cfg, **params)
                df = mod.simulate(c, key=seed_key(root_seed, seed))
                df = df.assign(**{k: (str(v) if isinstance(v, tuple) else v) for k, v in params.items()},
                               seed=seed, point_id=pid)
                on_chunk(df, [pid])
            continue
        vec_here = [k for k in vec if k in pts[0][1]]
        for v in vec_here:  # validate the values once, outside the traced function
            for _, params, _ in pts:
                _config.replace(cfg, **{v: params[v]})
        fn = _compiled(mod, cfg, tuple(vec_here), root_seed)
        for chunk in _chunks(pts, chunk_size):
            n = len(chunk)
            pad = chunk + [chunk[-1]] * (chunk_size - n) if len(pts) > chunk_size else chunk
            seeds = jnp.asarray([s for _, _, s in pad], jnp.uint32)
            vals = {k: jnp.asarray([p[k] for _, p, _ in pad], jnp.float32) for k in vec_here}
            out = jax.device_get(fn(seeds, vals))
            rows = []
            for i, (pid, params, seed) in enumerate(chunk):
                row = {k: (str(v) if isinstance(v, tuple) else v) for k, v in params.items()}
                row.update(seed=seed, point_id=pid)
                row.update({m: np.asarray(v[i]).item() for m, v in out.items()})
                rows.append(row)
            on_chunk(pd.DataFrame(rows), [pid for pid, _, _ in chunk])


_CACHE: dict[Any, Callable] = {}


def _compiled(mod, cfg, vec: tuple[str, ...], root_seed: int):
    cache_key = (mod.__name__, _config.to_json(cfg), vec, root_seed)
    if cache_key not in _CACHE:
        root = jax.random.key(root_seed)

        def one(seed, vals):
            c = dataclasses.replace(cfg, **vals)  # traced values; validated before tracing
            out = mod.sweep_point(c, key=jax.random.fold_in(root, seed))
            return {k: jnp.asarray(v) for k, v in out.items()}

        _CACHE[cache_key] = jax.jit(jax.vmap(one))
    return _CACHE[cache_key]


def run(
    scenario: str,
    *,
    grid: Mapping[str, Sequence[Any]] | Sequence[str],
    seeds: int | Sequence[int] = 1,
    preset: str = "quick",
    overrides: Sequence[str] = (),
    root_seed: int = 0,
    out: str | os.PathLike = "runs/sweeps",
    chunk_size: int = 64,
    executor: str = "local",
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> Store:
    """Runs (or resumes) a sweep and returns its :class:`~cogsim.store.Store`.

    Args:
      scenario: a registered scenario name.
      grid: ``{"field": [values]}`` or CLI strings ``["field=v1,v2"]``.
      seeds: number of seeds (0..n-1) or explicit seed values.
      preset: the base preset; ``overrides`` (``field=value``) are applied to it.
      root_seed: the root of all randomness.
      out: parent folder of sweep runs; the run folder is ``out/<scenario>-<hash>``.
      chunk_size: points per vectorised evaluation (bounds memory; does not change results).
      executor: ``"local"`` (this process).
      progress: tqdm bar (default: when stderr is a terminal).

    Example:
      >>> # store = cogsim.sweep.run("change_detection", grid=["sim_K=2,3,4"], seeds=4)
      >>> # store.to_pandas().groupby("sim_K").loglik.mean()
    """
    from cogsim import runner, scenarios

    if executor not in EXECUTORS:
        raise CogsimError(f"sweep: executor {executor!r} is not allowed; choose one of {EXECUTORS}")
    if chunk_size < 1:
        raise CogsimError(f"sweep: chunk_size={chunk_size} must be >= 1")
    mod = scenarios.get(scenario)
    base = runner.make_config(scenario, preset=preset, overrides=overrides)
    grid_t = parse_grid(grid, base) if not isinstance(grid, Mapping) else {
        k: tuple(v) for k, v in parse_grid([f"{k}={','.join(map(str, v))}" for k, v in grid.items()], base).items()}
    seed_list = tuple(range(seeds)) if isinstance(seeds, int) else tuple(int(s) for s in seeds)
    if not seed_list or min(seed_list) < 0:
        raise CogsimError(f"sweep: seeds must be a positive count or non-negative seed values; got {seeds!r}")
    spec = SweepSpec(scenario, grid_t, seed_list, preset, tuple(overrides), root_seed)
    folder = Path(out) / spec.run_id()
    store = Store(folder)
    if store.get_meta("spec") is None:
        store.set_meta("spec", dataclasses.asdict(spec))
        store.set_meta("dims", list(grid_t))
        write_run_json(folder, provenance(config=base, seed=root_seed, scenario=scenario, preset=preset,
                                          overrides=list(overrides), grid={k: list(v) for k, v in grid_t.items()},
                                          seeds=list(seed_list), kind="sweep"))
    store.add_points(spec.points())
    run_pending(store, mod, base, root_seed=root_seed, chunk_size=chunk_size, progress=progress, log=log)
    return store


def run_pending(store: Store, mod, base_cfg, *, root_seed: int, chunk_size: int, progress: bool | None = None,
                ids: Sequence[str] | None = None, worker: str | None = None, log=print) -> None:
    """Evaluates the store's pending points (optionally only ``ids``) in this process."""
    import sys

    from tqdm.auto import tqdm

    todo = store.pending(ids)
    pts = store.points().set_index("point_id")
    todo_pts = [(pid, json.loads(pts.at[pid, "params"]), int(pts.at[pid, "seed"])) for pid in todo]
    counts = store.counts()
    log(f"sweep {store.root.name}: {counts['done']} done, {len(todo_pts)} to run")
    if not todo_pts:
        return
    worker = worker or f"pid{os.getpid()}"
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(todo_pts), disable=not show, desc="sweep", leave=False)

    def on_chunk(df, ids_):
        store.write_shard(df, ids_, worker=worker)
        bar.update(len(ids_))

    store.mark([p[0] for p in todo_pts], "running", worker=worker)
    try:
        evaluate_points(mod, base_cfg, todo_pts, root_seed=root_seed, chunk_size=chunk_size, on_chunk=on_chunk)
    except BaseException as exc:
        store.mark(store.pending([p[0] for p in todo_pts]), "failed", worker=worker,
                   error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        bar.close()


__all__ = ["EXECUTORS", "SweepSpec", "evaluate_points", "parse_grid", "point_id", "run", "run_pending",
           "seed_key"]
