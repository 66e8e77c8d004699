"""Link-prediction metrics: filtered ranks, mean reciprocal rank (MRR) and Hits@k.

The filtered setting (Bordes et al. 2013) ranks the true answer of a query ``(s, p, ?)`` (or ``(?, p, o)``)
among all candidates, after removing the *other* known true answers (from train, valid and test), so a model
is not penalised for ranking another correct answer first. Ties are broken by the "realistic" rule (the mean
of the optimistic and pessimistic rank, as in PyKEEN): ``rank = 1 + #better + #tied / 2``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from jaxtyping import Bool, Float, Int

from cogsim.errors import CogsimError


def filtered_ranks(
    scores: Float[np.ndarray, "queries candidates"],
    targets: Int[np.ndarray, " queries"],
    known: Bool[np.ndarray, "queries candidates"] | None = None,
) -> np.ndarray:
    """The filtered, tie-aware rank of each query's target among all candidates (higher score = better).

    Args:
      scores: ``[n_queries, n_candidates]`` model scores (log-probabilities, logits, ...).
      targets: ``[n_queries]`` index of the true candidate of each query.
      known: ``[n_queries, n_candidates]``, True for every candidate known to be a correct answer of the
        query (the target itself may be included; it is never filtered). None: raw (unfiltered) ranks.

    Returns:
      ``[n_queries]`` float ranks, 1 = best; ties count half (the "realistic" rank).

    Raises:
      CogsimError: a shape does not fit, a target is out of range, or a query's scores hold NaN (a NaN
        compares as neither better nor worse, so it would rank first).

    Example:
      >>> import numpy as np
      >>> s = np.array([[0.9, 0.5, 0.7, 0.1]])
      >>> filtered_ranks(s, np.array([1]))          # 0.9 and 0.7 beat 0.5
      array([3.])
      >>> filtered_ranks(s, np.array([1]), np.array([[True, True, False, False]]))  # 0.9 is filtered
      array([2.])
    """
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets)
    if scores.ndim != 2:
        raise CogsimError(f"filtered_ranks: scores must be [queries, candidates]; got shape {scores.shape}")
    n, m = scores.shape
    if targets.shape != (n,):
        raise CogsimError(f"filtered_ranks: targets must have shape ({n},); got {targets.shape}")
    if n and (targets.min() < 0 or targets.max() >= m):
        raise CogsimError(
            f"filtered_ranks: targets must lie in [0, {m - 1}]; got {targets.min()}..{targets.max()}"
        )
    bad = np.isnan(scores).any(axis=1)
    if bad.any():
        q = int(np.flatnonzero(bad)[0])
        raise CogsimError(
            f"filtered_ranks: the scores of {int(bad.sum())} of {n} queries hold NaN, first query {q} (its "
            f"target {int(targets[q])} scored {scores[q, targets[q]]}); every candidate needs a number"
        )
    rows = np.arange(n)
    target_score = scores[rows, targets][:, None]
    competitor = np.ones_like(scores, dtype=bool)
    if known is not None:
        known = np.asarray(known, dtype=bool)
        if known.shape != scores.shape:
            raise CogsimError(f"filtered_ranks: known must have shape {scores.shape}; got {known.shape}")
        competitor &= ~known
    competitor[rows, targets] = False
    better = np.sum((scores > target_score) & competitor, axis=1)
    tied = np.sum((scores == target_score) & competitor, axis=1)
    return 1.0 + better + 0.5 * tied


def _ranks(where: str, ranks: Sequence[float]) -> np.ndarray:
    """``ranks`` as a float array: non-empty, every rank a number >= 1 (else a CogsimError)."""
    r = np.asarray(ranks, dtype=np.float64)
    if r.size == 0:
        raise CogsimError(f"{where}: no ranks given")
    if not (r >= 1).all():  # NaN fails too
        bad = r[~(r >= 1)]
        raise CogsimError(f"{where}: ranks must be numbers >= 1 (1 = best); got {bad[:5].tolist()}")
    return r


def mean_reciprocal_rank(ranks: Sequence[float]) -> float:
    """Mean of 1/rank.

    Raises:
      CogsimError: no ranks, or a rank that is not a number >= 1.

    Example:
      >>> mean_reciprocal_rank([1, 2, 4])
      0.5833333333333334
    """
    r = _ranks("mean_reciprocal_rank", ranks)
    return float(np.mean(1.0 / r))


def hits_at_k(ranks: Sequence[float], k: int) -> float:
    """Fraction of ranks <= k.

    Example:
      >>> hits_at_k([1, 2, 4], 3)
      0.6666666666666666
    """
    r = _ranks("hits_at_k", ranks)
    if k < 1:
        raise CogsimError(f"hits_at_k: k={k}; allowed: an integer >= 1")
    return float(np.mean(r <= k))


def link_prediction_metrics(ranks: Sequence[float], *, ks: Sequence[int] = (1, 3, 10)) -> dict[str, float]:
    """``{"mrr": ..., "mean_rank": ..., "hits@1": ..., ...}`` from a set of ranks.

    Example:
      >>> link_prediction_metrics([1, 2, 4], ks=(1,))
      {'mrr': 0.5833333333333334, 'mean_rank': 2.3333333333333335, 'hits@1': 0.3333333333333333}
    """
    r = _ranks("link_prediction_metrics", ranks)
    out = {"mrr": mean_reciprocal_rank(r), "mean_rank": float(np.mean(r))}
    out.update({f"hits@{k}": hits_at_k(r, k) for k in ks})
    return out


def _is_count(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1


def check_link_prediction_args(scorer: object, ks: object, batch_size: object) -> tuple[int, ...]:
    """Checks the arguments of :func:`cogsim.kg.evaluate_link_prediction` that do not need the graph.

    A tuple ``scorer`` must be two functions; ``ks`` integers >= 1 (returned as a tuple); ``batch_size`` an
    integer >= 1.

    Example:
      >>> check_link_prediction_args(None, [1, 3], 8)
      (1, 3)
    """
    where = "evaluate_link_prediction"
    if isinstance(scorer, tuple) and (len(scorer) != 2 or not all(callable(f) for f in scorer)):
        got = ", ".join(type(f).__name__ for f in scorer)
        raise CogsimError(
            f"{where}: scorer is a tuple of {len(scorer)} item(s) ({got}); allowed: (score_tails, "
            "score_heads), two functions, or a score tensor [N, P, N]"
        )
    given, ks = ks, tuple(ks) if isinstance(ks, Iterable) and not isinstance(ks, str) else ks
    if not isinstance(ks, tuple) or not all(_is_count(k) for k in ks):
        raise CogsimError(
            f"{where}: ks={given!r} is not allowed; use a sequence of integers >= 1 (e.g. (1, 3, 10))"
        )
    if not _is_count(batch_size):
        raise CogsimError(f"{where}: batch_size={batch_size!r} is not allowed; use an integer >= 1")
    return ks
