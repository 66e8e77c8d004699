"""Running scenarios: one scenario to a run folder, or the whole suite to a report.

A run writes ``OUT/<scenario>/<run-id>/`` (the id: time, preset, seed, config hash) holding ``run.json``
(provenance, with the SHA-256 of the two tables under ``files``, which ``cogsim compare`` verifies),
``results.parquet`` (the simulation), ``human.parquet``, ``comparison.json``, one CSV per comparison table and
``figure.png``; ``OUT/<scenario>/latest`` points at the newest complete run. Folders are written atomically
(:func:`cogsim.store.new_run_folder`): a run never overwrites another, and an interrupted
run leaves nothing that looks finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import numbers
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cogsim import _memory, progress, scenario_registry
from cogsim import config as cfglib
from cogsim._data_files import absolute_data_paths, input_files
from cogsim.comparison import CEILING_METRIC, Comparison
from cogsim.errors import CogsimError
from cogsim.scenario_protocol import compare_options, paper_run_applies
from cogsim.store import (
    atomic_write_parquet,
    atomic_write_text,
    check_writable,
    file_sha256,
    git_sha,
    new_run_folder,
    provenance,
    run_id,
    write_run_json,
)
from cogsim.suite_report import SCORECARD_COLUMNS, format_table, write_report  # noqa: F401 - re-exported

#: root seeds a run accepts: what ``jax.random.key`` takes without wrapping
SEED_RANGE = (0, 2**32 - 1)


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What one scenario run produced.

    Example:
      >>> from cogsim.comparison import Check, Metric
      >>> check = Check.of("K rises with set size", value=1.2, ci=(0.4, 2.0), threshold=0.0,
      ...                  rule="ci_above", source="paper")
      >>> comp = Comparison((Metric("k", 3.1, human=3.0),), (check,), data_kind="trial_level")
      >>> res = RunResult("change_detection", "quick", None, pd.DataFrame(), pd.DataFrame(), comp,
      ...                 Path("runs/change_detection/r1"), 12.3)
      >>> res.comparison.verdict, res.comparison.checks_passed  # no agreement check: not a match
      ('partial', '1/1')
    """

    name: str
    preset: str
    config: Any
    results: pd.DataFrame
    human: pd.DataFrame
    comparison: Comparison
    folder: Path
    wall_time_s: float


def check_seed(seed: Any, *, what: str = "seed") -> int:
    """Returns ``seed`` as a plain ``int`` if it is an integer (a Python or numpy one, not a bool) in
    :data:`SEED_RANGE`, else raises a one-line CogsimError.

    Example:
      >>> import numpy as np
      >>> check_seed(7), check_seed(np.int64(3))
      (7, 3)
    """
    lo, hi = SEED_RANGE
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not lo <= seed <= hi:
        raise CogsimError(f"{what}: got {seed!r}; allowed: an integer in [{lo}, {hi}]")
    return int(seed)


def make_config(name: str, *, preset: str = "quick", overrides: Sequence[str] = ()) -> Any:
    """The validated config of scenario ``name``: a preset with ``field=value`` overrides applied (the last
    override of a field wins).

    Example:
      >>> make_config("change_detection", overrides=["n_boot=5", "n_boot=20"]).n_boot
      20
    """
    overrides = _override_strings(overrides)
    mod = scenario_registry.get(name)
    if not isinstance(preset, str) or preset not in mod.PRESETS:
        raise CogsimError(
            f"scenario {name!r}: unknown preset {preset!r}; available: {', '.join(mod.PRESETS)}"
        )
    cfg = cfglib.validate(mod.PRESETS[preset])
    # a data file named by a relative path is kept by its absolute path (cogsim._data_files)
    return absolute_data_paths(mod, cfglib.replace_from_strings(cfg, overrides))


def _override_strings(overrides: Any) -> tuple[str, ...]:
    """``overrides`` as a tuple of ``field=value`` strings, or a CogsimError."""
    if not isinstance(overrides, (str, bytes)) and isinstance(overrides, Iterable):
        overrides = tuple(overrides)
    if not isinstance(overrides, tuple) or not all(isinstance(o, str) for o in overrides):
        raise CogsimError(
            f"overrides: got {overrides!r}; allowed: a list of 'field=value' strings, e.g. ['n_boot=500']"
        )
    return overrides


