"""Pareto-smoothed importance sampling: the tail shape it estimates, the weights it returns, and estimates
made with them."""

import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.fit._psis import k_threshold, psis, tail_length

S, N = 4000, 64  # one shape for the tests below but one: fewer compilations of psis in the test worker


@pytest.mark.parametrize("index", [4.0, 2.0, 1.25])
def test_the_shape_of_a_pareto_tail_is_recovered(index):
    u = np.random.default_rng(1).uniform(size=(S, N))
    _, k = psis(jnp.asarray(-np.log(u) / index, jnp.float32))  # ratios Pareto with tail index `index`
    assert abs(float(jnp.mean(k)) - 1.0 / index) < 0.05


def test_weights_sum_to_one_and_follow_their_draws():
    r = np.random.default_rng(2).normal(size=(1000, 4)).astype(np.float32)
    lw, _ = psis(jnp.asarray(r))
    perm = np.random.default_rng(3).permutation(1000)
    lw_perm, _ = psis(jnp.asarray(r[perm]))
    np.testing.assert_allclose(np.exp(np.asarray(lw)).sum(0), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(lw_perm), np.asarray(lw)[perm], atol=1e-6)
    # the largest ratio keeps the largest weight; smoothing never raises a weight above the raw largest
    assert (np.argmax(np.asarray(lw), 0) == np.argmax(r, 0)).all()


def test_a_flat_tail_is_left_alone():
    lw, k = psis(jnp.zeros((S, N)))
    assert np.isnan(np.asarray(k)).all()
    np.testing.assert_allclose(np.exp(np.asarray(lw)), 1.0 / S, rtol=1e-5)


def test_importance_weighted_mean_of_a_shifted_normal():
    # draws from N(0, 1) reweighted to N(0.5, 1): the weighted mean estimates 0.5 (raw draws: about 0)
    x = np.random.default_rng(4).normal(size=(S, N))
    log_ratio = -0.5 * (x - 0.5) ** 2 + 0.5 * x**2
    lw, k = psis(jnp.asarray(log_ratio, jnp.float32))
    est = (np.exp(np.asarray(lw, np.float64)) * x).sum(0)
    assert abs(est.mean() - 0.5) < 0.02 and np.asarray(k).max() < k_threshold(S)


def test_tail_length_and_threshold_follow_the_draw_count():
    assert tail_length(100) == 20 and tail_length(10_000) == 300
    assert k_threshold(100) == pytest.approx(0.5) and k_threshold(100_000) == 0.7
