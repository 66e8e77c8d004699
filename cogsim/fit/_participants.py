"""Participant columns when none are given, their check when given, and the line on the data that `cogsim
fit` prints."""

from __future__ import annotations

import pandas as pd

from cogsim.errors import CogsimError, DataError


def default_by(trials: pd.DataFrame, log=print) -> tuple[str, ...]:
    """Participant columns when none are given: ``subject``, nested in ``experiment`` when the data has an
    experiment column in which the same subject id appears in more than one experiment (as in van den Berg
    et al. 2012, whose subject ids restart in each experiment), and in the paradigm's unit columns that the
    data has (``trials.attrs["unit_columns"]``, set by :meth:`cogsim.fit.Paradigm.read` from the paradigm's
    ``units``: visual search's ``task``, where a subject in two tasks is two participants); every choice
    other than ``subject`` alone is logged, never silent.

    Example:
      >>> t = pd.DataFrame({"experiment": [1, 1, 2, 2], "subject": [1, 2, 1, 2]})
      >>> default_by(t, log=lambda _: None)
      ('experiment', 'subject')
      >>> default_by(t.assign(subject=[1, 2, 3, 4]), log=lambda _: None)
      ('subject',)
      >>> t.attrs["unit_columns"] = ["task"]
      >>> default_by(t.assign(task=["a", "b", "a", "b"]), log=lambda _: None)
      ('task', 'experiment', 'subject')
    """
    units = [c for c in trials.attrs.get("unit_columns", ()) if c in trials.columns]
    by: tuple[str, ...] = ("subject",)
    if "experiment" in trials.columns and trials.groupby("subject")["experiment"].nunique().max() > 1:
        log("participants: experiment x subject (subject ids repeat across experiments; --by subject pools)")
        by = ("experiment", "subject")
    if units:
        named = " x ".join([*units, *by])
        n = trials.groupby([*units, *by]).ngroups
        log(
            f"participants: {named}, {n} in all (each {', '.join(units)} fitted separately; "
            f"--by {','.join(by)} pools them)"
        )
        by = (*units, *by)
    return by


def labels(frame: pd.DataFrame, by) -> pd.Series:
    """One text label per row naming its participant: the ``by`` columns' values joined by ``/``, a ``/`` or
    ``\\`` inside a value escaped with ``\\`` where there are several columns, so that two participants never
    share a label (experiment ``a`` + subject ``b/c`` is ``a/b\\/c``; experiment ``a/b`` + subject ``c`` is
    ``a\\/b/c``). A Series also for an empty frame.

    Example:
      >>> f = pd.DataFrame({"experiment": ["a", "a/b", 1], "subject": ["b/c", "c", 2]})
      >>> labels(f, ("experiment", "subject")).tolist()
      ['a/b\\\\/c', 'a\\\\/b/c', '1/2']
      >>> labels(f, ("subject",)).tolist()
      ['b/c', 'c', '2']
    """
    by = tuple(by)

    def text(col):
        out = frame[col].astype(str)
        if len(by) > 1:
            out = out.str.replace("\\", "\\\\", regex=False).str.replace("/", "\\/", regex=False)
        return out

    out = text(by[0])
    for col in by[1:]:
        out = out + "/" + text(col)
    return out


def check_by(trials: pd.DataFrame, by: tuple[str, ...]) -> None:
    """Refuses (one line) participant columns given twice or missing from ``trials``: `cogsim fit` checks
    them before it prints anything about the data or the models.

    Raises:
      CogsimError: a column given twice.
      DataError: a column missing from ``trials`` (named as the fit would name it).

    Example:
      >>> check_by(pd.DataFrame({"subject": [1]}), ("subject",))
      >>> try:
      ...     check_by(pd.DataFrame({"subject": [1]}), ("subject", "subject"))
      ... except CogsimError as e:
      ...     print(str(e)[:38])
      fit --by: got 'subject,subject'; allow
    """
    twice = [b for b in dict.fromkeys(by) if by.count(b) > 1]
    if twice:
        raise CogsimError(
            f"fit --by: got {','.join(by)!r}; allowed: distinct column names ({twice[0]!r} given twice)"
        )
    for col in (b for b in by if b not in trials.columns):
        src = trials.attrs.get("source", "<DataFrame>")
        found = ", ".join(map(str, trials.columns))
        raise DataError(f"{src}: missing column {col!r} (a by column); found: {found}")


def data_line(trials: pd.DataFrame, by: tuple[str, ...]) -> str:
    """One line on what was read: trials, participants (by ``by``), set sizes, the extra columns kept
    aside and the paradigm's notes on the file (``attrs["notes"]``), so that a wrong file or column shows
    before the fits.

    Example:
      >>> t = pd.DataFrame({"subject": [1, 1, 2], "set_size": [2, 4, 2], "note": "x"})
      >>> t.attrs["extra_columns"] = ["note"]
      >>> data_line(t, ("subject",))
      'data: 3 trials, 2 participants (subject), set sizes 2, 4; extra columns kept aside: note'
    """
    n_units = len(trials[list(by)].drop_duplicates()) if all(b in trials for b in by) else None
    parts = [f"data: {len(trials)} trials"]
    if n_units is not None:
        parts.append(f"{n_units} participant{'s' * (n_units != 1)} ({' x '.join(by)})")
    if "set_size" in trials:
        parts.append(
            "set sizes " + ", ".join(str(int(v)) for v in sorted(trials["set_size"].dropna().unique()))
        )
    extra = [c for c in trials.attrs.get("extra_columns", []) if c not in by]  # a --by column is used
    notes = [f"; {n}" for n in trials.attrs.get("notes", [])]
    kept = f"; extra columns kept aside: {', '.join(map(str, extra))}" if extra else ""
    return ", ".join(parts) + kept + "".join(notes)
