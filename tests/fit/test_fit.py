import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from cogsim.errors import CogsimError, DataError
from cogsim.fit import Param, fit

KEY = jax.random.key(0)


def scipy_max(toy, x: np.ndarray) -> float:
    """The mixture's maximum log-likelihood by L-BFGS-B from a grid of starts (float64)."""
    best = -np.inf
    for p0 in (0.2, 0.5, 0.9):
        for k0 in (1.0, 5.0, 20.0):
            r = optimize.minimize(
                lambda th: -toy.vm_loglik_np(th[0], th[1], x),
                [p0, k0],
                method="L-BFGS-B",
                bounds=[(1e-6, 1 - 1e-6), (1e-6, 500.0)],
            )
            best = max(best, -r.fun)
    return best


def test_mixture_maximum_equals_scipy_and_tables_have_the_interface_columns(toy, vm_mixture):
    truth = {"p_mem": np.array([0.9, 0.6, 0.3, 0.75]), "kappa": np.array([8.0, 3.0, 12.0, 1.5])}
    data = toy.simulate_frame(vm_mixture, truth, [300, 200, 250, 120], seed=1)
    res = fit(vm_mixture, data, ci=None, key=KEY)
    assert list(res.estimates.columns) == [
        "model",
        "subject",
        "set_size",
        "parameter",
        "estimate",
        "ci_low",
        "ci_high",
    ]
    assert list(res.summary.columns) == [
        "model",
        "subject",
        "loglik",
        "n_params",
        "n_trials",
        "aic",
        "bic",
        "cv_loglik",
        "converged",
        "grad_norm",
        "at_bound",
    ]
    assert res.summary["converged"].all()
    worst = res.units.groupby("subject")["grad_norm"].max()  # the largest of the participant's units
    np.testing.assert_array_equal(
        res.summary.set_index("subject")["grad_norm"], worst.loc[res.summary.subject]
    )
    for s, grp in data.groupby("subject"):
        ours = float(res.summary.set_index("subject").loc[s, "loglik"])
        assert abs(ours - scipy_max(toy, grp["error_rad"].to_numpy(float))) < 0.1
    row = res.summary.iloc[0]
    assert row.aic == pytest.approx(2 * 2 - 2 * row.loglik)
    assert row.bic == pytest.approx(2 * np.log(row.n_trials) - 2 * row.loglik)


def test_padded_participants_fit_as_if_alone(toy, vm_mixture):
    truth = {"p_mem": np.array([0.8, 0.5, 0.95]), "kappa": np.array([6.0, 4.0, 15.0])}
    data = toy.simulate_frame(vm_mixture, truth, [400, 60, 150], seed=2)
    together = fit(vm_mixture, data, ci=None, n_starts=1, key=KEY).units.set_index("subject")
    alone = fit(vm_mixture, data[data.subject == 2], ci=None, n_starts=1, key=KEY).units.iloc[0]
    assert together.loc[2, "n_trials"] == alone["n_trials"] == 60  # padded to 400 in the joint fit
    # same maximum; the estimates agree to float32 optimisation precision (kappa's likelihood is flat at 60
    # trials, so the stopping point moves by a fraction of a percent with the summation order)
    assert together.loc[2, "loglik"] == pytest.approx(alone["loglik"], abs=1e-3)
    for col in ("p_mem", "kappa"):
        assert together.loc[2, col] == pytest.approx(alone[col], rel=1e-2)


@pytest.mark.slow
def test_units_grouped_by_trial_count_fit_as_padded_together(gauss):
    rng = np.random.default_rng(4)
    sizes = {"a": 200, "b": 40, "c": 190, "d": 45}
    data = pd.concat([pd.DataFrame({"subject": s, "x": rng.normal(1.0, 2.0, n)}) for s, n in sizes.items()])
    one = fit(gauss, data, n_starts=1, key=KEY).estimates
    two = fit(gauss, data, n_starts=1, max_buckets=2, key=KEY).estimates  # {a, c}, {b, d}
    assert list(two.subject) == list(one.subject)
    for col in ("estimate", "ci_low", "ci_high"):
        assert two[col].to_numpy() == pytest.approx(one[col].to_numpy(), abs=2e-3)


