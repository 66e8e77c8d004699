"""kg_semantic_memory: a user-supplied graph folder runs end to end; bad graphs fail clearly."""

import json

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import config, kg
from cogsim.compare import Comparison
from cogsim.errors import DataError
from cogsim.scenarios import kg_semantic_memory as ksm
from tests.scenarios.tiny import tiny


def _ring_graph(folder, n=8):
    folder.mkdir()
    triples = [(f"e{i}", "next", f"e{(i + 1) % n}") for i in range(n)] + [
        (f"e{i}", "skip", f"e{(i + 2) % n}") for i in range(n)
    ]
    test = triples[::5]
    train = [t for t in triples if t not in test]
    for name, rows in (("train", train), ("valid", test[:1]), ("test", test)):
        (folder / f"{name}.txt").write_text("".join("\t".join(t) + "\n" for t in rows))
    return folder


def test_runs_on_a_user_graph_folder(tmp_path):
    folder = _ring_graph(tmp_path / "ring")
    # dim of the relational candidate: both candidates (Tucker form, one size) train in one compiled program
    cfg = config.replace(tiny("kg_semantic_memory"), graph=str(folder), dim=ksm.RELATIONAL_CANDIDATE["dim"])
    sim = ksm.simulate(cfg, key=jax.random.key(0))
    assert set(sim.model) == {"tensor_brain", "frequency_baseline", "search:0", "search:1", "graph"}
    assert sim[sim.model == "graph"].set_index("metric").value.to_dict() == {
        "test_n": 4.0,
        "test_unseen": 0.0,
        "test_in_train": 0.0,
    }
    test_rows = sim[(sim.split == "test") & (sim.metric == "mrr")]
    assert len(test_rows) == 6 and test_rows.value.between(0, 1).all()
    comp = ksm.compare(sim, ksm.reference().table)
    assert isinstance(comp, Comparison) and comp.key_metric.name == "test_mrr"
    assert not [m for m in comp.metrics if m.name.startswith("note.")]  # no unseen or repeated test triples
    assert all(isinstance(c.passed, bool) for c in comp.checks)
    wrapped = comp.with_context(data_kind=ksm.reference().kind)
    assert wrapped.schema_problems() == [] and wrapped.verdict == "demonstration"
    assert ksm.reference().table.empty and list(ksm.reference().table.columns) == list(sim.columns)
    fig = ksm.plot(sim, ksm.reference().table)
    assert len(fig.axes) == 2
    record = ksm.run_record(sim)["settings_search"]  # a user's graph: settings chosen on valid
    assert record["selected_on"] == "valid" and len(record["candidates"]) == 2
    assert record["chosen_valid_mrr"] == max(c["valid_mrr"] for c in record["candidates"])
    assert set(record["chosen"]) == {*ksm.SEARCH_SPACE, "num_steps"}
    assert {"dropout", "reciprocal", "relational"} <= set(record["chosen"])
    assert json.loads(sim[sim.model == "search:1"].settings.iloc[0])["reciprocal"]  # the relational candidate


@pytest.mark.slow
def test_settings_search_never_reads_a_test_triple(tmp_path, monkeypatch):
    folder = _ring_graph(tmp_path / "ring")
    graph = kg.load(folder)
    shuffled = kg.KnowledgeGraph(  # same train and valid, different test triples
        graph.name, graph.entities, graph.predicates, {**graph.splits, "test": graph.splits["test"][:, ::-1]}
    )
    seen = []
    real = kg.evaluate_link_prediction

    def spy(scorer, g, **kw):
        seen.append((kw.get("split"), tuple(kw.get("filter_splits", ())), "test" in g.splits))
        return real(scorer, g, **kw)

    monkeypatch.setattr(kg, "evaluate_link_prediction", spy)
    cfg = config.replace(tiny("kg_semantic_memory"), graph=str(folder), select="on")
    a = ksm.search(graph, cfg, key=jax.random.key(0))
    b = ksm.search(shuffled, cfg, key=jax.random.key(0))
    assert seen and all(s == ("valid", ("train", "valid"), False) for s in seen)
    assert a[0] == b[0] and a[2] == b[2]


@pytest.mark.parametrize("seed", range(4))
def test_search_trains_the_tucker_form_at_one_size(seed):
    cfg = config.replace(ksm.PRESETS["quick"], graph="g")  # the config's own settings: additive, dim 64
    cands = ksm.candidates(cfg, key=jax.random.key(seed))
    assert len(cands) == cfg.search_budget and cands[0] == cfg
    assert len({ksm._settings(c) for c in cands}) == len(cands)  # distinct
    assert all(c.dim == ksm.SEARCH_TUCKER_DIM for c in cands[1:] if c.relational == "tucker")
    # at most one compiled program per relational form (the Tucker form: one size)
    groups = {(c.relational, c.dim if c.relational == "tucker" else None) for c in cands}
    assert len(groups) <= 2
    own_tucker = config.replace(cfg, relational="tucker", dim=64)  # the config's own is tried as given
    assert ksm.candidates(own_tucker, key=jax.random.key(seed))[0].dim == 64


