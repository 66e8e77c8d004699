"""Files of a run: atomic writes, provenance (run.json), and scenario run folders that never overwrite.

Re-exported by :mod:`cogsim.store`, the public name.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cogsim.errors import CogsimError

if TYPE_CHECKING:  # pandas loads only when a table is written: the command line checks --out before
    import pandas as pd

_PACKAGES = ("cogsim", "jax", "jaxlib", "flax", "optax", "numpy", "scipy", "pandas", "pyarrow")
#: vector extensions that change the code XLA compiles for a CPU (and so the rounding of sums and products)
_CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile")


# ------------------------------------------------------------------------------------- atomic file writes
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` so that readers see the old file or the new one, never a partial one.

    Example:
      >>> import tempfile
      >>> path = Path(tempfile.mkdtemp()) / "sub" / "blob.bin"  # missing folders are made
      >>> atomic_write_bytes(path, b"abc")
      >>> path.read_bytes(), sorted(p.name for p in path.parent.iterdir())  # no temporary file left
      (b'abc', ['blob.bin'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Text version of :func:`atomic_write_bytes`.

    Example:
      >>> import tempfile
      >>> path = Path(tempfile.mkdtemp()) / "note.txt"
      >>> atomic_write_text(path, "first")
      >>> atomic_write_text(path, "second")  # replaces the file in one step
      >>> path.read_text()
      'second'
    """
    atomic_write_bytes(path, text.encode())


