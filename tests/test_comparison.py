"""The comparison record: pass rules, the schema, and the verdict vocabulary."""

import json
import math

import pandas as pd
import pytest

from cogsim.comparison import (
    CI_RULES,
    VERDICTS,
    Check,
    Comparison,
    Metric,
    PaperRun,
    evaluate_rule,
    verdict_from_checks,
)
from cogsim.errors import CogsimError


def _check(passed_value: float, *, kind="effect"):
    return Check.of("c", value=passed_value, threshold=0.0, rule="above", source="declared", kind=kind)


@pytest.mark.parametrize(
    "rule, ci, threshold, expected",
    [
        ("ci_above", (0.1, 0.5), 0.0, True),
        ("ci_above", (-0.1, 0.5), 0.0, False),
        ("ci_below", (-0.5, -0.1), 0.0, True),
        ("ci_below", (-0.5, 0.1), 0.0, False),
        ("ci_contains", (-0.2, 0.3), 0.0, True),
        ("ci_contains", (0.1, 0.3), 0.0, False),
        ("ci_within", (0.1, 0.3), (0.0, 0.5), True),
        ("ci_within", (0.1, 0.6), (0.0, 0.5), False),
        ("ci_overlaps", (0.4, 0.6), (0.0, 0.5), True),
        ("ci_overlaps", (0.6, 0.7), (0.0, 0.5), False),
        ("ci_above", (math.nan, 0.5), 0.0, False),
    ],
)
def test_ci_rules_decide_from_the_interval(rule, ci, threshold, expected):
    assert evaluate_rule(rule, value=0.0, ci=ci, threshold=threshold) is expected


def test_a_ci_must_be_used_and_a_ci_rule_needs_one():
    with pytest.raises(CogsimError, match="ignores the ci"):
        Check.of("x", value=1.0, ci=(0.5, 1.5), threshold=0.0, rule="above", source="paper")
    with pytest.raises(CogsimError, match="needs a ci"):
        Check.of("x", value=1.0, threshold=0.0, rule="ci_above", source="paper")


def test_bad_fields_are_named():
    with pytest.raises(CogsimError, match="Check.rule='bigger'"):
        Check.of("x", value=1.0, threshold=0.0, rule="bigger", source="paper")
    with pytest.raises(CogsimError, match="Check.source='vibes'"):
        Check.of("x", value=1.0, threshold=0.0, rule="above", source="vibes")
    with pytest.raises(CogsimError, match="passed=True but rule 'above' gives False"):
        Check("x", True, value=-1.0, threshold=0.0, rule="above", source="paper")
    with pytest.raises(CogsimError, match="must be True or False"):
        Check("x", "True")
    with pytest.raises(CogsimError, match="Comparison.verdict='great'"):
        Comparison((Metric("m", 1.0),), verdict="great")


def test_match_needs_human_data_every_check_and_an_agreement_check():
    agree, effect, fail = _check(1.0, kind="agreement"), _check(1.0), _check(-1.0)
    assert verdict_from_checks([agree, effect], data_kind="trial_level") == "match"
    assert verdict_from_checks([effect], data_kind="published_means") == "partial"
    assert verdict_from_checks([agree, fail], data_kind="trial_level") == "partial"
    assert verdict_from_checks([fail], data_kind="trial_level") == "mismatch"
    assert verdict_from_checks([agree, effect], data_kind="none") == "demonstration"
    with pytest.raises(CogsimError, match="no human data"):
        Comparison((Metric("m", 1.0),), (agree,), verdict="match", data_kind="none")
    with pytest.raises(CogsimError, match="no passing agreement check"):
        Comparison((Metric("m", 1.0),), (effect,), verdict="match", data_kind="trial_level")


def _untested(kind="effect"):
    nan = math.nan
    return Check.of("set-size contrast", value=nan, ci=(nan, nan), threshold=0.0, rule="ci_above",
                    source="paper", tested=False, detail="not tested: one set size", kind=kind)  # fmt: skip


