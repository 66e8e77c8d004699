"""The paradigms users can fit with ``cogsim fit``: each declares its trial schema, its checks and its models.

- ``delayed_estimation``: columns ``subject, set_size, error_rad`` (response minus target, radians in
  [-pi, pi]) and optional ``nontarget_1_rad, nontarget_2_rad, ...`` (the other items relative to the target,
  blank where the display had fewer items); models ``uniform, mixture2p, mixture3p, slots_averaging, vp,
  workspace`` (:mod:`cogsim.models.working_memory`).
- ``change_detection``: columns ``subject, set_size, change, correct`` (one row per trial, 0/1) and optional
  ``base_rate`` (the block's probability of a change, in [0, 1], on every row when the column is given);
  models ``fixed_capacity, sdt`` and, with ``base_rate``, ``fixed_capacity_base_rate, sdt_base_rate``.
- ``visual_search``: columns ``subject, set_size, target_present, correct, rt_ms`` (one row per trial) and
  optional ``task`` and ``experiment``; models ``cgs, serial, parallel`` (:mod:`cogsim.models.search`).
  Participants are task x subject by default (``units``): a subject in two tasks is two participants.

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

from cogsim.errors import CogsimError
from cogsim.models import working_memory as wm
from cogsim.models.working_memory import _model as wm_model

#: a visual-search file whose median ``rt_ms`` is below this is refused: response times in seconds by mistake
MIN_MEDIAN_RT_MS = 20.0


def _validate_delayed_estimation(frame: pd.DataFrame, src: str) -> None:
    nts = [c for c in frame.columns if c.startswith("nontarget_") and c.endswith("_rad")]
    nts.sort(key=lambda c: int(c[10:-4]) if c[10:-4].isdigit() else 10**9)  # nontarget_1_rad, _2_, ...
    wm_model.check_angles(frame, src, ["error_rad", *nts])
    n = frame["set_size"].to_numpy()
    if nts:
        have = frame[nts].notna().sum(axis=1).to_numpy()
        bad = np.flatnonzero(have > n - 1)
        if len(bad):
            i = int(bad[0])
            given = [c for c in nts if pd.notna(frame[c].iloc[i])]
            extra = given[max(int(n[i]) - 1, 0)]  # the first value beyond set_size - 1
            raise wm_model.row_error(
                src,
                i,
                extra,
                frame[extra].iloc[i],
                f"at most set_size - 1 = {n[i] - 1} non-target values (the row gives {have[i]}: "
                f"{', '.join(given)})",
            )
        short = np.flatnonzero(have < n - 1)
        if len(short):  # allowed (a display's positions not all recorded), but said: mixture3p sees fewer
            frame.attrs.setdefault("notes", []).append(
                f"{len(short)} trial(s) give fewer non-target values than set_size - 1 (first: row "
                f"{short[0] + 1}, set size {n[short[0]]}, {have[short[0]]} given); mixture3p's swaps go "
                "only to the non-targets given"
            )


def _validate_change_detection(frame: pd.DataFrame, src: str) -> None:
    wm_model.check_base_rate(frame, src)


_EXPERIMENT = "experiment id; --by experiment,subject nests participants in it"

#: equal bins of the delayed-estimation error histogram over [-pi, pi]
HIST_BINS = 12
#: an error within this many radians of a bin edge counts half in each adjacent bin (responses recorded on a
#: grid, e.g. 2 degrees, put many errors exactly on an edge, e.g. 0; -pi and pi are the same edge)
EDGE_TOL = 1e-6
#: the RT quantiles of visual search's summaries (correct trials)
RT_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)


def _groups(trials: pd.DataFrame, by, conditions) -> tuple[list[str], list[str]]:
    """(per-participant grouping, the conditions kept after averaging): ``sim`` first where present; a
    condition that is also a ``by`` column (e.g. ``task``) stays a condition."""
    sim = ["sim"] if "sim" in trials.columns else []
    conds = [c for c in conditions if c in trials.columns]
    return sim + [b for b in by if b not in conds] + conds, sim + conds


def _average(per: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    """The per-participant summaries averaged over participants (NaNs skipped), long format."""
    out = per.groupby([*keep, "statistic", "point"], dropna=False, sort=True)["value"].mean().reset_index()
    return out[[*keep, "statistic", "point", "value"]]


def summarize_delayed_estimation(trials: pd.DataFrame, by=("subject",)) -> pd.DataFrame:
    """Per set size, averaged over participants: the error histogram (``error_hist``, the proportion of
    trials in each of ``HIST_BINS`` equal bins over [-pi, pi], ``point`` the bin centre; an error on an
    edge counts half in each adjacent bin), the mean
    resultant length of the errors (``resultant_length``) and their circular SD (``circular_sd``,
    sqrt(-2 ln R), radians).

    Example:
      >>> t = pd.DataFrame({"subject": 1, "set_size": 2, "error_rad": [-0.1, 0.0, 0.1, np.pi]})
      >>> s = summarize_delayed_estimation(t)
      >>> s.groupby("statistic").size().to_dict()
      {'circular_sd': 1, 'error_hist': 12, 'resultant_length': 1}
      >>> s.query("statistic == 'error_hist'")["value"].round(3).tolist()  # 0 and pi: on edges
      [0.125, 0.0, 0.0, 0.0, 0.0, 0.375, 0.375, 0.0, 0.0, 0.0, 0.0, 0.125]
    """
    g, keep = _groups(trials, by, ("set_size",))
    e = trials["error_rad"].to_numpy(float)
    width = 2 * math.pi / HIST_BINS
    pos = (e + math.pi) / width
    edge = np.round(pos)
    tie = np.abs(pos - edge) * width < EDGE_TOL  # on an edge (e.g. an error of exactly 0): half to each side
    lower = np.where(tie, edge - 1, np.floor(pos)).astype(int) % HIST_BINS
    upper = np.where(tie, edge, np.floor(pos)).astype(int) % HIST_BINS
    df = trials[g].assign(_c=np.cos(e), _s=np.sin(e))
    halves = pd.concat([df[g].assign(_bin=lower), df[g].assign(_bin=upper)], ignore_index=True)
    counts = halves.groupby([*g, "_bin"]).size().unstack("_bin", fill_value=0)
    counts = counts.reindex(columns=range(HIST_BINS), fill_value=0)
    props = counts.div(counts.sum(axis=1), axis=0)
    centres = -math.pi + (np.arange(HIST_BINS) + 0.5) * width
    hist = props.stack().rename("value").reset_index()
    hist["point"] = centres[hist.pop("_bin").to_numpy(int)]
    hist["statistic"] = "error_hist"
    m = df.groupby(g)[["_c", "_s"]].mean()
    r = np.hypot(m["_c"], m["_s"])
    with np.errstate(divide="ignore"):
        sd = np.sqrt(-2.0 * np.log(np.clip(r, 0.0, 1.0)))
    scal = pd.concat(
        [r.rename("value").reset_index().assign(statistic="resultant_length"),
         sd.rename("value").reset_index().assign(statistic="circular_sd")]
    ).assign(point=np.nan)  # fmt: skip
    return _average(pd.concat([hist, scal], ignore_index=True), keep)


def summarize_change_detection(trials: pd.DataFrame, by=("subject",)) -> pd.DataFrame:
    """Per set size (and base rate, where the data give one), averaged over participants: the hit rate
    (``hit_rate``, "change" responses on change trials) and the false-alarm rate (``fa_rate``, "change"
    responses on no-change trials).

    Example:
      >>> t = pd.DataFrame({"subject": 1, "set_size": 4, "change": [1, 1, 0, 0], "correct": [1, 0, 1, 1]})
      >>> summarize_change_detection(t)[["statistic", "value"]].to_dict("list")
      {'statistic': ['fa_rate', 'hit_rate'], 'value': [0.0, 0.5]}
    """
    g, keep = _groups(trials, by, ("set_size", "base_rate"))
    change = trials["change"].to_numpy(float)
    said = np.where(change == 1, trials["correct"].to_numpy(float), 1.0 - trials["correct"].to_numpy(float))
    df = trials[g].assign(_said=said, statistic=np.where(change == 1, "hit_rate", "fa_rate"))
    per = df.groupby([*g, "statistic"], dropna=False)["_said"].mean().rename("value").reset_index()
    return _average(per.assign(point=np.nan), keep)


def summarize_visual_search(trials: pd.DataFrame, by=("subject",)) -> pd.DataFrame:
    """Per set size x target present (x task, where given), averaged over participants: the accuracy
    (``accuracy``) and the RT quantiles of the correct trials (``rt_quantile``, milliseconds, ``point`` the
    level: ``RT_QUANTILES``).

    Example:
      >>> t = pd.DataFrame({"subject": 1, "set_size": 6, "target_present": 1, "correct": [1, 1, 0],
      ...                   "rt_ms": [500.0, 700.0, 900.0]})
      >>> s = summarize_visual_search(t)
      >>> s.query("statistic == 'accuracy'")["value"].round(3).tolist(), len(s)
      ([0.667], 6)
    """
    g, keep = _groups(trials, by, ("task", "set_size", "target_present"))
    acc = trials.groupby(g, dropna=False)["correct"].mean().rename("value").reset_index()
    acc = acc.assign(statistic="accuracy", point=np.nan)
    ok = trials[trials["correct"].to_numpy(float) == 1]
    q = ok.groupby(g, dropna=False)["rt_ms"].quantile(list(RT_QUANTILES)).rename("value").reset_index()
    q = q.rename(columns={q.columns[len(g)]: "point"}).assign(statistic="rt_quantile")
    return _average(pd.concat([acc, q], ignore_index=True), keep)


def _limits(models) -> str:
    """The models' set-size limits in words (models without one take any set size).

    Example:
      >>> _limits(wm.DELAYED_ESTIMATION)
      'slots_averaging, workspace: 1-16; vp: 1-32; the others: any'
    """
    by_limit: dict[int, list[str]] = {}
    for name, model in models.items():
        if getattr(model, "max_set_size", None) is not None:
            by_limit.setdefault(model.max_set_size, []).append(name)
    parts = [f"{', '.join(sorted(v))}: 1-{k}" for k, v in sorted(by_limit.items())]
    return "; ".join([*parts, "the others: any"])


@functools.cache
def _paradigms() -> dict:
    from cogsim.fit import Column, Paradigm

    de = Paradigm(
        "delayed_estimation",
        (
            Column("subject", "id", doc="participant id (string or integer)"),
            Column("set_size", "int", low=1, doc=f"items in the display ({_limits(wm.DELAYED_ESTIMATION)})"),
            Column("error_rad", "float", doc="response minus target, radians in [-pi, pi]"),
            Column("experiment", "id", required=False, doc=_EXPERIMENT),
        ),
        dict(wm.DELAYED_ESTIMATION),
        pattern_columns=("nontarget_{i}_rad",),
        validate=_validate_delayed_estimation,
        summarize=summarize_delayed_estimation,
        doc="reproduce a probed item's feature on a circle (Zhang & Luck 2008; van den Berg et al. 2012)",
    )
    cd = Paradigm(
        "change_detection",
        (
            Column("subject", "id", doc="participant id (string or integer)"),
            Column("set_size", "int", low=1, doc="items in the display"),
            Column("change", "bool", doc="1 the probe changed, 0 not"),
            Column("correct", "bool", doc="1 correct response, 0 not"),
            Column(
                "base_rate",
                "float",
                required=False,
                blanks=False,
                doc="the block's probability of a change, [0, 1]",
            ),
            Column("experiment", "id", required=False, doc=_EXPERIMENT),
        ),
        dict(wm.CHANGE_DETECTION),
        validate=_validate_change_detection,
        summarize=summarize_change_detection,
        doc="say whether a probed item changed (Luck & Vogel 1997; Rouder et al. 2008)",
    )
    return {p.name: p for p in (de, cd, _visual_search())}


def _validate_visual_search(frame: pd.DataFrame, src: str) -> None:
    rt = frame["rt_ms"].to_numpy(float)
    if np.median(rt) < MIN_MEDIAN_RT_MS:
        i = int(np.argmax(rt < MIN_MEDIAN_RT_MS))
        raise wm_model.row_error(
            src,
            i,
            "rt_ms",
            float(rt[i]),
            f"milliseconds (the median RT is {np.median(rt):.3g}, below {MIN_MEDIAN_RT_MS:g} ms: these look "
            "like seconds; convert with rt_ms = seconds * 1000)",
        )


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
            Column("experiment", "id", required=False, doc=_EXPERIMENT),
        ),
        dict(search.MODELS),
        validate=_validate_visual_search,
        summarize=summarize_visual_search,
        units=("task",),
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
