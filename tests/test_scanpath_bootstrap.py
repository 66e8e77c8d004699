"""Bootstrap CIs of scanpath metrics over displays: the behaviour delta (also against a baseline), ratios."""

import numpy as np
import pytest

from cogsim import _compare_scanpath as cs
from cogsim import _scanpath_bootstrap as sb
from cogsim.errors import CogsimError


def _paths(rng, n_displays, target=9, refix=0.0):
    out = {}
    for d in range(n_displays):
        paths = []
        for _ in range(4):
            p = list(rng.integers(0, 9, rng.integers(1, 8)))
            if refix and rng.random() < refix:
                p = p + [p[-1]] * 3
            paths.append([int(x) for x in p] + [target])
        out[d] = paths
    return out


def test_delta_point_value_equals_score_scanpaths_and_ci_covers_it():
    rng = np.random.default_rng(0)
    human, model = _paths(rng, 30), _paths(rng, 30, refix=0.8)
    targets = dict.fromkeys(human, 9)
    d, lo, hi = sb.behaviour_delta_ci(model, human, targets, n_boot=300)
    assert d == pytest.approx(cs.score_scanpaths(model, human, targets).delta)
    assert lo < d < hi


def test_delta_difference_separates_a_worse_model_and_not_an_equal_one():
    rng = np.random.default_rng(1)
    human = _paths(rng, 30)
    similar, worse = _paths(rng, 30), _paths(rng, 30, refix=1.0)
    targets = dict.fromkeys(human, 9)
    d, lo, hi = sb.behaviour_delta_ci(similar, human, targets, baseline=worse, n_boot=300)
    assert hi < 0  # the human-like model has the smaller delta, reliably
    d2, lo2, hi2 = sb.behaviour_delta_ci(similar, human, targets, baseline=_paths(rng, 30), n_boot=300)
    assert lo2 < 0 < hi2  # two draws of the same process: no reliable difference
    with pytest.raises(CogsimError, match="no display"):
        sb.behaviour_delta_ci({99: [[1]]}, human, targets)


def test_ratio_ci():
    r, lo, hi = sb.ratio_ci(np.full(10, 0.1), np.full(10, 0.2))
    assert (r, lo, hi) == pytest.approx((0.5, 0.5, 0.5))
    with pytest.raises(CogsimError, match="paired"):
        sb.ratio_ci([1.0, 2.0], [1.0])


def test_ratio_and_delta_refuse_bad_n_boot_and_level():
    h = {1: [[0, 9]], 2: [[3, 3, 9]], 3: [[1, 2, 9]]}
    for kw, arg in [({"n_boot": 0}, "n_boot="), ({"n_boot": -5}, "n_boot="), ({"level": 95}, "level=")]:
        with pytest.raises(CogsimError, match=arg):
            sb.ratio_ci([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], **kw)
        with pytest.raises(CogsimError, match=arg):
            sb.behaviour_delta_ci(h, h, {1: 9, 2: 9, 3: 9}, **kw)


def test_ratio_ci_without_a_finite_resample_has_no_ci():
    # the one resample of seed 6 (displays 1, 2, 2, 1) has mean(b) = 0: an infinite ratio, dropped
    est, lo, hi = sb.ratio_ci([1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, 3.0], n_boot=1, seed=6)
    assert est == 1.0 and np.isnan(lo) and np.isnan(hi)
