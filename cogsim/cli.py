"""The ``cogsim`` command line.

    cogsim list [--json]                         scenarios, with their presets
    cogsim info NAME [--preset P] [--json]       fields (types, defaults, ranges), run times, outputs, data
    cogsim run NAME [--preset P] [--set k=v ...] [--seed S] [--out DIR]
                                                 writes DIR/NAME/<run-id>/ and links DIR/NAME/latest
    cogsim suite [--preset quick] [--seed S] [--only A,B] [--out runs]
                                                 every scenario's preset (or --only those), summary table and
                                                 runs/REPORT.md (merged with the sections of an earlier one)
    cogsim sweep NAME --grid k=v1,v2 [--grid ...] --seeds N [--chunk-size C] [--out runs/sweeps]
                [--executor local|devices|slurm] [--slurm-partition P --slurm-time T ...]
    cogsim sweep --resume RUN_DIR [--executor ...]  run what is missing (spec read from the run folder)
    cogsim sweep status RUN_DIR                  done / running / failed / pending counts, failed tasks' logs
    cogsim compare RUN_DIR                       re-score a run (a run folder or runs/NAME/latest): rewrites
                                                 its comparison.json, tables and figure (old ones: previous/)
    cogsim data list | cogsim data show NAME     packaged datasets, their provenance and citation
    cogsim fit PARADIGM --data FILE.csv [...]    fit models to trial data (`cogsim fit --list`)

Anywhere: --quiet (no progress reports), --debug (tracebacks of internal errors).

Bad input (config, files, data) exits with status 2 and one line on stderr naming what and where; Ctrl-C
exits with 130 and leaves no unfinished run folder behind; an internal error prints one line (its traceback
with --debug) and exits with 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from cogsim.errors import CogsimError


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), exit status 2; its subparsers are of
    the same class."""

    def error(self, message: str):
        text = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {text} (see `{self.prog} --help`)\n")


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``command`` (the line's first word) decides whether ``fit``'s own arguments are
    added, so that the other commands and ``--help`` do not import the fitting code (NumPy, pandas)."""
    p = _Parser(prog="cogsim", description="Simulate attention and memory; compare with humans.")
    p.add_argument("--quiet", action="store_true", help="no progress reports (also after the command)")
    p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors (anywhere)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    pl = sub.add_parser("list", help="list scenarios and their presets")
    pl.add_argument("--json", action="store_true", help="machine-readable output")

    pi = sub.add_parser("info", help="a scenario's fields, presets' run times, outputs and data")
    pi.add_argument("name", help="scenario name (see `cogsim list`)")
    pi.add_argument("--preset", default="quick", help="preset whose field values are shown (default: quick)")
    pi.add_argument("--json", action="store_true", help="machine-readable output")

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
    pr.add_argument("--seed", type=int, default=0, help="root seed, 0 to 2**32-1 (default 0)")
    pr.add_argument(
        "--out", default="runs", help="runs go to OUT/NAME/<run-id>/, OUT/NAME/latest (default: runs)"
    )

    ps = sub.add_parser("suite", help="run every scenario's preset; print and write the summary report")
    ps.add_argument("--preset", default="quick", help="every scenario's preset of this name (default: quick)")
    ps.add_argument("--seed", type=int, default=0, help="root seed, 0 to 2**32-1 (default 0)")
    ps.add_argument(
        "--out",
        default="runs",
        help="runs go to OUT/NAME/<run-id>/, the report to OUT/REPORT.md (default: runs)",
    )
    ps.add_argument(
        "--only",
        default=None,
        help="comma-separated scenario names, each once (default: all); REPORT.md keeps the other scenarios' "
        "sections from an earlier report in OUT",
    )

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
    pw.add_argument("--seeds", type=int, default=None, help="number of seeds per grid point (default 1)")
    pw.add_argument("--preset", default=None, help="preset to start from (default: quick)")
    pw.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="hold a config field at one value in every point (repeatable), e.g. --set n_boot=500",
    )
    pw.add_argument(
        "--root-seed",
        type=int,
        default=None,
        help="root seed, 0 to 2**32-1; each point's key folds in (default 0)",
    )
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
    pw.add_argument("--out", default=None, help="sweeps go to OUT/<run-id>/ (default: runs/sweeps)")
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

    pc = sub.add_parser(
        "compare",
        help="re-score a finished run folder against the human data",
        description="Re-scores a run folder: rewrites comparison.json, the comparison tables (*.csv) and "
        "figure.png, moving the ones it replaces to RUN/previous/<UTC time>/ (the run's first comparison is "
        "kept); results.parquet, human.parquet and run.json stay as the run wrote them.",
    )
    pc.add_argument("run_dir", help="runs/NAME/<run-id>, runs/NAME/latest or runs/NAME")

    pd_ = sub.add_parser("data", help="packaged datasets")
    dsub = pd_.add_subparsers(dest="data_command", metavar="list|show")
    dsub.required = True
    dsub.add_parser("list", help="list datasets")
    dshow = dsub.add_parser("show", help="a dataset's description, columns, licence, citation and README")
    dshow.add_argument("name", help="dataset name (see `cogsim data list`)")

    pf = sub.add_parser("fit", help="fit a paradigm's models to a CSV of trials")
    if command == "fit":
        from cogsim import fitting_command

        fitting_command.add_arguments(pf)
    return p


def _cmd_list(args) -> None:
    from cogsim import cli_listing

    rows = cli_listing.rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(f"{r['name']:<28} {r['description']}  [presets: {', '.join(r['presets'])}]")


def _cmd_info(args) -> None:
    from cogsim import scenario_info

    d = scenario_info.describe(args.name, preset=args.preset)
    if args.json:
        print(json.dumps(d, indent=2, default=str))
        return
    print(f"{d['name']}: {d['description']}")
    print("presets (expected run time):")
    for p, v in d["presets"].items():
        print(f"  {p:<10} {v['expected_runtime']}")
    if d["last_run"]:
        lr = d["last_run"]
        print(f"  last run here: {lr['wall_time_s']} s ({lr['preset']}) in {lr['folder']}")
    print(f"preset {d['preset']}; fields (--set FIELD=VALUE):")
    for f in d["fields"]:
        print(f"  {f['name']:<24} {f['type']:<18} = {f['value']!r:<22} {f['doc']}")
    print("writes:")
    for path, what in d["writes"].items():
        print(f"  {path:<44} {what}")
    print("data: " + (", ".join(x["name"] for x in d["data"]) or "none packaged"))
    print(f"other data: {d['swap_data']}")


def _cmd_run(args) -> None:
    from cogsim import runner

    res = runner.run(args.name, preset=args.preset, overrides=args.overrides, seed=args.seed, out=args.out)
    print(f"{args.name} ({args.preset}, seed {args.seed}) in {res.wall_time_s:.1f} s")
    print(res.comparison.summary())
    for tname, table in res.comparison.tables.items():
        print(f"\n{tname}:")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nwrote {res.folder}/ ({written(res.folder)})")
    print(f"latest: {res.folder.parent / 'latest'}")


#: the files of every run folder, in the order the closing line of ``cogsim run`` lists them
RUN_FILES = ("run.json", "results.parquet", "human.parquet", "comparison.json", "figure.png")


def written(folder: Path, max_tables: int = 3) -> str:
    """The files in a run folder, for one line: the fixed ones in order, any others, then the tables (named
    when ``max_tables`` or fewer, counted when more).

    Example:
      >>> import tempfile
      >>> d = Path(tempfile.mkdtemp())
      >>> for n in ("figure.png", "run.json", "a.csv", "b.csv", "c.csv", "d.csv"):
      ...     _ = (d / n).write_text("")
      >>> written(d)
      'run.json, figure.png and 4 tables (*.csv)'
    """
    names = sorted(p.name for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))
    tables = [n for n in names if n.endswith(".csv")]
    head = [n for n in RUN_FILES if n in names] + [n for n in names if n not in RUN_FILES and n not in tables]
    if len(tables) > max_tables:
        return ", ".join(head) + (" and " if head else "") + f"{len(tables)} tables (*.csv)"
    return ", ".join(head + tables)


def _cmd_suite(args) -> None:
    from cogsim import runner, suite_report

    names = suite_report.only_names(args.only)
    results = runner.run_suite(
        names=names, preset=args.preset, seed=args.seed, out=args.out, debug=args.debug
    )
    print(f"\nwrote {Path(args.out) / 'REPORT.md'}")
    failed = [r for r in results if isinstance(r, tuple)]
    if failed and len(failed) == len(results) and all(r[2] for r in failed):  # nothing ran: bad input
        raise CogsimError(f"suite: no scenario could run on this input ({'; '.join(r[1] for r in failed)})")
    if failed:
        raise SystemExit(1)


def _cmd_sweep(args) -> None:
    from cogsim import sweep_command

    sweep_command.run(args)


def _cmd_compare(args) -> None:
    from cogsim import compare_command

    compare_command.run(args.run_dir)


def _cmd_fit(args) -> None:
    from cogsim import fitting_command

    fitting_command.main(args)


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
    "fit": _cmd_fit,
}


#: commands that compile scenarios: they use the persistent compilation cache (cogsim.compilation_cache)
_COMPILING = ("run", "suite", "sweep", "fit")

_GLOBAL_FLAGS = ("--quiet", "--debug")

_INTERRUPTED = {
    "sweep": "cogsim: interrupted; finished points are saved (the same command, or --resume, runs the rest)",
}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _os_error(exc: OSError) -> str:
    where = " ".join(repr(str(f)) for f in (exc.filename, exc.filename2) if f is not None)
    reason = exc.strerror or _one_line(exc)
    return f"{reason}: {where}" if where else reason


def _exit_hard(code: int) -> None:
    """Leaves at once after Ctrl-C: flushed output, no interpreter teardown racing JAX's threads."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001, S110 - a closed stream: nothing left to flush
            pass
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cogsim`` command; returns the exit status.

    ``--quiet`` and ``--debug`` are accepted anywhere on the line.
    """
    from cogsim import progress

    raw = list(sys.argv[1:] if argv is None else argv)
    flags = {f for f in _GLOBAL_FLAGS if f in raw}
    rest = [a for a in raw if a not in _GLOBAL_FLAGS]
    args = _parser(next((a for a in rest if not a.startswith("-")), None)).parse_args(rest)
    debug = args.debug = "--debug" in flags
    progress.configure(enabled="--quiet" not in flags)
    try:
        if args.command in ("run", "suite", "sweep") and args.out is not None:  # before anything heavy
            from cogsim._run_files import check_writable

            check_writable(args.out)
        if args.command == "fit":  # before anything is computed: the pool's size is fixed then
            from cogsim import cpu_threads

            cpu_threads.limit(cpu_threads.FIT_THREADS)
        if args.command in _COMPILING:
            from cogsim import compilation_cache

            compilation_cache.enable()
        _COMMANDS[args.command](args)
    except CogsimError as exc:
        print(f"cogsim: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not interrupt the clean-up
        msg = getattr(exc, "note", None) or _INTERRUPTED.get(
            args.command, "cogsim: interrupted; the unfinished run was not kept"
        )
        print(msg, file=sys.stderr)
        if argv is None:
            _exit_hard(130)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return 130
    except BrokenPipeError:  # e.g. `cogsim data show X | head`: the reader left; nothing to report
        with_devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(with_devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        if debug:
            traceback.print_exc()
        print(f"cogsim: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - an internal error: one line, the traceback with --debug
        if debug:
            traceback.print_exc()
            hint = "please report it with the traceback above"
        else:
            hint = "run again with --debug for the traceback and report it with that output"
        print(
            f"cogsim: internal error: {type(exc).__name__}: {_one_line(exc)} (a bug in cogsim; {hint})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
