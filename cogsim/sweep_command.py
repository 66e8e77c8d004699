"""``cogsim sweep``: the command line's sweep commands (run, ``--resume``, ``status``) over
:mod:`cogsim.sweep`; the arguments are parsed by :mod:`cogsim.cli`."""

from __future__ import annotations

import os
import sys
import time

from cogsim.errors import CogsimError

#: the command line's ``--slurm-*`` flags (argparse names) -> the Slurm settings' keys
SLURM_FLAGS = {
    "slurm_partition": "partition",
    "slurm_time": "time",
    "slurm_cpus": "cpus_per_task",
    "slurm_gpus": "gpus_per_task",
    "slurm_mem": "mem",
    "slurm_array_parallelism": "array_parallelism",
    "slurm_points_per_task": "points_per_task",
    "slurm_job_name": "job_name",
    "slurm_opt": "sbatch",
    "slurm_setup": "setup",
    "slurm_python": "python",
    "slurm_poll": "poll_s",
}


def slurm_settings(args) -> dict | None:
    """The Slurm settings the parsed arguments give (``--slurm-config`` file, then the ``--slurm-*`` flags
    over it), or None when none is given."""
    from cogsim.sweep import executors

    settings: dict = {}
    if args.slurm_config:
        settings.update(executors.load_slurm_config(args.slurm_config))
    for flag, key in SLURM_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            settings[key] = tuple(value) if isinstance(value, list) else value
    if args.slurm_no_wait:
        settings["wait"] = False
    return settings or None


def status(run_dir: str) -> None:
    """``cogsim sweep status RUN_DIR``: the points' counts by status, where points run and why they failed."""
    from cogsim import store
    from cogsim.sweep import executors, repair

    s = store.load(run_dir)
    executors.reconcile(s)
    counts = s.counts()
    damaged = repair.damaged_shards(s)
    shown = {k: str(v) for k, v in counts.items()}
    lost = sum(n for n, _ in damaged.values())
    if lost:  # the index still counts them done; their results are gone until --resume computes them again
        shown["done"] = f"{counts['done'] - lost} (+{lost} in damaged shards, computed again on resume)"
    print("  ".join(f"{k}: {v}" for k, v in shown.items()) + f"  total: {sum(counts.values())}")
    pts = s.points()
    running = pts[pts["status"] == "running"]
    for worker, grp in list(running.groupby(running["worker"].fillna("-")))[:20]:
        if worker.startswith("slurm:"):
            where = f"log: {grp['log'].iloc[0] or '-'}"
        else:  # a local sweep process: alive while it renews its lease (cogsim.sweep.lease)
            where = f"lease renewed {executors._duration(time.time() - grp['updated'].max())} ago"
        print(f"  running: {len(grp)} point(s) in {worker} ({where})")
    tasks = [w.split(":", 1)[1] for w in running["worker"].dropna().unique() if w.startswith("slurm:")]
    if tasks and executors.squeue_alive(tasks) is None:
        print(
            "  (squeue cannot answer here: whether these Slurm tasks still run is unknown; "
            "run `cogsim sweep status` where squeue works, e.g. on the login node)"
        )
    failed = pts[pts["status"] == "failed"].fillna({"worker": "-", "error": "-", "log": "-"})
    for (worker, error, log), grp in list(failed.groupby(["worker", "error", "log"], sort=False))[:20]:
        print(f"  failed: {len(grp)} point(s) in {worker}: {error} (log: {log})")
    for name, (n, why) in damaged.items():
        print(f"  damaged: shard {str(s.root / 'shards' / name)!r} ({n} done point(s)) cannot be read: {why}")
    bad_comparisons = repair.damaged_comparisons(s)
    for name, (_, why) in bad_comparisons.items():
        path = str(s.root / "comparisons" / name)
        print(f"  damaged: comparison {path!r} cannot be read: {why} (its point is computed again on resume)")
    if counts["failed"] or counts["pending"] or damaged or bad_comparisons:
        print(f"run the missing points with: cogsim sweep --resume {run_dir}")


def run(args) -> None:
    """``cogsim sweep``: a new sweep, ``--resume RUN_DIR`` or ``status RUN_DIR`` (the parsed arguments)."""
    from cogsim import sweep

    if args.name == "status":
        if not args.run_dir:
            raise CogsimError(
                "sweep status: give the sweep run folder, e.g. cogsim sweep status runs/sweeps/X"
            )
        status(args.run_dir)
        return
    slurm = slurm_settings(args)
    if slurm and args.executor not in (None, "slurm"):
        raise CogsimError(f"sweep: --slurm-* settings need --executor slurm (got --executor {args.executor})")
    if args.resume:  # cogsim sweep --resume RUN_DIR
        given = [
            opt
            for opt, v in (
                ("NAME", args.name or args.run_dir),
                ("--grid", args.grid),
                ("--seeds", args.seeds),
                ("--preset", args.preset),
                ("--set", args.overrides),
                ("--root-seed", args.root_seed),
                ("--out", args.out),
            )
            if v is not None and v != []
        ]
        if given:
            raise CogsimError(
                f"sweep --resume RUN_DIR reads the sweep from the run folder; got {', '.join(given)}; "
                "allowed with it: --executor, --chunk-size, --slurm-* (or re-run the original command with "
                "--resume and no folder)"
            )
        s = sweep.resume(args.resume, executor=args.executor, chunk_size=args.chunk_size, slurm=slurm)
    else:
        if not args.name:
            raise CogsimError("sweep: give a scenario name (see `cogsim list`) or --resume RUN_DIR")
        if args.run_dir:
            raise CogsimError(f"sweep: unexpected argument {args.run_dir!r}; use --grid FIELD=V1,V2")
        if not args.grid:
            raise CogsimError(
                "sweep: give at least one --grid FIELD=V1,V2 (see `cogsim info NAME` for fields)"
            )
        executor = args.executor or ("slurm" if slurm else "local")
        chunk = 64 if args.chunk_size is None else args.chunk_size
        s = sweep.run(
            args.name,
            grid=args.grid,
            seeds=1 if args.seeds is None else args.seeds,
            preset="quick" if args.preset is None else args.preset,
            overrides=args.overrides,
            root_seed=0 if args.root_seed is None else args.root_seed,
            out=os.path.join("runs", "sweeps") if args.out is None else args.out,
            chunk_size=chunk,
            executor=executor,
            slurm=slurm,
            resume=args.resume == "",  # `--resume` without a folder: only an earlier run of this sweep
        )
    counts = s.counts()
    total = sum(counts.values())
    failed = f"; {counts['failed']} failed" if counts["failed"] else ""
    print(f"sweep {s.root}: {counts['done']} of {total} points done{failed}")
    print(f"load with: cogsim.store.load({str(s.root)!r}).to_pandas()")
    if counts["done"] < total and not args.slurm_no_wait:
        print(
            f"{total - counts['done']} point(s) not done: see `cogsim sweep status {s.root}`; "
            f"`cogsim sweep --resume {s.root}` runs them",
            file=sys.stderr,
        )
        raise SystemExit(1)
