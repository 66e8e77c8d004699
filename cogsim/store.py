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
import json
import os
import sqlite3
import time
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
from cogsim._store_results import (
    COMPARISON_COLUMNS,
    _check_frame,
    _shard_name,
    ids_arg,
    path_arg,
    point_id,
    read_comparisons,
    results_xarray,
    seed_arg,
    write_point_comparison,
    write_shard_file,
)
from cogsim._store_results import plain as _plain
from cogsim.errors import CogsimError

STATUSES = ("pending", "running", "done", "failed")


# ------------------------------------------------------------------------------------------ sweep store
class Store:
    """One sweep run's folder: index, shards and provenance.

    Example:
      >>> import tempfile, pandas as pd
      >>> s = Store(tempfile.mkdtemp())
      >>> s.add_points([({"x": 1.0}, 0), ({"x": 2.0}, 0)])
      2
      >>> ids = s.pending()
      >>> _ = s.write_shard(pd.DataFrame({"x": [1.0], "seed": [0], "point_id": ids[:1], "y": [3.0]}), ids[:1])
      >>> s.counts()["done"], len(s.to_pandas())
      (1, 1)
    """

    def __init__(self, root: str | os.PathLike, *, create: bool = True):
        self.root = path_arg(root, "store: root")
        if not create:
            if not (self.root / "index.sqlite").is_file():
                runs = []  # a folder above sweep run folders (e.g. runs/sweeps): name them
                with contextlib.suppress(OSError):
                    runs = sorted(str(p) for p in self.root.iterdir() if (p / "index.sqlite").is_file())
                inside = f"; it holds the sweep run folders {', '.join(runs[:5])}{' ...' * (len(runs) > 5)}"
                missing = f"store: no sweep run at {str(self.root)!r} (index.sqlite missing)"
                raise CogsimError(missing + (inside if runs else ""))
            self._check_opened()
            return
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

    def _check_opened(self) -> None:
        """An existing store, opened without writing anything: a damaged index or a missing shards folder
        (of a store with finished points) is a CogsimError."""
        index = self.root / "index.sqlite"
        try:
            with self._connect() as con:
                done = con.execute("SELECT COUNT(*) FROM points WHERE status = 'done'").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "no such table" not in str(exc):
                raise
            raise CogsimError(f"store: sweep index {str(index)!r} is damaged ({exc})") from None
        if done and not (self.root / "shards").is_dir():
            raise CogsimError(
                f"store: sweep run {str(self.root)!r} is damaged: its shards folder is missing but the index "
                f"holds {done} finished point(s); `cogsim sweep --resume` computes them again"
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
        """Stores ``value`` (JSON; other objects as their ``str``) under ``key`` in the index, replacing it.

        Example:
          >>> import tempfile
          >>> s = Store(tempfile.mkdtemp())
          >>> s.set_meta("dims", ["sim_K"]); s.get_meta("dims"), s.get_meta("nothing", 0)
          (['sim_K'], 0)
        """
        with self._transaction() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, default=str)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key`` by :meth:`set_meta`, or ``default`` when there is none."""
        with self._connect() as con:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- points --------------------------------------------------------------------------------------------
    def add_points(self, points: Iterable[tuple[Mapping[str, Any], int]]) -> int:
        """Registers grid points (params, seed) in order; existing ones are kept as they are."""
        with self._transaction() as con:
            start = con.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM points").fetchone()[0]
            rows = [
                (point_id(p, s), json.dumps(_plain(dict(p)), default=str), seed_arg(s), start + i)
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

    def points(self, status: str | None = None) -> pd.DataFrame:
        """The index as a DataFrame (point_id, params, seed, status, shard, worker, error, log); only the
        points of one ``status`` when given."""
        with self._connect() as con:
            if status is None:
                return pd.read_sql_query("SELECT * FROM points ORDER BY idx", con)
            return pd.read_sql_query(
                "SELECT * FROM points WHERE status = ? ORDER BY idx", con, params=(status,)
            )

    def point_items(self, ids: Sequence[str]) -> list[tuple[str, dict[str, Any], int]]:
        """``(point_id, params, seed)`` of the points ``ids``, in the order given."""
        ids = ids_arg(ids, "store: point_items: ids")
        pts = self.points()
        unknown = [i for i in ids if i not in set(pts["point_id"])]
        if unknown:
            raise CogsimError(f"store: point_items: ids {unknown[:5]} are not points of {str(self.root)!r}")
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

        ``df`` needs a ``point_id`` column holding each of ``ids``. Points already done by another process
        keep their first result: if all of ``ids`` are done elsewhere the shard is deleted and ``None``
        returned; if some are, their rows stay in the file but :meth:`to_pandas` skips them.
        """
        _check_frame(df, "write_shard: df")
        ids = ids_arg(ids, "store: write_shard: ids")
        if "point_id" not in df.columns or not set(ids) <= set(df["point_id"]):
            raise CogsimError(
                "store: write_shard: df needs a point_id column holding every one of ids (each row carries "
                f"its point's id); got columns {list(df.columns)}"
            )
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
        folder = self.root / "shards"
        names = os.listdir(folder) if folder.is_dir() else ()  # none yet in a store opened by load()
        new = sorted(p for p in names if p.endswith(".parquet") and p not in known)
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
        """Number of points per status, as the index holds them. The points of a worker that was killed stay
        ``running`` here until :func:`cogsim.executors.reconcile` (run by ``cogsim sweep status`` and by every
        sweep command) marks them ``failed`` (``interrupted: ...``): call it first for counts that are up to
        date, ``cogsim.executors.reconcile(store); store.counts()``."""
        with self._connect() as con:
            rows = dict(con.execute("SELECT status, COUNT(*) FROM points GROUP BY status").fetchall())
        return {s: int(rows.get(s, 0)) for s in STATUSES}

    # -- results -------------------------------------------------------------------------------------------
    def to_pandas(self) -> pd.DataFrame:
        """All finished results, one DataFrame in grid order, each point once.

        Shard files not yet in the index are adopted first (:meth:`sync`); rows of a point that was finished
        twice (by two processes) come from the shard the index names. With no finished point the DataFrame
        has no rows and the columns ``<swept fields>, seed, point_id``. A shard file that cannot be read, has
        no ``point_id`` column or lacks points the index says it holds is a CogsimError ("damaged").

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
            lacking = set(ids) - set(df["point_id"]) if "point_id" in df.columns else {"point_id column"}
            if lacking:
                where = f"{str(self.root / 'shards' / shard)!r} (lacks {len(lacking)} of its points)"
                raise CogsimError(f"store: shard {where} is damaged; `cogsim sweep --resume` recomputes it")
            frames.append(df[df["point_id"].isin(set(ids))])
        if not frames:
            return pd.DataFrame(columns=[*self.get_meta("dims", []), "seed", "point_id"])
        df = pd.concat(frames, ignore_index=True)
        order = pts.set_index("point_id")["idx"]
        df = df.assign(_idx=df["point_id"].map(order)).sort_values("_idx", kind="stable")
        return df.drop(columns="_idx").reset_index(drop=True)

    def comparisons(self) -> pd.DataFrame:
        """Each finished point's comparison with the human data, one row per metric and per check.

        Columns: ``point_id, verdict, data_kind, checks_passed, kind`` (``"metric"`` or ``"check"``),
        ``name, value, ci_low, ci_high, human`` (metrics) and ``passed, threshold, rule, tested`` (checks).
        No rows (the same columns) when the scenario has no human data or runs through ``sweep_point`` (its
        outputs hold it). A damaged comparison file is a CogsimError naming it.

        Example:
          >>> # cogsim.store.load(run).comparisons().query("kind == 'metric'").pivot(...)
        """
        return read_comparisons(self.root / "comparisons")

    def to_xarray(self, *, dims: Sequence[str] | None = None, metrics: Sequence[str] | None = None):
        """Results as an ``xarray.Dataset`` with one dimension per swept field plus ``seed``.

        Args:
          dims: the result columns to use as dimensions (a name or a list; default: the swept fields and
            ``seed``). Leaving a swept field out is refused when it leaves several rows per point.
          metrics: the data variables (a name or a list; default: every numeric column besides the dims).

        On a partial sweep every grid value is still a coordinate and the points not finished are NaN, so
        integer and boolean metrics come back as floats there (a finished sweep keeps their dtypes).

        Raises:
          CogsimError: a dim or metric that is not a result column (naming the allowed ones), or no finished
            point.

        Example:
          >>> # ds = cogsim.store.load(run).to_xarray(); ds.loglik.mean("seed")
        """
        df = self.to_pandas()
        if df.empty:
            raise CogsimError(f"store: no finished points in {str(self.root)!r}")
        swept = [*self.get_meta("dims", []), "seed"]
        if metrics is None:
            metrics = self.get_meta("metrics")
        return results_xarray(df, dims=dims, metrics=metrics, swept=swept, spec=self.get_meta("spec"))


def load(run: str | os.PathLike) -> Store:
    """Opens an existing sweep run folder.

    Nothing is created or changed by opening: a folder without ``index.sqlite`` is refused, and one whose
    ``shards`` folder is gone while the index holds finished points is reported as damaged.

    Example:
      >>> # results = cogsim.store.load("runs/sweeps/change_detection-ab12cd").to_pandas()
    """
    return Store(path_arg(run, "store: load: run"), create=False)


__all__ = [
    "COMPARISON_COLUMNS",
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
