"""Running a sweep: plan it, record it in its run folder, and hand its pending points to an executor."""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cogsim import _memory, runner, scenario_registry
from cogsim import config as cfglib
from cogsim._data_files import check_input_files, sweep_data_files
from cogsim._store_results import path_arg
from cogsim.errors import CogsimError
from cogsim.store import Store, check_writable, provenance, write_run_json
from cogsim.store import load as store_load
from cogsim.sweep import executors, repair
from cogsim.sweep.evaluate import run_pending
from cogsim.sweep.plan import (
    EXECUTORS,
    SweepSpec,
    check_combinations,
    check_fields_read,
    parse_grid,
    spec_from_dict,
)

#: the most points (grid x seeds) one sweep holds
MAX_POINTS = 10_000_000


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
    resume: bool = False,
) -> Store:
    """Runs (or resumes) a sweep and returns its :class:`~cogsim.store.Store`.

    Args:
      scenario: a registered scenario name.
      grid: ``{"field": [values]}`` (a list, tuple or 1-d NumPy array of values) or CLI strings
        ``["field=v1,v2"]``.
      seeds: number of seeds (0..n-1) or explicit seed values (Python or NumPy integers, or an integer array).
      preset: the base preset; ``overrides`` (``field=value``) are applied to it.
      root_seed: the root of all randomness.
      out: parent folder of sweep runs; the run folder is ``out/<scenario>-<hash>``.
      chunk_size: points per vectorised evaluation (bounds memory; does not change results). With the slurm
        executor it is also the number of points per array task unless ``slurm.points_per_task`` is set.
      executor: ``"local"`` (this process), ``"devices"`` (this process, sharded over all local JAX devices)
        or ``"slurm"`` (a Slurm job array; see :mod:`cogsim.sweep.executors`).
      slurm: a :class:`cogsim.sweep.executors.SlurmConfig`, or a dict of its fields overriding the
        defaults (and the settings stored by an earlier run of the same sweep).
      progress: tqdm bar (default: when stderr is a terminal).
      resume: only continue an earlier run of this very sweep (``cogsim sweep NAME ... --resume``): when
        ``out`` holds none (a changed grid, seeds, root seed, preset or override is another sweep), refused
        before anything is created.

    Example:
      >>> # store = cogsim.sweep.run("change_detection", grid=["sim_K=2,3,4"], seeds=4)
      >>> # store.to_pandas().groupby("sim_K").loglik.mean()
    """
    _check_executor(executor, chunk_size, slurm)
    check_writable(out, what="sweep: out")
    base = runner.make_config(scenario, preset=preset, overrides=overrides)
    grid_t = parse_grid(_grid_strings(grid), base)
    set_fields = [str(o).split("=", 1)[0].strip() for o in overrides]
    both = [f for f in grid_t if f in set_fields]
    if both:
        raise CogsimError(
            f"sweep: {', '.join(map(repr, both))} given both with --set and in --grid; allowed: one of them "
            "(the grid sets the field at every point)"
        )
    runner.check_seed(root_seed, what="sweep: root seed")
    seed_list = _seed_list(seeds)
    n_points = len(seed_list) * math.prod(len(v) for v in grid_t.values())
    if n_points > MAX_POINTS:
        raise CogsimError(
            f"sweep: {n_points} points (grid x seeds); allowed: at most {MAX_POINTS} in one sweep "
            "(the index and the result table must fit in memory); split the grid"
        )
    mod = scenario_registry.get(scenario)
    check_combinations(mod, base, grid_t)
    check_fields_read(mod, base, list(grid_t), scenario=scenario, grid=grid_t)
    check_fields_read(mod, base, set_fields, scenario=scenario, given="set", grid=grid_t)
    files = sweep_data_files(mod, base, grid_t)
    data_files = tuple((f["path"], f["sha256"]) for f in files)
    spec = SweepSpec(scenario, grid_t, seed_list, preset, tuple(overrides), root_seed, data_files)
    folder = Path(out) / spec.run_id()
    if resume and not (folder / "index.sqlite").is_file():
        _no_earlier_run(folder, scenario)
    if executor != "slurm":
        check_memory(mod, base, spec, chunk_size)
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
                input_files=files,
            ),
        )
    store.add_points(spec.points())
    _execute(store, spec, executor=executor, chunk_size=chunk_size, slurm=slurm, progress=progress, log=log)
    return store


