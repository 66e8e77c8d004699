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
    """Only the application layer (runner, sweep, cli, scenario_*) imports the registry."""
    import pathlib

    import cogsim

    root = pathlib.Path(cogsim.__file__).parent
    app = {"cli.py", "cli_listing.py", "runner.py", "scenario_info.py", "scenario_registry.py", "__init__.py"}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] == "sweep" or str(rel) in app:
            continue
        text = path.read_text()
        assert "scenario_registry" not in text, rel
