"""Link-prediction results as rows of :mod:`cogsim.scenarios.kg_semantic_memory`'s table: the frequency
baseline's scores, each metric with a bootstrap CI over the pooled head and tail ranks, and how the test split
overlaps the training split."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from cogsim import kg
from cogsim.compare import Metric, bootstrap_ci


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


def overlap_with_train(graph: kg.KnowledgeGraph) -> dict[str, int]:
    """Data properties of the test split that bear on its scores, counted in triples: ``unseen`` (an entity
    or predicate that no training triple has), ``in_train`` (the same triple is also a training triple), and
    ``n`` (all test triples).

    Example:
      >>> g = kg.from_frame(pd.DataFrame({"subject": ["a", "a", "c"], "predicate": ["r", "r", "r"],
      ...     "object": ["b", "b", "a"], "split": ["train", "test", "test"]}))
      >>> overlap_with_train(g)
      {'n': 2, 'unseen': 1, 'in_train': 1}
    """
    train, test = graph.triples("train"), graph.triples("test")
    ents = set(train[:, 0].tolist()) | set(train[:, 2].tolist())
    preds = set(train[:, 1].tolist())
    seen = {tuple(t) for t in train.tolist()}
    unseen = sum(s not in ents or p not in preds or o not in ents for s, p, o in test.tolist())
    return {"n": len(test), "unseen": int(unseen), "in_train": sum(tuple(t) in seen for t in test.tolist())}


def overlap_note(sim: pd.DataFrame) -> Metric | None:
    """A note on test triples that the training split cannot inform (an entity or predicate it lacks) or that
    it already holds (which raises the frequency baseline too); None when there are none (or no counts)."""
    data = sim[sim.direction == "data"].set_index("metric").value
    if "test_n" not in data:
        return None
    n, unseen, dup = (int(data.get(f"test_{k}", 0)) for k in ("n", "unseen", "in_train"))
    if not unseen and not dup:
        return None
    return Metric(
        "note.test_vs_train",
        float(unseen + dup),
        note=f"of {n} test triples, {unseen} have an entity or predicate absent from train.txt and {dup} are "
        "also in train.txt; both are scored as given",
    )