def test_gaussian_mle_and_profile_interval_match_closed_forms(gauss):
    x = np.random.default_rng(3).normal(1.0, 2.0, 80)
    res = fit(gauss, pd.DataFrame({"subject": "s1", "x": x}), key=KEY)
    est = res.estimates.set_index("parameter")
    assert est.loc["mu", "estimate"] == pytest.approx(x.mean(), abs=1e-3)
    assert est.loc["sd", "estimate"] == pytest.approx(x.std(), rel=1e-3)
    # profile of mu: n/2 log(1 + (mu - mean)^2 / s^2) = chi2_1(.95)/2
    half = x.std() * np.sqrt(np.exp(stats.chi2.ppf(0.95, 1) / len(x)) - 1)
    assert est.loc["mu", "ci_low"] == pytest.approx(x.mean() - half, abs=5e-3)
    assert est.loc["mu", "ci_high"] == pytest.approx(x.mean() + half, abs=5e-3)
    # profile of sd: n (s^2/sd^2 - 1 - log(s^2/sd^2)) / 2 = chi2_1(.95)/2, solved numerically
    dev = lambda sd: len(x) * ((x.std() / sd) ** 2 - 1 - 2 * np.log(x.std() / sd)) / 2 - 1.92073
    lo, hi = optimize.brentq(dev, 0.5 * x.std(), x.std()), optimize.brentq(dev, x.std(), 2 * x.std())
    assert (est.loc["sd", "ci_low"], est.loc["sd", "ci_high"]) == pytest.approx((lo, hi), abs=5e-3)


@pytest.mark.slow
def test_profile_intervals_cover_the_truth_at_the_nominal_rate(toy, vm_mixture):
    # 60 simulated participants = 60 repeats in one fit; rule set before running: coverage of the 120
    # intervals within 3 binomial standard errors of 0.95, i.e. >= 0.89
    n = 60
    rng = np.random.default_rng(4)
    truth = {"p_mem": rng.uniform(0.5, 0.9, n), "kappa": rng.uniform(3.0, 10.0, n)}
    data = toy.simulate_frame(vm_mixture, truth, [150] * n, seed=5)
    est = fit(vm_mixture, data, n_starts=2, key=KEY).estimates
    est["truth"] = [truth[p][s - 1] for p, s in zip(est["parameter"], est["subject"], strict=True)]
    covered = (est["ci_low"] <= est["truth"]) & (est["truth"] <= est["ci_high"])
    assert covered.mean() >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / len(est))
    assert (est["ci_low"] <= est["estimate"]).all() and (est["estimate"] <= est["ci_high"]).all()


def test_bootstrap_interval_agrees_with_the_profile_interval_for_a_gaussian(gauss):
    n = 200
    x = np.random.default_rng(6).normal(0.0, 1.0, n)
    data = pd.DataFrame({"subject": 1, "trial": np.arange(n), "x": x})
    boot = fit(gauss, data, ci="bootstrap", n_boot=200, key=KEY).estimates.set_index("parameter")
    w_prof = 2 * x.std() * np.sqrt(np.exp(stats.chi2.ppf(0.95, 1) / n) - 1)  # profile interval of mu
    w_boot = boot.loc["mu", "ci_high"] - boot.loc["mu", "ci_low"]
    assert 0.75 < w_boot / w_prof < 1.33
    for p in ("mu", "sd"):
        assert boot.loc[p, "ci_low"] < boot.loc[p, "estimate"] < boot.loc[p, "ci_high"]


