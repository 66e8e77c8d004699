"""The paradigms users can fit with ``cogsim fit``: each declares its trial schema, its checks and its models.

- ``delayed_estimation``: columns ``subject, set_size, error_rad`` (response minus target, radians in
  [-pi, pi]) and optional ``nontarget_1_rad, nontarget_2_rad, ...`` (the other items relative to the target,
  blank where the display had fewer items); models ``uniform, mixture2p, mixture3p, slots_averaging, vp,
  workspace`` (:mod:`cogsim.models.working_memory`).
- ``change_detection``: columns ``subject, set_size, change, correct`` (one row per trial, 0/1) and optional
  ``base_rate`` (the block's probability of a change, in [0, 1]); models ``fixed_capacity, sdt`` and, with
  ``base_rate``, ``fixed_capacity_base_rate, sdt_base_rate``.
- ``visual_search``: columns ``subject, set_size, target_present, correct, rt_ms`` (one row per trial) and
  optional ``task``; models ``cgs, serial, parallel`` (:mod:`cogsim.models.search`).

Example:
  >>> from cogsim.models import paradigms
  >>> paradigms.names()
  ['change_detection', 'delayed_estimation', 'visual_search']
  >>> sorted(paradigms.get("delayed_estimation").models)[:3]
  ['mixture2p', 'mixture3p', 'slots_averaging']
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, DataError
from cogsim.models import working_memory as wm

MAX_SET_SIZE = 16  # the workspace model's per-set-size tables cover 1-16


def _row_error(src: str, row: int, column: str, value, allowed: str) -> DataError:
    return DataError(f"{src}: row {row + 1}, column {column!r}: got {value!r}; allowed: {allowed}")


def _check_angles(frame: pd.DataFrame, src: str, columns) -> None:
    for col in columns:
        v = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(np.isfinite(v) & (np.abs(v) > math.pi + 1e-6))
        if len(bad):
            hint = " (these look like degrees: convert with radians = degrees * pi / 180)"
            big = np.nanmax(np.abs(v))
            raise _row_error(
                src, int(bad[0]), col, float(v[bad[0]]), f"radians in [-pi, pi]{hint if big <= 360 else ''}"
            )


def _validate_delayed_estimation(frame: pd.DataFrame, src: str) -> None:
    nts = [c for c in frame.columns if c.startswith("nontarget_") and c.endswith("_rad")]
    _check_angles(frame, src, ["error_rad", *nts])
    n = frame["set_size"].to_numpy()
    if nts:
        have = frame[nts].notna().sum(axis=1).to_numpy()
        bad = np.flatnonzero(have > n - 1)
        if len(bad):
            i = int(bad[0])
            raise _row_error(
                src,
                i,
                nts[0],
                f"{have[i]} non-targets",
                f"at most set_size - 1 = {n[i] - 1} non-target values",
            )


def _check_binary(frame: pd.DataFrame, src: str, col: str, what: str) -> None:
    v = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isin(v, (0.0, 1.0)))
    if len(bad):
        x = v[bad[0]]
        hint = (
            " (a proportion? give one row per trial with 0/1, not rates per condition)" if 0 < x < 1 else ""
        )
        raise _row_error(src, int(bad[0]), col, frame[col].iloc[bad[0]], f"0 or 1 ({what}){hint}")


def _validate_change_detection(frame: pd.DataFrame, src: str) -> None:
    _check_binary(frame, src, "change", "1 the probe changed")
    _check_binary(frame, src, "correct", "1 a correct response")
    if "base_rate" in frame.columns:
        v = pd.to_numeric(frame["base_rate"], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(v) | (v < 0) | (v > 1))
        if len(bad):
            x = v[bad[0]]
            hint = ""
            if np.isfinite(x) and x < 0:
                hint = " (log-odds? convert with p = 1 / (1 + exp(-x)))"
            elif np.isfinite(x) and 1 < x <= 100:
                hint = " (a percentage? divide by 100)"
            raise _row_error(
                src,
                int(bad[0]),
                "base_rate",
                frame["base_rate"].iloc[bad[0]],
                f"a probability in [0, 1]{hint}",
            )


@functools.cache
def _paradigms() -> dict:
    from cogsim.fit import Column, Paradigm

    de = Paradigm(
        "delayed_estimation",
        (
            Column("subject", "id", doc="participant id (string or integer)"),
            Column("set_size", "int", low=1, high=MAX_SET_SIZE, doc="items in the display"),
            Column("error_rad", "float", doc="response minus target, radians in [-pi, pi]"),
        ),
        dict(wm.DELAYED_ESTIMATION),
        pattern_columns=("nontarget_{i}_rad",),
        validate=_validate_delayed_estimation,
        doc="reproduce a probed item's feature on a circle (Zhang & Luck 2008; van den Berg et al. 2012)",
    )
    cd = Paradigm(
        "change_detection",
        (
            Column("subject", "id", doc="participant id (string or integer)"),
            Column("set_size", "int", low=1, doc="items in the display"),
            Column("change", "float", doc="1 the probe changed, 0 not"),
            Column("correct", "float", doc="1 correct response, 0 not"),
            Column("base_rate", "float", required=False, doc="the block's probability of a change, [0, 1]"),
        ),
        dict(wm.CHANGE_DETECTION),
        validate=_validate_change_detection,
        doc="say whether a probed item changed (Luck & Vogel 1997; Rouder et al. 2008)",
    )
    return {p.name: p for p in (de, cd, _visual_search())}


def _visual_search():
    from cogsim.fit import Column, Paradigm
    from cogsim.models import search

    return Paradigm(
        "visual_search",
        (
            Column("subject", "id", doc="participant id (string or integer)"),
            Column("set_size", "int", low=1, high=search.MAX_ITEMS, doc="items in the display"),
            Column("target_present", "bool", doc="1 the target was in the display, 0 not"),
            Column("correct", "bool", doc="1 correct response, 0 error"),
            Column("rt_ms", "float", low=0.0, doc="response time, milliseconds"),
            Column("task", "id", required=False, doc="the search task (fitted separately)"),
        ),
        dict(search.MODELS),
        doc="say whether a target is among N items, as fast as possible (Wolfe et al. 2010)",
    )


def names() -> list[str]:
    """The paradigms' names."""
    return sorted(_paradigms())


def get(name: str):
    """The paradigm ``name`` (a ``cogsim.fit.Paradigm``).

    Raises:
      CogsimError: unknown name (listing the known ones).
    """
    ps = _paradigms()
    if name not in ps:
        raise CogsimError(f"paradigm: got {name!r}; allowed: {', '.join(sorted(ps))}")
    return ps[name]
