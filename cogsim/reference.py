"""What a scenario is compared with: a table and the kind of data it is.

Every scenario's ``reference(config)`` returns a :class:`Reference`. Its ``kind`` says how strong a
comparison can be: ``"trial_level"`` (participants' trials, so CIs and noise ceilings come from the data),
``"published_means"`` (condition means read from a paper, often digitised) or ``"none"`` (no human data:
published model results or qualitative targets, or an empty table in the simulation's schema).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import pandas as pd

from cogsim.errors import CogsimError

DataKind = Literal["trial_level", "published_means", "none"]
DATA_KINDS: tuple[str, ...] = ("trial_level", "published_means", "none")


@dataclasses.dataclass(frozen=True)
class Reference:
    """A scenario's reference data.

    Attributes:
      table: the reference rows (in the schema the scenario's ``compare`` and ``plot`` read).
      kind: ``"trial_level"``, ``"published_means"`` or ``"none"``.
      source: where the rows come from (dataset name or citation).

    Example:
      >>> import pandas as pd
      >>> ref = Reference(pd.DataFrame({"rt_ms": [500.0]}), kind="published_means", source="a paper")
      >>> ref.kind, len(ref.table)
      ('published_means', 1)
    """

    table: pd.DataFrame
    kind: DataKind
    source: str = ""

    def __post_init__(self):
        if self.kind not in DATA_KINDS:
            raise CogsimError(f"Reference.kind={self.kind!r} is not allowed; choose one of {DATA_KINDS}")
        if not isinstance(self.table, pd.DataFrame):
            raise CogsimError(f"Reference.table must be a pandas DataFrame, not {type(self.table).__name__}")
