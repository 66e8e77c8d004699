"""The ``cogsim`` command line.

    cogsim list                                  scenarios, with their presets
    cogsim info NAME                             a scenario's config fields (types, defaults, ranges)
    cogsim run NAME [--preset P] [--set k=v ...] [--seed S] [--out DIR]
    cogsim suite [--preset quick] [--out runs]   every scenario's preset, summary table and runs/REPORT.md
    cogsim sweep NAME --grid k=v1,v2 [--grid ...] --seeds N [--chunk-size C] [--out runs/sweeps]
                [--executor local|devices|slurm] [--slurm-partition P --slurm-time T ...]
    cogsim sweep --resume RUN_DIR [--executor ...]  run what is missing (spec read from the run folder)
    cogsim sweep status RUN_DIR                  done / running / failed / pending counts, failed tasks' logs
    cogsim compare RUN_DIR                       re-score a finished run against the human data
    cogsim data list | cogsim data show NAME     packaged datasets, their provenance and citation
    cogsim fit PARADIGM --data FILE.csv [...]    fit models to trial data (`cogsim fit --list`)

Bad input exits with status 2 and one line on stderr naming the field, the value and what is allowed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cogsim import fitting_command
from cogsim.errors import CogsimError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cogsim", description="Simulate attention and memory; compare with humans."
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("list", help="list scenarios and their presets")

    pi = sub.add_parser("info", help="show a scenario's config fields")
    pi.add_argument("name")
    pi.add_argument("--preset", default="quick")

    pr = sub.add_parser("run", help="run one scenario and compare it with the human data")
    pr.add_argument("name", help="scenario name (see `cogsim list`)")
    pr.add_argument("--preset", default="quick", help="preset to start from (default: quick)")
    pr.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a config field (repeatable), e.g. --set n_boot=500",
    )
    pr.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    pr.add_argument("--out", default="runs", help="parent folder of the run folder (default: runs)")

    ps = sub.add_parser("suite", help="run every scenario's preset; print and write the summary report")
    ps.add_argument("--preset", default="quick")
    ps.add_argument("--seed", type=int, default=0)
    ps.add_argument("--out", default="runs")
    ps.add_argument("--only", default=None, help="comma-separated scenario names (default: all)")

    pw = sub.add_parser("sweep", help="run a parameter sweep (or `cogsim sweep status RUN_DIR`)")
    pw.add_argument("name", nargs="?", help="scenario name, or `status`")
    pw.add_argument("run_dir", nargs="?", help="with `status`: the sweep run folder")
    pw.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="a swept field and its values (repeatable)",
    )
    pw.add_argument("--seeds", type=int, default=1, help="number of seeds per grid point (default 1)")
    pw.add_argument("--preset", default="quick")
    pw.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE")
    pw.add_argument("--root-seed", type=int, default=0)
    pw.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="points per vectorised chunk and (slurm) per array task (default 64)",
    )
    pw.add_argument(
        "--executor",
        default=None,
        choices=("local", "devices", "slurm"),
        help="where points run: this process, all local devices, or Slurm job arrays "
        "(default: local; with --resume, the run's last executor)",
    )
    pw.add_argument("--out", default=os.path.join("runs", "sweeps"))
    pw.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="RUN_DIR",
        help="run only the missing points of RUN_DIR, reading the sweep from it "
        "(re-running the same sweep command resumes too)",
    )
    sl = pw.add_argument_group(
        "slurm executor (settings also from a TOML file: --slurm-config FILE or $COGSIM_SLURM_CONFIG)"
    )
    sl.add_argument("--slurm-config", metavar="FILE", help="TOML file with a [slurm] table of these settings")
    sl.add_argument("--slurm-partition", metavar="P", help="sbatch --partition")
    sl.add_argument("--slurm-time", metavar="T", help="time limit per task: minutes, HH:MM:SS or D-HH:MM:SS")
    sl.add_argument("--slurm-cpus", type=int, metavar="N", help="CPUs per task (sbatch --cpus-per-task)")
    sl.add_argument("--slurm-gpus", type=int, metavar="N", help="GPUs per task (sbatch --gpus-per-node)")
    sl.add_argument("--slurm-mem", metavar="SIZE", help="memory per task, e.g. 16G (sbatch --mem)")
    sl.add_argument("--slurm-array-parallelism", type=int, metavar="N", help="array tasks running at once")
    sl.add_argument("--slurm-points-per-task", type=int, metavar="N", help="grid points per array task")
    sl.add_argument("--slurm-job-name", metavar="NAME", help="sbatch --job-name")
    sl.add_argument(
        "--slurm-opt",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="any other sbatch option, repeatable: --slurm-opt account=mylab --slurm-opt qos=short",
    )
    sl.add_argument(
        "--slurm-setup",
        action="append",
        default=None,
        metavar="CMD",
        help="shell line run before each task, repeatable (e.g. 'module load cuda/12')",
    )
    sl.add_argument(
        "--slurm-python", metavar="CMD", help="python command of the tasks (default: this python)"
    )
    sl.add_argument("--slurm-poll", type=float, metavar="S", help="seconds between looks at the queue (5)")
    sl.add_argument("--slurm-no-wait", action="store_true", help="submit and return; --resume collects later")

    pc = sub.add_parser("compare", help="re-score a finished run folder against the human data")
    pc.add_argument("run_dir")

    pd_ = sub.add_parser("data", help="packaged datasets")
    dsub = pd_.add_subparsers(dest="data_command", metavar="list|show")
    dsub.required = True
    dsub.add_parser("list", help="list datasets")
    dshow = dsub.add_parser("show", help="a dataset's description, columns, licence, citation and README")
    dshow.add_argument("name")

    fitting_command.add_arguments(sub.add_parser("fit", help="fit a paradigm's models to a CSV of trials"))
    return p


def _cmd_list(args) -> None:
    from cogsim import scenarios

    for name in scenarios.names():
        mod = scenarios.get(name)
        print(f"{name:<28} {getattr(mod, 'DESCRIPTION', '')}  [presets: {', '.join(mod.PRESETS)}]")


def _cmd_info(args) -> None:
    from cogsim import config, runner, scenarios

    mod = scenarios.get(args.name)
    cfg = runner.make_config(args.name, preset=args.preset)
    print(
        f"{args.name}: {getattr(mod, 'DESCRIPTION', '')}\npreset {args.preset}; fields (--set FIELD=VALUE):"
    )
    for name, tp, value, doc in config.describe(cfg):
        print(f"  {name:<24} {tp:<18} = {value!r:<22} {doc}")


def _cmd_run(args) -> None:
    from cogsim import runner

    res = runner.run(args.name, preset=args.preset, overrides=args.overrides, seed=args.seed, out=args.out)
    print(f"{args.name} ({args.preset}, seed {args.seed}) in {res.wall_time_s:.1f} s")
    print(res.comparison.summary())
    for tname, table in res.comparison.tables.items():
        print(f"\n{tname}:")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nwrote {res.folder}/ (run.json, results.parquet, comparison.json, figure.png)")


def _cmd_suite(args) -> None:
    from cogsim import runner

    names = [n.strip() for n in args.only.split(",")] if args.only else None
    results = runner.run_suite(names=names, preset=args.preset, seed=args.seed, out=args.out)
    print(f"\nwrote {Path(args.out) / 'REPORT.md'}")
    if any(isinstance(r, tuple) for r in results):
        raise SystemExit(1)


_SLURM_FLAGS = {
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


def _slurm_settings(args) -> dict | None:
    from cogsim import executors

    settings: dict = {}
    if args.slurm_config:
        settings.update(executors.load_slurm_config(args.slurm_config))
    for flag, key in _SLURM_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            settings[key] = tuple(value) if isinstance(value, list) else value
    if args.slurm_no_wait:
        settings["wait"] = False
    return settings or None


def _sweep_status(run_dir: str) -> None:
    from cogsim import executors, store

    s = store.load(run_dir)
    executors.reconcile(s)
    counts = s.counts()
    print("  ".join(f"{k}: {v}" for k, v in counts.items()) + f"  total: {sum(counts.values())}")
    pts = s.points()
    running = pts[pts["status"] == "running"]
    for worker, grp in list(running.groupby(running["worker"].fillna("-")))[:20]:
        print(f"  running: {len(grp)} point(s) in {worker} (log: {grp['log'].iloc[0] or '-'})")
    failed = pts[pts["status"] == "failed"].fillna({"worker": "-", "error": "-", "log": "-"})
    for (worker, error, log), grp in list(failed.groupby(["worker", "error", "log"], sort=False))[:20]:
        print(f"  failed: {len(grp)} point(s) in {worker}: {error} (log: {log})")
    if counts["failed"] or counts["pending"]:
        print(f"run the missing points with: cogsim sweep --resume {run_dir}")


def _cmd_sweep(args) -> None:
    from cogsim import sweep

    if args.name == "status":
        if not args.run_dir:
            raise CogsimError(
                "sweep status: give the sweep run folder, e.g. cogsim sweep status runs/sweeps/X"
            )
        _sweep_status(args.run_dir)
        return
    slurm = _slurm_settings(args)
    if slurm and args.executor not in (None, "slurm"):
        raise CogsimError(f"sweep: --slurm-* settings need --executor slurm (got --executor {args.executor})")
    if args.resume:  # cogsim sweep --resume RUN_DIR
        if args.name or args.run_dir or args.grid:
            raise CogsimError(
                "sweep --resume RUN_DIR reads the sweep from the run folder; give no NAME or "
                "--grid (or re-run the original command with --resume and no folder)"
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
            seeds=args.seeds,
            preset=args.preset,
            overrides=args.overrides,
            root_seed=args.root_seed,
            out=args.out,
            chunk_size=chunk,
            executor=executor,
            slurm=slurm,
        )
    counts = s.counts()
    total = sum(counts.values())
    print(f"sweep {s.root}: {counts['done']} of {total} points done")
    print(f"load with: cogsim.store.load({str(s.root)!r}).to_pandas()")
    if counts["done"] < total and not args.slurm_no_wait:
        print(
            f"{total - counts['done']} point(s) not done: see `cogsim sweep status {s.root}`; "
            f"`cogsim sweep --resume {s.root}` runs them",
            file=sys.stderr,
        )
        raise SystemExit(1)


def _cmd_compare(args) -> None:
    import pandas as pd

    from cogsim import scenarios
    from cogsim.store import atomic_write_text

    folder = Path(args.run_dir)
    if not (folder / "run.json").is_file():
        raise CogsimError(f"compare: {str(folder)!r} is not a run folder (no run.json)")
    record = json.loads((folder / "run.json").read_text())
    name = record.get("scenario")
    if not name:
        raise CogsimError(f"compare: {str(folder / 'run.json')!r} names no scenario")
    mod = scenarios.get(name)
    sim = pd.read_parquet(folder / "results.parquet")
    human = mod.human()
    comp = mod.compare(sim, human)
    atomic_write_text(folder / "comparison.json", json.dumps(comp.to_dict(), indent=2, default=str))
    print(f"{name}: {folder}")
    print(comp.summary())


def _cmd_data(args) -> None:
    from cogsim import data

    if args.data_command == "list":
        for name in data.list():
            print(f"{name:<42} {data.info(name)['description']}")
        return
    info = data.info(args.name)
    print(f"{info['name']}: {info['description']}")
    print("columns: " + ", ".join(f"{k} ({v})" for k, v in info["columns"].items()))
    print(f"licence: {info['licence']}")
    print(f"citation: {info['citation']}")
    print(f"rows: {len(data.load(args.name))}")
    print("\n" + data.readme(args.name))


_COMMANDS = {
    "list": _cmd_list,
    "info": _cmd_info,
    "run": _cmd_run,
    "suite": _cmd_suite,
    "sweep": _cmd_sweep,
    "compare": _cmd_compare,
    "data": _cmd_data,
    "fit": fitting_command.main,
}


#: commands that compile scenarios: they use the persistent compilation cache (cogsim.compilation_cache)
_COMPILING = ("run", "suite", "sweep", "fit")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cogsim`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command in _COMPILING:
            from cogsim import compilation_cache

            compilation_cache.enable()
        _COMMANDS[args.command](args)
    except CogsimError as exc:
        print(f"cogsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "cogsim: interrupted; finished work is saved (run the same command again to resume)",
            file=sys.stderr,
        )
        return 130
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
