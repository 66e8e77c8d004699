"""kg_semantic_memory: a user-supplied graph folder runs end to end; bad graphs fail clearly."""

import jax
import numpy as np
import pytest

from cogsim import config, kg
from cogsim.compare import Comparison
from cogsim.errors import DataError
from cogsim.scenarios import kg_semantic_memory as ksm


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
    cfg = config.replace(ksm.PRESETS["test"], graph=str(folder))
    sim = ksm.simulate(cfg, key=jax.random.key(0))
    assert set(sim.model) == {"tensor_brain", "frequency_baseline"}
    test_rows = sim[(sim.split == "test") & (sim.metric == "mrr")]
    assert len(test_rows) == 6 and test_rows.value.between(0, 1).all()
    comp = ksm.compare(sim, ksm.human())
    assert isinstance(comp, Comparison) and comp.key_metric.name == "test_mrr"
    assert all(isinstance(c.passed, bool) for c in comp.checks)
    assert ksm.human().empty and list(ksm.human().columns) == list(sim.columns)
    fig = ksm.plot(sim, ksm.human())
    assert len(fig.axes) == 2


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
    cfg = config.replace(ksm.PRESETS["test"], graph=str(bad))
    with pytest.raises(DataError, match="missing valid.txt, test.txt"):
        ksm.simulate(cfg, key=jax.random.key(0))
    assert np.isfinite(ksm.PRESETS["quick"].lr)
