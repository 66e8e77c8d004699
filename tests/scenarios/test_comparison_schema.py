"""Every scenario's comparison follows the schema of cogsim.comparison (at the tiny settings of tiny.py).

For each registered scenario: simulate, reference, compare and the runner's comparison-with-reference step;
then the record must have no schema problems, a verdict from the vocabulary, no ``match`` without human
data, every check with a CI judged by a CI rule (read back from the JSON record), and a JSON form with real
booleans.
"""

from __future__ import annotations

import json

import jax
import pytest

from cogsim import comparison, runner, scenario_registry
from tests.scenarios.tiny import TINY, tiny


def test_every_scenario_has_tiny_settings():
    assert set(TINY) == set(scenario_registry.names())
    assert SLOW <= set(TINY)


# Scenarios whose tiny run took over 30 s of wall time on a shared two-core machine (2026-12-03: 35-120 s
# each, about 11 min together); they run with the slow tests (pytest -m slow). The others took 3-28 s each,
# about 3 min together on that machine.
SLOW = {
    "book_cover_scanpaths",
    "dual_process",
    "episodic_recall",
    "family_trees",
    "icl_abrupt_learning",
    "icl_data_dependence",
    "search_rt_distributions",
    "semantic_verification",
    "sparse_factor_world",
    "synthetic_shelf_search",
}
SCENARIOS = [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in scenario_registry.names()]


@pytest.fixture(scope="module", params=SCENARIOS)
def record(request):
    name = request.param
    mod = scenario_registry.get(name)
    cfg = tiny(name)
    sim = mod.simulate(cfg, key=jax.random.key(0))
    ref = mod.reference(cfg)
    comp = runner.compare_with_reference(name, mod, sim, ref, preset="quick", cfg=cfg)
    return name, ref, comp


def test_comparison_follows_the_schema(record):
    name, ref, comp = record
    assert comp.data_kind == ref.kind
    assert comp.schema_problems() == [], name
    assert comp.verdict in comparison.VERDICTS
    if comp.data_kind == "none":
        assert comp.verdict != "match"


def test_json_record_is_complete(record):
    name, _, comp = record
    d = json.loads(json.dumps(comp.to_dict(), allow_nan=False))
    assert d["verdict"] in comparison.VERDICTS and d["data_kind"] in comparison.DATA_KINDS
    assert not (d["verdict"] == "match" and d["data_kind"] == "none")
    for c in d["checks"]:
        assert type(c["passed"]) is bool, (name, c["name"], c["passed"])
        assert c["rule"] in comparison.RULES and c["source"] in comparison.SOURCES, (name, c["name"])
        assert c["threshold"] is not None, (name, c["name"])
        if c["ci"] is not None:
            assert c["rule"] in comparison.CI_RULES, (name, c["name"], c["rule"])
        else:
            assert c["rule"] in comparison.VALUE_RULES, (name, c["name"], c["rule"])
        assert c["kind"] in comparison.CHECK_KINDS
    again = comparison.Comparison.from_dict(d)
    assert [c.passed for c in again.checks] == [c.passed for c in comp.checks]
    assert again.verdict == comp.verdict
