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


# ------------------------------------------------------------------- bad or degenerate input (audit E)
@pytest.mark.parametrize("level", [95, -1, 0, 1, 1.5, float("nan"), True, "0.95"])
def test_every_ci_refuses_a_level_outside_0_1(level):
    x = [1.0, 2.0, 3.0, 4.0]
    calls = [
        lambda: compare.bootstrap_ci(np.array(x), np.mean, n_boot=10, level=level),
        lambda: compare.mean_ci(x, level=level),
        lambda: compare.diff_ci(x, x, level=level),
        lambda: compare.paired_bootstrap_diff(x, x, n_boot=10, level=level),
        lambda: compare.proportion_ci(3, 10, level=level),
        lambda: compare.fit_line(x, x, level=level),
    ]
    for call in calls:
        with pytest.raises(CogsimError, match="level="):
            call()


@pytest.mark.parametrize("n_boot", [0, -5, 2.0, True, None])
def test_bootstraps_refuse_an_n_boot_that_is_not_a_positive_integer(n_boot):
    with pytest.raises(CogsimError, match="n_boot="):
        compare.bootstrap_ci(np.arange(5.0), np.mean, n_boot=n_boot)
    with pytest.raises(CogsimError, match="n_boot="):
        compare.paired_bootstrap_diff([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], n_boot=n_boot)


def test_bootstrap_accepts_numpy_integer_n_boot_and_a_list():
    a = compare.bootstrap_ci(np.arange(10.0), np.mean, n_boot=np.int64(200))
    assert a == compare.bootstrap_ci(np.arange(10.0), np.mean, n_boot=200)
    assert compare.bootstrap_ci(list(np.arange(10.0)), np.mean, n_boot=200) == a


def test_bootstrap_gives_no_ci_around_a_nan_estimate():
    est, lo, hi = compare.bootstrap_ci(np.array([1.0, 2.0, np.nan, 4.0]), np.mean, n_boot=200)
    assert np.isnan(est) and np.isnan(lo) and np.isnan(hi)


def test_bootstrap_drops_resamples_where_the_statistic_is_undefined():
    # the statistic is undefined on resamples of zeros only; the others give the CI
    stat = lambda d: np.nan if d.sum() == 0 else float(d.mean())  # noqa: E731
    est, lo, hi = compare.bootstrap_ci(np.array([0.0, 0.0, 1.0]), stat, n_boot=200)
    assert est == pytest.approx(1 / 3) and 0 < lo <= hi <= 1


def test_proportion_and_pairs_refuse_impossible_counts_and_unequal_lengths():
    for k, n in [(5, 3), (-1, 3), (2.7, 10)]:
        with pytest.raises(CogsimError, match="0 <= k <= n"):
            compare.proportion_ci(k, n)
    with pytest.raises(CogsimError, match=r"same shape.*\(3,\) and \(2,\)"):
        compare.pearson_r([1, 2, 3], [1, 2])
    with pytest.raises(CogsimError, match="same shape"):
        compare.fit_line([1, 2, 3], [1, 2])
    with pytest.raises(CogsimError, match="a and b"):
        compare.paired_bootstrap_diff([1.0, 2.0, 3.0], [1.0, 2.0])


def test_binomial_loglik_is_finite_at_p_one_in_float32():
    assert np.isfinite(float(compare.binomial_loglik(7, 10, 1.0)))
    assert float(compare.binomial_loglik(10, 10, 1.0)) == pytest.approx(0.0, abs=1e-5)
    assert np.isfinite(float(compare.binomial_loglik(7, 10, 0.0)))


def test_fit_mle_without_transform_moves_off_the_start():
    fit = compare.fit_mle(lambda p: -compare.binomial_loglik(7, 10, p["p"]), {"p": 0.5})
    assert fit.params["p"] == pytest.approx(0.7, abs=1e-3) and fit.converged


def test_fit_mle_is_not_converged_when_every_step_is_nan():
    # log(p) is NaN beyond (0, 1): the first step lands there and L-BFGS gives up at the start
    nll = lambda p: -(7 * jnp.log(p["p"]) + 3 * jnp.log(1 - p["p"]))  # noqa: E731
    assert not compare.fit_mle(nll, {"p": 0.5}).converged
    inf_out = lambda p: jnp.where(p["p"] < 1, nll(p), jnp.inf)  # noqa: E731
    assert not compare.fit_mle(inf_out, {"p": 0.5}).converged


def test_fit_mle_refuses_unknown_transform_names_and_a_non_finite_start():
    nll = lambda p: -compare.binomial_loglik(7, 10, p["p"])  # noqa: E731
    with pytest.raises(CogsimError, match=r"\['q'\].*allowed: \['p'\]"):
        compare.fit_mle(nll, {"p": 0.5}, transforms={"q": "logit"})
    with pytest.raises(CogsimError, match="init"):
        compare.fit_mle(lambda p: jnp.log(p["p"] - 1.0), {"p": 0.5})
