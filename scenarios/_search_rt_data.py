"""The visual-search trials a file holds, as search_rt_distributions reads them (the packaged Wolfe, Palmer &
Horowitz 2010 data or a CSV in the ``visual_search`` paradigm's schema)."""

from __future__ import annotations

import pandas as pd

from cogsim import data

COLUMNS = ["task", "subject", "set_size", "target_present", "correct", "rt_ms"]


def read(data_field: str) -> pd.DataFrame:
    """Every trial of the data (``task`` as text; ``all`` where the file has no task column), checked by the
    ``visual_search`` paradigm."""
    from cogsim.models import paradigms

    src = data.load("visual_search_wolfe2010") if data_field == "wolfe2010" else data_field
    t = paradigms.get("visual_search").read(src)
    if "task" not in t.columns:
        t = t.assign(task="all")
    t = t[COLUMNS + (["experiment"] if "experiment" in t.columns else [])].copy()
    t["task"] = t.task.astype(str)
    return t


def unlisted_tasks(data_field: str, tasks: tuple[str, ...]) -> list[str]:
    """The data's tasks that a non-empty ``tasks`` field leaves out (not fitted), in the file's order."""
    if not tasks:
        return []
    return [x for x in read(data_field).task.drop_duplicates() if x not in tasks]
