"""The packaged book-cover collages: loading and checking them, scanpaths by collage, OAT displays, and
the tidy fixation table every method of the scenario is written in.

Example:
  >>> fix, trials = load_collages()
  >>> len(scanpaths_by_trial(fix)[1])
  6
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cogsim import data
from cogsim.errors import DataError
from cogsim.models import oat

N_ROWS, N_COLS = 6, 14
N_OBJECTS = N_ROWS * N_COLS
# Grid pitch fitted to the target boxes (data README): rows are 263.21 px apart, columns 179.36 px.
ROW_PITCH = 263.21 / 179.36
N_TARGET_IMAGES = 8  # appearance ids: 0 blank (BOS), 1 distractor cover, 2 + k "target_k.jpg"


def _target_image_id(name: str, where: str) -> int:
    m = re.fullmatch(r"target_(\d+)\.\w+", str(name))
    if not m or int(m.group(1)) >= N_TARGET_IMAGES:
        raise DataError(
            f"{where}: target_image {name!r} is not allowed; expected 'target_<k>.jpg' with "
            f"k in 0..{N_TARGET_IMAGES - 1}"
        )
    return int(m.group(1))


def _lines(path: Path) -> list[int]:
    """The row number (1-based line, header = 1) of each data row of the csv file ``path``, as the reader
    counts them (blank lines skipped)."""
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    return [2 + i for i, r in enumerate(rows[1:]) if r and not (len(r) == 1 and not r[0].strip())]


def _check_fixations(fix: pd.DataFrame, path: Path) -> None:
    """Refuses a fixation table with no rows, a negative fixation_index or a repeated fixation."""
    if fix.empty:
        raise DataError(f"{path}: no rows (a header only); expected one row per fixation")
    neg = fix.fixation_index < 0
    if neg.any():
        i = int(np.flatnonzero(neg.to_numpy())[0])
        raise DataError(
            f"{path}: row {_lines(path)[i]}, column 'fixation_index': value {fix.fixation_index.iloc[i]} is "
            "not allowed (>= 0)"
        )
    twice = fix.duplicated(["subject", "trial", "fixation_index"])
    if twice.any():
        i = int(np.flatnonzero(twice.to_numpy())[0])
        raise DataError(
            f"{path}: row {_lines(path)[i]}, column 'fixation_index': value {fix.fixation_index.iloc[i]} "
            f"appears twice for subject {fix.subject.iloc[i]} in trial {fix.trial.iloc[i]} (one row per "
            "fixation)"
        )


def load_collages(folder: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(fixations, trials)`` of the packaged data, or of ``folder`` (packaged format), checked.

    Example:
      >>> fix, trials = load_collages()
      >>> int(trials.trial.max())
      80
    """
    if folder:
        p = Path(folder)
        if not p.is_dir():
            raise DataError(f"eval_data: {str(p)!r} is not a folder (expected fixations.csv and trials.csv)")
        fix_file, where = p / "fixations.csv", p / "trials.csv"
        fix = data.load("amazon_book_covers.fixations", path=fix_file)
        trials = data.load("amazon_book_covers.trials", path=where)
    else:
        packaged = data.folder("amazon_book_covers.trials")
        fix_file, where = packaged / "fixations.csv", packaged / "trials.csv"
        fix = data.load("amazon_book_covers.fixations")
        trials = data.load("amazon_book_covers.trials")
    _check_fixations(fix, fix_file)
    twice = trials.trial.duplicated()
    if twice.any():
        i = int(np.flatnonzero(twice.to_numpy())[0])
        raise DataError(
            f"{where}: row {_lines(where)[i]}, column 'trial': {trials.trial.iloc[i]} appears twice "
            "(one row per collage)"
        )
    missing = sorted(set(fix.trial) - set(trials.trial))
    if missing:
        raise DataError(f"{where}: no row for trial(s) {missing[:5]} that fixations.csv uses")
    bad = trials[(trials.target_object_id < 0) | (trials.target_object_id >= N_OBJECTS)]
    if len(bad):
        raise DataError(
            f"{where}: target_object_id {bad.target_object_id.iloc[0]} of trial "
            f"{bad.trial.iloc[0]} is not allowed (0..{N_OBJECTS - 1})"
        )
    for name in trials.target_image:
        _target_image_id(name, where)
    return fix, trials


