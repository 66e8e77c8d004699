"""The quitting rule of eccNET: absent trials end, more items give more fixations, misses from quitting."""

import jax
import numpy as np
import pytest

from cogsim.errors import CogsimError
from cogsim.models import eccnet

RULE = eccnet.QuitRule(q0=0.3, dq=0.15)


def test_absent_trials_always_end_within_the_items_and_more_items_take_more_fixations():
    n = np.repeat([3, 6, 12, 18], 4000)
    out = eccnet.simulate_quitting(RULE, np.zeros_like(n), n, key=jax.random.key(0))
    fix = out["n_fixations"]
    assert not out["found"].any()
    assert (fix >= 1).all() and (fix <= n).all()
    means = [fix[n == s].mean() for s in (3, 6, 12, 18)]
    assert all(a < b for a, b in zip(means, means[1:], strict=False))
    assert eccnet.quit_probabilities(RULE, [5])[0, 4] == 1.0  # nothing left to inspect: quit


def test_simulation_agrees_with_the_exact_moments():
    n = np.array([3, 6, 12, 18, 6, 12, 18])
    f = np.array([0, 0, 0, 0, 2, 9, 15])
    hit, mean_fix = eccnet.outcome_moments(RULE, f, n)
    reps = 20000
    out = eccnet.simulate_quitting(RULE, np.tile(f, reps), np.tile(n, reps), key=jax.random.key(1))
    sim_fix = out["n_fixations"].reshape(reps, -1).mean(0)
    sim_hit = out["found"].reshape(reps, -1).mean(0)
    np.testing.assert_allclose(sim_fix, mean_fix, rtol=0.03)
    np.testing.assert_allclose(sim_hit, hit, atol=0.015)


def test_misses_follow_from_quitting_before_the_target_is_fixated():
    never = eccnet.QuitRule(0.0, 0.0)  # quits only when every item was inspected
    hit, _ = eccnet.outcome_moments(never, [18, 1], [18, 18])
    assert hit.tolist() == [1.0, 1.0]
    eager = eccnet.QuitRule(5.0, 1.0)
    hit, _ = eccnet.outcome_moments(eager, [1, 2, 10], [18, 18, 18])
    assert hit[0] == 1.0 and hit[1] < 1.0 and hit[2] < hit[1]


def test_the_fit_reaches_targets_made_by_a_known_rule():
    rng = np.random.default_rng(0)
    sizes = np.repeat([3, 6, 12, 18], 20)
    f = np.array([rng.integers(1, s + 1) for s in sizes])
    _, fix = eccnet.outcome_moments(RULE, np.zeros(4, int), [3, 6, 12, 18])
    hit, _ = eccnet.outcome_moments(RULE, f, sizes)
    miss = np.mean([1 - hit[sizes == s].mean() for s in (3, 6, 12, 18)])
    got = eccnet.fit_quit_rule(f, sizes, [3, 6, 12, 18], mean_absent_fixations=fix.mean(), miss_rate=miss)
    _, gfix = eccnet.outcome_moments(got, np.zeros(4, int), [3, 6, 12, 18])
    ghit, _ = eccnet.outcome_moments(got, f, sizes)
    assert gfix.mean() == pytest.approx(fix.mean(), abs=0.02)
    assert np.mean([1 - ghit[sizes == s].mean() for s in (3, 6, 12, 18)]) == pytest.approx(miss, abs=0.002)


def test_bad_parameters_are_named():
    with pytest.raises(CogsimError, match="q0=-1"):
        eccnet.quit_probabilities(eccnet.QuitRule(-1.0, 0.0), [3])
