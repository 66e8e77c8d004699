"""Reading one delimited file against a column schema, naming the file, row and column of any problem."""

from __future__ import annotations

import builtins
import csv
import math
import os
from pathlib import Path

import pandas as pd

from cogsim.data._dataset import Schema
from cogsim.errors import DataError

_NA = {"", "NA", "NaN", "nan", "null", "None"}
KINDS = ("int", "float", "str", "bool", "id")  # each may end in "?" (missing values allowed)


def _convert(value: str, kind: str, file: Path, line: int, column: str):
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if value in _NA and kind not in ("str", "id"):
        if optional:
            return math.nan if kind == "float" else None
        raise DataError(f"{file}: row {line}, column {column!r}: missing value; expected {kind}")
    try:
        if kind == "int":
            f = float(value)
            if not f.is_integer():
                raise ValueError
            return int(f)
        if kind == "float":
            return float(value)
        if kind == "id":
            value = value.strip()
            if not value or value in _NA:
                raise ValueError
            try:
                number = int(value)
            except ValueError:
                return value
            return number if str(number) == value else value  # "007", "+1" stay text: distinct ids
        if kind == "bool":
            low = value.strip().lower()
            if low in ("true", "1"):
                return True
            if low in ("false", "0"):
                return False
            raise ValueError
    except ValueError:
        raise DataError(
            f"{file}: row {line}, column {column!r}: value {value!r} is not a valid {kind}"
        ) from None
    if optional and value in _NA:
        return None
    return value


def read_table(
    path: str | os.PathLike, schema: Schema, *, sep: str = ",", header: bool = True, checks=()
) -> pd.DataFrame:
    """Reads one delimited UTF-8 file and checks it against ``schema`` (column -> a kind of :data:`KINDS`,
    optionally ending in ``"?"``).

    An ``id`` column (participant ids) holds integers when every id is one written plainly (``"12"``), else
    text, so ``"01"``, ``"1"`` and ``"007"`` stay three distinct ids.

    Raises:
      DataError: naming the file, the row (1-based line in the file) and the column of the first problem;
        a file that is not UTF-8; a schema kind not in :data:`KINDS`.

    Example:
      >>> import os, tempfile
      >>> from cogsim.data import read_table
      >>> path = os.path.join(tempfile.mkdtemp(), "trials.csv")
      >>> with open(path, "w") as f:
      ...     _ = f.write("sub,rt,note\\n01,0.52,\\n02,0.61,late\\n")
      >>> df = read_table(path, {"sub": "id", "rt": "float", "note": "str?"})
      >>> df["sub"].tolist(), df["rt"].tolist(), df["note"].isna().tolist()
      (['01', '02'], [0.52, 0.61], [True, False])
      >>> read_table(path, {"sub": "id", "rt": "int"})
      Traceback (most recent call last):
      ...
      cogsim.errors.DataError: ...trials.csv: row 2...rt...
    """
    path = Path(path)
    for column, kind in schema.items():
        if not isinstance(kind, str) or kind.removesuffix("?") not in KINDS:
            raise DataError(
                f"{path}: schema column {column!r}: kind {kind!r} is not allowed; allowed: one of "
                f"{builtins.list(KINDS)}, optionally ending in '?' (missing values allowed)"
            )
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    columns = builtins.list(schema)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # a byte-order mark is accepted
            rows = builtins.list(csv.reader(fh, delimiter=sep))
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}: byte {e.start} ({e.object[e.start : e.start + 1]!r}) is not UTF-8 text; the file must "
            "be UTF-8 (re-save it as UTF-8, e.g. from a Latin-1 export)"
        ) from None
    if header:
        if not rows:
            raise DataError(f"{path}: empty file; expected a header with columns {columns}")
        head, body, first_line = rows[0], rows[1:], 2
        missing = [c for c in columns if c not in head]
        if missing:
            raise DataError(f"{path}: row 1 (header): missing column(s) {missing}; found {head}")
        idx = [head.index(c) for c in columns]
        width = len(head)
    else:
        body, first_line, idx, width = rows, 1, builtins.list(range(len(columns))), len(columns)
    data: dict[str, builtins.list] = {c: [] for c in columns}
    check_map: dict[str, builtins.list] = {}
    for col, fn, allowed in checks:
        check_map.setdefault(col, []).append((fn, allowed))
    for offset, row in enumerate(body):
        line = first_line + offset
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            raise DataError(f"{path}: row {line}: expected {width} fields, found {len(row)}")
        for c, i in zip(columns, idx, strict=True):
            v = _convert(row[i], schema[c], path, line, c)
            for fn, allowed in check_map.get(c, ()):
                if v is not None and not (isinstance(v, float) and math.isnan(v)) and not fn(v):
                    raise DataError(
                        f"{path}: row {line}, column {c!r}: value {row[i]!r} is not allowed ({allowed})"
                    )
            data[c].append(v)
    df = pd.DataFrame(data)
    for c, kind in schema.items():
        k = kind.rstrip("?")
        if k == "int" and not kind.endswith("?"):
            df[c] = df[c].astype("int64")
        elif k == "float":
            df[c] = df[c].astype("float64")
        elif k == "bool":
            df[c] = df[c].astype(bool)
        elif k == "id":
            ints = all(isinstance(v, int) for v in df[c])
            df[c] = df[c].astype("int64") if ints else df[c].astype(str)
    return df
