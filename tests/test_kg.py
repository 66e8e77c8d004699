"""Knowledge graphs: loading and its errors, tensor/graph views, hierarchies, filtered link prediction."""

import numpy as np
import pandas as pd
import pytest

from cogsim import kg
from cogsim._compare_linkpred import filtered_ranks, hits_at_k, link_prediction_metrics, mean_reciprocal_rank
from cogsim.errors import CogsimError, DataError


def _write_graph(folder, train, valid=("a\tr\tb",), test=("b\tr\tc",)):
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_read_triples_names_file_and_line_for_wrong_field_count(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("a\tr\tb\n\nc\tr\n")
    with pytest.raises(DataError, match=r"bad\.txt: line 3: expected 3 tab-separated fields.*found 2"):
        kg.read_triples(p)


def test_read_triples_rejects_empty_field_and_missing_file(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_text("# comment\na\t\tb\n")
    with pytest.raises(DataError, match=r"empty\.txt: line 2: empty predicate"):
        kg.read_triples(p)
    with pytest.raises(DataError, match="file not found"):
        kg.read_triples(tmp_path / "nope.txt")


def test_load_folder_and_its_errors(tmp_path):
    folder = _write_graph(tmp_path / "g", ["a\tr\tb", "b\tq\tc"])
    g = kg.load(folder)
    assert g.entities == ("a", "b", "c") and g.predicates == ("q", "r")
    assert g.triples("train").tolist() == [[0, 1, 1], [1, 0, 2]]
    assert len(g.triples()) == 4
    (folder / "test.txt").unlink()
    with pytest.raises(DataError, match="missing test.txt"):
        kg.load(folder)
    with pytest.raises(DataError, match="not a packaged graph"):
        kg.load(tmp_path / "does_not_exist")
    bad = _write_graph(tmp_path / "bad", ["a\tr\tb", "a r b"])
    with pytest.raises(DataError, match=r"train\.txt: line 2"):
        kg.load(bad)


def test_packaged_umls_loads_with_the_standard_split():
    g = kg.load("umls")
    assert (g.n_entities, g.n_predicates) == (135, 46)
    assert {k: len(v) for k, v in g.splits.items()} == {"train": 5216, "valid": 652, "test": 661}
    x = kg.index_tensor(g)
    assert x.shape == (135, 46, 135) and x.sum() == len(np.unique(g.triples(), axis=0))
    nxg = kg.to_networkx(g, "train")
    assert nxg.number_of_edges() == 5216


def test_hierarchy_reduction_depth_ancestors_and_cycles():
    g = kg.from_triples(
        [
            ("canary", "isa", "bird"),
            ("bird", "isa", "animal"),
            ("canary", "isa", "animal"),
            ("canary", "can", "sing"),
        ]
    )
    h = kg.hierarchy(g)
    assert sorted(h.edges()) == [("bird", "animal"), ("canary", "bird")]
    assert kg.hierarchy(g, reduce=False).number_of_edges() == 3
    assert kg.ancestors(h, "canary") == {"bird": 1, "animal": 2}
    assert [kg.depth(h, n) for n in ("animal", "bird", "canary", "sing")] == [0, 1, 2, 0]
    with pytest.raises(CogsimError, match="cycle"):
        kg.hierarchy(kg.from_triples([("a", "isa", "b"), ("b", "isa", "a")]))


def test_filtered_ranks_hand_computed():
    scores = np.array([[0.9, 0.5, 0.7, 0.5, 0.1]])
    # raw: 0.9 and 0.7 beat 0.5, one tie (index 3) counts half
    assert filtered_ranks(scores, np.array([1]))[0] == 3.5
    # filtering the known answers 0 and 3 leaves only 0.7 ahead
    assert filtered_ranks(scores, np.array([1]), np.array([[True, True, False, True, False]]))[0] == 2.0
    assert mean_reciprocal_rank([1, 2, 4]) == pytest.approx((1 + 0.5 + 0.25) / 3)
    assert hits_at_k([1, 2, 4], 2) == pytest.approx(2 / 3)
    m = link_prediction_metrics([1, 3], ks=(1, 3))
    assert m == {"mrr": pytest.approx(2 / 3), "mean_rank": 2.0, "hits@1": 0.5, "hits@3": 1.0}
    with pytest.raises(CogsimError):
        filtered_ranks(scores, np.array([7]))


def test_evaluate_link_prediction_against_a_hand_computed_example():
    # entities a, b, c, d (0..3); one predicate r; (d, r, a) only names d and filters no query below
    g = kg.from_frame(
        pd.DataFrame(
            {
                "subject": ["a", "a", "b", "d"],
                "predicate": ["r"] * 4,
                "object": ["b", "c", "c", "a"],
                "split": ["train", "test", "test", "valid"],
            }
        )
    )
    s = np.zeros((4, 1, 4))
    s[0, 0] = [0.0, 5.0, 3.0, 4.0]  # tails of (a, r, ?)
    s[:, 0, 2] = [3.0, 1.0, 2.0, 6.0]  # heads of (?, r, c)
    res = kg.evaluate_link_prediction(s, g, split="test")
    # (a, r, c): tail scores b=5 (known train answer: filtered), d=4 beats c=3 -> rank 2
    # (b, r, c): tail scores of row b are s[1, 0] = [0, 0, 1, 0] -> c is best -> rank 1
    assert res.ranks_tail.tolist() == [2.0, 1.0]
    # (a, r, c): heads: d=6 beats a=3; b is a known head (b, r, c) -> filtered -> rank 2
    # (b, r, c): heads: a is a known head (filtered), d=6 and c=2 beat b=1 -> rank 3
    assert res.ranks_head.tolist() == [2.0, 3.0]
    assert res.metrics["both"]["mrr"] == pytest.approx((0.5 + 1 + 0.5 + 1 / 3) / 4)
    assert res.metrics["tail"]["hits@1"] == 0.5
    tails, heads = kg.tensor_scorers(s)
    res2 = kg.evaluate_link_prediction((tails, heads), g, split="test", batch_size=1)
    assert res2.metrics == res.metrics
    assert set(res.table().direction) == {"both", "tail", "head"}


def test_evaluate_link_prediction_refuses_bad_arguments_clearly():
    g = kg.from_triples([("a", "r", "b")], split="test")
    x = np.zeros((2, 1, 2))
    with pytest.raises(CogsimError, match=r"kg must be a KnowledgeGraph .*got NoneType"):
        kg.evaluate_link_prediction(g, None)  # arguments swapped / missing graph
    with pytest.raises(CogsimError, match=r"batch_size=0 is not allowed; use an integer >= 1"):
        kg.evaluate_link_prediction(x, g, batch_size=0)
    with pytest.raises(CogsimError, match=r"ks=\[0\] is not allowed"):
        kg.evaluate_link_prediction(x, g, ks=[0])
    with pytest.raises(CogsimError, match=r"ks=\(2\.5,\) is not allowed"):
        kg.evaluate_link_prediction(x, g, ks=(2.5,))
    with pytest.raises(CogsimError, match=r"scorer is a tuple of 1 item"):
        kg.evaluate_link_prediction((len,), g)
    res = kg.evaluate_link_prediction(x, g, ks=np.array([1]), batch_size=np.int64(4))
    assert set(res.metrics["both"]) == {"mrr", "mean_rank", "hits@1"}


def test_split_selections_must_be_non_empty_and_known():
    g = kg.from_triples([("a", "r", "b")])
    for fn in (kg.index_tensor, kg.to_networkx):
        with pytest.raises(CogsimError, match=r"splits=\[\] is not allowed; use a split name or a non-empty"):
            fn(g, splits=[])
        with pytest.raises(CogsimError, match="unknown split 'nosuch'"):
            fn(g, splits=["nosuch"])
        with pytest.raises(CogsimError, match="kg must be a KnowledgeGraph"):
            fn(None)
    assert kg.index_tensor(g, "valid").sum() == 0  # a standard split the graph lacks adds nothing
    assert kg.to_networkx(g, "train").number_of_edges() == 1


def test_tensor_scorers_hierarchy_and_from_triples_refuse_wrong_types():
    with pytest.raises(CogsimError, match=r"scores has shape \(3, 3\).*allowed: a numeric array \[N, P, N\]"):
        kg.tensor_scorers(np.ones((3, 3)))
    with pytest.raises(CogsimError, match="dtype <U1"):
        kg.tensor_scorers(np.array([[["a"]]]))
    with pytest.raises(CogsimError, match="hierarchy: graph must be a KnowledgeGraph or a MultiDiGraph"):
        kg.hierarchy(None)
    with pytest.raises(DataError, match="triple 0 has 1 items; expected 3"):
        kg.from_triples(["abc"])  # a string is not split into a triple


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_load_refuses_a_split_file_without_triples(tmp_path, split):
    folder = _write_graph(tmp_path / "g", ["a\tr\tb", "b\tq\tc"])
    (folder / f"{split}.txt").write_text("# only a comment\n\n")
    with pytest.raises(DataError, match=rf"{split}\.txt: no triples"):
        kg.load(folder)


def test_read_triples_drops_a_byte_order_mark(tmp_path):
    p = tmp_path / "bom.txt"
    p.write_bytes("\ufeffa\tr\tb\n".encode())
    assert kg.read_triples(p).values.tolist() == [["a", "r", "b"]]


def test_read_triples_refuses_a_header_line(tmp_path):
    p = tmp_path / "h.txt"
    p.write_text("Head\trelation\ttail\na\tr\tb\n")
    with pytest.raises(DataError, match=r"h\.txt: line 1: .*header; the format has no header"):
        kg.read_triples(p)
    p.write_text("# head\trelation\ttail\na\tr\tb\nhead\trelation\ttail\n")  # commented, or not the first
    assert len(kg.read_triples(p)) == 2


# ------------------------------------------------------------------- bad or degenerate input (audit E)
def test_nan_scores_are_refused_not_ranked_first():
    with pytest.raises(CogsimError, match="first query 0.*scored nan"):
        filtered_ranks(np.array([[0.9, np.nan, 0.7]]), np.array([1]))
    with pytest.raises(CogsimError, match="NaN"):
        filtered_ranks(np.array([[np.nan, 0.5, 0.7]]), np.array([1]))


def test_a_scorer_giving_nan_is_named_not_scored_a_perfect_mrr():
    g = kg.from_triples([("a", "r", "b"), ("b", "r", "c")], split="test")
    with pytest.raises(CogsimError, match=r"score_tails\(s, p\) scored NaN.*\('a', 'r', 'b'\)"):
        kg.evaluate_link_prediction(np.full((3, 1, 3), np.nan), g)


def test_a_scorer_of_the_wrong_width_is_named_with_its_shape():
    g = kg.from_triples([("a", "r", "b"), ("b", "r", "c")], split="test")
    scorer = (lambda s, p: np.zeros((len(s), 2)), lambda p, o: np.zeros((len(p), 3)))
    with pytest.raises(
        CogsimError, match=r"score_tails\(s, p\) returned shape \(2, 2\); expected .*\(2, 3\)"
    ):
        kg.evaluate_link_prediction(scorer, g)


@pytest.mark.parametrize("ranks", [[0, 1], [-1, 2], [1, np.nan]])
def test_ranks_below_one_are_refused(ranks):
    with pytest.raises(CogsimError, match="ranks must be numbers >= 1"):
        mean_reciprocal_rank(ranks)
    with pytest.raises(CogsimError, match="ranks must be numbers >= 1"):
        link_prediction_metrics(ranks)
    with pytest.raises(CogsimError, match="ranks must be numbers >= 1"):
        hits_at_k(ranks, 1)


@pytest.mark.parametrize("bad", [None, np.nan, "", "  "])
def test_a_missing_name_is_refused_naming_the_row_or_triple(bad):
    df = pd.DataFrame({"subject": ["a", bad], "predicate": ["r", "r"], "object": ["b", "c"]})
    with pytest.raises(DataError, match="row 1 has subject="):
        kg.from_frame(df)
    with pytest.raises(DataError, match="triple 1 is"):
        kg.from_triples([("a", "r", "b"), ("a", "r", bad)])


def test_names_of_mixed_types_are_refused_naming_the_types():
    df = pd.DataFrame({"subject": ["a", 1], "predicate": ["r", "r"], "object": ["b", "c"]})
    with pytest.raises(DataError, match=r"mix types \['int', 'str'\]"):
        kg.from_frame(df)
