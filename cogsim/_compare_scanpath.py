"""Scanpath metrics on object sequences: Sequence Score, edit distance, behaviour vector, TFP, MultiMatch.

A scanpath here is a sequence of fixated object indices (a list or 1-D array of ints). The metrics follow
the OAT evaluation (Fang et al., ECCV 2024: ``nw_matching`` and ``behavior``) and the search-efficiency
metrics of Yang et al. (CVPR 2020: the target-fixation-probability curve, its area and the probability
mismatch).

- :func:`sequence_score`: Needleman-Wunsch alignment with 0/1 similarity and gap 0, divided by the longer
  length. With these scores the alignment value is the length of the longest common subsequence, which is
  what is computed (bit-parallel, exact).
- :func:`edit_distance`: Levenshtein distance (unit insert, delete and substitute).
- :func:`behaviour_vector` / :func:`behaviour_delta`: target found (last fixation on the target), length,
  and the search / refixation / revisit ratios; delta = mean over the five of ``|model - human| / human``.
- :func:`tfp_curve`, :func:`tfp_auc`, :func:`probability_mismatch`: cumulative probability that the target
  has been fixated within the first ``k`` fixations, its area (sum over ``k``) and the summed absolute
  difference between two curves.
- :func:`fixation_count_error`: mean over displays of ``|mean model length - mean human length|``.
- :func:`multimatch`: the MultiMatch vector, direction, length, position and duration similarities (Jarodzka
  et al. 2010; Dewhurst et al. 2012) without scanpath simplification, for coordinates;
  :func:`object_multimatch` applies it to object sequences on a grid.
- :func:`score_scanpaths`: every metric for a set of model scanpaths against human scanpaths, per display.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from itertools import groupby

import numpy as np
from jaxtyping import Float, Int

from cogsim.errors import CogsimError

BEHAVIOUR_KEYS = ("target_found", "length", "search", "refixation", "revisit")


def _seq(x, name: str) -> list[int]:
    if type(x) is list and all(type(v) is int for v in x):  # already a list of Python ints
        return x
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise CogsimError(
            f"{name}: a scanpath must be a 1-D sequence of object indices; got shape {arr.shape}"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise CogsimError(f"{name}: object indices must be integers; got {arr[:5].tolist()}...")
    return [int(v) for v in arr]


def lcs_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common subsequence (bit-parallel algorithm of Hyyrö 2004).

    Example:
      >>> lcs_length([1, 2, 3, 4], [2, 4, 3])
      2
    """
    a, b = _seq(a, "lcs_length"), _seq(b, "lcs_length")
    if not a or not b:
        return 0
    masks: dict[int, int] = {}
    for j, c in enumerate(b):
        masks[c] = masks.get(c, 0) | (1 << j)
    full = (1 << len(b)) - 1
    v = full
    for c in a:
        u = v & masks.get(c, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - bin(v).count("1")


def sequence_score(
    pred: Int[np.ndarray, " n"] | Sequence[int], ref: Int[np.ndarray, " m"] | Sequence[int]
) -> float:
    """Object-level Sequence Score: Needleman-Wunsch (0/1 similarity, gap 0) / the longer length.

    Args:
      pred: one scanpath (object indices).
      ref: another scanpath.

    Returns:
      A score in [0, 1]; 1 for identical scanpaths, 0 when they share no object (or one is empty).

    Example:
      >>> sequence_score([3, 5, 7, 9], [3, 7, 8])   # common subsequence 3, 7 -> 2 / 4
      0.5
    """
    a, b = _seq(pred, "sequence_score"), _seq(ref, "sequence_score")
    n = max(len(a), len(b))
    return 0.0 if n == 0 else lcs_length(a, b) / n


def edit_distance(a: Int[np.ndarray, " n"] | Sequence[int], b: Int[np.ndarray, " m"] | Sequence[int]) -> int:
    """Levenshtein distance between two object sequences (unit costs).

    Example:
      >>> edit_distance([1, 2, 3], [1, 3, 4])
      2
    """
    a, b = _seq(a, "edit_distance"), _seq(b, "edit_distance")
    # bit-parallel DP (Myers 1999, Hyyro 2001), bit j of pv/mv: vertical difference +1/-1 in column j
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[int, int] = {}
    for j, c in enumerate(b):
        peq[c] = peq.get(c, 0) | (1 << j)
    full, top = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = full, 0, m
    for c in a:
        eq = peq.get(c, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & full)
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph, mh = ((ph << 1) | 1) & full, (mh << 1) & full
        pv = mh | (~(xv | ph) & full)
        mv = ph & xv
    return score


def scanpath_behaviour(scanpath: Sequence[int], target: int) -> dict[str, float]:
    """The OAT behaviour of one scanpath: target found, length and the three fixation-type ratios.

    Consecutive fixations on one object form a run. The first run on an object is a *search* fixation, a later
    run on an already visited object a *revisit*, and every fixation after the first of a run a *refixation*;
    the three counts sum to the length. ``target_found`` is 1 when the last fixation is on the target.
    An empty scanpath has length 0, ``target_found`` 0 and NaN ratios.

    Example:
      >>> scanpath_behaviour([4, 4, 2, 4, 9], target=9)
      {'target_found': 1.0, 'length': 5.0, 'search': 0.6, 'refixation': 0.2, 'revisit': 0.2}
    """
    s = _seq(scanpath, "scanpath_behaviour")
    n = len(s)
    if n == 0:
        return {
            "target_found": 0.0,
            "length": 0.0,
            "search": math.nan,
            "refixation": math.nan,
            "revisit": math.nan,
        }
    seen: set[int] = set()
    search = refix = revisit = 0
    for obj, run in groupby(s):
        k = len(list(run))
        if obj in seen:
            revisit += 1
        else:
            search += 1
        refix += k - 1
        seen.add(obj)
    return {
        "target_found": float(s[-1] == int(target)),
        "length": float(n),
        "search": search / n,
        "refixation": refix / n,
        "revisit": revisit / n,
    }


def behaviour_vector(scanpaths: Sequence[Sequence[int]], targets: Sequence[int] | int) -> dict[str, float]:
    """Mean behaviour over scanpaths (see :func:`scanpath_behaviour`); ratios ignore empty scanpaths.

    Args:
      scanpaths: the scanpaths.
      targets: the target object of each scanpath (or one target for all).

    Example:
      >>> v = behaviour_vector([[1, 2, 3], [3]], targets=3)
      >>> v["target_found"], v["length"]
      (1.0, 2.0)
    """
    if not len(scanpaths):
        raise CogsimError("behaviour_vector: no scanpaths given")
    tg = [targets] * len(scanpaths) if np.ndim(targets) == 0 else list(targets)
    if len(tg) != len(scanpaths):
        raise CogsimError(f"behaviour_vector: {len(scanpaths)} scanpaths but {len(tg)} targets")
    rows = [scanpath_behaviour(s, t) for s, t in zip(scanpaths, tg, strict=True)]
    out = {}
    for k in BEHAVIOUR_KEYS:
        vals = np.array([r[k] for r in rows], float)
        out[k] = float(np.nanmean(vals)) if np.any(np.isfinite(vals)) else math.nan
    return out


def behaviour_delta(model: Mapping[str, float], human: Mapping[str, float]) -> float:
    """OAT's delta: mean over the five behaviour values of ``|model - human| / human`` (0 = identical).

    Terms whose human value is 0 are skipped (as ``nansum`` does in the OAT code, but averaged over the
    remaining terms).

    Example:
      >>> h = {"target_found": 1.0, "length": 10.0, "search": 0.8, "refixation": 0.1, "revisit": 0.1}
      >>> round(behaviour_delta({**h, "length": 12.0}, h), 3)
      0.04
    """
    terms = []
    for k in BEHAVIOUR_KEYS:
        if k not in model or k not in human:
            raise CogsimError(f"behaviour_delta: missing key {k!r}; need {list(BEHAVIOUR_KEYS)}")
        h, m = float(human[k]), float(model[k])
        if h != 0 and math.isfinite(h) and math.isfinite(m):
            terms.append(abs(m - h) / abs(h))
    return float(np.mean(terms)) if terms else math.nan


def fixations_to_target(scanpath: Sequence[int], target: int) -> float:
    """1-based index of the first fixation on the target; ``inf`` when the target is never fixated.

    Example:
      >>> fixations_to_target([5, 2, 7, 2], 2), fixations_to_target([5], 2)
      (2.0, inf)
    """
    for i, o in enumerate(_seq(scanpath, "fixations_to_target")):
        if o == int(target):
            return float(i + 1)
    return math.inf


def tfp_curve(
    scanpaths: Sequence[Sequence[int]], targets: Sequence[int] | int, *, max_steps: int
) -> np.ndarray:
    """Target-fixation probability: P(target fixated within the first ``k`` fixations), ``k = 1..max_steps``.

    Example:
      >>> tfp_curve([[1, 9], [9], [1, 2, 3]], 9, max_steps=3)
      array([0.33333333, 0.66666667, 0.66666667])
    """
    if max_steps < 1:
        raise CogsimError(f"tfp_curve: max_steps={max_steps}; allowed: >= 1")
    tg = [targets] * len(scanpaths) if np.ndim(targets) == 0 else list(targets)
    if len(tg) != len(scanpaths) or not len(scanpaths):
        raise CogsimError(f"tfp_curve: {len(scanpaths)} scanpaths and {len(tg)} targets (need equal, > 0)")
    first = np.array([fixations_to_target(s, t) for s, t in zip(scanpaths, tg, strict=True)])
    k = np.arange(1, max_steps + 1)
    return (first[None, :] <= k[:, None]).mean(axis=1)


def tfp_auc(curve: Float[np.ndarray, " steps"]) -> float:
    """Area under a TFP curve: the sum over fixation steps (unit-width bars, as in Yang et al. 2020).

    Example:
      >>> tfp_auc(np.array([0.2, 0.5, 1.0]))
      1.7
    """
    return float(np.sum(np.asarray(curve, float)))


def probability_mismatch(
    curve: Float[np.ndarray, " steps"], human_curve: Float[np.ndarray, " steps"]
) -> float:
    """Summed absolute difference between a model's TFP curve and the human one.

    Example:
      >>> probability_mismatch(np.array([0.2, 0.5]), np.array([0.1, 0.7]))
      0.3
    """
    a, b = np.asarray(curve, float), np.asarray(human_curve, float)
    if a.shape != b.shape:
        raise CogsimError(f"probability_mismatch: curve shapes differ: {a.shape} and {b.shape}")
    return float(np.round(np.sum(np.abs(a - b)), 12))


def fixation_count_error(
    model: Mapping[object, Sequence[Sequence[int]]], human: Mapping[object, Sequence[Sequence[int]]]
) -> float:
    """Mean over displays of ``|mean model scanpath length - mean human scanpath length|`` (in fixations).

    Args:
      model: display key -> model scanpaths on that display.
      human: display key -> human scanpaths on that display (the same keys).

    Example:
      >>> fixation_count_error({1: [[1, 2]], 2: [[3]]}, {1: [[1, 2, 3, 4]], 2: [[3]]})
      1.0
    """
    keys = _common_keys(model, human, "fixation_count_error")
    errs = [abs(np.mean([len(s) for s in model[k]]) - np.mean([len(s) for s in human[k]])) for k in keys]
    return float(np.mean(errs))


def _common_keys(model: Mapping, human: Mapping, name: str) -> list:
    missing = [k for k in human if k not in model]
    if missing:
        raise CogsimError(f"{name}: model scanpaths missing for display(s) {missing[:5]}")
    keys = [k for k in human if len(human[k]) and len(model[k])]
    if not keys:
        raise CogsimError(f"{name}: no display has both model and human scanpaths")
    return keys


def mean_pairwise(
    model: Mapping[object, Sequence[Sequence[int]]],
    human: Mapping[object, Sequence[Sequence[int]]],
    fn,
    *,
    exclude_self: bool = False,
) -> float:
    """Mean over displays of the mean of ``fn(model scanpath, human scanpath)`` over all pairs on the display.

    With ``exclude_self`` (``model is human``), pairs of a scanpath with itself are skipped: the
    human-vs-other-human consistency.

    Example:
      >>> human = {"d1": [[0, 4, 9], [2, 9]], "d2": [[3, 5]]}
      >>> model = {"d1": [[0, 9]], "d2": [[3, 6, 5]]}
      >>> mean_pairwise(model, human, edit_distance)  # one edit from every human scanpath
      1.0
      >>> mean_pairwise(human, human, edit_distance, exclude_self=True)  # d2 has no pair of two people
      2.0
    """
    keys = _common_keys(model, human, "mean_pairwise")
    per = []
    for k in keys:
        vals = [
            fn(a, b)
            for i, a in enumerate(model[k])
            for j, b in enumerate(human[k])
            if not (exclude_self and i == j)
        ]
        if vals:
            per.append(np.mean(vals))
    return float(np.mean(per)) if per else math.nan


@dataclasses.dataclass(frozen=True)
class ScanpathScores:
    """Every scanpath metric of one method against human scanpaths (see :func:`score_scanpaths`).

    Example:
      >>> s = score_scanpaths({1: [[0, 9]]}, {1: [[0, 4, 9], [2, 9]]}, {1: 9}, max_steps=3)
      >>> s.tfp.tolist(), s.tfp_auc, s.edit_distance
      ([0.0, 1.0, 1.0], 2.0, 1.0)
      >>> {k: round(v, 3) for k, v in s.row().items() if k in ("SS", "delta", "FCE")}
      {'SS': 0.583, 'delta': 0.067, 'FCE': 0.5}
    """

    sequence_score: float
    edit_distance: float
    behaviour: dict[str, float]
    delta: float
    tfp: np.ndarray
    tfp_auc: float
    probability_mismatch: float
    fixation_count_error: float

    def row(self) -> dict[str, float]:
        """A flat dict for a results table."""
        return {
            "SS": self.sequence_score,
            "ED": self.edit_distance,
            **self.behaviour,
            "delta": self.delta,
            "TFP_AUC": self.tfp_auc,
            "prob_mismatch": self.probability_mismatch,
            "FCE": self.fixation_count_error,
        }


def score_scanpaths(
    model: Mapping[object, Sequence[Sequence[int]]],
    human: Mapping[object, Sequence[Sequence[int]]],
    targets: Mapping[object, int],
    *,
    max_steps: int = 20,
    exclude_self: bool = False,
) -> ScanpathScores:
    """All metrics of ``model`` scanpaths against ``human`` scanpaths, display by display.

    SS and ED average every (model, human) pair on a display, then the displays. The behaviour vector and the
    TFP curve pool all scanpaths; delta and the probability mismatch compare them with the pooled human ones.

    Args:
      model: display key -> model scanpaths (object indices).
      human: display key -> human scanpaths.
      targets: display key -> target object index.
      max_steps: length of the TFP curve.
      exclude_self: set when ``model`` is ``human`` (human-vs-other-human consistency).

    Example:
      >>> h = {1: [[0, 4, 9], [2, 9]]}
      >>> s = score_scanpaths({1: [[0, 9]]}, h, {1: 9}, max_steps=3)
      >>> round(s.sequence_score, 3), s.behaviour["target_found"]
      (0.583, 1.0)
    """
    keys = _common_keys(model, human, "score_scanpaths")
    m_all = [s for k in keys for s in model[k]]
    h_all = [s for k in keys for s in human[k]]
    m_tg = [targets[k] for k in keys for _ in model[k]]
    h_tg = [targets[k] for k in keys for _ in human[k]]
    bm, bh = behaviour_vector(m_all, m_tg), behaviour_vector(h_all, h_tg)
    cm, ch = tfp_curve(m_all, m_tg, max_steps=max_steps), tfp_curve(h_all, h_tg, max_steps=max_steps)
    sub_m = {k: model[k] for k in keys}
    sub_h = {k: human[k] for k in keys}
    return ScanpathScores(
        sequence_score=mean_pairwise(sub_m, sub_h, sequence_score, exclude_self=exclude_self),
        edit_distance=mean_pairwise(sub_m, sub_h, edit_distance, exclude_self=exclude_self),
        behaviour=bm,
        delta=behaviour_delta(bm, bh),
        tfp=cm,
        tfp_auc=tfp_auc(cm),
        probability_mismatch=probability_mismatch(cm, ch),
        fixation_count_error=fixation_count_error(sub_m, sub_h),
    )


# --------------------------------------------------------------------------------------------- MultiMatch
MULTIMATCH_KEYS = ("vector", "direction", "length", "position", "duration")


def _align(m: np.ndarray) -> list[tuple[int, int]]:
    """Cheapest monotone path through ``m`` from (0, 0) to the far corner (moves right, down, diagonal).

    Each step costs the value of the cell it enters, as in MultiMatch's graph search.
    """
    n1, n2 = m.shape
    cost = np.full((n1, n2), np.inf)
    cost[0, 0] = 0.0
    back = np.zeros((n1, n2, 2), int)
    for i in range(n1):
        for j in range(n2):
            if i == 0 and j == 0:
                continue
            best, arg = np.inf, (0, 0)
            for pi, pj in ((i - 1, j - 1), (i - 1, j), (i, j - 1)):
                if pi >= 0 and pj >= 0 and cost[pi, pj] < best:
                    best, arg = cost[pi, pj], (pi, pj)
            cost[i, j] = best + m[i, j]
            back[i, j] = arg
    path = [(n1 - 1, n2 - 1)]
    while path[-1] != (0, 0):
        i, j = path[-1]
        path.append(tuple(back[i, j]))
    return path[::-1]


def multimatch(
    xy1: Float[np.ndarray, "n 2"],
    xy2: Float[np.ndarray, "m 2"],
    *,
    screen: tuple[float, float],
    dur1: Float[np.ndarray, " n"] | None = None,
    dur2: Float[np.ndarray, " m"] | None = None,
) -> dict[str, float]:
    """MultiMatch similarities of two fixation sequences, without simplification (grouping off).

    Saccades are the vectors between consecutive fixations; the two saccade sequences are aligned by the
    cheapest path through the matrix of vector differences, and each dimension is the median difference
    along the alignment, normalised to [0, 1] (1 = identical): vector by twice the screen diagonal, direction
    by pi, length and position by the diagonal, duration by the longer of the two durations.

    Args:
      xy1: fixation coordinates of one scanpath (at least 3 fixations).
      xy2: fixation coordinates of the other.
      screen: (width, height) used for normalisation.
      dur1, dur2: fixation durations (default: all equal, so duration similarity is 1).

    Returns:
      dict with keys ``vector, direction, length, position, duration`` (NaN when a scanpath is too short).

    Example:
      >>> a = np.array([[0, 0], [10, 0], [10, 10]])
      >>> multimatch(a, a, screen=(100, 100))["direction"]
      1.0
    """
    p1, p2 = np.asarray(xy1, float), np.asarray(xy2, float)
    for name, p in (("xy1", p1), ("xy2", p2)):
        if p.ndim != 2 or p.shape[1] != 2:
            raise CogsimError(f"multimatch: {name} must be [n, 2] coordinates; got shape {p.shape}")
    if len(p1) < 3 or len(p2) < 3:
        return dict.fromkeys(MULTIMATCH_KEYS, math.nan)
    d1 = np.ones(len(p1)) if dur1 is None else np.asarray(dur1, float)
    d2 = np.ones(len(p2)) if dur2 is None else np.asarray(dur2, float)
    v1, v2 = np.diff(p1, axis=0), np.diff(p2, axis=0)
    m = np.linalg.norm(v1[:, None, :] - v2[None, :, :], axis=-1)
    path = _align(m)
    i, j = np.array([p[0] for p in path]), np.array([p[1] for p in path])
    th1 = np.mod(np.arctan2(v1[:, 1], v1[:, 0]), 2 * np.pi)
    th2 = np.mod(np.arctan2(v2[:, 1], v2[:, 0]), 2 * np.pi)
    ang = np.abs(th1[i] - th2[j])
    ang = np.where(ang > np.pi, 2 * np.pi - ang, ang)
    rho1, rho2 = np.linalg.norm(v1, axis=1), np.linalg.norm(v2, axis=1)
    diag = math.hypot(*screen)
    dur = np.abs(d1[i] - d2[j]) / np.maximum(np.abs(np.maximum(d1[i], d2[j])), 1e-12)
    return {
        "vector": float(1 - np.median(m[i, j]) / (2 * diag)),
        "direction": float(1 - np.median(ang) / np.pi),
        "length": float(1 - np.median(np.abs(rho1[i] - rho2[j])) / diag),
        "position": float(1 - np.median(np.linalg.norm(p1[i] - p2[j], axis=1)) / diag),
        "duration": float(1 - np.median(dur)),
    }


def object_multimatch(a: Sequence[int], b: Sequence[int], *, n_cols: int, n_rows: int) -> dict[str, float]:
    """:func:`multimatch` of two object sequences on an ``n_rows x n_cols`` grid (row-major object indices).

    Objects are placed at their cell centres (unit cells); the screen is the grid.

    Example:
      >>> round(object_multimatch([0, 1, 2], [0, 1, 2], n_cols=3, n_rows=1)["position"], 3)
      1.0
    """

    def xy(s):
        s = np.asarray(_seq(s, "object_multimatch"))
        return np.stack([s % n_cols + 0.5, s // n_cols + 0.5], axis=1).astype(float)

    return multimatch(xy(a), xy(b), screen=(float(n_cols), float(n_rows)))