def test_a_check_the_data_cannot_decide_counts_neither_as_passed_nor_as_failed():
    agree, fail, no = _check(1.0, kind="agreement"), _check(-1.0), _untested()
    assert no.passed is False and no.tested is False
    assert verdict_from_checks([no, _untested("agreement")], data_kind="trial_level") == "untested"
    assert verdict_from_checks([agree, no], data_kind="trial_level") == "partial"  # not every check tested
    assert verdict_from_checks([fail, no], data_kind="trial_level") == "mismatch"
    assert verdict_from_checks([no], data_kind="none") == "demonstration"
    comp = Comparison((Metric("m", 1.0),), (agree, fail, no), data_kind="trial_level")
    assert comp.verdict == "partial" and comp.checks_passed == "1/2 (1 not tested)"
    assert "[NOT TESTED] set-size contrast" in comp.summary() and "[FAIL] " in comp.summary()
    assert Comparison((Metric("m", 1.0),), (agree, fail)).checks_passed == "1/2"
    with pytest.raises(CogsimError, match="no passing agreement check|some checks are not tested"):
        Comparison((Metric("m", 1.0),), (agree, no), verdict="match", data_kind="trial_level")
    back = Comparison.from_dict(json.loads(json.dumps(comp.to_dict())))
    assert [c.tested for c in back.checks] == [True, True, False] and back.verdict == "partial"
    # an old record without the field reads as tested
    old = comp.to_dict()
    for c in old["checks"]:
        c.pop("tested")
    assert all(c.tested for c in Comparison.from_dict(old).checks)


def test_a_check_not_tested_says_why_and_never_passes():
    with pytest.raises(CogsimError, match="must say why"):
        Check("x", False, tested=False)
    with pytest.raises(CogsimError, match="cannot pass"):
        Check("x", True, detail="one set size", tested=False)
    with pytest.raises(CogsimError, match="Check.tested='no'"):
        Check("x", False, tested="no")
    # a value that would pass is still not a pass when the data cannot decide the check
    c = Check.of("x", value=2.0, threshold=0.0, rule="above", source="paper", tested=False, detail="why")
    assert c.passed is False


def test_human_data_with_no_check_for_the_settings_is_untested_not_a_demonstration():
    assert verdict_from_checks([], data_kind="trial_level") == "untested"
    assert verdict_from_checks([], data_kind="published_means") == "untested"
    assert verdict_from_checks([], data_kind="none") == "demonstration"
    comp = Comparison((Metric("m", 1.0),)).with_context(data_kind="trial_level")
    assert comp.verdict == "untested" and comp.checks_passed == "0/0"
    assert "verdict: untested (no check applies to these settings)" in comp.summary()
    with pytest.raises(CogsimError, match="no check applies to these settings"):
        Comparison((Metric("m", 1.0),), verdict="match", data_kind="trial_level")
    stated = Comparison((Metric("m", 1.0),), verdict="demonstration")  # effects built into the model
    assert stated.with_context(data_kind="published_means").verdict == "demonstration"


def test_context_rederives_only_a_derived_verdict():
    agree = _check(1.0, kind="agreement")
    derived = Comparison((Metric("m", 1.0),), (agree,))
    assert derived.with_context(data_kind="trial_level").verdict == "match"
    assert derived.with_context(data_kind="none").verdict == "demonstration"
    stated = Comparison((Metric("m", 1.0),), (agree,), verdict="demonstration")
    assert stated.with_context(data_kind="trial_level").verdict == "demonstration"


