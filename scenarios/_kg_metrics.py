"""Link-prediction results as rows of :mod:`cogsim.scenarios.kg_semantic_memory`'s table: the frequency
baseline's scores, and each metric with a bootstrap CI over the pooled head and tail ranks."""

from __future__ import annotations

import functools

import numpy as np

from cogsim import kg
from cogsim.compare import bootstrap_ci


def frequency_baseline(graph: kg.KnowledgeGraph) -> np.ndarray:
    """Scores ``log(1 + #(s as subject of p)) + log(1 + #(o as object of p))`` from the train split.

    For a tail query the first term is constant, so objects are ranked by how often they are the object of
    ``p`` (and subjects, for head queries, by how often they are its subject).
    """
    t = graph.triples("train")
    n, m = graph.n_entities, graph.n_predicates
    subj = np.zeros((n, m))
    obj = np.zeros((m, n))
    np.add.at(subj, (t[:, 0], t[:, 1]), 1.0)
    np.add.at(obj, (t[:, 1], t[:, 2]), 1.0)
    return np.log1p(subj)[:, :, None] + np.log1p(obj)[None, :, :]


def _hits(ranks: np.ndarray, *, k: int) -> float:
    return float(np.mean(ranks <= k))


def metric_rows(
    res: kg.LinkPredictionResult, *, model: str, split: str, step: int, graph: str, n_boot: int
) -> list[dict]:
    """One row per direction and metric of ``res`` (columns ``model, split, direction, metric, value, ci_low,
    ci_high, step, graph``); MRR and Hits@1/3/10 over both directions get a bootstrap CI of ``n_boot``
    resamples (NaN when ``n_boot`` is 0)."""
    rows = []
    pooled = np.concatenate([res.ranks_tail, res.ranks_head])
    for direction, m in res.metrics.items():
        for name, value in m.items():
            lo = hi = np.nan
            if direction == "both" and n_boot > 0 and name in ("mrr", "hits@1", "hits@3", "hits@10"):
                stat = (
                    (lambda r: np.mean(1.0 / r))
                    if name == "mrr"
                    else functools.partial(_hits, k=int(name.split("@")[1]))
                )
                _, lo, hi = bootstrap_ci(pooled, stat, n_boot=n_boot, seed=0)
            rows.append(
                {
                    "model": model,
                    "split": split,
                    "direction": direction,
                    "metric": name,
                    "value": float(value),
                    "ci_low": float(lo),
                    "ci_high": float(hi),
                    "step": step,
                    "graph": graph,
                }
            )
    return rows