def _no_earlier_run(folder: Path, scenario: str) -> None:
    """Refuses ``--resume`` of a sweep that ``folder`` (its run folder) does not hold, naming the sweeps of
    ``scenario`` that its parent folder does hold."""
    others = sorted(str(p) for p in folder.parent.glob(f"{scenario}-*") if (p / "index.sqlite").is_file())
    where = (
        f"{str(folder.parent)!r} holds {len(others)} other sweep(s) of {scenario}: {', '.join(others[:5])}"
        f"{' ...' if len(others) > 5 else ''} (`cogsim sweep status RUN_DIR` shows one; "
        "`cogsim sweep --resume RUN_DIR` continues it)"
        if others
        else f"{str(folder.parent)!r} holds no sweep of {scenario}"
    )
    raise CogsimError(
        f"sweep --resume: no earlier run of this sweep (it would be {str(folder)!r}): the scenario, --grid, "
        "--seeds, --root-seed, --preset, --set and data files make a sweep, and a change to any is another "
        f"sweep, computed from scratch; {where}; without --resume this command starts the new sweep"
    )


def _grid_strings(grid: Any) -> list[str]:
    """``grid`` as the command line's ``field=v1,v2`` strings, or a CogsimError naming what is wrong."""
    example = "allowed: {'field': [v1, v2, ...]} or ['field=v1,v2,...']"
    if isinstance(grid, Mapping):
        items = []
        for k, v in grid.items():
            v = _listed(v)
            if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or not v:
                raise CogsimError(f"sweep: grid[{k!r}]: got {v!r}; allowed: a non-empty list of values")
            items.append(f"{k}={','.join(_grid_text(k, x) for x in v)}")
        return items
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence):
        raise CogsimError(f"sweep: grid: got {grid!r}; {example}")
    if not all(isinstance(g, str) for g in grid):
        raise CogsimError(f"sweep: grid: got {grid!r}; {example}")
    return list(grid)


def _grid_text(field: str, value: Any, *, item: bool = False) -> str:
    """One value of a Python grid as the command line writes it: a tuple or list in brackets, ``(a,b)``; a
    text that the command line would split (a comma, or a bracket in an item of a tuple) refused."""
    value = _listed(value)
    if isinstance(value, (tuple, list)):
        return f"({','.join(_grid_text(field, x, item=True) for x in value)})"
    text = str(value)
    if isinstance(value, str) and any(c in text for c in (",()[]" if item else ",")):
        raise CogsimError(
            f"sweep: grid[{field!r}]: got {value!r}; allowed: values without commas (nor brackets in the "
            "items of a tuple); a value of several items as a tuple"
        )
    return text


def _listed(values: Any) -> Any:
    """A 1-d NumPy array (or pandas Series) as a list of Python values; anything else unchanged."""
    if hasattr(values, "tolist") and getattr(values, "ndim", None) == 1:
        return values.tolist()
    return values


def _integer(value: Any) -> Any:
    """``value`` as a Python int when it is an integer (NumPy integers included, bools not); else unchanged,
    for the caller's check to refuse."""
    if type(value).__name__ in ("bool", "bool_") or not hasattr(value, "__index__"):
        return value
    try:
        return value.__index__()
    except TypeError:  # e.g. a 2-d array
        return value


