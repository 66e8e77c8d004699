"""start_agreement: every participant's log-likelihood from fits with different random starts, and whether
they agree."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim.errors import CogsimError
from cogsim.fit import Param, fit, start_agreement

KEY = jax.random.key(5)


class Wavy:
    """A location with a ripple in its likelihood: a local maximum every pi / 4."""

    name, by_set_size, requires = "wavy", False, ()
    params = (Param("mu", default=0.0),)

    def loglik(self, p, t):
        return jax.scipy.stats.norm.logpdf(t["x"], p["mu"] - 1.0, 1.0) + 2.0 * jnp.cos(8.0 * p["mu"])


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(3).normal(0.0, 1.0, 6 * 60)
    return pd.DataFrame({"subject": np.repeat([f"s{i}" for i in range(6)], 60), "x": x})


def test_the_table_is_each_fits_loglik_and_their_spread(data):
    table = start_agreement(Wavy(), data, n_starts=2, n_fits=3, tol=0.1, key=KEY)
    assert list(table["subject"]) == [f"s{i}" for i in range(6)]
    for i in range(3):  # fit i is fit() with the key fold_in(key, i)
        want = fit(Wavy(), data, n_starts=2, ci=None, key=jax.random.fold_in(KEY, i)).summary["loglik"]
        np.testing.assert_array_equal(table[f"loglik_{i}"].to_numpy(), want.to_numpy(float))
    values = table[["loglik_0", "loglik_1", "loglik_2"]].to_numpy()
    np.testing.assert_allclose(table["gap"], values.max(1) - values.min(1))
    assert (table["agree"] == (table["gap"] <= 0.1)).all()
    assert (table["best_fit"] == values.argmax(1)).all()
    assert table["agree"].any() and not table["agree"].all()  # 2 starts on a ripple: some end elsewhere


def test_one_start_per_fit_is_refused_as_every_fit_would_be_the_default_start(data):
    # with one start every fit starts from the defaults and reaches the same maximum: a gap of 0 always
    match = r"start_agreement: got n_starts=1; allowed: an integer >= 2 \(the extra starts"
    with pytest.raises(CogsimError, match=match):
        start_agreement(Wavy(), data, n_starts=1, n_fits=2, key=KEY)


def test_a_fit_already_made_stands_in_for_the_first(data):
    first = fit(Wavy(), data, n_starts=2, ci=None, key=jax.random.key(9))
    table = start_agreement(Wavy(), data, n_starts=2, n_fits=3, key=KEY, first=first)
    full = start_agreement(Wavy(), data, n_starts=2, n_fits=3, key=KEY)
    np.testing.assert_array_equal(table["loglik_0"], first.summary["loglik"].to_numpy(float))
    for i in (1, 2):  # the others as without it
        np.testing.assert_array_equal(table[f"loglik_{i}"], full[f"loglik_{i}"])
    same = start_agreement(Wavy(), data, n_starts=2, n_fits=2, key=KEY, first=first.summary)
    np.testing.assert_array_equal(same["loglik_0"], table["loglik_0"])


def test_a_first_fit_of_other_participants_is_refused(data):
    other = fit(Wavy(), data[data["subject"] != "s0"], n_starts=1, ci=None, key=KEY)
    with pytest.raises(CogsimError, match="start_agreement first: its participants differ"):
        start_agreement(Wavy(), data, n_starts=2, key=KEY, first=other)
    with pytest.raises(CogsimError, match="start_agreement first: got ndarray; allowed: a FitResult"):
        start_agreement(Wavy(), data, n_starts=2, key=KEY, first=np.zeros(6))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_fits": 1}, "start_agreement: got n_fits=1; allowed: an integer >= 2"),
        ({"tol": -0.5}, "start_agreement tol: got -0.5; allowed: a finite number >= 0"),
        ({"tol": float("nan")}, "start_agreement tol: got nan"),
        ({"n_starts": 1}, "start_agreement: got n_starts=1; allowed: an integer >= 2"),
        ({"n_starts": True}, "start_agreement: got n_starts=True; allowed: an integer >= 2"),
    ],
)
def test_bad_arguments_are_refused(data, kwargs, match):
    with pytest.raises(CogsimError, match=match):
        start_agreement(Wavy(), data, key=KEY, **kwargs)
