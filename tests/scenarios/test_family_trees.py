"""family_trees: the scenario runs end to end on tiny settings; the case scoring and decoding behave."""

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import config
from cogsim.compare import Comparison
from cogsim.scenarios import family_trees as sc
from cogsim.tasks import family_trees as ft


def test_runs_end_to_end_on_tiny_settings():
    cfg = config.replace(sc.PRESETS["quick"], n_seeds=1, n_test_large=10, num_steps=50, dim=8, wm_dim=8)
    sim = sc.simulate(cfg, key=jax.random.key(0))
    cases = sim[sim.kind == "case"]
    assert len(cases[(cases.model == "tensor_brain") & (cases.version == "hinton")]) == 4
    assert len(cases[(cases.model == "tensor_brain") & (cases.version == "large")]) == 10
    assert cases.correct.isin([0.0, 1.0]).all()
    assert set(sim[sim.kind == "decode"].attribute) == set(sc.ATTRIBUTES)
    comp = sc.compare(sim, sc.reference().table, n_boot=50)
    assert isinstance(comp, Comparison) and comp.key_metric.name == "share_correct_hinton"
    assert comp.key_metric.human == 5 / 8
    assert all(isinstance(c.passed, bool) for c in comp.checks)
    wrapped = comp.with_context(data_kind=sc.reference().kind)
    assert wrapped.schema_problems() == [] and wrapped.verdict == "demonstration"
    assert len(sc.plot(sim, sc.reference().table).axes) >= 3


def test_a_case_is_correct_only_when_every_answer_beats_every_other_person():
    split = ft.split_cases(ft.facts(ft.hinton_trees()), n_test=4, key=jax.random.key(0))
    graph = sc.make_graph(split)
    e, p = graph.entity_index, graph.predicate_index
    scores = np.zeros((graph.n_entities, graph.n_predicates, graph.n_entities))
    for s, r, o in split["test"]:
        scores[e[s], p[r], e[o]] = 1.0  # an oracle
    rows = sc.answer_cases(scores, graph, "test")
    assert [r["correct"] for r in rows] == [1.0] * 4
    s, r, o = split["test"][0]
    scores[e[s], p[r], (e[o] + 1) % graph.n_entities] = 2.0  # a wrong person above an answer
    assert sc.answer_cases(scores, graph, "test")[0]["correct"] == 0.0


def test_attributes_decode_from_embeddings_that_code_them():
    fam = ft.hinton_trees()
    at = fam.attributes()
    names = tuple(p.name for p in fam.people)
    rng = np.random.default_rng(0)
    emb = np.stack([at["nationality"], at["generation"], at["branch"]], 1) * 3.0 + rng.normal(0, 0.1, (24, 3))
    df = pd.DataFrame(sc.decode_attributes(emb, fam, names))
    assert df.groupby("attribute").correct.mean().min() == 1.0
    noise = pd.DataFrame(sc.decode_attributes(rng.normal(size=(24, 3)), fam, names))
    assert noise.correct.mean() < 0.8


def _cases(n_test: int, n_seeds: int = 2) -> pd.DataFrame:
    """Case rows of both versions and models, and decode rows, as simulate() writes them."""
    rows = []
    for seed in range(n_seeds):
        for version, n in (("hinton", n_test), ("large", 10)):
            for model in ("tensor_brain", "frequency_baseline"):
                rows += [
                    {
                        "seed": seed,
                        "version": version,
                        "model": model,
                        "kind": "case",
                        "correct": float(i % 2),
                    }
                    for i in range(n)
                ]
        rows += [
            {"seed": seed, "kind": "decode", "attribute": a, "correct": 1.0, "chance": 0.5}
            for a in sc.ATTRIBUTES
        ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n_test", [4, 100])
def test_the_hinton_check_names_the_held_out_cases_run(n_test):
    comp = sc.compare(_cases(n_test), sc.reference().table, n_boot=20)
    names = [c.name for c in comp.checks if c.name.startswith("hinton: at least")]
    assert len(names) == 1 and f"of the {n_test} held-out cases" in names[0]
