"""The record of a model-vs-human comparison: metrics, checks as contrasts, the data kind and the verdict.

Every scenario's ``compare(sim, human)`` returns a :class:`Comparison`. Its checks are :class:`Check` records
built by :meth:`Check.of`: a ``value`` (a contrast: model minus human, condition minus control, a slope, a
fraction of the noise ceiling), its ``ci`` where one can exist, a ``threshold`` and a ``rule`` that says how
the two decide ``passed``. When a CI exists the rule must use it (``ci_above``, ``ci_below``, ``ci_contains``,
``ci_within``, ``ci_overlaps``); the point-value rules (``above``, ``below``, ``within``) are for checks
without a CI. ``source`` says where the threshold comes from: ``"paper"`` or ``"declared"`` (a rule written in
the scenario's docs before the run), and ``basis`` cites it. A check the data in hand cannot decide (a
set-size contrast on data of one set size; a CI over participants from one participant) is built with
``tested=False``: it never passes, it counts neither as passed nor as failed, and its ``detail`` says why.

The verdict comes from a fixed vocabulary (:data:`VERDICTS`):

- ``match``: human data exist (``data_kind`` is not ``"none"``), every check is tested and passes, and at
  least one passing check is of kind ``"agreement"``: the model's agreement with the human data beats a
  stated baseline (a baseline model, chance, or a fraction of the human noise ceiling);
- ``partial``: some checks pass, or all pass without an agreement check or with some not tested;
- ``mismatch``: some checks are tested and none passes;
- ``untested``: compared with human data, and no check could be tested: none applies to the run's settings
  (e.g. models no check scores), or the data could test none of them;
- ``demonstration``: no human data (``data_kind="none"``), or a scenario whose effects are built into the
  model's structure (it says so by passing ``verdict="demonstration"``).

Example:
  >>> c = Check.of("slope above zero", value=12.0, ci=(8.0, 16.0), threshold=0.0, rule="ci_above",
  ...              source="declared", basis="docs: a positive slope")
  >>> c.passed
  True
  >>> comp = Comparison(metrics=(Metric("slope", 12.0, 8.0, 16.0),), checks=(c,))
  >>> comp.with_context(data_kind="none").verdict
  'demonstration'
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from cogsim._json import json_ready
from cogsim.errors import CogsimError

#: the verdicts a comparison may carry
VERDICTS: tuple[str, ...] = ("match", "partial", "mismatch", "untested", "demonstration")
#: the data kinds (the same as :data:`cogsim.reference.DATA_KINDS`)
DATA_KINDS: tuple[str, ...] = ("trial_level", "published_means", "none")
#: pass rules that use the CI, and those for checks without one
CI_RULES: tuple[str, ...] = ("ci_above", "ci_below", "ci_contains", "ci_within", "ci_overlaps")
VALUE_RULES: tuple[str, ...] = ("above", "below", "within")
RULES: tuple[str, ...] = CI_RULES + VALUE_RULES
#: where a threshold comes from
SOURCES: tuple[str, ...] = ("paper", "declared")
#: kinds of check: an effect the model should show, or agreement with the human data beating a baseline
CHECK_KINDS: tuple[str, ...] = ("effect", "agreement")
#: the metric name the scorecard reads as "model agreement as a fraction of the human noise ceiling"
CEILING_METRIC = "fraction_of_noise_ceiling"
#: why a comparison with human data has no check (its verdict is ``untested``)
NO_CHECK_APPLIES = "no check applies to these settings"

Threshold = float | tuple[float, float]


def _interval(x: Any, what: str, *, finite: bool = True) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in x)
    except (TypeError, ValueError):
        raise CogsimError(f"{what}={x!r} must be a pair (low, high) of numbers") from None
    if (finite and not (math.isfinite(lo) and math.isfinite(hi))) or lo > hi:
        raise CogsimError(f"{what}={x!r} must {'be finite with' if finite else 'have'} low <= high")
    return lo, hi


def _number(x: Any, what: str, *, finite: bool = True) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise CogsimError(f"{what}={x!r} must be a number") from None
    if finite and not math.isfinite(v):
        raise CogsimError(f"{what}={x!r} must be finite")
    return v


def _value_ci(value: Any, ci: Any) -> tuple[float | None, tuple[float, float] | None]:
    """``Check.value`` as a float and ``Check.ci`` as ``(low, high)`` floats with low <= high, each None when
    absent; NaN is allowed (no value or no CI: the check fails)."""
    v = None if value is None else _number(value, "Check.value", finite=False)
    return v, None if ci is None else _interval(ci, "Check.ci", finite=False)


def evaluate_rule(rule: str, *, value: float | None, ci: Any, threshold: Any) -> bool:
    """Whether a check passes under ``rule`` (see the module docstring).

    ``ci_above``/``ci_below``: the whole CI lies above/below the threshold; ``ci_contains``: the CI holds the
    threshold (e.g. model minus human includes 0); ``ci_within``: the CI lies inside the threshold interval
    (an equivalence test); ``ci_overlaps``: the CI overlaps the threshold interval (e.g. the human CI);
    ``above``/``below``: the value is above/below the threshold; ``within``: inside the threshold interval.
    A value or CI that is not finite fails the check (a value of None is allowed with a CI rule).

    Raises:
      CogsimError: an unknown rule; a ``ci`` missing (CI rules), present (value rules) or not two numbers
        with low <= high (NaN allowed); a ``value`` or threshold of the wrong form.

    Example:
      >>> evaluate_rule("ci_contains", value=0.1, ci=(-0.2, 0.4), threshold=0.0)
      True
      >>> evaluate_rule("within", value=3.0, ci=None, threshold=(0.0, 2.0))
      False
    """
    if rule not in RULES:
        raise CogsimError(f"Check.rule={rule!r} is not allowed; choose one of {RULES}")
    value, ci = _value_ci(value, ci)
    if rule in CI_RULES:
        if ci is None:
            raise CogsimError(f"Check.rule={rule!r} needs a ci; use one of {VALUE_RULES} without one")
        lo, hi = ci
        if not (math.isfinite(lo) and math.isfinite(hi)) or (value is not None and not math.isfinite(value)):
            return False
        if rule in ("ci_within", "ci_overlaps"):
            t_lo, t_hi = _interval(threshold, "Check.threshold")
            return bool(t_lo <= lo and hi <= t_hi) if rule == "ci_within" else bool(lo <= t_hi and t_lo <= hi)
        t = _number(threshold, "Check.threshold")
        return {"ci_above": lo > t, "ci_below": hi < t, "ci_contains": lo <= t <= hi}[rule]
    if ci is not None:
        raise CogsimError(f"Check.rule={rule!r} ignores the ci it was given; use one of {CI_RULES}")
    if value is None or not math.isfinite(value):
        return False
    if rule == "within":
        t_lo, t_hi = _interval(threshold, "Check.threshold")
        return t_lo <= value <= t_hi
    t = _number(threshold, "Check.threshold")
    return value > t if rule == "above" else value < t


@dataclasses.dataclass(frozen=True)
class Metric:
    """A named number, optionally with a confidence interval and the human value it is compared with.

    Example:
      >>> m = Metric("capacity_k", 3.1, ci_low=2.6, ci_high=3.5, human=3.0)
      >>> print(Comparison((m,)).summary().splitlines()[0])
        capacity_k                         3.1 [2.6, 3.5]  (human 3)
    """

    name: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    human: float | None = None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Check:
    """One effect or agreement the model should show, as a contrast with a threshold.

    Build checks with :meth:`Check.of`, which computes ``passed`` from the rule. A check built directly with
    a ``rule`` must have the ``passed`` its rule gives. (A bare ``Check(name, passed)`` without a rule is the
    old form; :meth:`Comparison.schema_problems` lists it.)

    Attributes:
      name: what is checked, in words.
      passed: whether it holds.
      detail: numbers or context for the reader.
      value: the contrast or statistic.
      ci: its confidence interval ``(low, high)``, or None where none can exist.
      threshold: a number, or an interval ``(low, high)`` for ``*within``/``ci_overlaps``.
      rule: how ``value``/``ci`` and ``threshold`` decide ``passed`` (:data:`RULES`).
      source: ``"paper"`` or ``"declared"``.
      basis: the citation or the declared rule, in words.
      kind: ``"effect"`` or ``"agreement"`` (agreement with the human data beating a stated baseline).
      tested: False where the data cannot decide the check (then ``passed`` is False and ``detail`` says
        why); such a check counts neither as passed nor as failed.

    Example:
      >>> c = Check.of("K rises with set size", value=1.2, ci=(0.4, 2.0), threshold=0.0, rule="ci_above",
      ...              source="paper", basis="Rouder et al. 2008")
      >>> c.passed, c.tested, c.problems()
      (True, True, [])
      >>> Check("K rises with set size", passed=False, value=1.2, ci=(0.4, 2.0), threshold=0.0,
      ...       rule="ci_above", source="paper")
      Traceback (most recent call last):
      ...
      cogsim.errors.CogsimError: Check 'K rises with set size': passed=False but rule 'ci_above' gives True
    """

    name: str
    passed: bool
    detail: str = ""
    value: float | None = None
    ci: tuple[float, float] | None = None
    threshold: Threshold | None = None
    rule: str | None = None
    source: str | None = None
    basis: str = ""
    kind: Literal["effect", "agreement"] = "effect"
    tested: bool = True

    def __post_init__(self):
        if isinstance(self.passed, np.bool_):
            object.__setattr__(self, "passed", bool(self.passed))
        if not isinstance(self.passed, bool):
            raise CogsimError(f"Check.passed={self.passed!r} must be True or False ({self.name!r})")
        value, ci = _value_ci(self.value, self.ci)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "ci", ci)
        if isinstance(self.threshold, (list, tuple, np.ndarray)):
            object.__setattr__(self, "threshold", tuple(float(v) for v in self.threshold))
        elif self.threshold is not None and not isinstance(self.threshold, str):
            object.__setattr__(self, "threshold", float(self.threshold))
        if self.source is not None and self.source not in SOURCES:
            raise CogsimError(f"Check.source={self.source!r} is not allowed; choose one of {SOURCES}")
        if self.kind not in CHECK_KINDS:
            raise CogsimError(f"Check.kind={self.kind!r} is not allowed; choose one of {CHECK_KINDS}")
        if self.rule is not None and self.rule not in RULES:
            raise CogsimError(f"Check.rule={self.rule!r} is not allowed; choose one of {RULES}")
        if not isinstance(self.tested, (bool, np.bool_)):
            raise CogsimError(f"Check.tested={self.tested!r} must be True or False ({self.name!r})")
        object.__setattr__(self, "tested", bool(self.tested))
        if not self.tested:
            if self.passed:
                raise CogsimError(f"Check {self.name!r}: a check that is not tested cannot pass")
            if not self.detail:
                raise CogsimError(f"Check {self.name!r}: a check that is not tested must say why (detail)")
        elif self.rule is not None:
            expected = evaluate_rule(self.rule, value=self.value, ci=self.ci, threshold=self.threshold)
            if expected != self.passed:
                raise CogsimError(
                    f"Check {self.name!r}: passed={self.passed} but rule {self.rule!r} gives {expected}"
                )

    @classmethod
    def of(
        cls,
        name: str,
        *,
        value: float | None,
        threshold: Threshold,
        rule: str,
        source: str,
        ci: tuple[float, float] | None = None,
        basis: str = "",
        detail: str = "",
        kind: Literal["effect", "agreement"] = "effect",
        tested: bool = True,
        why_untested: str = "",
    ) -> Check:
        """A check whose ``passed`` follows from ``rule`` applied to ``value``/``ci`` and ``threshold``; with
        ``tested=False`` (the data cannot decide it) it does not pass, and ``detail`` says why: it ends in
        ``"; not tested: <why_untested>"`` (or is ``"not tested: <why_untested>"`` when empty) where
        ``why_untested`` is given.

        Example:
          >>> Check.of("model within the human CI", value=0.52, threshold=(0.45, 0.60), rule="within",
          ...          source="declared", kind="agreement").passed
          True
          >>> Check.of("rises with set size", value=float("nan"), ci=(float("nan"),) * 2, threshold=0.0,
          ...          rule="ci_above", source="paper", tested=False, detail="one set size").passed
          False
          >>> Check.of("rises with set size", value=float("nan"), threshold=0.0, rule="ci_above",
          ...          source="paper", tested=False, why_untested="one set size (N = 4)").detail
          'not tested: one set size (N = 4)'
        """
        if value is not None and isinstance(value, (float, np.floating)) and not math.isfinite(value):
            value = float("nan")
        # not tested: the rule is not applied (its threshold may not exist: a human CI from one participant)
        passed = bool(tested) and evaluate_rule(rule, value=value, ci=ci, threshold=threshold)
        if not tested and why_untested:
            detail = f"{detail}; not tested: {why_untested}" if detail else f"not tested: {why_untested}"
        return cls(
            name=name,
            passed=passed,
            detail=detail,
            value=value,
            ci=ci,
            threshold=threshold,
            rule=rule,
            source=source,
            basis=basis,
            kind=kind,
            tested=tested,
        )

    def problems(self) -> list[str]:
        """What this check lacks of the schema (empty when complete)."""
        lacks = {
            "has no rule": self.rule is None,
            "has no threshold": self.threshold is None,
            "has no source": self.source is None,
            "has no value": self.rule in VALUE_RULES and self.value is None,
            f"has a CI its rule {self.rule!r} does not use": self.ci is not None
            and self.rule not in CI_RULES,
        }
        return [f"check {self.name!r} {what}" for what, yes in lacks.items() if yes]


@dataclasses.dataclass(frozen=True)
class PaperRun:
    """The last measured verdict of a scenario's paper preset, shown beside a quicker preset's verdict.

    Attributes:
      verdict: the paper preset's verdict.
      checks_passed: e.g. ``"4/5"``.
      date: ISO date of the run.
      commit: the commit it ran on.
      note: anything the reader needs (what differs from the quick preset).

    Example:
      >>> paper = PaperRun("match", "5/5", "2025-06-01", "abc1234", note="all 23 participants")
      >>> print(Comparison((Metric("k", 3.1),), paper=paper).summary().splitlines()[-1])
        paper preset (2025-06-01, abc1234): match (5/5 checks)  all 23 participants
    """

    verdict: str
    checks_passed: str
    date: str
    commit: str
    note: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise CogsimError(f"PaperRun.verdict={self.verdict!r} is not allowed; choose one of {VERDICTS}")


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The result of holding a simulation up against human data.

    Attributes:
      metrics: named numbers (fit statistics, parameters with CIs).
      checks: the contrasts, each passed or failed.
      key: name of the metric the suite summary shows.
      verdict: one of :data:`VERDICTS`; derived from the checks and the data kind when not given.
      tables: extra tidy tables (e.g. predicted vs observed by condition), written next to the run.
      data_kind: ``"trial_level"``, ``"published_means"`` or ``"none"``; the runner sets it from the
        scenario's reference data (:meth:`with_context`).
      paper: the paper preset's last measured verdict, when this run is of another preset.

    Example:
      >>> effect = Check.of("K rises with set size", value=1.2, ci=(0.4, 2.0), threshold=0.0,
      ...                   rule="ci_above", source="paper", basis="Rouder et al. 2008")
      >>> fit = Check.of("RMSE below the baseline's", value=0.05, threshold=0.08, rule="below",
      ...                source="declared", kind="agreement")
      >>> comp = Comparison(metrics=(Metric("rmse", 0.05), Metric("k", 3.1, 2.6, 3.5, human=3.0)),
      ...                   checks=(effect, fit), key="k", data_kind="trial_level")
      >>> comp.verdict, comp.checks_passed, comp.key_metric.value
      ('match', '2/2', 3.1)
      >>> print(comp.summary())
        rmse                               0.05
        k                                  3.1 [2.6, 3.5]  (human 3)
        [PASS] K rises with set size: 1.2 [0.4, 2], ci_above 0 (paper: Rouder et al. 2008)
        [PASS] RMSE below the baseline's: 0.05, below 0.08 (declared)
        verdict: match (2/2 checks)  data: trial_level
      >>> Comparison.from_dict(comp.to_dict()) == comp
      True
    """

    metrics: tuple[Metric, ...]
    checks: tuple[Check, ...] = ()
    key: str | None = None
    verdict: str | None = None
    tables: Mapping[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    data_kind: str | None = None
    paper: PaperRun | None = None
    derived: bool = dataclasses.field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.data_kind is not None and self.data_kind not in DATA_KINDS:
            raise CogsimError(
                f"Comparison.data_kind={self.data_kind!r} is not allowed; choose one of {DATA_KINDS}"
            )
        if self.verdict is None:
            object.__setattr__(self, "derived", True)
            object.__setattr__(self, "verdict", verdict_from_checks(self.checks, data_kind=self.data_kind))
        elif self.verdict not in VERDICTS:
            raise CogsimError(f"Comparison.verdict={self.verdict!r} is not allowed; choose one of {VERDICTS}")
        elif self.verdict == "match":
            why = _why_not_match(self.checks, self.data_kind)
            if why:
                raise CogsimError(f"Comparison.verdict='match' is not allowed: {why}")
        names = [m.name for m in self.metrics]
        if self.key is not None and self.key not in names:
            raise CogsimError(f"Comparison.key={self.key!r} names no metric; have {names}")

    def with_context(self, *, data_kind: str, paper: PaperRun | None = None) -> Comparison:
        """This comparison with its data kind (and the paper preset's verdict) set; a derived verdict is
        derived again under the data kind.

        Example:
          >>> c = Check.of("up", value=1.0, threshold=0.0, rule="above", source="declared", kind="agreement")
          >>> Comparison((Metric("x", 1.0),), (c,)).with_context(data_kind="trial_level").verdict
          'match'
        """
        return dataclasses.replace(
            self, data_kind=data_kind, paper=paper, verdict=None if self.derived else self.verdict
        )

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"no metric {name!r}; have {[m.name for m in self.metrics]}")

    @property
    def key_metric(self) -> Metric | None:
        """The metric named by ``key``, else the first metric; None for a comparison without metrics."""
        return self.metric(self.key) if self.key else (self.metrics[0] if self.metrics else None)

    @property
    def checks_passed(self) -> str:
        """``"passed/tested"``, followed by ``" (n not tested)"`` when some checks are not tested."""
        passed, tested, untested = _counts(self.checks)
        return f"{passed}/{tested}" + (f" ({untested} not tested)" if untested else "")

    def schema_problems(self) -> list[str]:
        """What the comparison lacks of the schema: checks without rule/threshold/source, no data kind."""
        out = [] if self.data_kind is not None else ["no data_kind"]
        for c in self.checks:
            out += c.problems()
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key_metric.name if self.metrics else None,
            "verdict": self.verdict,
            "data_kind": self.data_kind,
            "checks_passed": self.checks_passed,
            "paper": dataclasses.asdict(self.paper) if self.paper else None,
            "metrics": [json_ready(dataclasses.asdict(m)) for m in self.metrics],
            "checks": [json_ready(dataclasses.asdict(c)) for c in self.checks],
            "tables": {k: json.loads(v.to_json(orient="records")) for k, v in self.tables.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Comparison:
        def check(c):
            c = dict(c)
            for k in ("ci", "threshold"):
                if isinstance(c.get(k), list):  # null ends were NaN
                    c[k] = tuple(math.nan if x is None else x for x in c[k])
            # a null value was NaN: left out (None)
            return Check(**{k: v for k, v in c.items() if k in _CHECK_FIELDS and (k, v) != ("value", None)})

        return cls(
            metrics=tuple(Metric(**m) for m in d["metrics"]),
            checks=tuple(check(c) for c in d.get("checks", ())),
            key=d.get("key"),
            verdict=d.get("verdict"),
            tables={k: pd.DataFrame(v) for k, v in d.get("tables", {}).items()},
            data_kind=d.get("data_kind"),
            paper=PaperRun(**d["paper"]) if d.get("paper") else None,
        )

    def summary(self) -> str:
        """A plain-text report: metrics with CIs, then each check, the data kind and the verdict."""
        lines = []
        for m in self.metrics:
            ci = f" [{_g(m.ci_low)}, {_g(m.ci_high)}]" if None not in (m.ci_low, m.ci_high) else ""
            hum = f"  (human {_g(m.human)})" if m.human is not None else ""
            note = f"  {m.note}" if m.note else ""
            lines.append(f"  {m.name:<34} {_g(m.value)}{ci}{hum}{note}")
        for c in self.checks:
            mark = "PASS" if c.passed else ("FAIL" if c.tested else "NOT TESTED")
            lines.append(f"  [{mark}] {c.name}{_check_numbers(c)}")
            if c.detail:
                lines.append(f"         {c.detail}")
        kind = f"  data: {self.data_kind}" if self.data_kind else ""
        passed, tested, untested = _counts(self.checks)
        counted = f"{passed}/{tested} checks" + (f", {untested} not tested" if untested else "")
        if not self.checks and self.data_kind not in (None, "none"):
            counted = NO_CHECK_APPLIES
        lines.append(f"  verdict: {self.verdict} ({counted}){kind}")
        if self.paper is not None:
            p = self.paper
            lines.append(
                f"  paper preset ({p.date}, {p.commit}): {p.verdict} ({p.checks_passed} checks)"
                + (f"  {p.note}" if p.note else "")
            )
        return "\n".join(lines)


_CHECK_FIELDS = {f.name for f in dataclasses.fields(Check)}


def _counts(checks: Sequence[Check]) -> tuple[int, int, int]:
    """How many checks passed, were tested, were not tested."""
    tested = sum(c.tested for c in checks)
    return sum(c.passed for c in checks), tested, len(checks) - tested


def _g(v: Any) -> str:
    """A number for the summary: 4 significant digits, ``nan`` for NaN, ``—`` for None (NaN read back)."""
    return "—" if v is None else f"{float(v):.4g}"


def _check_numbers(c: Check) -> str:
    if c.rule is None:
        return ""
    ci = f" [{_g(c.ci[0])}, {_g(c.ci[1])}]" if c.ci is not None else ""
    t = c.threshold
    ts = f"({_g(t[0])}, {_g(t[1])})" if isinstance(t, tuple) else ("-" if t is None else _g(t))
    v = "-" if c.value is None else _g(c.value)
    return f": {v}{ci}, {c.rule} {ts} ({c.source}{': ' + c.basis if c.basis else ''})"


def _why_not_match(checks: Sequence[Check], data_kind: str | None) -> str:
    if data_kind == "none":
        return "there are no human data (data_kind='none'); use 'demonstration'"
    if any(not c.tested for c in checks):
        return "some checks are not tested"
    if not checks:
        return NO_CHECK_APPLIES
    if not all(c.passed for c in checks):
        return "not every check passes"
    if not any(c.kind == "agreement" and c.passed for c in checks):
        return "no passing agreement check (agreement with the human data beating a stated baseline)"
    return ""


def verdict_from_checks(checks: Sequence[Check], *, data_kind: str | None = None) -> str:
    """The verdict the checks support (see the module docstring for the rules).

    Example:
      >>> ok = Check.of("effect", value=2.0, threshold=0.0, rule="above", source="paper")
      >>> verdict_from_checks([ok], data_kind="published_means")  # no agreement check
      'partial'
    """
    if data_kind == "none" or (data_kind is None and not checks):
        return "demonstration"
    if not any(c.tested for c in checks):  # none tested, or none applies to these settings
        return "untested"
    n = sum(c.passed for c in checks)
    if n == 0:
        return "mismatch"
    return "match" if not _why_not_match(checks, data_kind) else "partial"