def _seed_list(seeds: Any) -> tuple[int, ...]:
    """The seeds ``seeds`` stands for (a count or seed values; NumPy integers and arrays too), checked."""
    seeds = _integer(_listed(seeds))
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= MAX_POINTS:
            raise CogsimError(f"sweep: seeds: got {seeds!r}; allowed: a count in [1, {MAX_POINTS}]")
        return tuple(range(seeds))
    allowed = f"a count in [1, {MAX_POINTS}] or a non-empty list of distinct integer seeds"
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise CogsimError(f"sweep: seeds: got {seeds!r}; allowed: {allowed}")
    seeds = [_integer(s) for s in seeds]
    for s in seeds:
        runner.check_seed(s, what="sweep: seed")
    if len(set(seeds)) != len(seeds):
        raise CogsimError(f"sweep: seeds: got {seeds!r}; allowed: {allowed}")
    return tuple(int(s) for s in seeds)


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
    store = store_load(path_arg(run_dir, "sweep: resume: run_dir"))
    meta = store.get_meta("spec")
    if meta is None:
        raise CogsimError(f"sweep: {str(run_dir)!r} holds no sweep spec (not a sweep run folder)")
    spec = spec_from_dict(meta)
    # points computed on other trials under the same file name would be mixed in: refused
    check_input_files([{"path": p, "sha256": h, "field": "data"} for p, h in spec.data_files], where="sweep")
    last = store.get_meta("executor") or {}
    executor = executor or last.get("name", "local")
    chunk_size = last.get("chunk_size", 64) if chunk_size is None else chunk_size
    _check_executor(executor, chunk_size, slurm)
    if executor != "slurm":
        mod = scenario_registry.get(spec.scenario)
        check_memory(
            mod,
            runner.make_config(spec.scenario, preset=spec.preset, overrides=spec.overrides),
            spec,
            chunk_size,
        )
    _execute(store, spec, executor=executor, chunk_size=chunk_size, slurm=slurm, progress=progress, log=log)
    return store


def check_memory(mod: Any, base: Any, spec: SweepSpec, chunk_size: int) -> None:
    """Refuses, before anything is computed or written, a sweep whose points would not fit in this machine's
    memory: every grid point's config (a scenario evaluated through ``simulate``), or one vectorised chunk
    (at most ``chunk_size`` points through ``sweep_point``); see :mod:`cogsim._memory`."""
    names = list(spec.grid)
    if hasattr(mod, "sweep_point"):
        points = min(chunk_size, len(spec.seeds) * math.prod(len(v) for v in spec.grid.values()))
        statics = [n for n in names if n not in getattr(mod, "SWEEP_VECTORIZED", ())]
        for combo in itertools.product(*(spec.grid[n] for n in statics)):
            _memory.check_sweep_chunk(
                mod, cfglib.replace(base, **dict(zip(statics, combo, strict=True))), points
            )
        return
    if not hasattr(mod, "memory_bytes"):
        return
    for combo in itertools.product(*(spec.grid[n] for n in names)):
        _memory.check_scenario(mod, cfglib.replace(base, **dict(zip(names, combo, strict=True))))


def _check_executor(executor: str, chunk_size: int, slurm: Any = None) -> None:
    """Rejects bad executor settings before anything is created or submitted."""
    if executor not in EXECUTORS:
        raise CogsimError(f"sweep: executor {executor!r} is not allowed; choose one of {EXECUTORS}")
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise CogsimError(f"sweep: chunk_size={chunk_size!r} must be an integer >= 1")
    if slurm is not None and executor != "slurm":
        raise CogsimError(f"sweep: Slurm settings given but executor is {executor!r}; use executor='slurm'")
    if executor == "slurm":
        executors.slurm_config(slurm)  # validates the given settings (merged with stored ones later)
        executors.check_slurm_commands()  # before a run folder is created or a point marked


def _execute(
    store: Store, spec: SweepSpec, *, executor: str, chunk_size: int, slurm: Any, progress, log
) -> None:
    repair.recover(store, log=log)  # damaged shards: set aside, their points computed again
    mod = scenario_registry.get(spec.scenario)
    base = runner.make_config(spec.scenario, preset=spec.preset, overrides=spec.overrides)
    record: dict[str, Any] = {"name": executor, "chunk_size": chunk_size}
    if executor == "slurm":
        cfg = executors.slurm_config(slurm, stored=(store.get_meta("executor") or {}).get("slurm"))
        # stored for --resume; whether to wait is a choice of each invocation, not of the sweep
        record["slurm"] = {k: v for k, v in cfglib.to_dict(cfg).items() if k != "wait"}
        store.set_meta("executor", record)
        executors.run_slurm(store, spec, chunk_size=chunk_size, config=cfg, progress=progress, log=log)
        return
    devices = None
    if executor == "devices":
        devices = executors.local_devices()
        record["devices"] = [str(d) for d in devices]
        if hasattr(mod, "sweep_point"):
            log(f"sweep: sharding each chunk over {len(devices)} device(s): {', '.join(map(str, devices))}")
        else:  # documented (docs/sweeps.md): point by point through simulate
            log(f"sweep: {spec.scenario} has no sweep_point: its points run one by one on the default device")
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
