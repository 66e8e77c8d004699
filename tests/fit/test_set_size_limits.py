"""Set sizes beyond a model's tables are refused with one line (file, row, column, value, model, range)."""

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import cli
from cogsim.errors import DataError
from cogsim.fit import fit
from cogsim.fit._model import check_set_sizes
from cogsim.models import working_memory as wm

#: the largest set size each table-based delayed-estimation model covers
LIMITS = {"slots_averaging": 16, "vp": 32, "workspace": 16}


def _trials(largest):
    rng = np.random.default_rng(0)
    n = np.tile([2, 4, largest], 10)
    return pd.DataFrame({"subject": 1, "set_size": n, "error_rad": rng.uniform(-3.0, 3.0, n.size)})


@pytest.mark.parametrize(("name", "limit"), sorted(LIMITS.items()))
def test_fit_refuses_set_sizes_above_the_models_table(name, limit):
    model = wm.DELAYED_ESTIMATION[name]
    assert model.max_set_size == limit
    df = _trials(limit + 1)
    with pytest.raises(DataError) as err:
        fit(model, df, ci=None, key=jax.random.key(0))
    msg = str(err.value)
    assert f"row 3, column 'set_size': got {limit + 1}; allowed: 1 to {limit} for model {name!r}" in msg
    assert "\n" not in msg


@pytest.mark.parametrize(("name", "limit"), sorted(LIMITS.items()))
def test_set_sizes_up_to_the_limit_pass(name, limit):
    model = wm.DELAYED_ESTIMATION[name]
    check_set_sizes(model, _trials(limit), "t.csv")
    with pytest.raises(DataError, match="got 0; allowed: 1 to"):
        check_set_sizes(model, _trials(0), "t.csv")


def test_models_without_a_table_take_any_set_size():
    for name in ("uniform", "mixture2p", "mixture3p"):
        assert getattr(wm.DELAYED_ESTIMATION[name], "max_set_size", None) is None


def test_cogsim_fit_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "big.csv"
    _trials(20).to_csv(path, index=False)
    argv = ["fit", "delayed_estimation", "--data", str(path), "--models", "slots_averaging"]
    assert cli.main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    # the paradigm takes any set size; the model asked for refuses the first row beyond its table
    assert "big.csv: row 3, column 'set_size': got 20; allowed: 1 to 16 for model 'slots_averaging'" in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("name", ["fixed_capacity", "sdt"])
@pytest.mark.parametrize(
    ("bad", "allowed"), [(2.5, "a whole number of items"), (0.0, "a whole number of items >= 1")]
)
def test_models_without_a_table_refuse_set_sizes_that_are_not_whole_numbers_from_1(name, bad, allowed):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"subject": 1, "set_size": rng.choice([2, 4], 30).astype(float), "change": rng.integers(0, 2, 30)}
    )
    df["correct"] = rng.integers(0, 2, 30)
    df.loc[4, "set_size"] = bad
    model = wm.CHANGE_DETECTION[name]
    assert getattr(model, "max_set_size", None) is None and not model.by_set_size
    with pytest.raises(DataError, match=rf"row 5, column 'set_size': got {bad!r}; allowed: {allowed}$"):
        check_set_sizes(model, df, "<DataFrame>")
    with pytest.raises(DataError, match=rf"row 5, column 'set_size': got {bad!r}; allowed: {allowed}$"):
        fit(model, df, ci=None, n_starts=1, key=jax.random.key(0))
