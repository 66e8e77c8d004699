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


def _gauss_data():
    import numpy as np
    import pandas as pd

    return pd.DataFrame({"subject": 1, "x": np.random.default_rng(0).normal(2.0, 0.5, 40)})


class _Gauss:
    name, by_set_size, requires = "gauss", False, ()

    @property
    def params(self):
        from cogsim.fit import Param

        return (Param("mu"), Param("sd", 0.0, default=1.0))

    def loglik(self, p, t):
        import jax

        return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], p["sd"])


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"level": "0.95"}, "fit level: got '0.95'; allowed: a confidence level in (0, 1)"),
        ({"level": 95}, "fit level: got 95; allowed: a confidence level in (0, 1)"),
        ({"n_starts": True}, "fit: got n_starts=True; allowed: an integer >= 1"),
        ({"n_starts": 2.0}, "fit: got n_starts=2.0; allowed: an integer >= 1"),
        ({"cv": True}, "fit: got cv=True; allowed: an integer >= 2 (folds), or None"),
    ],
)
def test_fit_refuses_bad_arguments(kwargs, needle):
    import jax

    from cogsim import fit

    with pytest.raises(CogsimError) as err:
        fit.fit(_Gauss(), _gauss_data(), ci=None, key=jax.random.key(0), **kwargs)
    assert needle in str(err.value)


def test_fit_takes_numpy_integers_with_the_same_numbers():
    import jax
    import numpy as np

    from cogsim import fit

    args = {"ci": None, "key": jax.random.key(0)}
    plain = fit.fit(_Gauss(), _gauss_data(), n_starts=2, cv=3, **args)
    numpy = fit.fit(_Gauss(), _gauss_data(), n_starts=np.int64(2), cv=np.int64(3), **args)
    assert numpy.settings == plain.settings
    assert numpy.summary.drop(columns="model").equals(plain.summary.drop(columns="model"))


def test_fit_given_a_model_name_as_text_says_how_to_get_the_model():
    import jax

    from cogsim import fit

    with pytest.raises(CogsimError) as err:
        fit.fit("fixed_capacity", _gauss_data(), ci=None, key=jax.random.key(0))
    assert str(err.value) == (
        "model: got a model name as text ('fixed_capacity'); allowed: a model object, e.g. "
        "cogsim.models.paradigms.get(PARADIGM).models[NAME]"
    )


def test_fix_refuses_values_that_are_not_numbers():
    from cogsim import fit
    from cogsim.models import paradigms

    model = paradigms.get("change_detection").models["fixed_capacity"]
    for value in ("1", True):
        with pytest.raises(
            CogsimError, match=rf"fix 'fixed_capacity': got a={value!r}; allowed: a number from 0.0"
        ):
            fit.fix(model, {"a": value})
    with pytest.raises(
        CogsimError, match=r"got a='shared'; allowed: .* \(one value across set sizes: cogsim.fit.share\)"
    ):
        fit.fix(model, {"a": "shared"})
    assert fit.fix(model, {"a": 1}).name == "fixed_capacity[a=1]"


def test_paradigm_read_refuses_an_array_naming_what_it_reads():
    import numpy as np

    from cogsim.models import paradigms

    with pytest.raises(
        CogsimError, match=r"^read source: got ndarray; allowed: a pandas DataFrame or the path of a CSV"
    ):
        paradigms.get("change_detection").read(np.zeros((3, 4)))


def test_runner_run_refuses_another_scenarios_config(tmp_path):
    config = runner.make_config("change_detection")
    with pytest.raises(CogsimError) as err:
        runner.run("iconic_memory", config=config, out=tmp_path / "o")
    assert str(err.value).startswith(
        "run config: got a cogsim.scenarios.change_detection.Config; allowed: a "
        "cogsim.scenarios.iconic_memory.Config, the config of scenario 'iconic_memory'"
    )
    assert not any(tmp_path.iterdir())