def _save_figure(fig_or_ax: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    fig = getattr(fig_or_ax, "figure", None) or fig_or_ax
    if hasattr(fig_or_ax, "savefig"):
        fig = fig_or_ax
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    import matplotlib.pyplot as plt

    plt.close(fig)


@contextlib.contextmanager
def _interrupts_noted() -> Iterator[dict[str, bool]]:
    """Notes Ctrl-C while the block runs (and still raises KeyboardInterrupt as usual), so that code which
    swallows the exception (a callback whose errors Python ignores, e.g. JAX's garbage-collection hook)
    cannot turn an interrupted run into a finished one."""
    state = {"interrupted": False}
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    if not callable(previous):  # not the main thread, or Ctrl-C ignored or left to the system
        yield state
        return
    previous_hook = sys.unraisablehook

    def handler(signum, frame):
        state["interrupted"] = True
        previous(signum, frame)

    def unraisable(info):
        if info.exc_type is KeyboardInterrupt and state["interrupted"]:
            return  # noted above; the run stops at its next step
        previous_hook(info)

    signal.signal(signal.SIGINT, handler)
    sys.unraisablehook = unraisable
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook


def run(
    name: str,
    *,
    preset: str = "quick",
    overrides: Sequence[str] = (),
    seed: int = 0,
    out: str | os.PathLike = "runs",
    config: Any = None,
) -> RunResult:
    """Runs scenario ``name`` into a new run folder ``out/name/<run-id>``; ``out/name/latest`` links it.

    Every input is checked before any computation: the config (types, finite numbers, ranges, and that its
    arrays fit in the memory available: :mod:`cogsim._memory`), the seed and that ``out`` is a writable
    folder.

    Args:
      name: a registered scenario.
      preset: which preset to start from ("quick", "paper", ...).
      overrides: ``field=value`` strings applied to the preset, or to ``config`` when given (the last one
        of a field wins).
      seed: the root seed; every random draw of the run derives from ``jax.random.key(seed)``.
      out: parent folder of the scenario's run folders.
      config: a ready config instead of preset + overrides.

    Raises:
      CogsimError: bad name, preset, config value (or one too large for this machine's memory), seed or output
        folder (nothing is computed or written).

    Example:
      >>> # from cogsim import runner; res = runner.run("change_detection", preset="quick")
    """
    check_writable(out, what="run: out")
    overrides = _override_strings(overrides)  # once: an iterator is recorded in run.json as applied
    mod = scenario_registry.get(name)
    if config is not None and dataclasses.is_dataclass(config) and type(config) is not mod.Config:
        own, got = mod.Config, type(config)
        raise CogsimError(
            f"run config: got a {got.__module__}.{got.__qualname__}; allowed: a {own.__module__}."
            f"{own.__qualname__}, the config of scenario {name!r} (e.g. runner.make_config({name!r}))"
        )
    cfg = (  # overrides apply to a ready config too (they were recorded in run.json but not applied)
        absolute_data_paths(mod, cfglib.replace_from_strings(cfglib.validate(config), overrides))
        if config is not None
        else make_config(name, preset=preset, overrides=overrides)
    )
    seed = check_seed(seed)
    _memory.check_scenario(mod, cfg)
    rid = run_id(config_json=cfglib.to_json(cfg), preset=preset, seed=seed)
    sha = git_sha()  # the commit that runs, read before the (possibly long) simulation
    with _interrupts_noted() as noted, new_run_folder(Path(out) / name, rid) as folder:
        import jax
        import matplotlib

        matplotlib.use("Agg")
        tmp = folder["tmp"]
        t0 = time.time()
        with progress.stage(f"{name}: simulating"):
            sim = mod.simulate(cfg, key=jax.random.key(seed))
        with progress.stage(f"{name}: comparing with the human data"):
            ref = mod.reference(cfg)
            human = ref.table
            comp = compare_with_reference(name, mod, sim, ref, preset=preset, cfg=cfg)
        wall = time.time() - t0
        with progress.stage(f"{name}: plotting"):
            figure = mod.plot(sim, human)
        with progress.stage(f"{name}: writing the run folder"):
            atomic_write_parquet(tmp / "results.parquet", sim)
            atomic_write_parquet(tmp / "human.parquet", human)
            write_comparison_files(tmp, comp, figure)
            # what `cogsim compare` checks: the tables it reads are the ones this run wrote
            files = {n: file_sha256(tmp / n) for n in ("results.parquet", "human.parquet")}
            write_run_json(
                tmp,
                provenance(
                    config=cfg,
                    seed=seed,
                    scenario=name,
                    preset=preset,
                    overrides=list(overrides),
                    run_id=rid,
                    git_sha=sha,
                    wall_time_s=round(wall, 3),
                    data_kind=ref.kind,
                    reference_source=ref.source,
                    files={n: {"sha256": h} for n, h in files.items()},
                    input_files=input_files(mod, cfg),
                    **(mod.run_record(sim) if hasattr(mod, "run_record") else {}),
                ),
            )
        if noted["interrupted"]:  # Ctrl-C was caught and swallowed somewhere inside: still not finished
            raise KeyboardInterrupt
    return RunResult(name, preset, cfg, sim, human, comp, folder["folder"], wall)


def write_comparison_files(folder: Path, comp: Comparison, figure: Any) -> list[str]:
    """Writes what a run folder holds of a comparison: ``comparison.json``, one CSV per comparison table and
    ``figure.png`` (each atomically); returns their names in that order (``cogsim run`` and
    ``cogsim compare`` both write them here).

    Example:
      >>> import tempfile
      >>> from matplotlib.figure import Figure
      >>> from cogsim.comparison import Metric
      >>> comp = Comparison((Metric("k", 3.1),), tables={"by_set_size": pd.DataFrame({"N": [2, 5]})})
      >>> write_comparison_files(Path(tempfile.mkdtemp()), comp, Figure(figsize=(1, 1)))
      ['comparison.json', 'by_set_size.csv', 'figure.png']
    """
    folder = Path(folder)
    atomic_write_text(folder / "comparison.json", json.dumps(comp.to_dict(), indent=2, default=str))
    names = ["comparison.json"]
    for tname, table in comp.tables.items():
        atomic_write_text(folder / f"{tname}.csv", table.to_csv(index=False))
        names.append(f"{tname}.csv")
    _save_figure(figure, folder / "figure.png")
    return [*names, "figure.png"]


def compare_with_reference(
    name: str, mod: Any, sim: pd.DataFrame, ref: Any, *, preset: str, cfg: Any
) -> Comparison:
    """The scenario's comparison of ``sim`` with its reference (with the config's settings that ``compare``
    takes, :func:`compare_options`), with the data kind (and, for a preset other than ``"paper"`` on the
    paper preset's data, :func:`paper_run_applies`, the paper preset's last measured verdict) attached."""
    comp = mod.compare(sim, ref.table, **compare_options(mod, cfg))
    if comp.data_kind is not None and comp.data_kind != ref.kind:
        raise CogsimError(
            f"{name}: compare() says data_kind={comp.data_kind!r} but reference() says {ref.kind!r}"
        )
    shown = preset != "paper" and paper_run_applies(mod, cfg)  # a run on other data is another test
    paper = getattr(mod, "PAPER_RUN", None) if shown else None
    return comp.with_context(data_kind=ref.kind, paper=paper)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def summary_rows(results: Sequence[RunResult | tuple[str, str]]) -> list[dict[str, str]]:
    """One row per scenario (the scorecard): scenario, data kind, verdict, the paper preset's last measured
    verdict, checks passed, agreement as a fraction of the human noise ceiling (trial-level data), key
    metric, human value, model value, seconds.

    Example:
      >>> from cogsim.comparison import Metric
      >>> comp = Comparison((Metric("k", 3.1, human=3.0),), data_kind="trial_level")
      >>> ok = RunResult("change_detection", "quick", None, None, None, comp, Path("runs"), 12.3)
      >>> rows = summary_rows([ok, ("dual_process", "ValueError: bad data")])  # a failed run: a tuple
      >>> [(r["scenario"], r["verdict"], r["model"], r["human"], r["seconds"]) for r in rows]
      [('change_detection', 'untested', '3.1', '3', '12'), ('dual_process', 'error', '-', '-', '-')]
    """
    rows = []
    for r in results:
        if isinstance(r, tuple):
            rows.append(
                {
                    "scenario": r[0],
                    "data": "-",
                    "paper": "-",
                    "checks": "-",
                    "ceiling": "-",
                    "metric": "-",
                    "human": "-",
                    "model": "-",
                    "verdict": "error",
                    "seconds": "-",
                    "note": r[1],
                }
            )
            continue
        c = r.comparison
        m = c.key_metric
        try:
            ceiling = _fmt(c.metric(CEILING_METRIC).value)
        except KeyError:
            ceiling = "-"
        paper = "-"
        if r.preset == "paper":
            paper = c.verdict
        elif c.paper is not None:
            paper = f"{c.paper.verdict} ({c.paper.checks_passed}, {c.paper.date})"
        rows.append(
            {
                "scenario": r.name,
                "data": c.data_kind or "-",
                "paper": paper,
                "checks": c.checks_passed,
                "ceiling": ceiling,
                "metric": m.name,
                "human": _fmt(m.human),
                "model": _fmt(m.value),
                "verdict": r.comparison.verdict,
                "seconds": f"{r.wall_time_s:.0f}",
                "note": "",
            }
        )
    return rows


class SuiteInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_suite`, after the report of the finished scenarios was written: ``note`` says
    which runs were kept.

    Example:
      >>> e = SuiteInterrupted(["change_detection"], Path("runs/REPORT.md"))
      >>> isinstance(e, KeyboardInterrupt), e.finished
      (True, ['change_detection'])
      >>> e.note
      'cogsim: interrupted; finished runs kept: change_detection; REPORT.md lists them; the unfinished...'
    """

    def __init__(self, finished: Sequence[str], report: Path | None):
        self.finished, self.report = list(finished), report
        kept = ", ".join(finished) if finished else "none"
        where = f"; {report.name} lists them" if report is not None and finished else ""
        super().__init__(
            f"cogsim: interrupted; finished runs kept: {kept}{where}; the unfinished run was not kept"
        )
        self.note = str(self)


def run_suite(
    *,
    names: Sequence[str] | None = None,
    preset: str = "quick",
    seed: int = 0,
    out: str | os.PathLike = "runs",
    log=print,
    debug: bool = False,
) -> list[RunResult | tuple[str, str, bool]]:
    """Runs every registered scenario's ``preset`` and writes ``out/REPORT.md`` with the summary and figures
    (merged with a report already there: :func:`cogsim.suite_report.write_report`).

    Every name and the preset of each are checked (a name given twice is refused), and ``out`` proved
    writable, before the first scenario runs. A scenario that raises is reported as an error row
    ``(name, message, bad_input)`` (``bad_input``: the error was a CogsimError) with one line in the log (its
    traceback too with ``debug``) and the suite goes on. Ctrl-C stops the suite: the report of the scenarios
    that finished is written, then :class:`SuiteInterrupted` is raised.
    """
    if isinstance(names, str):
        raise CogsimError(f"suite: names: got {names!r}; allowed: a list of scenario names")
    names = list(names) if names is not None else scenario_registry.names()
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CogsimError(
            f"suite: names: got {names!r}; {', '.join(map(repr, twice))} twice; allowed: each scenario once"
        )
    for name in names:
        make_config(name, preset=preset)  # an unknown scenario or preset stops the suite before it starts
    seed = check_seed(seed)
    check_writable(out)
    results: list[RunResult | tuple[str, str, bool]] = []
    try:
        for name in names:
            log(f"== {name} ({preset})")
            try:
                res = run(name, preset=preset, seed=seed, out=out)
            except Exception as exc:  # noqa: BLE001 - one failing scenario must not stop the suite
                message = " ".join(f"{type(exc).__name__}: {exc}".split())
                log(f"   ERROR: {message}")
                if debug:
                    log(traceback.format_exc())
                results.append((name, message, isinstance(exc, CogsimError)))
                continue
            log(res.comparison.summary())
            log(f"   ({res.wall_time_s:.0f} s) -> {res.folder}")
            results.append(res)
    except KeyboardInterrupt:
        finished = [r.name for r in results if not isinstance(r, tuple)]
        report = (
            write_report(summary_rows(results), results, out=out, preset=preset, seed=seed)
            if results
            else None
        )
        raise SuiteInterrupted(finished, report) from None
    rows = summary_rows(results)
    write_report(rows, results, out=out, preset=preset, seed=seed)
    log("\n" + format_table(rows))
    return results
