"""Helpers of :mod:`cogsim.store` (which re-exports the public ones): its arguments checked, point ids made
canonical, shard and comparison files written without the index, and results read as tables (comparisons) and
as an ``xarray.Dataset``."""

from __future__ import annotations

import hashlib
import json
import operator
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cogsim._run_files import atomic_write_parquet, atomic_write_text
from cogsim.errors import CogsimError

#: the columns of :meth:`cogsim.store.Store.comparisons`, also when it has no rows
COMPARISON_COLUMNS = (
    "point_id",
    "verdict",
    "data_kind",
    "checks_passed",
    "kind",
    "name",
    "value",
    "ci_low",
    "ci_high",
    "human",
    "passed",
    "threshold",
    "rule",
    "tested",
)


# ------------------------------------------------------------------------------------------ arguments
def path_arg(value: Any, what: str) -> Path:
    """``value`` as a Path, or a CogsimError naming ``what`` when it is not a path (str or os.PathLike)."""
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, (str, os.PathLike)):
        raise CogsimError(f"{what}: got {value!r} ({type(value).__name__}); allowed: a folder (str or Path)")
    return Path(value)


def ids_arg(ids: Any, what: str) -> list[str]:
    """``ids`` as a list of point ids (strings); a bare string or a non-sequence is refused."""
    out = None if isinstance(ids, (str, bytes, Mapping)) or not isinstance(ids, Iterable) else list(ids)
    if out is None or not all(isinstance(i, str) for i in out):
        raise CogsimError(f"{what}: got {ids!r}; allowed: a list of point ids (strings)")
    return out