def test_leave_one_out_cv_equals_the_closed_form(gauss):
    x = np.random.default_rng(7).normal(0.5, 1.5, 25)
    res = fit(gauss, pd.DataFrame({"subject": 1, "x": x}), ci=None, cv=25, key=KEY)
    loo = 0.0
    for i in range(len(x)):
        rest = np.delete(x, i)
        loo += stats.norm.logpdf(x[i], rest.mean(), rest.std())
    assert res.summary["cv_loglik"].iloc[0] == pytest.approx(loo, abs=0.05)
    assert res.summary["cv_loglik"].iloc[0] < res.summary["loglik"].iloc[0]


@pytest.mark.slow
def test_per_set_size_units_and_several_by_columns(toy):
    model = toy.VonMisesMixture(by_set_size=True)
    truth = {"p_mem": np.array([0.9, 0.7]), "kappa": np.array([8.0, 4.0])}
    a = toy.simulate_frame(model, truth, [200, 200], seed=8)
    b = toy.simulate_frame(model, truth, [200, 200], seed=9)
    data = pd.concat([a.assign(experiment="E1"), b.assign(experiment="E2")], ignore_index=True)
    res = fit(model, data, by=("experiment", "subject"), ci=None, key=KEY)
    assert len(res.summary) == 4 and (res.summary["n_params"] == 4).all()
    assert res.summary["n_trials"].sum() == len(data)
    assert sorted(res.estimates["set_size"].unique()) == [2, 6]
    assert list(res.estimates.columns[:4]) == ["model", "experiment", "subject", "set_size"]
    one = data[(data.experiment == "E2") & (data.subject == 2) & (data.set_size == 6)]
    alone = fit(toy.VonMisesMixture(), one, ci=None, key=KEY).units.iloc[0]
    got = res.units.query("experiment == 'E2' and subject == 2 and set_size == 6").iloc[0]
    assert got["loglik"] == pytest.approx(alone["loglik"], abs=1e-3)


def test_map_with_a_prior_equals_scipy_on_the_log_posterior(gauss):
    x = np.random.default_rng(10).normal(2.0, 1.0, 15)
    prior = {"mu": lambda m: jax.scipy.stats.norm.logpdf(m, 0.0, 0.3)}
    res = fit(gauss, pd.DataFrame({"subject": 1, "x": x}), ci=None, prior=prior, key=KEY)
    r = optimize.minimize(
        lambda th: -(stats.norm.logpdf(x, th[0], th[1]).sum() + stats.norm.logpdf(th[0], 0.0, 0.3)),
        [0.0, 1.0],
        method="L-BFGS-B",
        bounds=[(None, None), (1e-3, None)],
    )
    mu = res.estimates.set_index("parameter").loc["mu", "estimate"]
    assert mu == pytest.approx(r.x[0], abs=2e-3) and mu < 0.8 * x.mean()
    assert res.settings["prior"] == ["mu"]


def test_loglik_is_the_datas_at_the_estimates_with_and_without_a_prior(gauss):
    x = np.random.default_rng(11).normal(2.0, 1.0, 40)
    data = pd.DataFrame({"subject": 1, "x": x})
    prior = {"mu": lambda m: jax.scipy.stats.norm.logpdf(m, 0.0, 0.3)}
    lls = []
    for pr in (None, prior):
        res = fit(gauss, data, ci=None, prior=pr, key=KEY)
        est = res.estimates.set_index("parameter")["estimate"]
        direct = stats.norm.logpdf(x, est["mu"], est["sd"]).sum()  # float64, without the prior
        assert res.summary["loglik"].iloc[0] == pytest.approx(direct, abs=1e-3)
        lls.append(res.summary["loglik"].iloc[0])
    assert lls[1] < lls[0] - 1.0  # the MAP estimate fits the data less well than the ML one


def test_a_unit_whose_every_start_fails_is_not_converged():
    class NanGradient:  # a finite objective whose gradient is NaN everywhere
        name, by_set_size, requires = "nan_gradient", False, ()
        params = (Param("mu"),)

        def loglik(self, p, t):
            return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], 1.0) + jnp.sqrt(p["mu"] - p["mu"])

    data = pd.DataFrame({"subject": 1, "x": np.linspace(-1.0, 1.0, 20)})
    res = fit(NanGradient(), data, ci=None, key=KEY)
    assert res.units["loglik"].iloc[0] == -np.inf and not res.units["converged"].iloc[0]
    assert not res.summary["converged"].iloc[0]


