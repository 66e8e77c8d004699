"""The results store: a SQLite index of runs and sweep points, Parquet shards, and run.json provenance.

Layout of one sweep run folder::

    RUN/run.json          provenance: scenario, config, grid, root seed, git SHA, versions, device, times
    RUN/index.sqlite      tables `points` (one row per grid point x seed: status, shard) and `meta`
    RUN/shards/*.parquet  results, one file per finished chunk, written atomically

A point is "done" only once its shard is on disk (written to a temporary name, fsync'ed, renamed) *and* the
index row says so, in one SQLite transaction. A process killed at any moment therefore leaves either a
finished point or a pending one, never half of one; a shard without index rows (killed between the rename and
the commit) is ignored and its points run again. SQLite's locking (WAL mode, busy timeout) lets several
processes, e.g. Slurm array tasks, write into one store.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import json
import os
import platform
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
            out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                                 timeout=5)
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


# ------------------------------------------------------------------------------------------ sweep store
def point_id(params: Mapping[str, Any], seed: int) -> str:
    """A stable identifier of one grid point and seed: canonical JSON of the swept values."""
    return json.dumps({"params": dict(sorted(params.items())), "seed": int(seed)}, sort_keys=True,
                      separators=(",", ":"), default=str)


class Store:
    """One sweep run's folder: index, shards and provenance.

    Example:
      >>> import tempfile, pandas as pd
      >>> s = Store(tempfile.mkdtemp())
      >>> s.add_points([({"x": 1.0}, 0), ({"x": 2.0}, 0)])
      2
      >>> ids = s.pending()
      >>> s.write_shard(pd.DataFrame({"x": [1.0], "seed": [0], "y": [3.0]}), ids[:1])
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

    # -- connection --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.root / "index.sqlite", timeout=60.0, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout=60000")
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
            rows = [(point_id(p, s), json.dumps(dict(p), default=str), int(s), start + i)
                    for i, (p, s) in enumerate(points)]
            before = con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            con.executemany("INSERT OR IGNORE INTO points (point_id, params, seed, idx) VALUES (?, ?, ?, ?)", rows)
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

    def mark(self, ids: Sequence[str], status: str, *, worker: str | None = None, error: str | None = None,
             log: str | None = None) -> None:
        """Sets the status of points that are not done (done points are never downgraded)."""
        if status not in STATUSES:
            raise CogsimError(f"store: status {status!r} is not one of {STATUSES}")
        with self._transaction() as con:
            con.executemany(
                "UPDATE points SET status = ?, worker = COALESCE(?, worker), error = ?, "
                "log = COALESCE(?, log), updated = ? WHERE point_id = ? AND status != 'done'",
                [(status, worker, error, log, time.time(), i) for i in ids],
            )

    def write_shard(self, df: pd.DataFrame, ids: Sequence[str], *, worker: str | None = None) -> Path | None:
        """Writes the results of points ``ids`` as one shard and marks them done, atomically.

        Points already done (by another process) are dropped from ``df`` if it has a ``point_id`` column;
        a shard whose points were all done elsewhere is not written.
        """
        ids = list(ids)
        name = f"{uuid.uuid4().hex}.parquet"
        path = self.root / "shards" / name
        atomic_write_parquet(path, df)
        with self._transaction() as con:
            q = ",".join("?" * len(ids))
            done = {r[0] for r in con.execute(
                f"SELECT point_id FROM points WHERE status = 'done' AND point_id IN ({q})", ids)}
            fresh = [i for i in ids if i not in done]
            if not fresh:
                path.unlink(missing_ok=True)
                return None
            if done:
                if "point_id" not in df.columns:
                    path.unlink(missing_ok=True)
                    raise CogsimError("store: shard overlaps finished points and has no point_id column")
                atomic_write_parquet(path, df[~df["point_id"].isin(done)])
            con.executemany(
                "UPDATE points SET status = 'done', shard = ?, worker = COALESCE(?, worker), error = NULL, "
                "updated = ? WHERE point_id = ?",
                [(name, worker, time.time(), i) for i in fresh],
            )
        return path

    def counts(self) -> dict[str, int]:
        """Number of points per status."""
        with self._connect() as con:
            rows = dict(con.execute("SELECT status, COUNT(*) FROM points GROUP BY status").fetchall())
        return {s: int(rows.get(s, 0)) for s in STATUSES}

    # -- results -------------------------------------------------------------------------------------------
    def to_pandas(self) -> pd.DataFrame:
        """All finished results, one DataFrame (shards not referenced by the index are ignored)."""
        with self._connect() as con:
            shards = [r[0] for r in con.execute(
                "SELECT DISTINCT shard FROM points WHERE status = 'done' AND shard IS NOT NULL")]
        frames = [pd.read_parquet(self.root / "shards" / s) for s in sorted(shards)]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame()
        df = pd.concat(frames, ignore_index=True)
        if "point_id" in df.columns:
            order = self.points().set_index("point_id")["idx"]
            df = df.assign(_idx=df["point_id"].map(order)).sort_values("_idx", kind="stable")
            df = df.drop(columns="_idx").reset_index(drop=True)
        return df

    def to_xarray(self, *, dims: Sequence[str] | None = None, metrics: Sequence[str] | None = None):
        """Results as an ``xarray.Dataset`` with one dimension per swept field plus ``seed``."""
        df = self.to_pandas()
        if df.empty:
            raise CogsimError(f"store: no finished points in {str(self.root)!r}")
        dims = list(dims) if dims is not None else list(self.get_meta("dims", [])) + ["seed"]
        metrics = list(metrics) if metrics is not None else list(self.get_meta("metrics", []))
        if not metrics:
            metrics = [c for c in df.columns if c not in dims and c != "point_id"
                       and pd.api.types.is_numeric_dtype(df[c])]
        return df.set_index(dims)[metrics].to_xarray()


def load(run: str | os.PathLike) -> Store:
    """Opens an existing sweep run folder.

    Example:
      >>> # results = cogsim.store.load("runs/sweeps/change_detection-ab12cd").to_pandas()
    """
    return Store(run, create=False)
