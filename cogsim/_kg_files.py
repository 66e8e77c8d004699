"""A knowledge graph's triple files: one tab-separated file per split, read and checked.

The format: ``subject<TAB>predicate<TAB>object``, one triple a line, UTF-8 (a byte-order mark is dropped),
no header line; blank lines and lines starting with ``#`` are skipped. A first line whose fields are the
usual column names (each one of :data:`HEADER_WORDS`, any case, e.g. ``head relation tail``) is refused as a
header rather than learned as a triple, and a split file without triples is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cogsim.errors import DataError

COLUMNS = ("subject", "predicate", "object")
#: Field names of a header line: a first line made of three of these is refused (the format has no header).
HEADER_WORDS = frozenset({"head", "relation", "tail", "subject", "predicate", "object", "source", "target"})


def read_triples(path: str | os.PathLike) -> pd.DataFrame:
    """Reads one tab-separated triple file (``subject<TAB>predicate<TAB>object``, one a line).

    Blank lines and lines starting with ``#`` are skipped; a UTF-8 byte-order mark is dropped.

    Raises:
      DataError: a missing file, a line without exactly three non-empty tab-separated fields, or a first
        triple line that is a header of column names (the message names the file and the line number).

    Example:
      >>> import tempfile, pathlib
      >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
      >>> _ = p.write_text("canary\\tisa\\tbird\\n")
      >>> read_triples(p).values.tolist()
      [['canary', 'isa', 'bird']]
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: file not found (expected a tab-separated file of subject, predicate, object)"
        )
    rows = []
    with path.open(encoding="utf-8-sig") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise DataError(
                    f"{path}: line {lineno}: expected 3 tab-separated fields (subject, predicate, object), "
                    f"found {len(fields)}: {line[:80]!r}"
                )
            fields = [f.strip() for f in fields]
            empty = [c for c, f in zip(COLUMNS, fields, strict=True) if not f]
            if empty:
                raise DataError(f"{path}: line {lineno}: empty {empty[0]} in {line[:80]!r}")
            if not rows and all(f.lower() in HEADER_WORDS for f in fields):
                raise DataError(
                    f"{path}: line {lineno}: {line[:80]!r} looks like a header; the format has no header "
                    "line (remove it, or put # in front of it)"
                )
            rows.append(fields)
    return pd.DataFrame(rows, columns=list(COLUMNS), dtype=str)


def read_folder(folder: Path, splits: tuple[str, ...]) -> pd.DataFrame:
    """The triples of ``folder/<split>.txt`` for each split, with a ``split`` column.

    Raises:
      DataError: a missing file (all of them named), a malformed file, or a split file without triples.
    """
    missing = [f"{s}.txt" for s in splits if not (folder / f"{s}.txt").is_file()]
    if missing:
        raise DataError(
            f"knowledge graph folder {folder}: missing {', '.join(missing)} "
            f"(a graph folder holds {', '.join(f'{s}.txt' for s in splits)})"
        )
    frames = []
    for s in splits:
        df = read_triples(folder / f"{s}.txt")
        if df.empty:
            raise DataError(
                f"{folder / f'{s}.txt'}: no triples (the {s} split needs at least one subject<TAB>predicate"
                "<TAB>object line)"
            )
        df["split"] = s
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def no_name(v: object) -> bool:
    """Whether ``v`` cannot name an entity or predicate: None, NaN, or an empty or blank string.

    Example:
      >>> no_name("bird"), no_name(" "), no_name(float("nan")), no_name(None)
      (False, True, True, True)
    """
    if isinstance(v, str):
        return not v.strip()
    return v is None or (isinstance(v, (float, np.floating)) and bool(np.isnan(v)))


def vocabularies(df: pd.DataFrame, graph: str) -> tuple[tuple, tuple]:
    """The sorted entity names (subjects and objects) and predicate names of a triple frame.

    Raises:
      DataError: a subject, predicate or object is None, NaN or blank (naming the row), or the names mix
        types that cannot be sorted together (e.g. strings and numbers).

    Example:
      >>> vocabularies(pd.DataFrame({"subject": ["b"], "predicate": ["r"], "object": ["a"]}), "g")
      (('a', 'b'), ('r',))
    """
    for col in COLUMNS:
        bad = df[col].map(no_name).to_numpy(bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"knowledge graph {graph!r}: row {i} has {col}={df[col].iloc[i]!r}; every subject, "
                "predicate and object must be a non-empty name"
            )
    out = []
    for what, names in (
        ("subject/object", set(df["subject"]) | set(df["object"])),
        ("predicate", set(df["predicate"])),
    ):
        try:
            out.append(tuple(sorted(names)))
        except TypeError:
            kinds = sorted({type(v).__name__ for v in names})
            raise DataError(
                f"knowledge graph {graph!r}: the {what} names mix types {kinds}; use one type (strings)"
            ) from None
    return out[0], out[1]
