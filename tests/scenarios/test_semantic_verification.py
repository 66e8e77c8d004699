"""semantic_verification: the verification procedure on a memory with known probabilities, and a short run."""

import jax
import numpy as np
import pytest

from cogsim import kg
from cogsim.scenarios import semantic_verification as sv
from tests.scenarios.tiny import tiny


def _exact_memory():
    """A memory whose statements are the network's facts, each equally likely given its subject."""
    g = kg.from_triples(sv.CANARY_NETWORK)
    t = kg.index_tensor(g).astype(float)
    fan = t.sum(axis=(1, 2), keepdims=True)
    with np.errstate(divide="ignore"):
        log_joint = np.where(t > 0, np.log(t / np.maximum(fan, 1)), -30.0)
    return g, sv.Memory(g, log_joint, np.zeros(g.n_entities))


def test_verification_effort_follows_the_hierarchy_by_hand():
    g, mem = _exact_memory()
    h = kg.hierarchy(g)
    v = lambda s, r, x: sv.verify(mem, h, s, r, x, ratio=0.25)  # noqa: E731
    assert v("canary", "isa", "canary") == {"effort": 0.0, "cycles": 1, "found_level": 0}
    # canary holds 3 statements, bird 4, animal 4
    assert v("canary", "isa", "bird")["effort"] == pytest.approx(np.log(3))
    assert v("canary", "isa", "animal")["effort"] == pytest.approx(np.log(3) + np.log(4))
    assert v("canary", "can", "sing")["effort"] == pytest.approx(np.log(3))
    fly = v("canary", "can", "fly")
    assert fly["effort"] == pytest.approx(np.log(3) + np.log(4)) and fly["found_level"] == 1
    skin = v("canary", "has", "skin")
    assert skin["effort"] == pytest.approx(np.log(3) + 2 * np.log(4)) and skin["cycles"] == 7
    assert v("canary", "has", "gills")["found_level"] == -1  # false sentence: never verified


def test_sentences_cover_both_kinds_and_three_levels():
    s = sv.canary_sentences()
    kinds_levels = {(k, lv) for _, _, _, k, lv in s}
    assert kinds_levels == {(k, lv) for k in ("superset", "property") for lv in (0, 1, 2)}
    assert ("canary", "has", "skin", "property", 2) in s


def test_short_run_and_comparison():
    sim = sv.simulate(tiny("semantic_verification"), key=jax.random.key(0))
    hum = sv.reference().table
    assert len(hum) == 6 and set(hum.kind) == {"superset", "property"}
    comp = sv.compare(sim, hum)
    names = [c.name for c in comp.checks]
    assert any("property > superset" in n for n in names)
    # the orderings are built into the climb: a demonstration even with human means
    wrapped = comp.with_context(data_kind=sv.reference().kind)
    assert wrapped.schema_problems() == [] and wrapped.verdict == "demonstration"
    r = comp.metric("r_effort_vs_rt").value
    assert -1.0 <= r <= 1.0
    fig = sv.plot(sim, hum)
    assert fig.axes
