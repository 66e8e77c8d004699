import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim import compare
from cogsim.errors import CogsimError


def test_fit_line_recovers_slope_with_ci():
    rng = np.random.default_rng(0)
    x = np.repeat([1, 4, 8, 12], 20).astype(float)
    y = 400 + 25 * x + rng.normal(0, 30, x.size)
    f = compare.fit_line(x, y)
    assert f.slope_ci[0] < 25 < f.slope_ci[1]
    assert f.slope_ci[1] - f.slope_ci[0] < 5
    with pytest.raises(CogsimError, match="two distinct x"):
        compare.fit_line([1, 1], [2, 3])


def test_slopes_by_groups():
    df = pd.DataFrame({"cond": ["a"] * 3 + ["b"] * 3, "n": [1, 2, 3] * 2, "rt": [1, 2, 3, 2, 4, 6]})
    s = compare.slopes_by(df, by=["cond"], x="n", y="rt").set_index("cond")
    assert s.loc["a", "slope"] == pytest.approx(1) and s.loc["b", "slope"] == pytest.approx(2)


def test_asymmetry_index_rules():
    assert compare.asymmetry_index(0, 0) == 0
    assert compare.asymmetry_index(5, -3) == 1.0
    assert compare.asymmetry_index(2, 6) == pytest.approx(-0.5)


def test_cowan_k_and_agreement():
    assert compare.cowan_k(8, 0.77, 0.39) == pytest.approx(3.04)
    assert compare.rmse([0, 0], [3, 4]) == pytest.approx(np.sqrt(12.5))
    assert np.isnan(compare.pearson_r([1, 1, 1], [1, 2, 3]))


def test_bootstrap_ci_covers_mean():
    x = np.random.default_rng(1).normal(5, 1, 200)
    est, lo, hi = compare.bootstrap_ci(x, np.mean, n_boot=500)
    assert lo < 5 < hi and lo < est < hi


def test_fit_mle_matches_closed_form():
    k, n = np.array([3, 30]), np.array([10, 40])
    fit = compare.fit_mle(
        lambda p: -jnp.sum(compare.binomial_loglik(k, n, p["p"])),
        {"p": 0.5},
        transforms={"p": "logit"},
        n_obs=50,
    )
    assert fit.params["p"] == pytest.approx(33 / 50, abs=1e-4)
    assert fit.converged and fit.aic == pytest.approx(2 - 2 * fit.loglik)


def test_comparison_verdict_and_round_trip():
    c = compare.Comparison(
        (compare.Metric("K", 3.0, 2.5, 3.5, human=2.9),),
        (compare.Check("a", True), compare.Check("b", False)),
        tables={"t": pd.DataFrame({"x": [1]})},
    )
    assert c.verdict == "partial"
    back = compare.Comparison.from_dict(c.to_dict())
    assert back.key_metric.value == 3.0 and back.verdict == "partial" and "FAIL" in back.summary()


def test_bootstrap_ci_of_one_row_is_no_interval():
    est, lo, hi = compare.bootstrap_ci(np.array([0.7]), np.mean, n_boot=50)
    assert est == 0.7 and np.isnan(lo) and np.isnan(hi)
