"""R-hat and bulk ESS on draws whose answer is known: independent, disagreeing and AR(1) chains."""

import re

import numpy as np
import pytest

from cogsim.fit import ess_bulk, rhat


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_independent_draws_mix_and_count_fully(seed):
    draws = np.random.default_rng(seed).standard_t(df=3, size=(4, 1000))  # heavy tails: ranks handle them
    assert float(rhat(draws)) < 1.01
    assert 0.85 * 4000 < float(ess_bulk(draws)) < 1.15 * 4000


def test_chains_that_disagree_or_drift_are_flagged():
    rng = np.random.default_rng(3)
    shifted = rng.normal(size=(4, 1000)) + np.array([0.0, 0.0, 0.0, 1.0])[:, None]
    assert float(rhat(shifted)) > 1.05
    drift = rng.normal(size=(4, 1000)) + np.linspace(0.0, 2.0, 1000)  # each chain drifts: split halves differ
    assert float(rhat(drift)) > 1.05
    wide = rng.normal(size=(4, 1000)) * np.array([1.0, 1.0, 1.0, 4.0])[:, None]  # same centre, one chain wide
    assert float(rhat(wide)) > 1.05  # the tail (folded) R-hat sees it


def test_ess_of_autocorrelated_chains_matches_the_ar1_formula():
    rng = np.random.default_rng(4)
    rho, n, chains = 0.9, 5000, 4
    x = np.zeros((chains, n))
    e = rng.normal(size=(chains, n)) * np.sqrt(1 - rho**2)
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + e[:, t]
    expected = chains * n * (1 - rho) / (1 + rho)
    assert 0.8 * expected < float(ess_bulk(x)) < 1.2 * expected


def test_leading_axes_give_one_value_each():
    draws = np.random.default_rng(5).normal(size=(3, 2, 4, 200))
    assert rhat(draws).shape == (3, 2)
    assert ess_bulk(draws).shape == (3, 2)


@pytest.mark.parametrize("shape", [(1000,), (4, 3), (0, 100), (2, 0, 100)])
def test_draws_without_a_chain_axis_or_too_few_draws_are_refused_naming_the_shape(shape):
    from cogsim.errors import CogsimError

    draws = np.zeros(shape)
    for fn, name in ((rhat, "rhat"), (ess_bulk, "ess_bulk")):
        with pytest.raises(CogsimError, match=re.escape(f"{name} draws: got an array of shape {shape}")):
            fn(draws)  # numpy's AxisError or ValueError before (2026-12-07)


def test_one_chain_is_split_in_halves():
    draws = np.random.default_rng(6).normal(size=(1, 2000))
    assert float(rhat(draws)) < 1.01 and 0.8 * 2000 < float(ess_bulk(draws)) < 1.2 * 2000