def names_arg(value: Any, what: str) -> list[str] | None:
    """Column names: None stays None, a bare string is one name, else a non-empty sequence of strings."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not value or not all(isinstance(v, str) for v in value):
        raise CogsimError(f"store: {what}: got {value!r}; allowed: a column name or a non-empty list of them")
    return list(value)


def plain(value: Any) -> Any:
    """``value`` with NumPy scalars and 0-d arrays as Python numbers (also inside lists, tuples, dicts)."""
    if isinstance(value, np.ndarray) and value.ndim == 0 or isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def seed_arg(seed: Any, what: str = "store: seed") -> int:
    """``seed`` as a Python int: ints and NumPy integers; bools, floats and strings are refused."""
    if not isinstance(seed, bool | np.bool_):
        try:
            return operator.index(seed)
        except TypeError:
            pass
    raise CogsimError(f"{what}: got {seed!r} ({type(seed).__name__}); allowed: an integer")


# ------------------------------------------------------------------------------------------ files and ids
def _shard_name(worker: str | None) -> str:
    tag = "".join(c if c.isalnum() or c in "-_" else "-" for c in (worker or "w"))[:60]
    return f"{tag}-{uuid.uuid4().hex}.parquet"


def write_shard_file(root: str | os.PathLike, df: pd.DataFrame, *, worker: str | None = None) -> Path:
    """Writes ``df`` as a new shard of the store at ``root`` without touching the index.

    The shard needs a ``point_id`` column; :meth:`Store.sync` adopts it (marks its points done). Safe from any
    process that sees the run folder, e.g. a Slurm array task on another node.

    Example:
      >>> import tempfile, pandas as pd
      >>> from cogsim.store import Store
      >>> s = Store(tempfile.mkdtemp())
      >>> s.add_points([({"x": 1.0}, 0)])
      1
      >>> _ = write_shard_file(s.root, pd.DataFrame({"x": [1.0], "seed": [0], "point_id": s.pending()}))
      >>> s.sync(), s.counts()["done"]
      (1, 1)
    """
    _check_frame(df, "write_shard_file: df")
    if "point_id" not in df.columns:
        raise CogsimError("store: a shard written without the index needs a point_id column")
    path = path_arg(root, "store: write_shard_file: root") / "shards" / _shard_name(worker)
    atomic_write_parquet(path, df)
    return path


def _check_frame(df: Any, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise CogsimError(f"store: {what}: got {type(df).__name__}; allowed: a pandas DataFrame")


def _comparison_name(pid: str) -> str:
    return hashlib.sha256(pid.encode()).hexdigest()[:24] + ".json"


def write_point_comparison(root: str | os.PathLike, pid: str, comparison: Mapping[str, Any]) -> Path:
    """Writes one sweep point's comparison with the human data (``Comparison.to_dict()``, without its tables)
    as ``RUN/comparisons/<hash of the point id>.json``, atomically. Safe from any process that sees the run
    folder.

    Example:
      >>> import tempfile
      >>> from cogsim.store import Store
      >>> s = Store(tempfile.mkdtemp())
      >>> c = {"verdict": "partial", "data_kind": "trial_level", "checks_passed": "1/2", "key": "K",
      ...      "metrics": [{"name": "K", "value": 3.0, "ci_low": 2.5, "ci_high": 3.5, "human": 2.9}],
      ...      "checks": []}
      >>> _ = write_point_comparison(s.root, "p0", c)
      >>> s.comparisons()[["point_id", "name", "value", "verdict"]].to_dict("records")
      [{'point_id': 'p0', 'name': 'K', 'value': 3.0, 'verdict': 'partial'}]
    """
    if not isinstance(pid, str):
        raise CogsimError(f"store: write_point_comparison: pid: got {pid!r}; allowed: a point id (str)")
    if not isinstance(comparison, Mapping):
        raise CogsimError(
            f"store: write_point_comparison: comparison: got {type(comparison).__name__}; allowed: a mapping "
            "(Comparison.to_dict())"
        )
    record = {k: v for k, v in comparison.items() if k != "tables"}
    record["point_id"] = pid
    path = path_arg(root, "store: write_point_comparison: root") / "comparisons" / _comparison_name(pid)
    atomic_write_text(path, json.dumps(record, default=str))
    return path


def point_id(params: Mapping[str, Any], seed: int) -> str:
    """A stable identifier of one grid point and seed: canonical JSON of the swept values.

    NumPy scalars and 0-d arrays count as the Python numbers they hold; the seed must be an integer.

    Example:
      >>> import numpy as np
      >>> point_id({"sim_K": 2.0}, 0)
      '{"params":{"sim_K":2.0},"seed":0}'
      >>> point_id({"sim_K": np.float32(2.0)}, np.int64(0)) == point_id({"sim_K": 2.0}, 0)
      True
    """
    if not isinstance(params, Mapping):
        raise CogsimError(f"store: point params: got {params!r}; allowed: a mapping of field names to values")
    return json.dumps(
        {"params": plain(dict(sorted(params.items()))), "seed": seed_arg(seed)},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


# ------------------------------------------------------------------------------------------ results
def read_comparisons(folder: Path) -> pd.DataFrame:
    """The rows of :meth:`cogsim.store.Store.comparisons` from the JSON files in ``folder``."""
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            rec = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            rec = exc
        if not isinstance(rec, dict):
            why = type(rec).__name__ if isinstance(rec, Exception) else f"a JSON {type(rec).__name__}"
            raise CogsimError(
                f"store: comparison file {str(path)!r} is damaged ({why}; allowed: a JSON object written by "
                "write_point_comparison); `cogsim sweep --resume` sets it aside and computes its point again"
            )
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
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def _grid_coords(spec: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    """Every value of each swept field and of ``seed`` in the stored spec, as result columns hold them."""
    if not spec:
        return {}
    coords = {k: [str(tuple(v)) if isinstance(v, list) else v for v in vs] for k, vs in spec["grid"].items()}
    return coords | {"seed": list(spec["seeds"])}


def results_xarray(
    df: pd.DataFrame, *, dims: Any, metrics: Any, swept: Sequence[str], spec: Mapping[str, Any] | None
):
    """:meth:`cogsim.store.Store.to_xarray` on the finished results ``df``; ``swept``: the swept fields and
    ``seed``; ``spec``: the stored sweep spec (its grid gives the coordinates of points not finished)."""
    dims = names_arg(dims, "dims") or list(swept)
    missing = [d for d in dims if d not in df.columns]
    if missing:
        raise CogsimError(f"store: dims {missing} are not result columns; allowed: {list(df.columns)}")
    if df.duplicated(dims).any():
        left_out = [d for d in swept if d not in dims and d in df.columns]
        if left_out and not df.duplicated(dims + left_out).any():
            raise CogsimError(
                f"store: dims={dims} leaves out the swept dims {left_out}, so several rows share each "
                f"({', '.join(dims)}) point; allowed: dims including them (dims={dims + left_out}), then "
                "select or average over them"
            )
        raise CogsimError(
            f"store: several rows per ({', '.join(dims)}) point (a scenario without "
            "sweep_point stores its whole simulate() table); use to_pandas() instead"
        )
    metrics = names_arg(metrics, "metrics")
    if metrics is None:
        metrics = [
            c
            for c in df.columns
            if c not in dims and c != "point_id" and pd.api.types.is_numeric_dtype(df[c])
        ]
    allowed = [c for c in df.columns if c not in dims]
    wrong = [m for m in metrics if m not in allowed]
    if wrong:
        raise CogsimError(f"store: metrics {wrong} are not result columns besides dims; allowed: {allowed}")
    ds = df.set_index(dims)[metrics].to_xarray()
    full = _grid_coords(spec)
    reindex = {}
    for d in dims:
        if d in full:
            values = list(dict.fromkeys([*full[d], *ds[d].values.tolist()]))
            try:
                values = sorted(values)
            except TypeError:
                pass
            if len(values) != ds.sizes[d]:
                reindex[d] = values
    if reindex:  # a partial sweep: its unfinished points are NaN, every grid value a coordinate
        ds = ds.reindex(reindex)
    for m in metrics:
        if df[m].dtype == bool and ds[m].dtype == object:
            ds[m] = ds[m].astype(float)
    return ds
