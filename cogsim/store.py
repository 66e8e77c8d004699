"""The results store: run folders that never overwrite, a SQLite index of sweep points, Parquet shards, and
run.json provenance.

Layout of one scenario run (``cogsim run``)::

    OUT/<scenario>/<run-id>/   run.json, results.parquet, human.parquet, comparison.json, figure.png, ...
    OUT/<scenario>/latest      a link to the newest complete run folder

The run id reads as time, preset, seed and a short hash of the config (``20250101-120000-quick-s0-1a2b3c4d``).
A run is written into a hidden temporary folder that is renamed to its id only when everything is written
(:func:`new_run_folder`), so a crash or Ctrl-C never leaves a half run that looks finished, and two runs
never overwrite each other.

Layout of one sweep run folder::

    RUN/run.json          provenance: scenario, config, grid, root seed, git SHA, versions, device, times
    RUN/index.sqlite      tables `points` (one row per grid point x seed: status, shard) and `meta`
    RUN/shards/*.parquet  results, one file per finished chunk, written atomically

A shard is written to a temporary name, fsync'ed and renamed, so a shard file is always complete; every row
carries its ``point_id``. A point is "done" once the index names the shard that holds it. Two ways lead there:

- :meth:`Store.write_shard` writes the shard and updates the index in one SQLite transaction (the local and
  devices executors, which run next to the index);
- :func:`write_shard_file` only writes the shard (Slurm array tasks, which may run on other machines, where a
  shared SQLite file is not safe) and :meth:`Store.sync` later *adopts* every shard file the index does not
  know yet: it reads the shard's point ids and marks them done.

A process killed at any moment therefore leaves finished points (on disk, adopted by the next ``sync``) and
unfinished ones, never half of a point. When two processes finish the same point, the first shard recorded
wins and :meth:`Store.to_pandas` returns the point once. SQLite's locking (WAL mode, busy timeout) lets
several processes on one machine share the index.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cogsim.errors import CogsimError

_PACKAGES = ("cogsim", "jax", "jaxlib", "flax", "optax", "numpy", "scipy", "pandas", "pyarrow")

STATUSES = ("pending", "running", "done", "failed")


# ------------------------------------------------------------------------------------- atomic file writes
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` so that readers see the old file or the new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode())


def atomic_write_parquet(path: str | os.PathLike, df: pd.DataFrame) -> None:
    """Writes a DataFrame as Parquet atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    df.to_parquet(tmp, index=False)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------- provenance
def git_sha(cwd: str | os.PathLike | None = None) -> str | None:
    """The git commit of the working directory (or of the installed source tree), if any."""
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


def provenance(*, config: Any = None, seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """What run.json records: config, root seed, git SHA, package versions, device, host, time."""
    import dataclasses

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
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }


def write_run_json(folder: str | os.PathLike, record: Mapping[str, Any]) -> Path:
    """Writes ``run.json`` atomically into ``folder``."""
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
    """Creates ``folder`` if needed and proves it writable (a file is created and removed), or raises.

    Raises:
      CogsimError: naming the folder and the operating system's reason.

    Example:
      >>> import tempfile
      >>> check_writable(tempfile.mkdtemp()).is_dir()
      True
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CogsimError(f"{what} {str(folder)!r} is not a writable folder ({reason})") from None
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
    parent = check_writable(parent)
    tmp = parent / f".tmp-{rid}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
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


def set_latest(parent: str | os.PathLike, name: str) -> None:
    """Points ``parent/latest`` at the run folder ``parent/name`` (replaced atomically)."""
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
      CogsimError: when ``path`` holds no run.

    Example:
      >>> # resolve_run_folder("runs/change_detection/latest")
    """
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
    raise CogsimError(
        f"{str(path)!r} is not a run folder (no run.json); give runs/<scenario>/<run-id> or "
        "runs/<scenario>/latest"
    )


# ------------------------------------------------------------------------------------------ sweep store
def _shard_name(worker: str | None) -> str:
    tag = "".join(c if c.isalnum() or c in "-_" else "-" for c in (worker or "w"))[:60]
    return f"{tag}-{uuid.uuid4().hex}.parquet"


