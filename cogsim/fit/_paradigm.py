"""A paradigm's trial schema (columns with kinds and ranges), its models, and the checked CSV reader."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, DataError

KINDS = ("id", "int", "float", "bool")


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a paradigm's trial schema.

    Attributes:
      name: the column's header in the CSV.
      kind: ``"id"`` (participant or experiment ids, strings or integers), ``"int"``, ``"float"`` or
        ``"bool"`` (0/1, true/false).
      low: smallest allowed value (``int``/``float``).
      high: largest allowed value (``int``/``float``).
      required: a missing required column is an error; an optional one may be absent, and where present
        its blank cells are allowed (read as NaN) unless ``blanks`` is False.
      doc: one line describing the column.
      blanks: whether blank cells are allowed; None (the default): in optional columns only. An optional
        column with ``blanks=False`` may be absent, but a file that has it must fill it on every row.

    Example:
      >>> Column("set_size", "int", low=1).kind
      'int'
    """

    name: str
    kind: str
    low: float = -math.inf
    high: float = math.inf
    required: bool = True
    doc: str = ""
    blanks: bool | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise CogsimError(f"Column {self.name!r} kind: got {self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.blanks and (self.required or self.kind == "id"):
            raise CogsimError(
                f"Column {self.name!r} blanks: got True for a required or id column; allowed: False or None"
            )

    @property
    def blanks_allowed(self) -> bool:
        """Whether a blank cell is read as NaN (True) or refused naming its row (False)."""
        return (not self.required and self.kind != "id") if self.blanks is None else self.blanks

    def allowed(self) -> str:
        """What the column accepts, in words (used in error messages and ``cogsim fit --list``).

        Example:
          >>> Column("p", "float", low=0, high=1, required=False, blanks=False).allowed()
          'a finite number in [0, 1], on every row if the column is given'
        """
        values = self._values()
        if not self.required and not self.blanks_allowed and self.kind != "id":
            return f"{values}, on every row if the column is given"
        return values

    def _values(self) -> str:
        if self.kind == "id":
            return "a non-empty id (string or integer; written as in the file: 007 and 7 are two ids)"
        if self.kind == "bool":
            return "0 or 1 (or true/false, t/f, yes/no)"
        what = "an integer" if self.kind == "int" else "a finite number"
        lo, hi = math.isfinite(self.low), math.isfinite(self.high)
        if lo and hi:
            return f"{what} in [{_num(self.low)}, {_num(self.high)}]"
        if lo:
            return f"{what} >= {_num(self.low)}"
        if hi:
            return f"{what} <= {_num(self.high)}"
        return what


def _num(v: float) -> str:
    return f"{v:.10g}"


@dataclasses.dataclass(frozen=True)
class Paradigm:
    """An experimental paradigm: the trial schema users' CSVs follow and the models that fit them.

    Attributes:
      name: the paradigm's command-line name (``cogsim fit NAME``).
      columns: the schema's columns.
      models: command-line model name -> model (see :class:`cogsim.fit.Model`).
      pattern_columns: optional numbered columns, ``{i}`` standing for 1, 2, ... (e.g.
        ``"nontarget_{i}_rad"``); blanks allowed. The fitting layer stacks them into one trial array named
        by the part before ``_{i}`` plus ``s`` (``"nontargets"``), NaN-padded.
      validate: paradigm-specific checks ``validate(frame, source)`` run after the column checks; raises a
        DataError naming file, row, column and what is allowed.
      doc: one line describing the paradigm.
      summarize: optional ``summarize(trials, by) -> DataFrame``: the data's summaries for posterior
        predictive checks (:func:`cogsim.fit.predictive_check`), averaged over the participants that the
        ``by`` columns identify, in long format: condition columns (e.g. ``set_size``), ``statistic``,
        ``point`` (a bin centre or quantile level, NaN where none) and ``value``; a ``sim`` column in
        ``trials`` (simulated copies) is kept as the first condition.
      units: optional columns that, where a file has them, split a subject into separate participants by
        default (visual search's ``task``: a subject in two tasks is two participants); :meth:`read` lists
        those present in ``attrs["unit_columns"]`` and ``cogsim fit`` without ``--by`` nests subjects in
        them (:func:`cogsim.fit._participants.default_by`).

    Example:
      >>> p = Paradigm("toy", (Column("subject", "id"), Column("x", "float")), models={})
      >>> p.read(pd.DataFrame({"subject": ["a", "b"], "x": [0.5, 1.0], "note": ["", "ok"]})).attrs[
      ...     "extra_columns"]
      ['note']
    """

    name: str
    columns: tuple[Column, ...]
    models: Mapping[str, Any]
    pattern_columns: tuple[str, ...] = ()
    validate: Callable[[pd.DataFrame, str], None] | None = None
    doc: str = ""
    summarize: Callable[[pd.DataFrame, tuple[str, ...]], pd.DataFrame] | None = None
    units: tuple[str, ...] = ()

    def read(
        self, source: str | os.PathLike | pd.DataFrame, *, id_columns: tuple[str, ...] = ()
    ) -> pd.DataFrame:
        """Reads and checks a trial table against the schema.

        Args:
          source: a CSV path (UTF-8, a byte-order mark accepted) or a DataFrame.
          id_columns: further columns outside the schema read as ids (e.g. the ``--by`` columns of
            ``cogsim fit``, such as ``session``): the schema's id rule, so ``01`` and ``1`` stay two ids and
            a blank cell is refused naming its row. Those absent from the table are left to the caller.

        Returns:
          The trials with the schema's columns first (ids as written: integers where every id of the
          column is a plain integer, else text, so ``007`` and ``7`` stay two ids; ``int``/``bool`` columns
          as integers, ``float`` as floats), then the pattern columns, then any extra columns, kept
          unchanged; ``attrs["source"]`` names the file and ``attrs["extra_columns"]`` lists the extras.
          Rows left blank at the end of a CSV are dropped.

        Raises:
          DataError: one line naming the file, the 1-based data row, the column, the value and what is
            allowed (missing file or column, empty table, non-numeric or out-of-range values).

        Example:
          >>> p = Paradigm("toy", (Column("subject", "id"),), models={})
          >>> p.read(pd.DataFrame({"subject": [1, 1], "session": ["01", "1"]}), id_columns=("session",))[
          ...     "session"].tolist()
          ['01', '1']
        """
        ids = {c.name for c in self.columns if c.kind == "id"}
        named = {c.name for c in self.columns}
        extra_ids = [c for c in dict.fromkeys(id_columns) if c not in named]
        frame, src = _load(source, [*ids, *extra_ids])
        out = {}
        for col in self.columns:
            if col.name not in frame.columns:
                if col.required:
                    need = ", ".join(c.name for c in self.columns if c.required)
                    sep = next((d for d in (";", "\t", "|") if any(d in str(c) for c in frame.columns)), None)
                    hint = f" (the file looks {sep!r}-separated; allowed: commas)" if sep else ""
                    if sep == "\t":
                        hint = " (the file looks tab-separated: name it .tsv, or separate by commas)"
                    raise DataError(
                        f"{src}: missing column {col.name!r} ({col.allowed()}); "
                        f"required columns: {need}; found: {', '.join(map(str, frame.columns))}{hint}"
                    )
                continue
            out[col.name] = _check_column(frame[col.name], col, src)
        patterned = []
        for pattern in self.pattern_columns:
            _check_numbering(pattern, frame.columns, src)
            for name in pattern_names(pattern, frame.columns):
                out[name] = _check_column(frame[name], Column(name, "float", required=False), src)
                patterned.append(name)
        extras = [c for c in frame.columns if c not in out]
        for c in extras:
            out[c] = _check_column(frame[c], Column(c, "id"), src) if c in extra_ids else frame[c]
        result = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
        result.attrs["source"] = src
        result.attrs["extra_columns"] = list(extras)
        result.attrs["pattern_columns"] = list(self.pattern_columns)
        result.attrs["unit_columns"] = [c for c in self.units if c in result.columns]
        if self.validate is not None:
            self.validate(result, src)
        return result


def pattern_names(pattern: str, columns) -> list[str]:
    """The columns ``pattern`` matches (``{i}`` = 1, 2, ...), in numeric order, stopping at the first gap."""
    if "{i}" not in pattern:
        raise CogsimError(f"pattern column {pattern!r}: allowed: a name containing '{{i}}'")
    have = set(map(str, columns))
    names, i = [], 1
    while pattern.format(i=i) in have:
        names.append(pattern.format(i=i))
        i += 1
    return names


def _check_numbering(pattern: str, columns, src: str) -> None:
    """Raises a DataError for a column of ``pattern``'s form that its numbering 1, 2, ... leaves out (a 0,
    a gap, a leading zero), which would otherwise be kept aside as an extra column without a word."""
    form = re.compile(re.escape(pattern).replace(re.escape("{i}"), r"(-?\d+)"))
    found = [str(c) for c in columns if form.fullmatch(str(c))]
    taken = set(pattern_names(pattern, columns))
    stray = [c for c in found if c not in taken]
    if stray:
        listed = ", ".join(sorted(found, key=lambda c: int(form.fullmatch(c).group(1))))
        raise DataError(
            f"{src}: column {stray[0]!r}: allowed: {pattern} numbered 1, 2, 3, ... without a gap or a "
            f"leading zero (found {listed})"
        )


def pattern_key(pattern: str) -> str:
    """The trial-array name of a pattern column group: ``"nontarget_{i}_rad"`` -> ``"nontargets"``."""
    return pattern.split("{i}")[0].rstrip("_") + "s"


def _load(source, text_columns=()) -> tuple[pd.DataFrame, str]:
    """The table and its name; a CSV's ``text_columns`` (ids) are read as text, so that ``007`` and ``7``
    stay two ids, and rows left blank at the end of the file (``,,,`` lines) are dropped."""
    if isinstance(source, pd.DataFrame):
        src = source.attrs.get("source", "<DataFrame>")
        frame = source.reset_index(drop=True)
    elif not isinstance(source, (str, os.PathLike)):
        raise CogsimError(
            f"read source: got {type(source).__name__}; allowed: a pandas DataFrame or the path of "
            f"{TRIAL_FILES}"
        )
    else:
        path = Path(source)
        src = str(source)
        if path.is_dir():
            raise DataError(f"{src}: a folder; allowed: {TRIAL_FILES}")
        if not path.is_file():
            raise DataError(f"{src}: no such file; allowed: {TRIAL_FILES}")
        if path.suffix.lower() in (".xlsx", ".xls", ".xlsm", ".ods"):
            raise DataError(f"{src}: a spreadsheet workbook; allowed: {TRIAL_FILES} (save the sheet as CSV)")
        kind = trial_file_kind(src) or "csv"  # any other name is read as a CSV
        if kind == "parquet":
            try:
                frame = pd.read_parquet(path)
            except Exception as exc:  # noqa: BLE001 (pyarrow raises several types for a damaged file)
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                msg = f"{src}: not a readable Parquet file ({first}); allowed: {TRIAL_FILES}"
                raise DataError(msg) from None
            return _checked(frame.set_axis([str(c).strip() for c in frame.columns], axis=1), src)
        opts = {"encoding": "utf-8-sig", "skipinitialspace": True, "sep": "\t" if kind == "tsv" else ","}
        try:
            header = pd.read_csv(path, nrows=0, **opts).columns
            text = {c: str for c in header if str(c).strip() in set(text_columns)}
            blanks = {c: [""] if c in text else list(_NA_TEXT) for c in header}  # an id "NA" is an id
            frame = pd.read_csv(path, dtype=text, na_values=blanks, keep_default_na=False, **opts)
        except _UNREADABLE as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            what = "tab-separated (.tsv)" if kind == "tsv" else "comma-separated (.csv)"
            msg = f"{src}: not a readable {kind.upper()} ({first}); allowed: UTF-8 {what}"
            raise DataError(msg) from None
        frame.columns = [str(c).strip() for c in frame.columns]
        filled = np.flatnonzero(~frame.isna().all(axis=1).to_numpy())
        frame = frame.iloc[: filled[-1] + 1 if len(filled) else 0]
    return _checked(frame, src)


#: the trial files :meth:`Paradigm.read` takes, by suffix (any case; ``.gz``, ``.bz2``, ``.zip`` or ``.xz``
#: compression of a CSV or TSV is undone on reading)
TRIAL_FILES = "a CSV (.csv), tab-separated (.tsv, .tab) or Parquet (.parquet) file of trials"
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz")
#: what reading a damaged or undecodable text file raises (a bad archive: OSError; a compression whose
#: package is missing, e.g. ``.zst``: ImportError)
_UNREADABLE = (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, ImportError, OSError)


def trial_file_kind(name: str | os.PathLike) -> str | None:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` by the file name's suffix (after a compression suffix), or None.

    Example:
      >>> trial_file_kind("trials.csv"), trial_file_kind("T.TSV.gz"), trial_file_kind("t.parquet")
      ('csv', 'tsv', 'parquet')
      >>> trial_file_kind("trials.xlsx") is None
      True
    """
    return _split_trial_file(name)[1]


def trial_file_stem(name: str | os.PathLike) -> str:
    """The file's name without its trial-file suffixes (the format's and a compression's).

    Example:
      >>> trial_file_stem("lab/my trials.csv"), trial_file_stem("run.2.TSV.gz"), trial_file_stem("notes.txt")
      ('my trials', 'run.2', 'notes.txt')
    """
    return _split_trial_file(name)[0]


_KINDS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet"}


def _split_trial_file(name: str | os.PathLike) -> tuple[str, str | None]:
    """``(stem, kind)``: the name without a compression suffix and then a format suffix, and the format (None
    where the name has no format suffix, and the stem is then the whole name)."""
    base = Path(name).name
    rest = base[: -len(Path(base).suffix)] if Path(base).suffix.lower() in _COMPRESSED else base
    kind = _KINDS.get(Path(rest).suffix.lower())
    return (rest[: -len(Path(rest).suffix)], kind) if kind else (base, None)


def _checked(frame: pd.DataFrame, src: str) -> tuple[pd.DataFrame, str]:
    if len(frame) == 0:
        raise DataError(f"{src}: no data rows; allowed: a header line and at least one trial")
    dup = frame.columns[frame.columns.duplicated()]
    if len(dup):
        raise DataError(f"{src}: column {dup[0]!r} appears twice; allowed: distinct column names")
    return frame, src


_TRUE = {"1", "true", "t", "yes"}
_FALSE = {"0", "false", "f", "no"}


#: cells read as blank (NaN) outside the id columns: pandas' default missing-value strings
_NA_TEXT = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
    "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
#: an id read as an integer: every id of the column is written like this (others keep the ids as text)
_INTEGER_ID = r"-?(0|[1-9][0-9]{0,17})"


def _bad(src: str, row: int, col: Column, value: Any, hint: str = "") -> DataError:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        value = "(blank)"
    return DataError(
        f"{src}: row {row + 1}, column {col.name!r}: got {value!r}; allowed: {col.allowed()}{hint}"
    )


def _check_column(s: pd.Series, col: Column, src: str) -> pd.Series:
    blank = s.isna() | (s.astype(str).str.strip() == "")
    if col.kind == "id":
        if blank.any():
            raise _bad(src, int(np.flatnonzero(blank.to_numpy())[0]), col, s[blank].iloc[0])
        if pd.api.types.is_integer_dtype(s):
            return s.astype("int64")
        text = s.astype(str).str.strip()
        if not pd.api.types.is_float_dtype(s) and text.str.fullmatch(_INTEGER_ID).all():
            return text.astype("int64")  # integers written plainly: no sign, no leading zero, no ".0"
        return text
    if blank.any() and not col.blanks_allowed:
        i = int(np.flatnonzero(blank.to_numpy())[0])
        raise _bad(src, i, col, s.iloc[i])
    if col.kind == "bool":
        text = s.astype(str).str.strip().str.lower().str.replace(r"\.0+$", "", regex=True)
        ok = text.isin(_TRUE | _FALSE) | blank
        if not ok.all():
            i = int(np.flatnonzero(~ok.to_numpy())[0])
            rate = pd.to_numeric(s.iloc[[i]], errors="coerce").iloc[0]
            hint = " (a proportion? give one row per trial with 0/1, not rates per condition)"
            raise _bad(src, i, col, s.iloc[i], hint if 0 < rate < 1 else "")
        vals = np.where(blank, np.nan, text.isin(_TRUE).astype(float))
        return pd.Series(vals, index=s.index).astype("Int64" if blank.any() else "int64")
    num = pd.to_numeric(s, errors="coerce")
    bad = (num.isna() & ~blank) | ~np.isfinite(num.fillna(0.0))
    if col.kind == "int":
        bad |= (num != np.round(num)) & num.notna()
    bad |= ((num < col.low) | (num > col.high)) & num.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise _bad(src, i, col, s.iloc[i])
    if col.kind == "int":
        return num.astype("Int64" if blank.any() else "int64")
    return num.astype("float64")
