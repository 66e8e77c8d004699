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
A swept field that ``sweep_point`` never reads is refused before anything runs.

Executors (``executor=``): ``"local"`` evaluates in this process; ``"devices"`` shards each chunk over all
local JAX devices; ``"slurm"`` submits a Slurm job array through submitit, one task per chunk of points (see
:mod:`cogsim.sweep.executors`). :func:`resume` continues a run folder from the spec stored in it.

The package's modules depend on each other in one direction only: ``plan`` (spec, grid, groups) <-
``evaluate`` (this process) <- ``executors`` (devices, Slurm) <- ``driver`` (:func:`run`, :func:`resume`);
``repair`` (damaged shards) depends on the store only.
Its names load lazily, so ``import cogsim.sweep.executors`` (the Slurm tasks, ``cogsim sweep status``) does
not import JAX.
"""

from __future__ import annotations

import importlib

_NAMES = {
    "EXECUTORS": "plan",
    "SweepSpec": "plan",
    "parse_grid": "plan",
    "spec_from_dict": "plan",
    "evaluate_points": "evaluate",
    "local_worker": "evaluate",
    "run_pending": "evaluate",
    "seed_key": "evaluate",
    "run": "driver",
    "resume": "driver",
}
_MODULES = ("plan", "evaluate", "executors", "driver", "repair", "lease")


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"cogsim.sweep.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"cogsim.sweep.{_NAMES[name]}"), name)
    if name == "point_id":
        from cogsim.store import point_id

        return point_id
    raise AttributeError(f"module 'cogsim.sweep' has no attribute {name!r}")


__all__ = [*_NAMES, *_MODULES, "point_id"]