def write_shard_file(root: str | os.PathLike, df: pd.DataFrame, *, worker: str | None = None) -> Path:
    """Writes ``df`` as a new shard of the store at ``root`` without touching the index.

    The shard needs a ``point_id`` column; :meth:`Store.sync` adopts it (marks its points done). Safe from any
    process that sees the run folder, e.g. a Slurm array task on another node.

    Example:
      >>> import tempfile, pandas as pd
      >>> s = Store(tempfile.mkdtemp())
      >>> s.add_points([({"x": 1.0}, 0)])
      1
      >>> _ = write_shard_file(s.root, pd.DataFrame({"x": [1.0], "seed": [0], "point_id": s.pending()}))
      >>> s.sync(), s.counts()["done"]
      (1, 1)
    """
    if "point_id" not in df.columns:
        raise CogsimError("store: a shard written without the index needs a point_id column")
    path = Path(root) / "shards" / _shard_name(worker)
    atomic_write_parquet(path, df)
    return path


def point_id(params: Mapping[str, Any], seed: int) -> str:
    """A stable identifier of one grid point and seed: canonical JSON of the swept values."""
    return json.dumps(
        {"params": dict(sorted(params.items())), "seed": int(seed)},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


class Store:
    """One sweep run's folder: index, shards and provenance.

    Example:
      >>> import tempfile, pandas as pd
      >>> s = Store(tempfile.mkdtemp())
      >>> s.add_points([({"x": 1.0}, 0), ({"x": 2.0}, 0)])
      2
      >>> ids = s.pending()
      >>> _ = s.write_shard(pd.DataFrame({"x": [1.0], "seed": [0], "y": [3.0]}), ids[:1])
      >>> s.counts()["done"], len(s.to_pandas())
      (1, 1)
    """

    def __init__(self, root: str | os.PathLike, *, create: bool = True):
        self.root = Path(root)
        if not create and not (self.root / "index.sqlite").exists():
            raise CogsimError(f"store: no sweep run at {str(self.root)!r} (index.sqlite missing)")
        (self.root / "shards").mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(
                "CREATE TABLE IF NOT EXISTS points (point_id TEXT PRIMARY KEY, params TEXT NOT NULL, "
                "seed INTEGER NOT NULL, idx INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending', "
                "shard TEXT, worker TEXT, updated REAL, error TEXT, log TEXT)"
            )
            con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            con.execute(
                "CREATE TABLE IF NOT EXISTS shards (name TEXT PRIMARY KEY, worker TEXT, n_rows INTEGER, "
                "n_fresh INTEGER, added REAL)"
            )

    # -- connection --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.root / "index.sqlite", timeout=60.0, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout=60000")
            # WAL + NORMAL: commits survive a killed process; after a power loss the last ones may roll back,
            # and sync() adopts their (fsync'ed) shards again
            con.execute("PRAGMA synchronous=NORMAL")
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- meta ----------------------------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self._transaction() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, default=str)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._connect() as con:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- points --------------------------------------------------------------------------------------------
    def add_points(self, points: Iterable[tuple[Mapping[str, Any], int]]) -> int:
        """Registers grid points (params, seed) in order; existing ones are kept as they are."""
        with self._transaction() as con:
            start = con.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM points").fetchone()[0]
            rows = [
                (point_id(p, s), json.dumps(dict(p), default=str), int(s), start + i)
                for i, (p, s) in enumerate(points)
            ]
            before = con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            con.executemany(
                "INSERT OR IGNORE INTO points (point_id, params, seed, idx) VALUES (?, ?, ?, ?)", rows
            )
            after = con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        return after - before

    def pending(self, ids: Sequence[str] | None = None) -> list[str]:
        """Point ids not yet done (pending, running or failed), in grid order; optionally among ``ids``."""
        with self._connect() as con:
            rows = con.execute("SELECT point_id FROM points WHERE status != 'done' ORDER BY idx").fetchall()
        out = [r[0] for r in rows]
        if ids is not None:
            wanted = set(ids)
            out = [i for i in out if i in wanted]
        return out

    def points(self) -> pd.DataFrame:
        """The index as a DataFrame (point_id, params, seed, status, shard, worker, error, log)."""
        with self._connect() as con:
            df = pd.read_sql_query("SELECT * FROM points ORDER BY idx", con)
        return df

    def point_items(self, ids: Sequence[str]) -> list[tuple[str, dict[str, Any], int]]:
        """``(point_id, params, seed)`` of the points ``ids``, in the order given."""
        pts = self.points()
        params = dict(zip(pts["point_id"], pts["params"], strict=True))
        seeds = dict(zip(pts["point_id"], pts["seed"], strict=True))
        return [(pid, json.loads(params[pid]), int(seeds[pid])) for pid in ids]

    def mark(
        self,
        ids: Sequence[str],
        status: str,
        *,
        worker: str | None = None,
        error: str | None = None,
        log: str | None = None,
        held_by: str | None = None,
    ) -> None:
        """Sets the status of points that are not done (done points are never downgraded).

        Args:
          ids: point ids.
          status: one of ``STATUSES``.
          worker: the process or array task now responsible (kept if None).
          error: the reason of a failure (cleared if None).
          log: the log file of the worker (kept if None).
          held_by: only change points whose worker is still ``held_by`` (another process may have taken them
            over since they were read).
        """
        if status not in STATUSES:
            raise CogsimError(f"store: status {status!r} is not one of {STATUSES}")
        sql = (
            "UPDATE points SET status = ?, worker = COALESCE(?, worker), error = ?, "
            "log = COALESCE(?, log), updated = ? WHERE point_id = ? AND status != 'done'"
        )
        rows = [(status, worker, error, log, time.time(), i) for i in ids]
        if held_by is not None:
            sql += " AND worker = ?"
            rows = [(*r, held_by) for r in rows]
        with self._transaction() as con:
            con.executemany(sql, rows)

    def write_shard(self, df: pd.DataFrame, ids: Sequence[str], *, worker: str | None = None) -> Path | None:
        """Writes the results of points ``ids`` as one shard and marks them done, atomically.

        Points already done by another process keep their first result: if all of ``ids`` are done elsewhere
        the shard is deleted and ``None`` returned; if some are, their rows stay in the file but
        :meth:`to_pandas` skips them (this needs a ``point_id`` column in ``df``).
        """
        ids = list(ids)
        path = self.root / "shards" / _shard_name(worker)
        name = path.name
        atomic_write_parquet(path, df)
        with self._transaction() as con:
            if con.execute("SELECT 1 FROM shards WHERE name = ?", (name,)).fetchone():
                return path  # adopted by a concurrent sync() between the rename and this transaction
            q = ",".join("?" * len(ids))
            done = {
                r[0]
                for r in con.execute(
                    f"SELECT point_id FROM points WHERE status = 'done' AND point_id IN ({q})", ids
                )
            }
            fresh = [i for i in ids if i not in done]
            if done and fresh and "point_id" not in df.columns:
                path.unlink(missing_ok=True)
                raise CogsimError("store: shard overlaps finished points and has no point_id column")
            con.execute(
                "INSERT INTO shards VALUES (?, ?, ?, ?, ?)", (name, worker, len(df), len(fresh), time.time())
            )
            con.executemany(
                "UPDATE points SET status = 'done', shard = ?, worker = COALESCE(?, worker), error = NULL, "
                "updated = ? WHERE point_id = ?",
                [(name, worker, time.time(), i) for i in fresh],
            )
        if not fresh:
            path.unlink(missing_ok=True)
            return None
        return path

    def _known_shards(self) -> set[str]:
        with self._connect() as con:
            names = {r[0] for r in con.execute("SELECT name FROM shards")}
            names |= {r[0] for r in con.execute("SELECT DISTINCT shard FROM points WHERE shard IS NOT NULL")}
        return names

    def sync(self) -> int:
        """Adopts shard files the index does not know (written by :func:`write_shard_file`, or by a process
        killed between writing its shard and updating the index); returns the number of points newly done.

        Safe to call from several processes at once and at any time: a shard is adopted once, and a point
        already done keeps its first shard.
        """
        import pyarrow.parquet as pq

        known = self._known_shards()
        new = sorted(p for p in os.listdir(self.root / "shards") if p.endswith(".parquet") and p not in known)
        adopted = 0
        for name in new:
            path = self.root / "shards" / name
            try:
                pf = pq.ParquetFile(path)
                has_ids = "point_id" in pf.schema_arrow.names
                ids = pf.read(columns=["point_id"]).column(0).to_pylist() if has_ids else []
                ids = list(dict.fromkeys(ids))
                n_rows = pf.metadata.num_rows
            except FileNotFoundError:  # deleted by its writer (all its points were done elsewhere)
                continue
            with self._transaction() as con:
                if con.execute("SELECT 1 FROM shards WHERE name = ?", (name,)).fetchone():
                    continue
                fresh = []
                if ids:
                    q = ",".join("?" * len(ids))
                    fresh = [
                        r[0]
                        for r in con.execute(
                            f"SELECT point_id FROM points WHERE status != 'done' AND point_id IN ({q})", ids
                        )
                    ]
                worker = name.rsplit("-", 1)[0]
                con.execute(
                    "INSERT INTO shards VALUES (?, ?, ?, ?, ?)",
                    (name, worker, n_rows, len(fresh), time.time()),
                )
                con.executemany(
                    "UPDATE points SET status = 'done', shard = ?, error = NULL, updated = ? "
                    "WHERE point_id = ?",
                    [(name, time.time(), i) for i in fresh],
                )
            adopted += len(fresh)
        return adopted

    def counts(self) -> dict[str, int]:
        """Number of points per status."""
        with self._connect() as con:
            rows = dict(con.execute("SELECT status, COUNT(*) FROM points GROUP BY status").fetchall())
        return {s: int(rows.get(s, 0)) for s in STATUSES}

    # -- results -------------------------------------------------------------------------------------------
    def to_pandas(self) -> pd.DataFrame:
        """All finished results, one DataFrame in grid order, each point once.

        Shard files not yet in the index are adopted first (:meth:`sync`); rows of a point that was finished
        twice (by two processes) come from the shard the index names.

        Example:
          >>> # df = cogsim.store.load("runs/sweeps/change_detection-ab12cd").to_pandas()
        """
        with contextlib.suppress(sqlite3.OperationalError):  # a read-only copy of a run folder
            self.sync()
        pts = self.points()
        done = pts[pts["status"] == "done"]
        frames = []
        for shard, ids in done.groupby("shard", sort=True)["point_id"]:
            df = pd.read_parquet(self.root / "shards" / shard)
            if "point_id" in df.columns:
                df = df[df["point_id"].isin(set(ids))]
            if len(df):
                frames.append(df)
        if not frames:
            return pd.DataFrame()
        df = pd.concat(frames, ignore_index=True)
        if "point_id" in df.columns:
            order = pts.set_index("point_id")["idx"]
            df = df.assign(_idx=df["point_id"].map(order)).sort_values("_idx", kind="stable")
            df = df.drop(columns="_idx").reset_index(drop=True)
        return df

    def to_xarray(self, *, dims: Sequence[str] | None = None, metrics: Sequence[str] | None = None):
        """Results as an ``xarray.Dataset`` with one dimension per swept field plus ``seed``.

        Example:
          >>> # ds = cogsim.store.load(run).to_xarray(); ds.loglik.mean("seed")
        """
        df = self.to_pandas()
        if df.empty:
            raise CogsimError(f"store: no finished points in {str(self.root)!r}")
        dims = list(dims) if dims is not None else list(self.get_meta("dims", [])) + ["seed"]
        missing = [d for d in dims if d not in df.columns]
        if missing:
            raise CogsimError(f"store: dims {missing} are not result columns; columns: {list(df.columns)}")
        if df.duplicated(dims).any():
            raise CogsimError(
                f"store: several rows per ({', '.join(dims)}) point (a scenario without "
                "sweep_point stores its whole simulate() table); use to_pandas() instead"
            )
        metrics = list(metrics) if metrics is not None else list(self.get_meta("metrics", []))
        if not metrics:
            metrics = [
                c
                for c in df.columns
                if c not in dims and c != "point_id" and pd.api.types.is_numeric_dtype(df[c])
            ]
        return df.set_index(dims)[metrics].to_xarray()


def load(run: str | os.PathLike) -> Store:
    """Opens an existing sweep run folder.

    Example:
      >>> # results = cogsim.store.load("runs/sweeps/change_detection-ab12cd").to_pandas()
    """
    return Store(run, create=False)
