"""A trial table given to ``cogsim.fit`` without ``Paradigm.read`` is still refused where a model would read
it wrongly: one line naming the row, the column, the value and what is allowed (nothing is fitted)."""

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim.errors import DataError
from cogsim.fit import fit
from cogsim.models import paradigms

CD = paradigms.get("change_detection")
VS = paradigms.get("visual_search")


def _trials(set_sizes, **columns):
    """40 random trials of two participants: ``set_size`` from ``set_sizes``, 0/1 columns for each name in
    ``columns`` given as None, the others as given."""
    rng = np.random.default_rng(0)
    n = 40
    cols = {k: rng.integers(0, 2, n) if v is None else v for k, v in columns.items()}
    return pd.DataFrame({"subject": np.repeat([1, 2], n // 2), "set_size": rng.choice(set_sizes, n), **cols})


def _change_detection():
    return _trials([2, 4, 6], change=None, correct=None, base_rate=0.5)


def _visual_search():
    rt = np.random.default_rng(1).uniform(400.0, 1200.0, 40)
    return _trials([3, 6, 12], target_present=None, correct=None, rt_ms=rt)


def _refused(model, df, row, column, value, allowed):
    """``fit`` refuses ``df`` with ``value`` written into ``column`` at index ``row``, naming them."""
    df[column] = df[column].astype(float)
    df.loc[row, column] = value
    want = rf"<DataFrame>: row {row + 1}, column '{column}': got {value!r}; allowed: {allowed}"
    with pytest.raises(DataError, match=want):
        fit(model, df, ci=None, n_starts=1, key=jax.random.key(0))


@pytest.mark.parametrize("name", sorted(CD.models))
@pytest.mark.parametrize(("column", "value"), [("correct", 2.0), ("correct", -1.0), ("change", 0.5)])
def test_change_detection_refuses_responses_other_than_0_or_1(name, column, value):
    _refused(CD.models[name], _change_detection(), 6, column, value, "0 or 1")


@pytest.mark.parametrize("name", ["fixed_capacity_base_rate", "sdt_base_rate"])
def test_change_detection_base_rate_models_refuse_a_base_rate_outside_0_1(name):
    df = _change_detection()
    df.loc[3, "base_rate"] = 50.0
    want = r"row 4, column 'base_rate': got 50.0; allowed: a probability in \[0, 1\] \(a percentage"
    with pytest.raises(DataError, match=want):
        fit(CD.models[name], df, ci=None, n_starts=1, key=jax.random.key(0))


@pytest.mark.parametrize("name", sorted(VS.models))
@pytest.mark.parametrize(
    ("column", "value", "allowed"),
    [
        ("target_present", 2.0, "0 or 1"),
        ("correct", -1.0, "0 or 1"),
        ("rt_ms", -5.0, "a finite number >= 0"),
        ("rt_ms", np.inf, "a finite number >= 0"),
    ],
)
def test_visual_search_refuses_impossible_values(name, column, value, allowed):
    _refused(VS.models[name], _visual_search(), 8, column, value, allowed)


@pytest.mark.parametrize("name", ["cgs", "serial"])
def test_visual_search_refuses_a_set_size_beyond_the_likelihood_tables(name):
    df = _visual_search()
    df.loc[2, "set_size"] = 40
    with pytest.raises(DataError, match=r"row 3, column 'set_size': got 40; allowed: 1 to 32"):
        fit(VS.models[name], df, ci=None, n_starts=1, key=jax.random.key(0))
