"""The paradigm registry: schemas, the checks on bad data (one line naming file, row, column), recovery."""

import functools

import jax
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("cogsim.fit")

from cogsim import data, fit  # noqa: E402
from cogsim.errors import CogsimError, DataError  # noqa: E402
from cogsim.models import paradigms  # noqa: E402
from cogsim.models import working_memory as wm  # noqa: E402


def test_registry_names_and_models():
    assert {"change_detection", "delayed_estimation", "visual_search"} <= set(paradigms.names())
    de = paradigms.get("delayed_estimation")
    assert set(de.models) == {"uniform", "mixture2p", "mixture3p", "slots_averaging", "vp", "workspace"}
    assert [c.name for c in de.columns] == ["subject", "set_size", "error_rad", "experiment"]
    assert [c.name for c in de.columns if not c.required] == ["experiment"]
    with pytest.raises(CogsimError, match="allowed: change_detection, delayed_estimation"):
        paradigms.get("nope")


def test_packaged_data_pass_the_checks():
    de = paradigms.get("delayed_estimation")
    zl = de.read(data.load("zhang_luck2008_delayed_estimation"))
    assert len(zl) == 4000 and "nontarget_5_rad" in zl.columns and "trial" in zl.attrs["extra_columns"]
    cd = paradigms.get("change_detection")
    assert len(cd.read(data.load("adam2015_change_detection"))) == 12000


def _write(tmp_path, frame):
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_degrees_by_mistake_name_file_row_and_column(tmp_path):
    df = data.load("zhang_luck2008_delayed_estimation").head(20).copy()
    df.loc[3, "error_rad"] = np.degrees(df.loc[3, "error_rad"]) + 100.0
    with pytest.raises(DataError, match=r"t\.csv: row 4, column 'error_rad'.*degrees"):
        paradigms.get("delayed_estimation").read(_write(tmp_path, df))


def test_too_many_nontargets_for_the_set_size(tmp_path):
    df = data.load("zhang_luck2008_delayed_estimation").head(20).copy()
    i = int(np.flatnonzero(df.set_size.to_numpy() == 1)[0])
    df.loc[i, "nontarget_1_rad"] = 0.5
    with pytest.raises(DataError, match=rf"row {i + 1}, column 'nontarget_1_rad'.*set_size - 1"):
        paradigms.get("delayed_estimation").read(_write(tmp_path, df))


def test_proportion_where_a_trial_outcome_is_expected(tmp_path):
    df = pd.DataFrame({"subject": ["a", "a"], "set_size": [2, 4], "change": [1, 0], "correct": [1, 0.85]})
    with pytest.raises(DataError, match=r"row 2, column 'correct'.*proportion"):
        paradigms.get("change_detection").read(_write(tmp_path, df))


def test_base_rate_as_log_odds_is_refused(tmp_path):
    df = pd.DataFrame(
        {
            "subject": [1, 1],
            "set_size": [2, 4],
            "change": [1, 0],
            "correct": [1, 0],
            "base_rate": [0.0, -0.847],
        }
    )
    with pytest.raises(DataError, match=r"row 2, column 'base_rate'.*log-odds"):
        paradigms.get("change_detection").read(_write(tmp_path, df))


MODELS = {**wm.DELAYED_ESTIMATION, **wm.CHANGE_DETECTION}
RANGES, MAIN = wm.RECOVERY_RANGES, wm.MAIN_PARAMETERS  # the declared table benchmarks/recovery.py reads too

#: main parameters whose r the benchmark measured at or below 0.9 at the acceptance sizes (50 participants x
#: 500 trials, the same ranges, seed and starts): expected to miss the bar. All from the rerun at 4b8e890,
#: benchmarks/results/recovery_2026-12-05.json (workspace `K` 0.531 before, recovery_workspace.json; the
#: others the same to 0.001 as in recovery_2026-12-04.json).
#: fixed_capacity_base_rate `K` (0.686 there) left the list with the fixed-capacity start points below the
#: K plateau: r 0.927, benchmarks/results/recovery_plateau.json
BELOW_BAR = {
    ("mixture3p", "p_swap"): 0.843,
    ("vp", "J1"): 0.891,
    ("workspace", "K"): 0.515,
    ("sdt", "d1"): 0.737,
    ("sdt", "alpha"): 0.750,
    ("sdt_base_rate", "d1"): 0.630,
    ("sdt_base_rate", "alpha"): 0.643,
}


def _recover(name, n_subjects, n_trials, seed=7):
    key, starts = jax.random.key(seed), wm.RECOVERY_STARTS
    res = fit.recover(MODELS[name], RANGES[name], n_trials, n_subjects, key=key, n_starts=starts)
    return res.table.set_index("parameter")


FAST = ("fixed_capacity", "mixture2p")


def test_the_declared_table_covers_every_model():
    for name, model in MODELS.items():
        if model.params:
            assert set(RANGES[name]) == {p.name for p in model.params}, name
            assert set(MAIN[name]) <= set(RANGES[name]), name


def _small_cases():
    for name, params in MAIN.items():
        params = tuple(p for p in params if (name, p) not in BELOW_BAR)
        if params:
            yield pytest.param(name, params, marks=() if name in FAST else pytest.mark.slow, id=name)


@pytest.mark.parametrize(("name", "params"), list(_small_cases()))
def test_parameter_recovery_small(name, params):
    """12 participants x 500 trials, r > 0.8 for the main parameters that pass the acceptance bar in the
    benchmark (the others are the expected failures below; two models by default, the rest slow: each takes
    minutes on a loaded 2-core machine)."""
    table = _recover(name, 12, 500)
    for p in params:
        assert table.loc[p, "correlation"] > 0.8, (name, p, table.loc[p].to_dict())


@functools.cache
def _acceptance(name):
    return _recover(name, 50, 500, seed=wm.RECOVERY_SEED)


def _acceptance_cases():
    for name, params in MAIN.items():
        for p in params:
            marks = [pytest.mark.slow]
            if (name, p) in BELOW_BAR:
                r = BELOW_BAR[name, p]
                marks.append(pytest.mark.xfail(strict=True, reason=f"benchmark measured r = {r} (<= 0.9)"))
            yield pytest.param(name, p, marks=marks, id=f"{name}-{p}")


@pytest.mark.parametrize(("name", "param"), list(_acceptance_cases()))
def test_parameter_recovery_50_participants_500_trials(name, param):
    """The acceptance criterion: r > 0.9 for each main parameter over 50 participants x 500 trials, at the
    declared ranges, seed and starts of benchmarks/recovery.py (one recovery per model, shared by its
    parameters)."""
    table = _acceptance(name)
    assert table.loc[param, "correlation"] > 0.9, (name, param, table.loc[param].to_dict())
