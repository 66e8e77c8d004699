"""``cogsim compare RUN``: re-score a finished run folder against the human data.

The run's tables are checked first (run.json's ``files`` record: the SHA-256 of ``results.parquet`` and
``human.parquet``; both must be there), then its config and data files (:mod:`cogsim._data_files`). The new
comparison replaces everything the run derived from its comparison, as ``cogsim run`` writes it
(:func:`cogsim.runner.write_comparison_files`: ``comparison.json``, one CSV per table, ``figure.png``); the
files it replaces are moved to ``previous/<UTC time>/`` first, so the run's first comparison and every later
one are kept. The two tables are never rewritten, so run.json's digests stay true.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from pathlib import Path
from typing import Any

from cogsim.errors import CogsimError, DataError

#: the folder inside a run folder that keeps the files each ``cogsim compare`` replaced, by UTC time
PREVIOUS = "previous"

_TABLES = ("results.parquet", "human.parquet")


def run(run_dir: str, *, log=print) -> list[str]:
    """Re-scores the run folder ``run_dir`` names; returns the names of the files written.

    Raises:
      CogsimError: the folder is no run folder, or is damaged (a table missing, replaced or unreadable, a
        run.json without the run's record, a data file changed or without its digest).
    """
    import pandas as pd

    from cogsim import config as cfglib
    from cogsim import runner, scenario_registry
    from cogsim._data_files import check_input_files
    from cogsim.store import resolve_run_folder

    folder = resolve_run_folder(run_dir)
    run_json = str(folder / "run.json")
    try:
        record = json.loads((folder / "run.json").read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"compare: {run_json!r} is not valid JSON ({exc})") from None
    name = record.get("scenario") if isinstance(record, dict) else None
    if not name:
        raise DataError(f"compare: {run_json!r} names no scenario")
    mod = scenario_registry.get(name)
    check_run_files(folder, record.get("files"))
    try:
        sim = pd.read_parquet(folder / "results.parquet")
    except Exception as exc:  # noqa: BLE001 - pyarrow's many error types for a damaged file
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"compare: {str(folder / 'results.parquet')!r} is not readable Parquet ({msg})"
        ) from None
    cfg = record.get("config")
    allowed = (
        f"allowed: the config the run wrote (every field of {name}'s Config, as `cogsim run` records it)"
    )
    if not isinstance(cfg, dict):
        raise DataError(f"compare: {run_json!r} config: got {json.dumps(cfg)}; {allowed}")
    missing = [k for k in cfglib.to_dict(mod.Config()) if k not in cfg]
    if missing:
        raise DataError(f"compare: {run_json!r} config: got no {', '.join(missing)}; {allowed}")
    # a data file deleted or changed since the run is named as such (its config would fail on the path)
    check_input_files(record.get("input_files"), where="compare", run_json=run_json)
    try:
        cfg = cfglib.from_dict(mod.Config, cfg)
    except CogsimError as exc:
        raise DataError(f"compare: the config in {run_json!r} does not fit {name}: {exc}") from None
    check_input_files(record.get("input_files"), where="compare", mod=mod, cfg=cfg, run_json=run_json)
    preset = str(record.get("preset") or "quick")
    results = str(folder / "results.parquet")
    if sim.empty:
        raise DataError(
            f"compare: {results!r} has {len(sim)} rows and {len(sim.columns)} columns; allowed: the "
            f"simulation table `cogsim run {name}` wrote"
        )
    ref = mod.reference(cfg)
    try:
        comp = runner.compare_with_reference(name, mod, sim, ref, preset=preset, cfg=cfg)
    except (KeyError, AttributeError) as exc:
        column = _missing_column(exc, sim)
        if column is None:
            raise
        raise DataError(
            f"compare: {results!r} has no column {column!r} (its columns: "
            f"{', '.join(map(str, sim.columns))}); allowed: the simulation table `cogsim run {name}` wrote"
        ) from None
    figure = mod.plot(sim, ref.table)
    moved = _keep_previous(folder)
    written = runner.write_comparison_files(folder, comp, figure)
    log(f"{name}: {folder}")
    log(comp.summary())
    kept = f" (the files they replace moved to {PREVIOUS}/{moved}/)" if moved else ""
    log(f"wrote {', '.join(written)} in {folder}{kept}")
    return written


def check_run_files(folder: Path, files: Any) -> None:
    """Refuses a run folder whose tables are not the ones its run wrote (run.json's ``files``: the SHA-256 of
    each): one missing, replaced or not a file, or a run.json without that record (another run's table would
    be scored under this run's name)."""
    from cogsim.store import file_sha256

    wants = {
        n: files[n].get("sha256")
        for n in _TABLES
        if isinstance(files, dict) and isinstance(files.get(n), dict)
    }
    if not all(isinstance(wants.get(n), str) for n in _TABLES):
        raise DataError(
            f"compare: {str(folder / 'run.json')!r} files: got {json.dumps(files)[:80]}; allowed: the "
            f"SHA-256 record of {' and '.join(_TABLES)} (a run folder written by `cogsim run`)"
        )
    for fname, want in wants.items():
        path = folder / fname
        if path.exists() and not path.is_file():
            raise DataError(
                f"compare: {str(path)!r}: got a directory or other non-file; allowed: a regular file (the "
                "table the run wrote)"
            )
        if not path.is_file():
            raise DataError(
                f"compare: run folder {str(folder)!r} is damaged: {fname} is missing (run.json's files "
                "record lists it); restore it or run the scenario again"
            )
        got = file_sha256(path)
        if got != want:
            raise DataError(
                f"compare: run folder {str(folder)!r}: {fname} does not match the run (sha256 {got[:16]}..., "
                f"run.json records {want[:16]}...); it was replaced or damaged after the run"
            )


def _missing_column(exc: BaseException, sim: Any) -> str | None:
    """The column name a KeyError or ``'DataFrame' object has no attribute`` error asks for, when the
    results table lacks it; else None (an error of the scenario's code, not of the table)."""
    if isinstance(exc, KeyError) and exc.args:
        name = exc.args[0]
    else:
        m = re.search(r"'DataFrame' object has no attribute '([^']+)'", str(exc))
        name = m.group(1) if m else None
    return name if isinstance(name, str) and name not in sim.columns else None


def _keep_previous(folder: Path) -> str | None:
    """Moves the files a comparison wrote (``comparison.json``, the CSVs, ``figure.png``) into
    ``previous/<UTC time>/``; returns that folder's name, or None when there was nothing to move."""
    names = [
        p.name
        for p in sorted(folder.iterdir())
        if p.is_file() and (p.name in ("comparison.json", "figure.png") or p.suffix == ".csv")
    ]
    if not names:
        return None
    stamp = f"{_dt.datetime.now(_dt.UTC):%Y%m%d-%H%M%S}"
    target = folder / PREVIOUS / stamp
    i = 1
    while target.exists():
        i += 1
        target = folder / PREVIOUS / f"{stamp}-{i}"
    target.mkdir(parents=True)
    for n in names:
        os.replace(folder / n, target / n)
    return target.name