def test_bad_input_gets_one_line_errors(gauss):
    data = pd.DataFrame({"subject": [1] * 20 + [2] * 3, "x": np.arange(23.0)})
    data.attrs["source"] = "trials.csv"
    with pytest.raises(DataError, match=r"trials\.csv: row 21, column 'subject': subject=2 has 3 trial"):
        fit(gauss, data, key=KEY)
    ok = data[data.subject == 1]  # 20 trials: enough to fit, too few for 25 folds (the message says why)
    with pytest.raises(
        DataError, match=r"has 20 trial\(s\); allowed: at least 25 trials per unit for 25-fold"
    ):
        fit(gauss, ok, cv=25, key=KEY)
    with pytest.raises(DataError, match="missing column 'participant'"):
        fit(gauss, data, by=("participant",), key=KEY)
    with pytest.raises(CogsimError, match="fit ci: got 'wald'"):
        fit(gauss, data, ci="wald", key=KEY)
    with pytest.raises(CogsimError, match="fit prior"):
        fit(gauss, data, prior={"nope": jnp.log}, key=KEY)
    with pytest.raises(CogsimError, match="fit by"):
        fit(gauss, data, by="subject", key=KEY)
    with pytest.raises(CogsimError, match="fit: got max_buckets=0; allowed: an integer >= 1"):
        fit(gauss, data, max_buckets=0, key=KEY)


def test_a_model_without_free_parameters_is_scored_not_fitted():
    class Uniform:
        name, params, by_set_size, requires = "uniform", (), False, ()

        def loglik(self, p, t):
            return jnp.full(t["x"].shape, -jnp.log(2 * jnp.pi))

    data = pd.DataFrame({"subject": [1] * 12 + [2] * 15, "x": np.zeros(27)})
    res = fit(Uniform(), data, cv=3, key=KEY)
    assert res.estimates.empty and list(res.estimates.columns)[-4:] == [
        "parameter",
        "estimate",
        "ci_low",
        "ci_high",
    ]
    assert res.summary["loglik"].to_numpy() == pytest.approx(
        [-12 * np.log(2 * np.pi), -15 * np.log(2 * np.pi)]
    )
    assert (res.summary["n_params"] == 0).all() and res.summary["converged"].all()
    assert res.summary["cv_loglik"].to_numpy() == pytest.approx(res.summary["loglik"].to_numpy())


def test_solving_in_chunks_gives_the_same_fit_as_one_batch(gauss, monkeypatch):
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"subject": np.repeat([1, 2, 3], 40), "x": rng.normal(1.0, 2.0, 120)})
    one = fit(gauss, data, ci=None, key=KEY).units
    monkeypatch.setattr("cogsim.fit._solve.CHUNK_TRIALS", 1)  # one problem per chunk
    chunked = fit(gauss, data, ci=None, key=KEY).units
    np.testing.assert_allclose(chunked["loglik"], one["loglik"], atol=1e-4)
    np.testing.assert_allclose(chunked[["mu", "sd"]], one[["mu", "sd"]], rtol=1e-4)


def test_profile_intervals_in_chunks_match_one_batch(gauss, monkeypatch):
    rng = np.random.default_rng(8)
    data = pd.DataFrame({"subject": np.repeat([1, 2, 3], 40), "x": rng.normal(1.0, 2.0, 120)})
    one = fit(gauss, data, key=KEY).estimates  # every unit in one chunk (40 trials each)
    monkeypatch.setattr("cogsim.fit._solve.CHUNK_TRIALS", 1)  # one unit per chunk
    chunked = fit(gauss, data, key=KEY).estimates
    assert np.isfinite(one[["ci_low", "ci_high"]].to_numpy()).all()
    np.testing.assert_allclose(chunked[["ci_low", "ci_high"]], one[["ci_low", "ci_high"]], atol=1e-3)