def scanpaths_by_trial(fix: pd.DataFrame) -> dict[int, list[list[int]]]:
    """trial -> the object sequences of its subjects (ordered by subject)."""
    out: dict[int, list[list[int]]] = {}
    for (trial, _), g in fix.sort_values(["trial", "subject", "fixation_index"]).groupby(
        ["trial", "subject"]
    ):
        out.setdefault(int(trial), []).append(g.object_id.astype(int).tolist())
    return out


def displays_for(trials: pd.DataFrame, ids: list[int], *, target_identity: bool = False) -> oat.Displays:
    """OAT displays of collages ``ids``: the 6 x 14 grid, the target cover and appearance ids.

    Appearance ids: 0 blank (the start token), 1 a distractor cover, 2 the target cover; with
    ``target_identity``, ``2 + k`` for the target image ``target_k.jpg`` (one id per target image, which a
    model cannot carry over to a target cover it was not trained on).
    """
    t = trials.set_index("trial").loc[ids]
    target = t.target_object_id.to_numpy(np.int32)
    app = np.ones((len(ids), N_OBJECTS), np.int32)
    if target_identity:
        app[np.arange(len(ids)), target] = 2 + np.array(
            [_target_image_id(n, "trials") for n in t.target_image]
        )
    else:
        app[np.arange(len(ids)), target] = 2
    return oat.grid_displays(target, n_rows=N_ROWS, n_cols=N_COLS, appearance=app)


def collage_folds(trials: pd.DataFrame, n_folds: int) -> dict[int, int]:
    """``collage -> fold`` for cross-validation grouped by target cover: the covers, in the order of their
    image number, go to folds ``0, 1, ..., n_folds - 1, 0, ...``, and every collage to its cover's fold.

    A fold's collages share no target cover with the other folds, as collages of a new target cover would.

    Example:
      >>> _, trials = load_collages()
      >>> folds = collage_folds(trials, 2)
      >>> folds[1], folds[21], folds[41], folds[61]
      (0, 1, 0, 1)
    """
    covers = sorted({_target_image_id(n, "trials") for n in trials.target_image})
    if not 2 <= n_folds <= len(covers):
        raise DataError(
            f"folds: {n_folds} is not allowed for these collages; they have {len(covers)} target covers, so "
            f"2..{len(covers)} folds"
        )
    fold = {c: i % n_folds for i, c in enumerate(covers)}
    return {
        int(t): fold[_target_image_id(n, "trials")]
        for t, n in zip(trials.trial, trials.target_image, strict=True)
    }


# ------------------------------------------------------------------------------------- the fixation table
def fixation_rows(method: str, trial: int, target: int, paths: list[list[int]]) -> list[dict]:
    """One row per fixation of ``paths`` (sample = index in ``paths``) on collage ``trial``."""
    return [
        {
            "method": method,
            "trial": trial,
            "sample": s,
            "fixation_index": i,
            "object_id": int(o),
            "target_object_id": target,
        }
        for s, p in enumerate(paths)
        for i, o in enumerate(p)
    ]


def fixation_frame(rows: list[dict]) -> pd.DataFrame:
    """The rows of :func:`fixation_rows` as the scenario's simulation table (integer columns int64)."""
    cols = ["method", "trial", "sample", "fixation_index", "object_id", "target_object_id"]
    df = pd.DataFrame(rows, columns=cols)
    return df.astype({c: "int64" for c in cols[1:]}).astype({"method": "str"})


def human_frame(fix: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """Human scanpaths in the simulation schema (method "human", sample = subject index)."""
    tg = trials.set_index("trial").target_object_id
    rows = []
    for trial, paths in scanpaths_by_trial(fix).items():
        rows += fixation_rows("human", trial, int(tg[trial]), paths)
    return fixation_frame(rows)