def test_round_trip_through_json_keeps_the_schema():
    checks = (
        Check.of(
            "model minus human",
            value=0.1,
            ci=(-0.1, 0.3),
            threshold=0.0,
            rule="ci_contains",
            source="declared",
            basis="docs",
            kind="agreement",
        ),
        Check.of("in range", value=2.0, threshold=(1.0, 3.0), rule="within", source="paper"),
    )
    paper = PaperRun(verdict="partial", checks_passed="1/2", date="2026-01-01", commit="abc1234")
    comp = Comparison(
        (Metric("m", 1.0, 0.5, 1.5, human=0.9),), checks, tables={"t": pd.DataFrame({"x": [1]})}
    ).with_context(data_kind="trial_level", paper=paper)
    d = json.loads(json.dumps(comp.to_dict()))
    assert d["data_kind"] == "trial_level" and d["verdict"] == "match" and d["checks_passed"] == "2/2"
    for c in d["checks"]:
        assert isinstance(c["passed"], bool)
        assert {"value", "ci", "threshold", "source", "rule"} <= set(c)
    back = Comparison.from_dict(d)
    assert back.checks == checks and back.paper == paper and back.schema_problems() == []
    assert "paper preset (2026-01-01, abc1234): partial" in back.summary()


def test_schema_problems_list_the_old_form():
    comp = Comparison((Metric("m", 1.0),), (Check("bare", True),))
    problems = comp.schema_problems()
    assert "no data_kind" in problems and any("no rule" in p for p in problems)
    assert set(VERDICTS) == {"match", "partial", "mismatch", "untested", "demonstration"}
    assert "ci_above" in CI_RULES


def test_a_nan_ci_is_written_as_null_and_read_back():
    c = Check.of("x", value=0.2, ci=(math.nan, math.nan), threshold=0.0, rule="ci_above", source="declared")
    assert c.passed is False
    d = json.loads(json.dumps(Comparison((Metric("m", 1.0),), (c,)).to_dict(), allow_nan=False))
    assert d["checks"][0]["ci"] == [None, None]
    back = Comparison.from_dict(d).checks[0]
    assert back.passed is False and all(math.isnan(v) for v in back.ci)


# ------------------------------------------------------------------- bad or degenerate input (audit E)
def _ci_check(**kw):
    args = {"value": 3.0, "ci": (2.5, 4.0), "threshold": 2.0, "rule": "ci_above", "source": "paper"}
    return Check.of("x", **{**args, **kw})


@pytest.mark.parametrize("ci", [(5.0, 1.0), (1.0, 2.0, 3.0), ("a", "b"), (1.0,)])
def test_a_reversed_or_malformed_ci_is_refused_naming_it(ci):
    with pytest.raises(CogsimError, match=r"Check\.ci="):
        _ci_check(ci=ci)
    with pytest.raises(CogsimError, match=r"Check\.ci="):
        Check("x", False, value=3.0, ci=ci, threshold=2.0, rule="ci_above", source="paper")


def test_a_nan_ci_end_is_allowed_and_fails_the_check():
    assert not _ci_check(ci=(math.nan, 4.0)).passed


def test_a_nan_value_fails_a_ci_rule_and_a_text_value_is_refused():
    assert not _ci_check(value=math.nan, ci=(3.0, 4.0)).passed
    assert _ci_check(value=None, ci=(3.0, 4.0)).passed  # a CI rule may go without a value
    with pytest.raises(CogsimError, match=r"Check\.value='abc'"):
        Check.of("x", value="abc", threshold=0.0, rule="above", source="paper")


def test_a_key_naming_no_metric_is_refused_at_construction():
    with pytest.raises(CogsimError, match=r"key='b'.*\['a'\]"):
        Comparison((Metric("a", 1.0),), key="b")


def test_a_comparison_without_metrics_writes_and_reads_back():
    d = Comparison(()).to_dict()
    assert d["key"] is None and Comparison.from_dict(d).summary()


def test_summary_of_nan_metrics_read_back_prints_them():
    c = Comparison(
        (Metric("a", math.nan, math.nan, math.nan, human=math.nan),),
        (Check.of("x", value=math.nan, threshold=0.0, rule="above", source="paper"),),
        data_kind="trial_level",
    )
    assert "nan" in c.summary()
    back = Comparison.from_dict(json.loads(json.dumps(c.to_dict())))
    text = back.summary()
    assert "  a " in text and "—" in text and "[FAIL] x" in text
