"""The ``cogsim`` command line.

    cogsim list                                  scenarios, with their presets
    cogsim info NAME                             a scenario's config fields (types, defaults, ranges)
    cogsim run NAME [--preset P] [--set k=v ...] [--seed S] [--out DIR]
    cogsim suite [--preset quick] [--out runs]   every scenario's preset, summary table and runs/REPORT.md
    cogsim sweep NAME --grid k=v1,v2 [--grid ...] --seeds N [--chunk-size C] [--out runs/sweeps]
    cogsim sweep status RUN_DIR                  done / running / failed / pending counts
    cogsim compare RUN_DIR                       re-score a finished run against the human data
    cogsim data list | cogsim data show NAME     packaged datasets, their provenance and citation

Bad input exits with status 2 and one line on stderr naming the field, the value and what is allowed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cogsim.errors import CogsimError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cogsim", description="Simulate attention and memory; compare with humans.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("list", help="list scenarios and their presets")

    pi = sub.add_parser("info", help="show a scenario's config fields")
    pi.add_argument("name")
    pi.add_argument("--preset", default="quick")

    pr = sub.add_parser("run", help="run one scenario and compare it with the human data")
    pr.add_argument("name", help="scenario name (see `cogsim list`)")
    pr.add_argument("--preset", default="quick", help="preset to start from (default: quick)")
    pr.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a config field (repeatable), e.g. --set n_boot=500")
    pr.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    pr.add_argument("--out", default="runs", help="parent folder of the run folder (default: runs)")

    ps = sub.add_parser("suite", help="run every scenario's preset; print and write the summary report")
    ps.add_argument("--preset", default="quick")
    ps.add_argument("--seed", type=int, default=0)
    ps.add_argument("--out", default="runs")
    ps.add_argument("--only", default=None, help="comma-separated scenario names (default: all)")

    pw = sub.add_parser("sweep", help="run a parameter sweep (or `cogsim sweep status RUN_DIR`)")
    pw.add_argument("name", help="scenario name, or `status`")
    pw.add_argument("run_dir", nargs="?", help="with `status`: the sweep run folder")
    pw.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2",
                    help="a swept field and its values (repeatable)")
    pw.add_argument("--seeds", type=int, default=1, help="number of seeds per grid point (default 1)")
    pw.add_argument("--preset", default="quick")
    pw.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE")
    pw.add_argument("--root-seed", type=int, default=0)
    pw.add_argument("--chunk-size", type=int, default=64, help="points per vectorised chunk (default 64)")
    pw.add_argument("--executor", default="local", help="where points run (default: local)")
    pw.add_argument("--out", default=os.path.join("runs", "sweeps"))

    pc = sub.add_parser("compare", help="re-score a finished run folder against the human data")
    pc.add_argument("run_dir")

    pd_ = sub.add_parser("data", help="packaged datasets")
    dsub = pd_.add_subparsers(dest="data_command", metavar="list|show")
    dsub.required = True
    dsub.add_parser("list", help="list datasets")
    dshow = dsub.add_parser("show", help="a dataset's description, columns, licence, citation and README")
    dshow.add_argument("name")
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
    print(f"{args.name}: {getattr(mod, 'DESCRIPTION', '')}\npreset {args.preset}; fields (--set FIELD=VALUE):")
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


def _cmd_sweep(args) -> None:
    from cogsim import store, sweep

    if args.name == "status":
        if not args.run_dir:
            raise CogsimError("sweep status: give the sweep run folder, e.g. cogsim sweep status runs/sweeps/X")
        s = store.load(args.run_dir)
        counts = s.counts()
        print("  ".join(f"{k}: {v}" for k, v in counts.items()) + f"  total: {sum(counts.values())}")
        failed = s.points().query("status == 'failed'")
        for _, row in failed.head(20).iterrows():
            print(f"  failed: {row.params} seed {row.seed}: {row.error} (log: {row.log or '-'})")
        return
    if args.run_dir:
        raise CogsimError(f"sweep: unexpected argument {args.run_dir!r}; use --grid FIELD=V1,V2")
    if not args.grid:
        raise CogsimError("sweep: give at least one --grid FIELD=V1,V2 (see `cogsim info NAME` for fields)")
    s = sweep.run(args.name, grid=args.grid, seeds=args.seeds, preset=args.preset, overrides=args.overrides,
                  root_seed=args.root_seed, out=args.out, chunk_size=args.chunk_size, executor=args.executor)
    counts = s.counts()
    print(f"sweep {s.root}: {counts['done']} of {sum(counts.values())} points done")
    print(f"load with: cogsim.store.load({str(s.root)!r}).to_pandas()")


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


_COMMANDS = {"list": _cmd_list, "info": _cmd_info, "run": _cmd_run, "suite": _cmd_suite, "sweep": _cmd_sweep,
             "compare": _cmd_compare, "data": _cmd_data}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cogsim`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        _COMMANDS[args.command](args)
    except CogsimError as exc:
        print(f"cogsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cogsim: interrupted; finished work is saved (run the same command again to resume)", file=sys.stderr)
        return 130
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
