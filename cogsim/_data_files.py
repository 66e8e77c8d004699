"""The user's data files a scenario run reads: named by absolute path in the run's config, recorded in
run.json with their SHA-256, and checked again when ``cogsim compare`` re-scores the run.

A scenario's ``DATA_FIELDS`` name the config fields that hold its data: a packaged data set's name or a user's
file or folder (``--set data=my_trials.csv``). A relative path is read from the working directory, so a run
folder that kept it could be re-scored only from there, and against whatever the file holds by then. A run
therefore keeps the absolute path (:func:`absolute_data_paths`), run.json records each file's SHA-256
(:func:`input_files`; every file directly inside a folder), and ``cogsim compare`` refuses a run whose data
files are missing or changed (:func:`check_input_files`) instead of scoring it against other trials.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from cogsim._run_files import file_sha256
from cogsim.errors import DataError


def absolute_data_paths(mod: Any, cfg: Any) -> Any:
    """``cfg`` with each ``DATA_FIELDS`` value that names an existing file or folder as its absolute path.

    A value that is the field's default or a preset's (a packaged data set's name) is kept as it is, even
    where the working directory happens to hold a file or folder of that name.

    Example:
      >>> from cogsim.scenarios import change_detection as mod
      >>> absolute_data_paths(mod, mod.Config()).data  # a packaged name: unchanged
      'rouder2008'
    """
    if cfg is None or not dataclasses.is_dataclass(cfg):
        return cfg
    changes = {}
    for name in getattr(mod, "DATA_FIELDS", ()):
        value = getattr(cfg, name)
        packaged = _packaged(mod, name)
        if isinstance(value, str):
            new = _absolute(value, packaged)
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            new = tuple(_absolute(v, packaged) for v in value)
        else:
            continue
        if new != value:
            changes[name] = new
    return dataclasses.replace(cfg, **changes) if changes else cfg


def input_files(mod: Any, cfg: Any) -> list[dict[str, str]]:
    """run.json's record of the data files the run read: ``{"field", "path", "sha256"}`` for each
    ``DATA_FIELDS`` value that is a file, and for each file directly inside one that is a folder.

    Example:
      >>> import tempfile
      >>> from cogsim.scenarios import change_detection as mod
      >>> path = Path(tempfile.mkdtemp()) / "trials.csv"
      >>> _ = path.write_text("abc")
      >>> [record] = input_files(mod, mod.Config(data=str(path)))
      >>> record["field"], Path(record["path"]).name, record["sha256"][:12]
      ('data', 'trials.csv', 'ba7816bf8f01')
      >>> input_files(mod, mod.Config())  # the packaged data set: no user file
      []
    """
    return [{"field": name, "path": str(p), "sha256": file_sha256(p)} for name, p in _named_files(mod, cfg)]


def sweep_data_files(mod: Any, base: Any, grid: dict[str, tuple[Any, ...]]) -> list[dict[str, str]]:
    """:func:`input_files` of a sweep: of its base config and of every value a grid gives a data field.

    Example:
      >>> from cogsim.scenarios import change_detection as mod
      >>> sweep_data_files(mod, mod.Config(), {"sim_K": (2.0, 3.0)})  # packaged data: none
      []
    """
    out = input_files(mod, base)
    for name in getattr(mod, "DATA_FIELDS", ()):
        for value in grid.get(name, ()):
            cfg = absolute_data_paths(mod, dataclasses.replace(base, **{name: value}))
            out += [f for f in input_files(mod, cfg) if f not in out]
    return out


def data_version(mod: Any, cfg: Any) -> tuple:
    """``(path, modification time in ns, size)`` of each data file :func:`input_files` records: a key for
    in-process caches of what was computed from the files (a file rewritten in place changes it).

    Example:
      >>> from cogsim.scenarios import change_detection as mod
      >>> data_version(mod, mod.Config())  # packaged data: nothing to track
      ()
    """
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for _, p in _named_files(mod, cfg))


def check_input_files(
    record: Any, *, where: str, mod: Any = None, cfg: Any = None, run_json: str = "run.json"
) -> None:
    """Refuses a run whose recorded data files (run.json's ``input_files``) are missing or no longer hold
    the trials the run read; and, given the scenario ``mod`` and the run's ``cfg``, a run whose config names
    a user's data file (a ``DATA_FIELDS`` value that is no packaged name) with no SHA-256 of it in the record:
    such a run could be scored against other trials.

    Raises:
      DataError: naming the config field, the file and both digests (or the field and ``run_json``).
    """
    for field, value in _user_values(mod, cfg):
        entries = (
            [i for i in record if isinstance(i, dict) and i.get("field") == field]
            if isinstance(record, list)
            else []
        )
        if not entries or not all(isinstance(i.get("sha256"), str) for i in entries):
            got = json.dumps(entries if isinstance(record, list) else record)[:80]
            raise DataError(
                f"{where}: {run_json!r} input_files: got {got} for config field {field!r} ({value!r}); "
                "allowed: the SHA-256 of each data file the run read, as `cogsim run` records it; run the "
                "scenario again on the data"
            )
    for item in record if isinstance(record, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            continue
        path, want, field = Path(item["path"]), item.get("sha256"), item.get("field", "?")
        if not path.is_file():
            raise DataError(
                f"{where}: the run's data file {str(path)!r} (config field {field!r}) is missing; "
                "restore it, or run the scenario again on the data now"
            )
        got = file_sha256(path)
        if isinstance(want, str) and got != want:
            raise DataError(
                f"{where}: the run's data file {str(path)!r} (config field {field!r}) changed since the run "
                f"(sha256 {got[:16]}..., run.json records {want[:16]}...); run the scenario again on it"
            )


def _user_values(mod: Any, cfg: Any) -> list[tuple[str, str]]:
    """``(field, value)`` of each ``DATA_FIELDS`` value of ``cfg`` that names a user's file or folder, whether
    or not it still exists: an absolute path (a run keeps its data files so, :func:`absolute_data_paths`), not
    a packaged name."""
    out = []
    for name in getattr(mod, "DATA_FIELDS", ()) if mod is not None and cfg is not None else ():
        value = getattr(cfg, name, None)
        packaged = _packaged(mod, name)
        out += [
            (name, v)
            for v in (value if isinstance(value, tuple) else (value,))
            if isinstance(v, str) and os.path.isabs(v) and v not in packaged
        ]
    return out


def _named_files(mod: Any, cfg: Any) -> list[tuple[str, Path]]:
    """``(field, absolute path)`` of each user file a ``DATA_FIELDS`` value names (each file directly inside
    a folder it names); packaged names are not files."""
    out = []
    for name in getattr(mod, "DATA_FIELDS", ()) if cfg is not None else ():
        value = getattr(cfg, name, None)
        for v in value if isinstance(value, tuple) else (value,):
            if not isinstance(v, str) or v in _packaged(mod, name) or not os.path.exists(v):
                continue
            path = Path(v).resolve()
            files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
            out += [(name, p) for p in files]
    return out


def _packaged(mod: Any, name: str) -> set[str]:
    """The values field ``name`` has in the scenario's default config and presets (packaged names)."""
    out: set[str] = set()
    configs = [*getattr(mod, "PRESETS", {}).values()]
    try:
        configs.append(mod.Config())
    except Exception:  # noqa: BLE001 - a Config without defaults: only the presets' values
        pass
    for c in configs:
        v = getattr(c, name, None)
        out.update(v if isinstance(v, tuple) else (v,) if isinstance(v, str) else ())
    return out


def _absolute(value: str, packaged: set[str]) -> str:
    if not value or value in packaged or not os.path.exists(value):
        return value
    return str(Path(value).resolve())
