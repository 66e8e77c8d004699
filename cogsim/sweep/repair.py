"""Damaged shards of a sweep run folder: found cheaply, set aside, their points computed again.

A shard is written under a temporary name and renamed into place, so it is complete unless something outside
cogsim damaged it afterwards (a full disk on a network file system, a copy cut short, a hand edit). Such a
shard is found by reading it whole: a truncated file has no footer, and damaged data pages fail to decode
even where the footer survived (reading only the footer missed those). The index names the shard of each
finished point, so the points of a damaged or missing shard are known.

:func:`damaged_shards` lists them (``cogsim sweep status`` reports them); :func:`recover` (run by every
``cogsim sweep`` and ``--resume`` before it computes) renames each damaged file to ``<name>.damaged`` (kept,
never deleted, and no longer read) and returns its points to ``pending``, so the sweep computes them again
with the same seeds and values: every other finished point is kept. A damaged comparison file (a point's
comparison with the human data, :func:`damaged_comparisons`) is set aside the same way and its point computed
again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from cogsim._store_results import _comparison_name
from cogsim.store import Store

#: the suffix a damaged shard file is renamed to (the store reads only ``*.parquet``)
DAMAGED_SUFFIX = ".damaged"


def _unreadable(path: os.PathLike, ids: set[str] = frozenset()) -> str | None:
    """Why the Parquet file at ``path`` cannot be read whole, has no ``point_id`` column or lacks some of
    ``ids`` (the points the index says it holds), or None when it is sound."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid (a ValueError) or an I/O error
        return " ".join(str(exc).split())[:200] or type(exc).__name__
    if "point_id" not in table.column_names:
        return "no point_id column"
    lacking = ids - set(table.column("point_id").to_pylist())
    return f"lacks {len(lacking)} of its points" if lacking else None


def damaged_shards(store: Store) -> dict[str, tuple[int, str]]:
    """``{shard name: (finished points it holds, why it is unreadable)}`` for every shard that the index names
    and whose file is missing or unreadable, and every unreadable shard file the index does not know (0
    points: never adopted).

    Example:
      >>> import tempfile
      >>> damaged_shards(Store(tempfile.mkdtemp()))
      {}
    """
    with store._connect() as con:
        rows = con.execute(
            "SELECT shard, point_id FROM points WHERE status = 'done' AND shard IS NOT NULL"
        ).fetchall()
    named: dict[str, set[str]] = {}
    for shard, pid in rows:
        named.setdefault(shard, set()).add(pid)
    out: dict[str, tuple[int, str]] = {}
    folder = store.root / "shards"
    for name, ids in sorted(named.items()):
        why = _unreadable(folder / name, ids)
        if why is not None:
            out[name] = (len(ids), why)
    for name in sorted(os.listdir(folder) if folder.is_dir() else ()):
        if name.endswith(".parquet") and name not in named and name not in out:
            why = _unreadable(folder / name)
            if why is not None and why != "missing":
                out[name] = (0, why)
    return out


def damaged_comparisons(store: Store) -> dict[str, tuple[str | None, str]]:
    """``{file name: (the finished point it belongs to, or None, why it cannot be read)}`` for every
    comparison file (``RUN/comparisons/*.json``, scenarios run through ``simulate``) that is not a readable
    JSON object.

    Example:
      >>> import tempfile
      >>> damaged_comparisons(Store(tempfile.mkdtemp()))
      {}
    """
    folder = store.root / "comparisons"
    out: dict[str, tuple[str | None, str]] = {}
    owners: dict[str, str] | None = None
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            rec = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            why = " ".join(str(exc).split())[:200] or type(exc).__name__
        else:
            if isinstance(rec, dict):
                continue
            why = f"a JSON {type(rec).__name__}, not an object"
        if owners is None:
            with store._connect() as con:
                done = con.execute("SELECT point_id FROM points WHERE status = 'done'").fetchall()
            owners = {_comparison_name(pid): pid for (pid,) in done}
        out[path.name] = (owners.get(path.name), why)
    return out


def recover(store: Store, *, log: Callable[[str], None] = print) -> dict[str, tuple[int, str]]:
    """Sets every damaged shard aside (renamed to ``<name>.damaged``) and returns its finished points to
    ``pending``, and the same for every damaged comparison file and its point; returns what
    :func:`damaged_shards` found."""
    for name, (pid, why) in damaged_comparisons(store).items():
        path = store.root / "comparisons" / name
        os.replace(path, path.with_name(name + DAMAGED_SUFFIX))
        if pid is not None:
            with store._transaction() as con:
                con.execute(
                    "UPDATE points SET status = 'pending', shard = NULL, error = ? "
                    "WHERE point_id = ? AND status = 'done'",
                    (f"comparison {name} damaged: {why}", pid),
                )
        log(
            f"sweep: comparison file {str(path)!r} is damaged ({why}); kept as {name + DAMAGED_SUFFIX}, "
            f"{'its point is computed again' if pid else 'it belongs to no finished point'}"
        )
    damaged = damaged_shards(store)
    folder = store.root / "shards"
    folder.mkdir(exist_ok=True)  # a shards folder deleted by hand: its points are computed again
    for name, (n, why) in damaged.items():
        path = folder / name
        if path.exists():
            os.replace(path, path.with_name(name + DAMAGED_SUFFIX))
        with store._transaction() as con:
            con.execute(
                "UPDATE points SET status = 'pending', shard = NULL, error = ? "
                "WHERE shard = ? AND status = 'done'",
                (f"shard {name} damaged: {why}", name),
            )
        log(
            f"sweep: shard {str(path)!r} is damaged ({why}); kept as {name + DAMAGED_SUFFIX}, "
            f"its {n} point(s) are computed again"
        )
    return damaged
