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

Executors (``executor=``): ``"local"`` evaluates in this process; ``"devices"`` shards each chunk over all
local JAX devices; ``"slurm"`` submits a Slurm job array through submitit, one task per chunk of points (see
:mod:`cogsim.executors`). :func:`resume` continues a run folder from the spec stored in it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import socket
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

EXECUTORS = ("local", "devices", "slurm")


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
        return [(dict(zip(names, c, strict=True)), s) for c in combos for s in self.seeds]


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


def _param_value(v: Any) -> Any:
    return str(v) if isinstance(v, (tuple, list)) else v


def evaluate_points(
    mod,
    base_cfg: Any,
    points: Sequence[tuple[str, dict, int]],
    *,
    root_seed: int,
    chunk_size: int,
    on_chunk: Callable[[pd.DataFrame, list[str]], None],
    devices: Sequence[Any] | None = None,
) -> None:
    """Evaluates ``points`` (``(point_id, params, seed)``) and hands each finished chunk to ``on_chunk``.

    This is the executors' common core: the local executor calls it on every pending point, a Slurm array task
    on its slice. With several ``devices`` each chunk (padded to a multiple of their number) is sharded over a
    1-D device mesh; the numbers do not change.

    Example:
      >>> # evaluate_points(mod, cfg, [(pid, {"sim_K": 2.0}, 0)], root_seed=0, chunk_size=8, on_chunk=print)
    """
    vec = _vectorized(mod)
    vectorised = hasattr(mod, "sweep_point")
    n_dev = len(devices) if devices else 1
    sharding = None
    if n_dev > 1:
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        sharding = NamedSharding(Mesh(np.asarray(devices), ("points",)), PartitionSpec("points"))
    for static_json, pts in _group_points(points, vec if vectorised else ()).items():
        static = json.loads(static_json)
        cfg = _config.replace(base_cfg, **{k: v for k, v in pts[0][1].items() if k in static})
        if not vectorised:
            for pid, params, seed in pts:
                c = _config.replace(base_cfg, **params)
                df = mod.simulate(c, key=seed_key(root_seed, seed))
                df = df.assign(**{k: _param_value(v) for k, v in params.items()}, seed=seed, point_id=pid)
                on_chunk(df, [pid])
            continue
        vec_here = [k for k in vec if k in pts[0][1]]
        for v in vec_here:  # validate each value once, outside the traced function
            for value in dict.fromkeys(_param_value(params[v]) for _, params, _ in pts):
                _config.replace(cfg, **{v: value})
        fn = _compiled(mod, cfg, tuple(vec_here), root_seed)
        # One batch shape per group (one compilation): the chunk size, or the whole group if smaller, rounded
        # up to a multiple of the device count. Padding repeats the last point; its outputs are dropped.
        size = -(-min(chunk_size, len(pts)) // n_dev) * n_dev
        names = list(pts[0][1])
        for chunk in _chunks(pts, size):
            n = len(chunk)
            pad = chunk + [chunk[-1]] * (size - n)
            seeds = np.asarray([s for _, _, s in pad], np.uint32)
            vals = {k: np.asarray([p[k] for _, p, _ in pad], np.float32) for k in vec_here}
            if sharding is not None:
                seeds, vals = jax.device_put((seeds, vals), sharding)
            out = jax.device_get(fn(jnp.asarray(seeds), {k: jnp.asarray(v) for k, v in vals.items()}))
            cols: dict[str, Any] = {k: [_param_value(p[k]) for _, p, _ in chunk] for k in names}
            cols["seed"] = [s for _, _, s in chunk]
            cols["point_id"] = [pid for pid, _, _ in chunk]
            for m, v in out.items():
                v = np.asarray(v)
                if v.ndim != 1:
                    raise CogsimError(
                        f"sweep: {mod.__name__}.sweep_point output {m!r} has shape {v.shape[1:]} "
                        "per point; it must be a scalar"
                    )
                cols[m] = v[:n]
            on_chunk(pd.DataFrame(cols), cols["point_id"])


_CACHE: dict[Any, Callable] = {}


def _compiled(mod, cfg, vec: tuple[str, ...], root_seed: int):
    """``fn(seeds, vals)``: ``sweep_point`` vmapped over seeds and vectorised fields, jitted once per static
    config (the root key is an argument, so sweeps with other root seeds reuse the compilation)."""
    cache_key = (mod.__name__, _config.to_json(cfg), vec)
    if cache_key not in _CACHE:

        def one(root, seed, vals):
            c = dataclasses.replace(cfg, **vals)  # traced values; validated before tracing
            out = mod.sweep_point(c, key=jax.random.fold_in(root, seed))
            return {k: jnp.asarray(v) for k, v in out.items()}

        _CACHE[cache_key] = jax.jit(jax.vmap(one, in_axes=(None, 0, 0)))
    fn = _CACHE[cache_key]
    root = jax.random.key(root_seed)
    return lambda seeds, vals: fn(root, seeds, vals)


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
    slurm: Any = None,
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
      chunk_size: points per vectorised evaluation (bounds memory; does not change results). With the slurm
        executor it is also the number of points per array task unless ``slurm.points_per_task`` is set.
      executor: ``"local"`` (this process), ``"devices"`` (this process, sharded over all local JAX devices)
        or ``"slurm"`` (a Slurm job array; see :mod:`cogsim.executors`).
      slurm: a :class:`cogsim.executors.SlurmConfig`, or a dict of its fields overriding the defaults (and
        the settings stored by an earlier run of the same sweep).
      progress: tqdm bar (default: when stderr is a terminal).

    Example:
      >>> # store = cogsim.sweep.run("change_detection", grid=["sim_K=2,3,4"], seeds=4)
      >>> # store.to_pandas().groupby("sim_K").loglik.mean()
    """
    from cogsim import runner

    _check_executor(executor, chunk_size, slurm)
    base = runner.make_config(scenario, preset=preset, overrides=overrides)
    grid_t = (
        parse_grid(grid, base)
        if not isinstance(grid, Mapping)
        else {
            k: tuple(v)
            for k, v in parse_grid([f"{k}={','.join(map(str, v))}" for k, v in grid.items()], base).items()
        }
    )
    seed_list = tuple(range(seeds)) if isinstance(seeds, int) else tuple(int(s) for s in seeds)
    if not seed_list or min(seed_list) < 0:
        raise CogsimError(f"sweep: seeds must be a positive count or non-negative seed values; got {seeds!r}")
    spec = SweepSpec(scenario, grid_t, seed_list, preset, tuple(overrides), root_seed)
    folder = Path(out) / spec.run_id()
    store = Store(folder)
    if store.get_meta("spec") is None:
        store.set_meta("spec", dataclasses.asdict(spec))
        store.set_meta("dims", list(grid_t))
        write_run_json(
            folder,
            provenance(
                config=base,
                seed=root_seed,
                scenario=scenario,
                preset=preset,
                overrides=list(overrides),
                grid={k: list(v) for k, v in grid_t.items()},
                seeds=list(seed_list),
                kind="sweep",
            ),
        )
    store.add_points(spec.points())
    _execute(store, spec, executor=executor, chunk_size=chunk_size, slurm=slurm, progress=progress, log=log)
    return store


def resume(
    run_dir: str | os.PathLike,
    *,
    executor: str | None = None,
    chunk_size: int | None = None,
    slurm: Any = None,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> Store:
    """Continues the sweep in ``run_dir`` from the spec stored there: only points not yet done run.

    Finished shards that the index does not know yet are adopted first; with the slurm executor, array tasks
    of an earlier driver that are still queued or running are waited for, not submitted again. The executor,
    chunk size and Slurm settings default to those of the last run of this folder.

    Example:
      >>> # cogsim.sweep.resume("runs/sweeps/change_detection-ab12cd", executor="slurm")
    """
    from cogsim.store import load

    store = load(run_dir)
    meta = store.get_meta("spec")
    if meta is None:
        raise CogsimError(f"sweep: {str(run_dir)!r} holds no sweep spec (not a sweep run folder)")
    spec = spec_from_dict(meta)
    last = store.get_meta("executor") or {}
    executor = executor or last.get("name", "local")
    chunk_size = chunk_size or last.get("chunk_size", 64)
    _check_executor(executor, chunk_size, slurm)
    _execute(store, spec, executor=executor, chunk_size=chunk_size, slurm=slurm, progress=progress, log=log)
    return store


def spec_from_dict(d: Mapping[str, Any]) -> SweepSpec:
    """The :class:`SweepSpec` stored in a run folder's meta (``store.get_meta("spec")``)."""
    return SweepSpec(
        d["scenario"],
        {k: tuple(v) for k, v in d["grid"].items()},
        tuple(d["seeds"]),
        d.get("preset", "quick"),
        tuple(d.get("overrides", ())),
        int(d.get("root_seed", 0)),
    )


def _check_executor(executor: str, chunk_size: int, slurm: Any = None) -> None:
    """Rejects bad executor settings before anything is created or submitted."""
    if executor not in EXECUTORS:
        raise CogsimError(f"sweep: executor {executor!r} is not allowed; choose one of {EXECUTORS}")
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise CogsimError(f"sweep: chunk_size={chunk_size!r} must be an integer >= 1")
    if slurm is not None and executor != "slurm":
        raise CogsimError(f"sweep: Slurm settings given but executor is {executor!r}; use executor='slurm'")
    if executor == "slurm":
        from cogsim import executors

        executors.slurm_config(slurm)  # validates the given settings (merged with stored ones later)


def _execute(
    store: Store, spec: SweepSpec, *, executor: str, chunk_size: int, slurm: Any, progress, log
) -> None:
    from cogsim import runner, scenarios

    mod = scenarios.get(spec.scenario)
    base = runner.make_config(spec.scenario, preset=spec.preset, overrides=spec.overrides)
    record: dict[str, Any] = {"name": executor, "chunk_size": chunk_size}
    if executor == "slurm":
        from cogsim import executors

        cfg = executors.slurm_config(slurm, stored=(store.get_meta("executor") or {}).get("slurm"))
        # stored for --resume; whether to wait is a choice of each invocation, not of the sweep
        record["slurm"] = {k: v for k, v in _config.to_dict(cfg).items() if k != "wait"}
        store.set_meta("executor", record)
        executors.run_slurm(store, spec, chunk_size=chunk_size, config=cfg, progress=progress, log=log)
        return
    devices = None
    if executor == "devices":
        from cogsim import executors

        devices = executors.local_devices()
        record["devices"] = [str(d) for d in devices]
        log(f"sweep: sharding each chunk over {len(devices)} device(s): {', '.join(map(str, devices))}")
    store.set_meta("executor", record)
    run_pending(
        store,
        mod,
        base,
        root_seed=spec.root_seed,
        chunk_size=chunk_size,
        progress=progress,
        devices=devices,
        log=log,
    )


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
      >>> # run_pending(store, scenarios.get("change_detection"), cfg, root_seed=0, chunk_size=64)
    """
    import sys

    from tqdm.auto import tqdm

    with contextlib.suppress(Exception):  # adopt finished shards of killed processes first
        store.sync()
    todo = store.pending(ids)
    todo_pts = store.point_items(todo)
    counts = store.counts()
    log(f"sweep {store.root.name}: {counts['done']} done, {len(todo_pts)} to run")
    if not todo_pts:
        return
    worker = worker or local_worker()
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(todo_pts), disable=not show, desc="sweep", leave=False)

    def on_chunk(df, ids_):
        store.write_shard(df, ids_, worker=worker)
        bar.update(len(ids_))

    store.mark([p[0] for p in todo_pts], "running", worker=worker)
    try:
        evaluate_points(
            mod,
            base_cfg,
            todo_pts,
            root_seed=root_seed,
            chunk_size=chunk_size,
            on_chunk=on_chunk,
            devices=devices,
        )
    except BaseException as exc:
        store.mark(
            store.pending([p[0] for p in todo_pts]),
            "failed",
            worker=worker,
            error=f"{type(exc).__name__}: {exc}",
        )
        raise
    finally:
        bar.close()


__all__ = [
    "EXECUTORS",
    "SweepSpec",
    "evaluate_points",
    "local_worker",
    "parse_grid",
    "point_id",
    "resume",
    "run",
    "run_pending",
    "seed_key",
    "spec_from_dict",
]