def atomic_write_parquet(path: str | os.PathLike, df: pd.DataFrame) -> None:
    """Writes a DataFrame as Parquet atomically.

    Example:
      >>> import tempfile, pandas as pd
      >>> path = Path(tempfile.mkdtemp()) / "results.parquet"
      >>> atomic_write_parquet(path, pd.DataFrame({"set_size": [2, 4], "k": [1.9, 3.1]}))
      >>> pd.read_parquet(path)
         set_size    k
      0         2  1.9
      1         4  3.1
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    df.to_parquet(tmp, index=False)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------- provenance
def git_sha(cwd: str | os.PathLike | None = None) -> str | None:
    """The git commit of the working directory (or of the installed source tree), if any.

    Example:
      >>> sha = git_sha()
      >>> sha is None or len(sha) == 40  # None outside a git checkout
      True
    """
    for where in filter(None, [cwd, Path(__file__).resolve().parent.parent]):
        try:
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0:
            return out.stdout.strip()
    return None


def file_sha256(path: str | os.PathLike) -> str:
    """The file's SHA-256 hex digest (read in 1 MiB blocks), for run.json's record of an input file.

    Example:
      >>> import tempfile
      >>> path = Path(tempfile.mkdtemp()) / "trials.csv"
      >>> _ = path.write_text("abc")
      >>> file_sha256(path)
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def host_cpu() -> dict[str, Any]:
    """The CPU a run computed on: model name, usable cores and the vector extensions XLA's CPU code uses.

    The same seed gives the same numbers on the same machine; on another CPU, XLA may compile other vector
    code, and long trainings can end elsewhere from the different rounding. run.json keeps this record so that
    such a difference can be traced to the machine.

    Example:
      >>> cpu = host_cpu()
      >>> sorted(cpu), cpu["usable_cores"] >= 1
      (['flags', 'model', 'usable_cores'], True)
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    info: dict[str, Any] = {"model": platform.processor() or None, "usable_cores": cores, "flags": []}
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return info
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            info["model"] = value.strip()
        elif key.strip() == "flags":
            present = set(value.split())
            info["flags"] = [f for f in _CPU_FLAGS if f in present]
            break  # the first processor's entry is enough
    return info


def provenance(*, config: Any = None, seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """What run.json records: config, root seed, git SHA, package versions, device, host and its CPU, the
    ``XLA_FLAGS`` in effect, time.

    ``extra`` fields are added last and win, so a caller passes ``git_sha`` read when its run started (the
    checkout may move to another commit while a long run computes).

    Example:
      >>> record = provenance(config={"n_trials": 10}, seed=3, git_sha="abc1234")
      >>> record["config"], record["seed"], record["git_sha"], record["versions"]["cogsim"]
      ({'n_trials': 10}, 3, 'abc1234', '0.1.0')
      >>> sorted(record)
      ['config', 'cpu', 'created', 'device', 'git_sha', 'host', 'python', 'seed', 'versions', 'xla_flags']
    """
    import dataclasses
    import importlib.metadata

    import jax

    versions = {}
    for pkg in _PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    cfg = config
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        from cogsim import config as _config

        cfg = _config.to_dict(config)
    return {
        "config": cfg,
        "seed": seed,
        "git_sha": git_sha(),
        "versions": versions,
        "python": platform.python_version(),
        "device": {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()]},
        "host": socket.gethostname(),
        "cpu": host_cpu(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),  # e.g. --xla_cpu_max_isa, which changes CPU numbers
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }


def write_run_json(folder: str | os.PathLike, record: Mapping[str, Any]) -> Path:
    """Writes ``run.json`` atomically into ``folder``.

    Example:
      >>> import json, tempfile
      >>> path = write_run_json(tempfile.mkdtemp(), {"seed": 0, "config": {"n": 1}})
      >>> path.name, json.loads(path.read_text())
      ('run.json', {'config': {'n': 1}, 'seed': 0})
    """
    path = Path(folder) / "run.json"
    atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True, default=str))
    return path


# ------------------------------------------------------------------------------------------ run folders
LATEST = "latest"


def run_id(*, config_json: str, preset: str, seed: int, when: _dt.datetime | None = None) -> str:
    """A readable, unique-enough run id: UTC time, preset, seed and an 8-digit hash of the config.

    Example:
      >>> import datetime as dt
      >>> run_id(config_json="{}", preset="quick", seed=0, when=dt.datetime(2025, 1, 2, 3, 4, 5))
      '20250102-030405-quick-s0-bf21a9e8'
    """
    when = when or _dt.datetime.now(_dt.UTC)
    digest = hashlib.sha1(config_json.encode()).hexdigest()[:8]
    tag = "".join(c if c.isalnum() or c in "-_" else "-" for c in preset)[:40]
    return f"{when:%Y%m%d-%H%M%S}-{tag}-s{seed}-{digest}"


def check_writable(folder: str | os.PathLike, *, what: str = "--out") -> Path:
    """Proves ``folder`` writable (a file is created and removed in it), or raises. Folders it had to create
    for the proof are removed again, so a command that fails later leaves nothing behind.

    Raises:
      CogsimError: naming the folder and the operating system's reason; or ``folder`` is not a path (an empty
        one included: it would mean the current folder without saying so).

    Example:
      >>> import tempfile
      >>> check_writable(tempfile.mkdtemp()).is_dir()
      True
      >>> new = Path(tempfile.mkdtemp()) / "runs" / "x"
      >>> check_writable(new) == new, new.exists(), new.parent.exists()
      (True, False, False)
    """
    if isinstance(folder, bytes) or not isinstance(folder, (str, os.PathLike)) or not str(folder).strip():
        raise CogsimError(f"{what}: got {folder!r}; allowed: a folder path (not empty; '.' for this folder)")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CogsimError(
            f"{what} {str(folder)!r} is not a writable folder (it is a file); allowed: a folder"
        )
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CogsimError(f"{what} {str(folder)!r} is not a writable folder ({reason})") from None
    finally:
        for p in created:
            with contextlib.suppress(OSError):
                p.rmdir()
    return folder


@contextlib.contextmanager
def new_run_folder(parent: str | os.PathLike, rid: str) -> Iterator[dict[str, Path]]:
    """A run folder written atomically: yields ``{"tmp": folder to write into}``; on a clean exit the
    folder is renamed to ``parent/rid`` (``rid-2``, ... if taken) and ``parent/latest`` points at it, and
    ``["folder"]`` holds the final path. On any exception (Ctrl-C included) the temporary folder is removed
    and ``latest`` is left alone.

    Example:
      >>> import tempfile, pathlib
      >>> parent = pathlib.Path(tempfile.mkdtemp())
      >>> with new_run_folder(parent, "r1") as run:
      ...     _ = (run["tmp"] / "run.json").write_text("{}")
      >>> run["folder"].name, resolve_run_folder(parent / "latest").name
      ('r1', 'r1')
    """
    made = [a for a in (Path(parent), *Path(parent).parents) if not a.exists()]  # folders this run creates
    parent = check_writable(parent)
    tmp = parent / f".tmp-{rid}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    run: dict[str, Path] = {"tmp": tmp}
    try:
        yield run
        for i in range(1, 1000):
            final = parent / (rid if i == 1 else f"{rid}-{i}")
            try:
                os.rename(tmp, final)  # fails if final exists and is not empty: never overwrites
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) or final.exists():
                    continue
                raise
            break
        else:  # pragma: no cover - a thousand runs with one id
            raise CogsimError(f"run folder {str(parent / rid)!r}: a thousand runs share this id")
        run["folder"] = final
        set_latest(parent, final.name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if "folder" not in run:  # a failed first run leaves no empty folders behind
            for folder in made:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only while empty


def set_latest(parent: str | os.PathLike, name: str) -> None:
    """Points ``parent/latest`` at the run folder ``parent/name`` (replaced atomically).

    Example:
      >>> import tempfile
      >>> parent = Path(tempfile.mkdtemp())
      >>> for rid in ("r1", "r2"):
      ...     _ = write_run_json(parent / rid, {})
      ...     set_latest(parent, rid)
      >>> resolve_run_folder(parent / "latest").name
      'r2'
    """
    parent = Path(parent)
    link = parent / f".{LATEST}-{uuid.uuid4().hex[:8]}"
    try:
        os.symlink(name, link, target_is_directory=True)
        os.replace(link, parent / LATEST)
    except OSError:  # no symbolic links here: a text file naming the run
        with contextlib.suppress(OSError):
            link.unlink()
        atomic_write_text(parent / f"{LATEST}.txt", name + "\n")


def resolve_run_folder(path: str | os.PathLike) -> Path:
    """The run folder ``path`` names: a run folder, ``<scenario>/latest`` or ``<scenario>`` (its latest run).

    Raises:
      CogsimError: when ``path`` holds no run: naming the path and whether it is empty, missing or a file, a
        ``latest`` that points nowhere, or the run folders a scenario folder without ``latest`` holds.

    Example:
      >>> import tempfile
      >>> parent = Path(tempfile.mkdtemp()) / "change_detection"
      >>> with new_run_folder(parent, "20250102-030405-quick-s0-bf21a9e8") as run:
      ...     _ = write_run_json(run["tmp"], {})
      >>> resolve_run_folder(parent).name  # a scenario folder: its latest run
      '20250102-030405-quick-s0-bf21a9e8'
      >>> resolve_run_folder(parent / "none")
      Traceback (most recent call last):
      ...
      cogsim.errors.CogsimError: ...none...
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise CogsimError(
            f"run folder: got {path!r}; allowed: a run folder path (runs/<scenario>/<run-id>, "
            "runs/<scenario>/latest or runs/<scenario>)"
        )
    path = Path(path)
    if (path / "run.json").is_file():
        return path.resolve() if path.is_symlink() else path
    if path.name == LATEST and (path.parent / f"{LATEST}.txt").is_file():
        return resolve_run_folder(path.parent)
    marker = path / f"{LATEST}.txt"
    if (path / LATEST / "run.json").is_file():
        return (path / LATEST).resolve()
    if marker.is_file():
        target = path / marker.read_text().strip()
        if (target / "run.json").is_file():
            return target
    for link in (path, path / LATEST):
        if link.is_symlink() and not link.exists():  # e.g. `latest` after its run folder was moved or deleted
            runs = _run_folders(link.parent)
            raise CogsimError(
                f"{str(link)!r} points at {os.readlink(link)!r}, which no longer exists (moved or deleted); "
                "give the run folder's new place"
                + (f", or one of the run folders there: {runs}" if runs else "")
            )
    if not path.exists():
        raise CogsimError(
            f"run folder {str(path)!r} does not exist; give runs/<scenario>/<run-id> or "
            "runs/<scenario>/latest"
        )
    if not path.is_dir():
        raise CogsimError(
            f"run folder {str(path)!r} is a file, not a folder; give runs/<scenario>/<run-id> or "
            "runs/<scenario>/latest"
        )
    runs = _run_folders(path)
    if runs:
        raise CogsimError(
            f"{str(path)!r} is a scenario folder without a `latest` run; give one of its run folders: {runs}"
        )
    raise CogsimError(
        f"{str(path)!r} is not a run folder (no run.json); give runs/<scenario>/<run-id> or "
        "runs/<scenario>/latest"
    )


def _run_folders(parent: Path, most: int = 5) -> str:
    """The run folders (holding run.json) directly inside ``parent``, newest name first, for a message: at
    most ``most`` named, then how many more; ``""`` when none."""
    try:
        names = sorted((p.name for p in parent.iterdir() if (p / "run.json").is_file()), reverse=True)
    except OSError:
        return ""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more
