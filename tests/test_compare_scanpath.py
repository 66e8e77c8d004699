"""Scanpath metrics: hand-computed cases, a reference Needleman-Wunsch, MultiMatch against multimatch-gaze."""

import math

import numpy as np
import pytest

from cogsim import _compare_scanpath as cs
from cogsim.errors import CogsimError


def nw_reference(a, b, gap=0.0):
    """Needleman-Wunsch with 0/1 similarity as in OAT's nw_matching, divided by the longer length."""
    f = np.zeros((len(a) + 1, len(b) + 1))
    f[:, 0] = gap * np.arange(len(a) + 1)
    f[0, :] = gap * np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            f[i, j] = max(f[i - 1, j - 1] + (a[i - 1] == b[j - 1]), f[i - 1, j] + gap, f[i, j - 1] + gap)
    return f[-1, -1] / max(len(a), len(b))


def levenshtein_reference(a, b):
    d = np.zeros((len(a) + 1, len(b) + 1), int)
    d[:, 0] = np.arange(len(a) + 1)
    d[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    return d[-1, -1]


def test_sequence_score_hand_cases():
    assert cs.sequence_score([1, 2, 3], [1, 2, 3]) == 1.0
    assert cs.sequence_score([1, 2, 3], [4, 5]) == 0.0
    assert cs.sequence_score([], [1]) == 0.0
    assert cs.sequence_score([3, 5, 7, 9], [3, 7, 8]) == 0.5  # 3, 7 aligned; divided by 4
    assert cs.sequence_score([1, 2], [2, 1]) == 0.5  # order matters: only one match fits an alignment
    assert cs.sequence_score([7, 7, 7], [7]) == pytest.approx(1 / 3)


def test_sequence_score_matches_needleman_wunsch_dp():
    rng = np.random.default_rng(0)
    for _ in range(300):
        a = rng.integers(0, 6, rng.integers(1, 25)).tolist()
        b = rng.integers(0, 6, rng.integers(1, 25)).tolist()
        assert cs.sequence_score(a, b) == pytest.approx(nw_reference(a, b))
        assert cs.sequence_score(a, b) == pytest.approx(cs.sequence_score(b, a))


def test_edit_distance_hand_cases_and_reference():
    kitten, sitting = [ord(c) for c in "kitten"], [ord(c) for c in "sitting"]
    assert cs.edit_distance(kitten, sitting) == 3
    assert cs.edit_distance([], [1, 2]) == 2
    assert cs.edit_distance([5], [5]) == 0
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = rng.integers(0, 5, rng.integers(0, 15)).tolist()
        b = rng.integers(0, 5, rng.integers(0, 15)).tolist()
        assert cs.edit_distance(a, b) == levenshtein_reference(a, b)


def test_behaviour_of_one_scanpath():
    # runs: 4 4 | 2 | 4 | 9 -> search 4, 2, 9 (3); refixation: second 4 of the first run (1); revisit: 4 (1)
    b = cs.scanpath_behaviour([4, 4, 2, 4, 9], target=9)
    assert b == {"target_found": 1.0, "length": 5.0, "search": 0.6, "refixation": 0.2, "revisit": 0.2}
    b = cs.scanpath_behaviour([1, 2, 1, 1, 2], target=9)
    assert b["target_found"] == 0.0
    assert (b["search"], b["refixation"], b["revisit"]) == (0.4, 0.2, 0.4)
    rng = np.random.default_rng(2)
    for _ in range(50):
        s = rng.integers(0, 4, rng.integers(1, 20)).tolist()
        b = cs.scanpath_behaviour(s, 0)
        assert b["search"] + b["refixation"] + b["revisit"] == pytest.approx(1.0)
    empty = cs.scanpath_behaviour([], 3)
    assert empty["length"] == 0 and empty["target_found"] == 0 and math.isnan(empty["search"])


def test_behaviour_vector_and_delta():
    v = cs.behaviour_vector([[1, 2, 3], [3], [2, 2]], targets=[3, 3, 5])
    assert v["target_found"] == pytest.approx(2 / 3)
    assert v["length"] == pytest.approx(2.0)
    assert v["refixation"] == pytest.approx((0 + 0 + 0.5) / 3)
    h = {"target_found": 1.0, "length": 10.0, "search": 0.8, "refixation": 0.1, "revisit": 0.1}
    assert cs.behaviour_delta(h, h) == 0.0
    m = {"target_found": 0.5, "length": 20.0, "search": 0.8, "refixation": 0.1, "revisit": 0.1}
    assert cs.behaviour_delta(m, h) == pytest.approx((0.5 + 1.0) / 5)
    # a zero human value is skipped, not divided by
    assert cs.behaviour_delta({**h, "revisit": 0.3}, {**h, "revisit": 0.0}) == 0.0
    with pytest.raises(CogsimError):
        cs.behaviour_delta({"length": 1.0}, h)


def test_tfp_curve_auc_mismatch():
    paths = [[1, 9], [9], [1, 2, 3], [4, 5, 6, 9]]
    c = cs.tfp_curve(paths, 9, max_steps=4)
    np.testing.assert_allclose(c, [0.25, 0.5, 0.5, 0.75])
    assert cs.tfp_auc(c) == pytest.approx(2.0)
    assert cs.probability_mismatch(c, np.ones(4)) == pytest.approx(2.0)
    assert cs.fixations_to_target([3, 3, 8], 8) == 3.0
    assert math.isinf(cs.fixations_to_target([3], 8))
    with pytest.raises(CogsimError):
        cs.probability_mismatch(c, np.ones(3))


def test_fixation_count_error_and_score_scanpaths():
    model = {1: [[1, 2]], 2: [[5, 6, 7]]}
    human = {1: [[1, 2, 3, 4], [1, 2]], 2: [[5]]}
    # display 1: |2 - 3| = 1; display 2: |3 - 1| = 2
    assert cs.fixation_count_error(model, human) == pytest.approx(1.5)
    s = cs.score_scanpaths(model, human, {1: 4, 2: 5}, max_steps=3)
    ss1 = (2 / 4 + 2 / 2) / 2
    ss2 = 1 / 3
    assert s.sequence_score == pytest.approx((ss1 + ss2) / 2)
    assert s.edit_distance == pytest.approx(((2 + 0) / 2 + 2) / 2)
    self_s = cs.score_scanpaths(human, human, {1: 4, 2: 5}, max_steps=3, exclude_self=True)
    assert self_s.sequence_score == pytest.approx(2 / 4)  # display 2 has no other-human pair
    assert self_s.delta == 0.0 and self_s.probability_mismatch == 0.0
    with pytest.raises(CogsimError):
        cs.score_scanpaths({1: [[1]]}, human, {1: 4, 2: 5})


def test_bad_input_is_named():
    with pytest.raises(CogsimError, match="1-D"):
        cs.sequence_score(np.zeros((2, 2), int), [1])
    with pytest.raises(CogsimError, match="integers"):
        cs.edit_distance([1.5, 2.0], [1])


def test_multimatch_identity_and_short_paths():
    a = np.array([[0.0, 0.0], [3.0, 1.0], [5.0, 7.0], [1.0, 2.0]])
    r = cs.multimatch(a, a, screen=(10, 10))
    assert all(v == pytest.approx(1.0) for v in r.values())
    assert all(math.isnan(v) for v in cs.multimatch(a[:2], a, screen=(10, 10)).values())
    # a path shifted by (3, 4) keeps its shape, direction and lengths; position similarity drops by 5 / diag
    r = cs.multimatch(a, a + [3.0, 4.0], screen=(10, 10))
    assert r["vector"] == pytest.approx(1.0) and r["direction"] == pytest.approx(1.0)
    assert r["position"] == pytest.approx(1 - 5 / math.hypot(10, 10))
    o = cs.object_multimatch([0, 1, 5], [0, 1, 5], n_cols=4, n_rows=2)
    assert o["position"] == pytest.approx(1.0)


def test_multimatch_matches_multimatch_gaze():
    mm = pytest.importorskip("multimatch_gaze")
    rng = np.random.default_rng(3)
    for _ in range(25):
        n, m = rng.integers(3, 12, 2)
        a, b = rng.uniform(0, 1000, (n, 2)), rng.uniform(0, 700, (m, 2))
        da, db = rng.uniform(0.1, 1.0, n), rng.uniform(0.1, 1.0, m)
        fa = np.rec.fromarrays([a[:, 0], a[:, 1], da], names="start_x,start_y,duration")
        fb = np.rec.fromarrays([b[:, 0], b[:, 1], db], names="start_x,start_y,duration")
        ref = mm.docomparison(fa, fb, screensize=[1280, 720])
        mine = cs.multimatch(a, b, screen=(1280, 720), dur1=da, dur2=db)
        np.testing.assert_allclose([mine[k] for k in cs.MULTIMATCH_KEYS], ref, atol=1e-9)
