"""The settings search of :mod:`cogsim.scenarios.kg_semantic_memory`: successive halving on the validation
split, the candidates of each relational form (and, for the Tucker form, each size) trained in one compiled
program
(:class:`cogsim.models.tensor_brain.SharedTrainer`)."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np

from cogsim import kg
from cogsim.models import tensor_brain as tb

#: The search's rule, written to run.json with the candidates.
RULE = (
    "successive halving on the validation split: every candidate trains eval_every steps and is evaluated "
    "(filtered validation MRR, train and valid triples as known answers); the search_keep best continue "
    "from their state, evaluated every eval_every steps, until num_steps or patience evaluations without a "
    "better validation MRR; the evaluation with the best validation MRR (first of equals) gives the chosen "
    "settings, steps and parameters"
)


def successive_halving(
    graph: kg.KnowledgeGraph,
    mcfgs: Sequence[tb.TensorBrainConfig],
    hypers: Sequence[tuple[float, float]],
    keys: Sequence[jax.Array],
    *,
    num_steps: int,
    eval_every: int,
    patience: int,
    keep: int,
    batch_size: int,
) -> tuple[int, int, dict, np.ndarray | None, list[dict]]:
    """Runs :data:`RULE` over the candidates' model configs ``mcfgs`` with their ``(lr, weight decay)``.

    ``graph`` must hold only the train and valid splits (the caller removes the test split). Candidate ``i``
    starts from ``keys[i]``.

    Returns:
      ``(chosen candidate, its best step, its parameters there, its log-probability tensor there (None for a
      graph too large for one tensor), one record per candidate: best validation MRR, best step, steps run)``.
    """
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(mcfgs):  # a Tucker core costs dim^3 a fact: padding 32 to 64 would cost 8 x
        groups.setdefault((c.relational, c.dim if c.relational == "tucker" else None), []).append(i)
    where = {}
    for idx in groups.values():
        trainer = tb.SharedTrainer([mcfgs[i] for i in idx], graph.triples("train"), batch_size=batch_size)
        where.update({i: (trainer, j) for j, i in enumerate(idx)})
    best = {"mrr": -1.0}
    runs, records = {}, []

    def evaluate(i, run, step):
        trainer, j = where[i]
        fits = trainer.tensor_size <= tb.TENSOR_LIMIT
        tensor = trainer.log_prob_tensor(j, run) if fits else None
        params = trainer.params(j, run)
        scorer = tb.semantic_scorers(params, mcfgs[i], tensor=tensor)
        r = kg.evaluate_link_prediction(scorer, graph, split="valid", filter_splits=("train", "valid"))
        mrr = r.metrics["both"]["mrr"]
        rec = records[i]
        if mrr > rec["valid_mrr"]:
            rec.update(valid_mrr=mrr, best_step=step, since=0)
        else:
            rec["since"] += 1
        if mrr > best["mrr"]:
            best.update(mrr=mrr, i=i, step=step, params=params, tensor=tensor)

    def advance(i, n):
        trainer, _ = where[i]
        runs[i], _ = trainer.steps(runs[i], n)
        records[i]["steps_run"] += n
        evaluate(i, runs[i], records[i]["steps_run"])

    first = min(eval_every, num_steps)
    for i, (lr, wd) in enumerate(hypers):
        trainer, j = where[i]
        runs[i] = trainer.start(j, key=keys[i], lr=lr, weight_decay=wd)
        records.append({"candidate": i, "valid_mrr": -1.0, "best_step": 0, "steps_run": 0, "since": 0})
        advance(i, first)
    order = sorted(range(len(mcfgs)), key=lambda i: -records[i]["valid_mrr"])  # stable: first of equals
    for i in sorted(order[:keep]):
        while records[i]["steps_run"] < num_steps and records[i]["since"] < patience:
            advance(i, min(eval_every, num_steps - records[i]["steps_run"]))
        runs.pop(i)
    for r in records:
        r.pop("since")
    return best["i"], best["step"], best["params"], best["tensor"], records
