"""The figure of :mod:`cogsim.scenarios.kg_semantic_memory`: validation MRR over training (or per searched
setting), and test MRR / Hits@k of the model and the frequency baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd


def result_row(sim: pd.DataFrame, model: str, split: str, metric: str, direction: str = "both") -> pd.Series:
    """The row of ``metric`` for ``model`` on ``split`` at the last step."""
    sel = sim[
        (sim.model == model) & (sim.split == split) & (sim.metric == metric) & (sim.direction == direction)
    ]
    return sel.loc[sel.step.idxmax()]


def plot(sim: pd.DataFrame, human: pd.DataFrame | None = None, ax=None):
    """The two-panel figure of a kg_semantic_memory run: validation MRR over training (or each searched
    setting's best), and test MRR / Hits@k of the model and the frequency baseline (``human``, ``ax``: unused,
    the scenario contract's arguments)."""
    from cogsim import plots

    fig, (a1, a2) = plots.panels(2, ncols=2)
    curve = sim[
        (sim.model == "tensor_brain")
        & (sim.split == "valid")
        & (sim.metric == "mrr")
        & (sim.direction == "both")
    ].sort_values("step")
    tried = sim[sim.direction == "search"]
    if len(tried):  # settings chosen on the validation split: each candidate's best validation MRR
        a1.bar(range(len(tried)), tried.value, color="C0")
        a1.set_xticks(
            range(len(tried)),
            [f"{m.split(':')[1]}\n{int(s)}" for m, s in zip(tried.model, tried.step, strict=True)],
        )
        a1.set_xlabel("candidate setting / best step")
    else:
        a1.plot(curve.step, curve.value, marker="o")
        a1.set_xlabel("training step")
    a1.set_ylabel("validation MRR (filtered)")
    a1.set_title(f"semantic memory on {str(sim.graph.iloc[0])[-30:]}")
    names = ["mrr", "hits@1", "hits@3", "hits@10"]
    x = np.arange(len(names))
    for i, model in enumerate(("tensor_brain", "frequency_baseline")):
        vals = [float(result_row(sim, model, "test", n).value) for n in names]
        a2.bar(x + (i - 0.5) * 0.38, vals, width=0.38, label=model)
    a2.set_xticks(x, names)
    a2.set_ylim(0, 1)
    a2.set_title("test (filtered, both directions)")
    a2.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
