"""Looking scenarios up by name (the application layer) and the scenario contract as a Protocol."""

import types

import pytest

from cogsim import scenario_registry
from cogsim.errors import CogsimError
from cogsim.scenario_protocol import Scenario, SweepableScenario, missing


def test_every_registered_scenario_follows_the_protocol():
    names = scenario_registry.names()
    assert "change_detection" in names and not any(n.startswith("_") for n in names)
    for name in names:
        mod = scenario_registry.get(name)
        assert isinstance(mod, Scenario) and missing(mod) == [], name
        assert "quick" in mod.PRESETS, name
        if hasattr(mod, "sweep_point"):
            assert isinstance(mod, SweepableScenario), name


def test_unknown_names_list_the_known_ones():
    with pytest.raises(CogsimError, match="unknown scenario 'nope'; available: .*change_detection"):
        scenario_registry.get("nope")


def test_an_incomplete_module_is_refused(monkeypatch):
    import cogsim.scenarios

    fake = types.ModuleType("cogsim.scenarios.half_done")
    fake.Config, fake.PRESETS = object, {}
    monkeypatch.setitem(__import__("sys").modules, "cogsim.scenarios.half_done", fake)
    monkeypatch.setattr(scenario_registry, "names", lambda: ["half_done"])
    with pytest.raises(
        CogsimError, match=r"'half_done' is missing \['simulate', 'reference', 'compare', 'plot'\]"
    ):
        scenario_registry.get("half_done")
    assert not isinstance(fake, Scenario)
    assert cogsim.scenarios.__name__ == "cogsim.scenarios"


def test_the_library_layer_does_not_look_scenarios_up():
    """Only the application layer (runner, sweep, cli, compare_command, suite_report, scenario_*) imports
    the registry."""
    import pathlib

    import cogsim

    root = pathlib.Path(cogsim.__file__).parent
    app = {
        "cli.py",
        "cli_listing.py",
        "compare_command.py",
        "runner.py",
        "scenario_info.py",
        "scenario_registry.py",
        "suite_report.py",
        "__init__.py",
    }
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] == "sweep" or str(rel) in app:
            continue
        text = path.read_text()
        assert "scenario_registry" not in text, rel


def test_the_readme_table_shows_every_scenario_and_its_last_paper_verdict():
    """The README's scenario table has a row per registered scenario, and its paper column is the scenario's
    ``PAPER_RUN`` (verdict, checks passed, date) or "not measured" where none is recorded."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    header = "| scenario | paradigm and data | model | data kind | verdict (quick) | verdict (paper) |"
    assert header in readme
    rows = {}
    for line in readme[readme.index(header) :].splitlines()[2:]:
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    assert set(rows) == set(scenario_registry.names())
    for name, cells in rows.items():
        paper = getattr(scenario_registry.get(name), "PAPER_RUN", None)
        want = "not measured" if paper is None else f"{paper.verdict} ({paper.checks_passed}, {paper.date})"
        assert cells[5] == want, (name, cells[5], want)


def test_data_fields_name_config_fields_and_the_quick_presets_run_on_the_paper_data():
    """``DATA_FIELDS`` names fields of the scenario's Config; the quick preset runs on (part of) the paper
    preset's data, so the paper verdict is shown beside it; another file in those fields hides it."""
    import dataclasses

    from cogsim.scenario_protocol import paper_run_applies

    declared = [n for n in scenario_registry.names() if getattr(scenario_registry.get(n), "DATA_FIELDS", ())]
    assert {"change_detection", "delayed_estimation", "search_rt_distributions"} <= set(declared)
    for name in declared:
        mod = scenario_registry.get(name)
        fields = {f.name for f in dataclasses.fields(mod.Config)}
        assert set(mod.DATA_FIELDS) <= fields, name
        if "paper" in mod.PRESETS:
            assert paper_run_applies(mod, mod.PRESETS["quick"]), name
            field = mod.DATA_FIELDS[0]
            other = ("other.csv",) if isinstance(getattr(mod.PRESETS["quick"], field), tuple) else "other.csv"
            assert not paper_run_applies(mod, dataclasses.replace(mod.PRESETS["quick"], **{field: other}))
