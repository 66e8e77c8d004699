"""The sparse factor world: graph structure, seeding, dynamics confined to the firing factors."""

import re

import networkx as nx
import numpy as np
import pytest

from cogsim.errors import CogsimError
from cogsim.tasks import factor_world as fw


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_factor_graph_structure(seed):
    w = fw.make_world(12, 8, seed=seed)
    g = w.graph
    assert nx.is_bipartite(g)
    factors = [v for v, k in g.nodes(data="kind") if k == "factor"]
    variables = [v for v, k in g.nodes(data="kind") if k == "variable"]
    assert len(factors) == 8 and len(variables) == 12
    assert all(2 <= g.degree(f) <= 3 for f in factors)  # each factor couples 2-3 variables
    assert all(g.degree(v) >= 1 for v in variables)  # every variable is in some factor
    assert all(not g.has_edge(a, b) for a in factors for b in factors)
    for f, scope in enumerate(w.scopes):
        assert sorted(int(v[1:]) for v in g[f"f{f}"]) == list(scope)
    train, test = {tuple(p) for p in w.train_pairs}, {tuple(p) for p in w.test_pairs}
    assert test and not (train & test)
    for a, b in train | test:  # pairs that fire together never share a variable
        assert not set(w.scopes[a]) & set(w.scopes[b])
    assert {f for p in train for f in p} == {f for p in train | test for f in p}  # every factor is trained


def test_factor_graph_is_seeded():
    a, b, c = fw.make_world(12, 8, seed=5), fw.make_world(12, 8, seed=5), fw.make_world(12, 8, seed=6)
    assert a.scopes == b.scopes and np.array_equal(a.weights, b.weights)
    assert a.scopes != c.scopes


def test_dynamics_touch_only_the_firing_factors():
    w = fw.make_world(10, 6, seed=3)
    d = fw.sample_sequences(w, w.train_pairs, seed=0, n=50, seq_len=3)
    changed = np.abs(np.diff(d["x"], axis=1)) > 0
    assert np.all(changed <= (d["active"] > 0))  # nothing outside the scopes moves
    assert np.all(d["cue"].sum(-1) == 2)
    scopes = w.scope_array()
    for i in range(5):
        for t in range(3):
            fired = np.flatnonzero(d["cue"][i, t])
            want = {v for f in fired for v in scopes[f] if v < w.n_vars}
            assert set(np.flatnonzero(d["active"][i, t])) == want


def test_a_world_too_small_for_its_variables_is_refused():
    with pytest.raises(CogsimError, match="cannot cover"):
        fw.make_world(12, 3, seed=0)


@pytest.mark.parametrize(
    "args, seed, needle",
    [
        ((0, 3), 0, "make_world: got n_vars=0; allowed: an integer >= 1"),
        ((-1, 3), 0, "got n_vars=-1; allowed"),
        ((12.5, 8), 0, "got n_vars=12.5; allowed"),
        ((12, True), 0, "got n_factors=True; allowed"),
        ((12, 8), -1, "got seed=-1; allowed: an integer >= 0"),
    ],
)
def test_bad_sizes_and_seeds_are_named(args, seed, needle):
    with pytest.raises(CogsimError, match=re.escape(needle)):
        fw.make_world(*args, seed=seed)


def test_a_seed_array_and_a_numpy_size_give_a_world():
    a = fw.make_world(np.int64(8), 5, seed=np.array([1, 2], np.uint32))
    b = fw.make_world(8, 5, seed=np.array([1, 2], np.uint32))
    assert a.scopes == b.scopes


@pytest.mark.parametrize("holdout", [1.5, 1.0, -1])
def test_holdout_must_be_a_share_below_one(holdout):
    with pytest.raises(CogsimError, match=f"holdout={holdout} is not allowed; allowed: a share in"):
        fw.make_world(12, 8, seed=0, holdout=holdout)


def test_sample_sequences_refuses_bad_pairs_and_counts():
    w = fw.make_world(8, 5, seed=1)
    with pytest.raises(CogsimError, match=r"pair \[0, 99\] is not allowed; allowed: factors 0..4"):
        fw.sample_sequences(w, np.array([[0, 99]]), seed=0, n=2, seq_len=2)  # before: IndexError
    with pytest.raises(CogsimError, match=r"pair \[0, 0\] is not allowed: the scopes .* overlap"):
        fw.sample_sequences(w, np.array([[0, 0]]), seed=0, n=2, seq_len=2)  # before: accepted
    with pytest.raises(CogsimError, match=r"shape \(0, 2\)"):
        fw.sample_sequences(w, np.zeros((0, 2), int), seed=0, n=2, seq_len=2)
    with pytest.raises(CogsimError, match="sample_sequences: got n=0; allowed: an integer >= 1"):
        fw.sample_sequences(w, w.train_pairs, seed=0, n=0, seq_len=2)
