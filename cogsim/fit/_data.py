"""Trials grouped into fitting units (participant, or participant x set size), padded to equal length."""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, DataError
from cogsim.fit import _model
from cogsim.fit._paradigm import pattern_key, pattern_names


@dataclasses.dataclass(frozen=True)
class Packed:
    """Trials of every fitting unit in one padded batch.

    Attributes:
      units: one row per unit: the ``by`` columns (and the set size for per-set-size models), ``n_trials``
        and ``first_row`` (0-based position of its first trial in the data).
      trials: column name -> array ``[n_units, max_trials]``; padded slots repeat the unit's first trial.
      mask: ``[n_units, max_trials]`` True for real trials.
      rows: ``[n_units, max_trials]`` positions in the data (the first trial's for padded slots).
      keys: the unit key columns (``by`` plus the set-size column where fitted per set size).
      source: the data's file name (for messages).
    """

    units: pd.DataFrame
    trials: dict
    mask: jnp.ndarray
    rows: np.ndarray
    keys: tuple[str, ...]
    source: str


def trial_arrays(data: pd.DataFrame, patterns: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Every numeric column as a NumPy array (floats as float32, integers/bools as int32 unless they have
    blanks), plus each pattern group present stacked into ``[n_trials, n_columns]`` (float32, NaN for
    blanks).

    Example:
      >>> df = pd.DataFrame({"x": [0.5, 1.0], "t_1": [1.0, None], "t_2": [2.0, 3.0], "id": ["a", "b"]})
      >>> {k: v.shape for k, v in trial_arrays(df, ["t_{i}"]).items()}
      {'x': (2,), 't_1': (2,), 't_2': (2,), 'ts': (2, 2)}
    """
    out = {}
    for name in data.columns:
        s = data[name]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
            if s.isna().any():
                out[name] = s.astype("float64").to_numpy(dtype=np.float32, na_value=np.nan)
            else:
                out[name] = s.to_numpy(dtype=np.int32)
        elif pd.api.types.is_float_dtype(s):
            out[name] = s.to_numpy(dtype=np.float32, na_value=np.nan)
    for pattern in patterns:
        cols = pattern_names(pattern, data.columns)
        if not cols:  # no such columns in this file: no trial array (models that need it do not apply)
            continue
        stacked = np.full((len(data), len(cols)), np.nan, np.float32)
        for j, c in enumerate(cols):
            stacked[:, j] = pd.to_numeric(data[c], errors="coerce").to_numpy(np.float32, na_value=np.nan)
        out[pattern_key(pattern)] = stacked
    return out


def pack(
    data: pd.DataFrame,
    model,
    *,
    by: Sequence[str],
    set_size_column: str = "set_size",
    min_trials: int = 10,
    patterns: Sequence[str] | None = None,
    cv: int | None = None,
) -> Packed:
    """Groups ``data`` into fitting units and pads them into one batch (``cv``: the cross-validation's
    folds, each of which needs a trial of every unit).

    Raises:
      DataError: a ``by``/set-size/required column is missing, or a unit has fewer than
        ``max(min_trials, n_params + 1)`` trials (naming its first row).
    """
    if not isinstance(data, pd.DataFrame):
        raise CogsimError(
            f"fit data: got {type(data).__name__}; allowed: a pandas DataFrame (e.g. Paradigm.read(path))"
        )
    src = data.attrs.get("source", "<DataFrame>")
    data = data.reset_index(drop=True)
    if len(data) == 0:
        raise DataError(f"{src}: no data rows; allowed: at least one trial per participant")
    keys = tuple(by) + ((set_size_column,) if _model.by_set_size(model) else ())
    if len(set(keys)) != len(keys):
        raise CogsimError(f"fit by: got {list(by)}; allowed: distinct columns other than {set_size_column!r}")
    if patterns is None:  # the reader's, or for a DataFrame it did not read the model's own
        patterns = data.attrs.get("pattern_columns", getattr(model, "pattern_columns", ()))
    stems = {pattern_key(p): p for p in patterns}
    for col in keys + _model.requires(model):
        if col in data.columns or (col in stems and pattern_names(stems[col], data.columns)):
            continue
        why = "a by column" if col in by else f"needed by model {model.name!r}"
        if col in stems:  # a stacked pattern group, e.g. "nontargets" from nontarget_1_rad, ...
            why, col = f"{why}: the columns {stems[col]} numbered from 1", stems[col].format(i=1)
        raise DataError(f"{src}: missing column {col!r} ({why}); found: {', '.join(map(str, data.columns))}")
    for col in keys:
        if data[col].isna().any():
            i = int(np.flatnonzero(data[col].isna().to_numpy())[0])
            raise DataError(f"{src}: row {i + 1}, column {col!r}: got (blank); allowed: a non-empty value")
    _model.check_set_sizes(model, data, src)
    arrays = trial_arrays(data, patterns)
    groups = data.groupby(list(keys), sort=True).indices
    k = len(model.params)
    need = max(int(min_trials), k + 1, int(cv or 0))
    because = (
        f"for {cv}-fold cross-validation (cv={cv}; each fold holds out a trial of every unit)"
        if cv and cv > max(int(min_trials), k + 1)
        else f"to fit model {model.name!r} ({k} parameters)"
    )
    unit_rows, positions = [], []
    for key, pos in groups.items():
        key = key if isinstance(key, tuple) else (key,)
        pos = np.sort(np.asarray(pos))
        if len(pos) < need:
            what = ", ".join(f"{c}={_plain(v)!r}" for c, v in zip(keys, key, strict=True))
            raise DataError(
                f"{src}: row {pos[0] + 1}, column {keys[0]!r}: {what} has {len(pos)} trial(s); allowed: at "
                f"least {need} trials per unit {because}"
            )
        unit_rows.append((*key, len(pos), int(pos[0])))
        positions.append(pos)
    units = pd.DataFrame(unit_rows, columns=[*keys, "n_trials", "first_row"])
    for c in keys:  # keep the ids' dtype (groupby keys come back as Python objects)
        units[c] = units[c].astype(data[c].dtype)
    width = max(len(p) for p in positions)
    rows = np.empty((len(positions), width), np.int64)
    mask = np.zeros((len(positions), width), bool)
    for u, pos in enumerate(positions):
        rows[u, : len(pos)] = pos
        rows[u, len(pos) :] = pos[0]
        mask[u, : len(pos)] = True
    check = getattr(model, "check_trials", None)  # the model's own checks: on every frame, read or not
    if callable(check):
        check(data, src)
    if "source" not in data.attrs:  # a DataFrame that Paradigm.read did not check
        _check_reads(model, {name: arr[:1] for name, arr in arrays.items()}, data, src)
    trials = {name: jnp.asarray(arr[rows]) for name, arr in arrays.items()}
    return Packed(units, trials, jnp.asarray(mask), rows, keys, src)


def _check_reads(model, one: dict, data: pd.DataFrame, src: str) -> None:
    """Raises a DataError when ``model.loglik`` reads a column that is not a numeric trial array: one that
    the frame holds as text, categories or objects (left out of the arrays), or one it lacks; traced on
    ``one`` trial, nothing computed."""
    import jax

    from cogsim.fit import _objective

    model = _model.specialised(model, data)  # the model the fit evaluates
    params = _objective.values(model, _objective.default_u(model))
    try:
        jax.eval_shape(lambda t: model.loglik(params, t), one)
    except KeyError as exc:
        name = exc.args[0] if exc.args else None
        if not isinstance(name, str) or name in one:
            raise
        if name in data.columns:
            s, first = data[name], data[name].iloc[0]
            first = first.item() if isinstance(first, np.generic) else first
            raise DataError(
                f"{src}: column {name!r}: got {s.dtype} values (first {first!r}); allowed: numbers "
                f"(0/1 or bool for yes/no columns), as model {model.name!r} reads it; the paradigm's "
                "read() converts and checks a table's columns"
            ) from None
        raise DataError(
            f"{src}: missing column {name!r} (needed by model {model.name!r}); found: "
            f"{', '.join(map(str, data.columns))}"
        ) from None


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def unit_ids(units: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """Each unit's random-stream id ``[n_units]`` (uint32): a CRC-32 of its key columns' names and values,
    the columns in sorted order and integral numbers written as integers. A unit's starts, cross-validation
    folds and simulated copies are keyed by ``fold_in`` of its id, so they do not depend on the other units,
    on the units' order or on the order of the ``by`` columns.

    Example:
      >>> a = unit_ids(pd.DataFrame({"subject": [1, 2], "experiment": ["x", "x"]}), ("subject", "experiment"))
      >>> b = unit_ids(pd.DataFrame({"experiment": ["x"], "subject": ["2"]}), ("experiment", "subject"))
      >>> int(b[0]) == int(a[1]), a.dtype.name
      (True, 'uint32')
    """
    cols = sorted(keys, key=str)

    def text(v):
        v = _plain(v)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return f"{v}"

    rows = units[cols].itertuples(index=False, name=None)
    names = ("\x1f".join(f"{c}={text(v)}" for c, v in zip(cols, row, strict=True)) for row in rows)
    ids = [zlib.crc32(n.encode()) for n in names]
    return np.asarray(ids, np.uint32)


#: a bucket's shortest unit has at least this fraction of its longest unit's trials
BUCKET_FILL = 0.75
#: at most this many buckets (each is one more compilation of every program: the solver, the log-likelihood,
#: the profile and the cross-validation); measured on van den Berg et al. (2012) (108/320 trials per unit,
#: 864/2560 per participant), one padded shape costs less CPU than two compilations (mixture2p 13.4 s
#: against 25.7 s, vp on 8 participants 35 s against 50 s, both with profile CIs): compilation dominates
MAX_BUCKETS = 1  # the default of `fit(max_buckets=...)`


def buckets(n_trials: np.ndarray, max_buckets: int = MAX_BUCKETS) -> list[np.ndarray]:
    """Unit indices grouped by trial count, so that each group can be padded only to its own longest unit.

    Units sorted by decreasing trial count start a new group when they have fewer than ``BUCKET_FILL`` times
    the trials of the group's longest; groups beyond ``max_buckets`` join the last one.

    Example:
      >>> [b.tolist() for b in buckets(np.array([864, 2560, 864, 2500]), max_buckets=3)]
      [[1, 3], [0, 2]]
      >>> [b.tolist() for b in buckets(np.array([864, 2560, 864, 2500]))]
      [[0, 1, 2, 3]]
    """
    order = np.argsort(-np.asarray(n_trials), kind="stable")
    groups: list[list[int]] = []
    for i in order:
        if groups and (n_trials[i] >= BUCKET_FILL * n_trials[groups[-1][0]] or len(groups) == max_buckets):
            groups[-1].append(int(i))
        else:
            groups.append([int(i)])
    return [np.sort(np.asarray(g)) for g in groups]


def take(packed: Packed, idx: np.ndarray) -> Packed:
    """The units ``idx`` of ``packed``, padded only to their own longest unit (rows with a nonzero mask or
    weight come first in each unit)."""
    width = int((np.asarray(packed.mask)[idx] > 0).sum(axis=1).max())
    sel = jnp.asarray(idx)
    return Packed(
        packed.units.iloc[idx].reset_index(drop=True),
        {c: a[sel, :width] for c, a in packed.trials.items()},
        packed.mask[sel, :width],
        packed.rows[idx, :width],
        packed.keys,
        packed.source,
    )


def check_no_blanks(data: pd.DataFrame, packed: Packed, units: np.ndarray, model) -> None:
    """Raises a DataError naming the first blank (NaN) among the numeric columns of ``units``' trials that
    ``model`` reads, the pattern groups' columns aside (they may be blank); called for the units whose
    log-likelihood is not finite, so that a blank response from a DataFrame that ``Paradigm.read`` did not
    check is named as the CSV reader would name it, instead of being fitted as a log-likelihood of -inf."""
    from cogsim.fit._objective import read_columns

    data = data.reset_index(drop=True)
    patterns = {*data.attrs.get("pattern_columns", ()), *getattr(model, "pattern_columns", ())}
    skip = {n for p in patterns for n in pattern_names(p, data.columns)}
    read = set(read_columns(model, {k: v[0] for k, v in packed.trials.items()}))
    cols = [c for c in data.columns if c not in skip and c not in packed.keys and c in read]
    number = pd.api.types.is_numeric_dtype
    cols = [c for c in cols if number(data[c]) and not pd.api.types.is_bool_dtype(data[c])]
    mask = np.asarray(packed.mask) > 0
    for u in units:
        rows = np.sort(packed.rows[u][mask[u]])
        blank = data.loc[rows, cols].isna().to_numpy()
        if blank.any():
            i, j = np.argwhere(blank)[0]
            raise DataError(
                f"{packed.source}: row {rows[i] + 1}, column {cols[j]!r}: got (blank); allowed: a number "
                f"(the log-likelihood of that unit under model {model.name!r} is not finite)"
            )