def test_frequency_baseline_ranks_by_predicate_frequency():
    g = kg.from_triples([("a", "r", "c"), ("b", "r", "c"), ("a", "r", "d")])
    x = ksm.frequency_baseline(g)
    e = g.entity_index
    assert x[e["a"], 0, e["c"]] > x[e["a"], 0, e["d"]]  # c is the object of r twice
    assert x[e["a"], 0, e["c"]] > x[e["b"], 0, e["c"]]  # a is the subject of r twice


def test_bad_graph_folder_raises_data_error(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train.txt").write_text("a\tr\n")
    cfg = config.replace(tiny("kg_semantic_memory"), graph=str(bad))
    with pytest.raises(DataError, match="missing valid.txt, test.txt"):
        ksm.simulate(cfg, key=jax.random.key(0))
    assert np.isfinite(ksm.PRESETS["quick"].lr)


def _family_graph(folder, *, seed=0):
    """A generated family (52 people, Hinton's 12 relations): one entity type, every person in every role,
    the relation alone deciding the answer; facts split at random 80 / 10 / 10."""
    from cogsim.tasks import family_trees as ft

    facts = ft.facts(ft.random_family(n_generations=4, n_founders=4, key=jax.random.key(seed)))
    perm = np.random.default_rng(seed).permutation(len(facts))
    n = len(facts) // 10
    parts = {"test": perm[:n], "valid": perm[n : 2 * n], "train": perm[2 * n :]}
    folder.mkdir()
    for name, idx in parts.items():
        (folder / f"{name}.txt").write_text("".join("\t".join(facts[i]) + "\n" for i in sorted(idx)))
    return kg.load(folder)


@pytest.mark.slow
def test_semantic_memory_learns_a_family_graph_where_the_relation_decides(tmp_path):
    """Declared before the run: the reciprocal memory (each fact learned from both ends) ranks held-out
    kinship facts at MRR >= 0.5 (the answer on average in the top two), its bootstrap CI above the frequency
    baseline; the memory that learns each fact from its subject only (the weakness: heads ranked by the joint
    alone, tails by a code learned from one end) ranks them worse, paired-bootstrap CI of the difference in
    reciprocal rank above 0."""
    from cogsim.compare import bootstrap_ci, paired_bootstrap_diff

    graph = _family_graph(tmp_path / "family")
    base = kg.evaluate_link_prediction(ksm.frequency_baseline(graph), graph, split="test")
    rr = {}
    for reciprocal in (False, True):
        cfg = config.replace(
            ksm.PRESETS["quick"],
            graph=str(tmp_path / "family"),
            num_steps=600,
            eval_every=600,
            dim=32,
            init_scale=0.3,
            weight_decay=0.5,
            dropout=0.3,
            relational="tucker",
            reciprocal=reciprocal,
        )
        params, _, mcfg = ksm.fit(graph, cfg, key=jax.random.key(0))
        res = kg.evaluate_link_prediction(ksm.scorer(params, mcfg), graph, split="test")
        rr[reciprocal] = 1.0 / np.concatenate([res.ranks_tail, res.ranks_head])
    mrr, lo, _ = bootstrap_ci(rr[True], np.mean, n_boot=300, seed=0)
    b = base.metrics["both"]["mrr"]
    assert lo > b and mrr >= 0.5, (mrr, lo, b)
    d, dlo, dhi = paired_bootstrap_diff(rr[True], rr[False], n_boot=300)
    assert dlo > 0, (d, dlo, dhi, rr[False].mean())


def test_test_triples_unseen_in_or_repeated_from_train_are_noted(tmp_path):
    from cogsim.scenarios import _kg_metrics

    folder = _ring_graph(tmp_path / "ring")
    with (folder / "test.txt").open("a") as fh:
        fh.write("e1\tnext\te2\n")  # also a training triple
        fh.write("new\tnext\te1\n")  # an entity no training triple has
        fh.write("e0\tfar\te1\n")  # a predicate no training triple has
    graph = kg.load(folder)
    counts = _kg_metrics.overlap_with_train(graph)
    assert counts == {"n": len(graph.triples("test")), "unseen": 2, "in_train": 1}
    sim = pd.DataFrame([{"direction": "data", "metric": f"test_{k}", "value": v} for k, v in counts.items()])
    note = _kg_metrics.overlap_note(sim)
    assert note.name == "note.test_vs_train" and note.value == 3.0
    assert "2 have an entity or predicate absent from train.txt and 1 are also in train.txt" in note.note
    clean = sim.assign(value=[counts["n"], 0, 0])
    assert _kg_metrics.overlap_note(clean) is None


@pytest.mark.parametrize("text", ["", " "])
def test_an_empty_graph_is_refused(text):
    # Path("") is the current folder: an empty value must not be read as a graph folder
    with pytest.raises(config.ConfigError, match=r"'graph': got '\s*'; allowed: a packaged graph name"):
        config.replace_from_strings(ksm.Config(), [f"graph={text}"])
