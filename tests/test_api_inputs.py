"""The Python API's entry points refuse bad arguments with a CogsimError naming the argument, the value and
what is allowed, before anything is computed or written."""

from __future__ import annotations

import pytest

from cogsim import runner, sweep
from cogsim.errors import CogsimError


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"grid": {"sim_K": 2}}, "grid['sim_K']: got 2; allowed: a non-empty list"),
        ({"grid": {"sim_K": "12"}}, "grid['sim_K']: got '12'"),
        ({"grid": {"sim_K": []}}, "grid['sim_K']: got []"),
        ({"grid": "sim_K=1,2"}, "grid: got 'sim_K=1,2'; allowed"),
        ({"grid": {"sim_K": [1, 2]}, "seeds": 2.5}, "seeds: got 2.5; allowed: a count"),
        ({"grid": {"sim_K": [1, 2]}, "seeds": "3"}, "seeds: got '3'"),
        ({"grid": {"sim_K": [1, 2]}, "seeds": [0, 0]}, "seeds: got [0, 0]"),
        ({"grid": {"sim_K": [1, 2]}, "seeds": [0, 1.5]}, "seed: got 1.5"),
        ({"grid": {"sim_K": [1, 1.0]}}, "given more than once; allowed: distinct values"),
        ({"grid": ["sim_K=1,2"], "overrides": ["sim_K=2"]}, "given both with --set and in --grid"),
        ({"grid": ["sim_K=1,2"], "overrides": "n_boot=20"}, "overrides: got 'n_boot=20'"),
        ({"grid": ["sim_K=1,2"], "out": ""}, "sweep: out: got ''; allowed: a folder path"),
        ({"grid": ["sim_K=1,2"], "out": None}, "sweep: out: got None"),
    ],
)
def test_sweep_run_refuses_bad_arguments(kwargs, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kwargs = {"out": tmp_path / "o", **kwargs}
    with pytest.raises(CogsimError) as err:
        sweep.run("change_detection", log=lambda *_: None, **kwargs)
    assert needle in str(err.value)
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"overrides": "n_boot=5"}, "overrides: got 'n_boot=5'; allowed: a list of 'field=value' strings"),
        ({"overrides": [5]}, "overrides: got (5,)"),
        ({"out": None}, "run: out: got None; allowed: a folder path"),
        ({"out": ""}, "run: out: got ''"),
    ],
)
def test_runner_run_refuses_bad_arguments(kwargs, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kwargs = {"out": tmp_path / "o", **kwargs}
    with pytest.raises(CogsimError) as err:
        runner.run("iconic_memory", **kwargs)
    assert needle in str(err.value)
    assert not any(tmp_path.iterdir())


def test_run_suite_checks_the_preset_of_every_scenario_first(tmp_path):
    with pytest.raises(CogsimError, match="unknown preset 'nosuch'"):
        runner.run_suite(names=["iconic_memory"], preset="nosuch", out=tmp_path / "r", log=lambda *_: None)
    assert not (tmp_path / "r").exists()
