"""The paradigm registry: schemas, the checks on bad data (one line naming file, row, column), recovery."""

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
    assert [c.name for c in de.columns] == ["subject", "set_size", "error_rad"]
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


RECOVERY = {  # ranges of the simulated participants (the recovery's truth)
    "mixture2p": {"p_mem": (0.3, 0.95), "sd_rad": (0.2, 0.8)},
    "mixture3p": {"p_mem": (0.5, 0.95), "p_swap": (0.05, 0.4), "sd_rad": (0.2, 0.6)},
    "slots_averaging": {"K": (1.5, 5.5), "sd1_rad": (0.2, 0.6)},
    "vp": {"J1": (10.0, 60.0), "alpha": (0.5, 2.0), "tau": (2.0, 30.0)},
    "workspace": {"K": (1.5, 5.5), "sd1_rad": (0.15, 0.5), "s": (0.2, 3.0)},
    "fixed_capacity": {"K": (1.5, 5.0), "a": (0.8, 0.99), "g": (0.3, 0.7)},
    "sdt": {"d1": (2.0, 6.0), "alpha": (0.3, 1.5), "c": (-0.5, 0.5)},
}
MAIN = {  # the parameters whose recovery must reach r > 0.9
    "mixture2p": ("p_mem", "sd_rad"),
    "mixture3p": ("p_mem", "p_swap", "sd_rad"),
    "slots_averaging": ("K", "sd1_rad"),
    "vp": ("J1", "alpha"),
    "workspace": ("K", "sd1_rad"),
    "fixed_capacity": ("K",),
    "sdt": ("d1", "alpha"),
}
MODELS = {**wm.DELAYED_ESTIMATION, **wm.CHANGE_DETECTION}


def _recover(name, n_subjects, n_trials):
    res = fit.recover(MODELS[name], RECOVERY[name], n_trials, n_subjects, key=jax.random.key(7), n_starts=2)
    return res.table.set_index("parameter")


FAST = ("fixed_capacity", "mixture2p")


@pytest.mark.parametrize(
    "name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in sorted(RECOVERY)]
)
def test_parameter_recovery_small(name):
    """12 participants x 500 trials, r > 0.8 for the main parameters (two models by default, the rest slow:
    each takes minutes on a loaded 2-core machine)."""
    table = _recover(name, 12, 500)
    for p in MAIN[name]:
        assert table.loc[p, "correlation"] > 0.8, (name, p, table.loc[p].to_dict())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RECOVERY))
def test_parameter_recovery_50_participants_500_trials(name):
    """The acceptance criterion: r > 0.9 for the main parameters over 50 participants x 500 trials."""
    table = _recover(name, 50, 500)
    for p in MAIN[name]:
        assert table.loc[p, "correlation"] > 0.9, (name, p, table.loc[p].to_dict())
