"""A packaged dataset's record: where its files live, the columns they must have, and how to cite it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

# Column kinds: "int", "float", "str", "bool", "id" (participant ids: integers if every value is one written
# plainly, else strings, so "01" and "1" stay distinct); a trailing "?" allows missing values (empty or NA).
Schema = Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One registered table: where it lives, its schema and how to cite it.

    Example:
      >>> import cogsim
      >>> d = cogsim.data.DATASETS["rouder2008_change_detection"]
      >>> d.files, d.schema["RT"], d.licence
      (('visual_array_trials.csv',), 'float', 'GPL-2')
    """

    name: str
    folder: str
    files: tuple[str, ...]
    schema: Schema
    description: str
    citation: str
    licence: str
    checks: tuple[tuple[str, Callable[[object], bool], str], ...] = ()
    sep: str = ","
    header: bool = True
    split_column: str | None = None  # several files stacked, with this column naming each file's stem
