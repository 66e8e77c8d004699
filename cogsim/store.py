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
    RUN/comparisons/*.json  each point's comparison with the human data (scenarios run through simulate)

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
import hashlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cogsim._run_files import (
    LATEST,
    atomic_write_bytes,
    atomic_write_parquet,
    atomic_write_text,
    check_writable,
    file_sha256,
    git_sha,
    new_run_folder,
    provenance,
    resolve_run_folder,
    run_id,
    set_latest,
    write_run_json,
)
from cogsim.errors import CogsimError

STATUSES = ("pending", "running", "done", "failed")


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


def _comparison_name(pid: str) -> str:
    return hashlib.sha256(pid.encode()).hexdigest()[:24] + ".json"


def write_point_comparison(root: str | os.PathLike, pid: str, comparison: Mapping[str, Any]) -> Path:
    """Writes one sweep point's comparison with the human data (``Comparison.to_dict()``, without its tables)
    as ``RUN/comparisons/<hash of the point id>.json``, atomically. Safe from any process that sees the run
    folder.

    Example:
      >>> import tempfile
      >>> s = Store(tempfile.mkdtemp())
      >>> c = {"verdict": "partial", "data_kind": "trial_level", "checks_passed": "1/2", "key": "K",
      ...      "metrics": [{"name": "K", "value": 3.0, "ci_low": 2.5, "ci_high": 3.5, "human": 2.9}],
      ...      "checks": []}
      >>> _ = write_point_comparison(s.root, "p0", c)
      >>> s.comparisons()[["point_id", "name", "value", "verdict"]].to_dict("records")
      [{'point_id': 'p0', 'name': 'K', 'value': 3.0, 'verdict': 'partial'}]
    """
    record = {k: v for k, v in comparison.items() if k != "tables"}
    record["point_id"] = pid
    path = Path(root) / "comparisons" / _comparison_name(pid)
    atomic_write_text(path, json.dumps(record, default=str))
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
        try:
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
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, ...: not damage
                raise
            raise CogsimError(
                f"store: sweep index {str(self.root / 'index.sqlite')!r} is damaged ({exc})"
            ) from None

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
            return pd.read_sql_query("SELECT * FROM points ORDER BY idx", con)

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
            except (OSError, ValueError):  # deleted by its writer (all its points done elsewhere), or damaged
                continue  # (pyarrow's errors: never adopted; cogsim.sweep.repair reports it)
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
            try:
                df = pd.read_parquet(self.root / "shards" / shard)
            except (OSError, ValueError) as exc:  # pyarrow's errors for a missing or damaged file
                where = f"{str(self.root / 'shards' / shard)!r} ({type(exc).__name__})"
                raise CogsimError(
                    f"store: shard {where} is damaged; `cogsim sweep --resume` recomputes it"
                ) from None
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

    def comparisons(self) -> pd.DataFrame:
        """Each finished point's comparison with the human data, one row per metric and per check.

        Columns: ``point_id, verdict, data_kind, checks_passed, kind`` (``"metric"`` or ``"check"``),
        ``name, value, ci_low, ci_high, human`` (metrics) and ``passed, threshold, rule, tested`` (checks).
        Empty when the scenario has no human data or runs through ``sweep_point`` (its outputs hold it).

        Example:
          >>> # cogsim.store.load(run).comparisons().query("kind == 'metric'").pivot(...)
        """
        folder = self.root / "comparisons"
        rows: list[dict[str, Any]] = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            rec = json.loads(path.read_text())
            head = {k: rec.get(k) for k in ("point_id", "verdict", "data_kind", "checks_passed")}
            keys = ("name", "value", "ci_low", "ci_high", "human")
            rows += [head | {"kind": "metric"} | {k: m.get(k) for k in keys} for m in rec.get("metrics", ())]
            for c in rec.get("checks", ()):
                ci = c.get("ci") or (None, None)
                rows.append(
                    head
                    | {"kind": "check", "name": c.get("name"), "value": c.get("value")}
                    | {"ci_low": ci[0], "ci_high": ci[1], "passed": c.get("passed")}
                    | {"threshold": c.get("threshold"), "rule": c.get("rule")}
                    | {"tested": c.get("tested", True)}
                )
        return pd.DataFrame(rows)

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


__all__ = [
    "LATEST",
    "STATUSES",
    "Store",
    "atomic_write_bytes",
    "atomic_write_parquet",
    "atomic_write_text",
    "check_writable",
    "file_sha256",
    "git_sha",
    "load",
    "new_run_folder",
    "point_id",
    "provenance",
    "resolve_run_folder",
    "run_id",
    "set_latest",
    "write_run_json",
    "write_shard_file",
    "write_point_comparison",
]
