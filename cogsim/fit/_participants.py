"""The columns that identify a participant when none are given."""

from __future__ import annotations

import pandas as pd


def default_by(trials: pd.DataFrame, log=print) -> tuple[str, ...]:
    """Participant columns when none are given: ``subject``, nested in ``experiment`` when the data has an
    experiment column in which the same subject id appears in more than one experiment (as in van den Berg
    et al. 2012, whose subject ids restart in each experiment); the choice is logged, never silent.

    Example:
      >>> t = pd.DataFrame({"experiment": [1, 1, 2, 2], "subject": [1, 2, 1, 2]})
      >>> default_by(t, log=lambda _: None)
      ('experiment', 'subject')
      >>> default_by(t.assign(subject=[1, 2, 3, 4]), log=lambda _: None)
      ('subject',)
    """
    if "experiment" in trials.columns and trials.groupby("subject")["experiment"].nunique().max() > 1:
        log("participants: experiment x subject (subject ids repeat across experiments; --by subject pools)")
        return ("experiment", "subject")
    return ("subject",)
