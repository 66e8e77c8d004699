"""Posterior sampling against posteriors known in closed form (one per kind of transform), its errors, and
its keys."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cogsim.errors import CogsimError, DataError
from cogsim.fit import Param, sample

KEY = jax.random.key(0)
SMALL = {"n_warmup": 300, "n_samples": 1000}


class NormalMean:  # identity transform: x ~ N(mu, 1)
    name, params = "normal_mean", (Param("mu", default=0.0),)

    def loglik(self, p, t):
        return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], 1.0)


class Coin:  # scaled logit: y ~ Bernoulli(p)
    name, params = "coin", (Param("p", 0.0, 1.0, default=0.5),)

    def loglik(self, p, t):
        return jnp.where(t["y"] > 0, jnp.log(p["p"]), jnp.log1p(-p["p"]))


class NormalScale:  # softplus: x ~ N(0, sd^2)
    name, params = "normal_scale", (Param("sd", 0.0, default=1.0),)

    def loglik(self, p, t):
        return jax.scipy.stats.norm.logpdf(t["x"], 0.0, p["sd"])


def _rows(col, per_subject):
    return pd.DataFrame(
        [{"subject": s, col: v} for s, values in enumerate(per_subject, start=1) for v in values]
    )


def _close(draws, mean, sd, q_lo, q_hi, tol=0.1):
    """Draws agree with a known posterior: mean and quantiles within ``tol`` posterior SDs, SD within 10 %."""
    assert abs(draws.mean() - mean) < tol * sd
    assert abs(draws.std() / sd - 1.0) < 0.1
    assert abs(np.quantile(draws, 0.025) - q_lo) < 1.5 * tol * sd
    assert abs(np.quantile(draws, 0.975) - q_hi) < 1.5 * tol * sd


def test_normal_mean_with_a_normal_prior_matches_the_conjugate_posterior():
    rng = np.random.default_rng(0)
    data = [rng.normal(m, 1.0, size=n) for m, n in ((0.5, 20), (-1.0, 40), (2.0, 12))]
    prior_sd = 2.0
    res = sample(
        NormalMean(), _rows("x", data), prior={"mu": lambda v: jax.scipy.stats.norm.logpdf(v, 0.0, prior_sd)},
        key=KEY, **SMALL,
    )  # fmt: skip
    assert res.summary.converged.all()
    for u, x in enumerate(data):
        prec = 1 / prior_sd**2 + len(x)
        post = stats.norm(x.sum() / prec, prec**-0.5)
        _close(res.draws[u, :, :, 0], post.mean(), post.std(), *post.ppf([0.025, 0.975]))
        row = res.estimates.iloc[u]
        assert row.ci_low == pytest.approx(np.quantile(res.draws[u, :, :, 0], 0.025))
        assert row.estimate == pytest.approx(np.median(res.draws[u, :, :, 0]))


def test_a_probability_with_the_default_uniform_prior_matches_the_beta_posterior():
    # the logit's Jacobian: without it the posterior would be Beta(s, f), not Beta(s + 1, f + 1)
    counts = ((14, 6), (3, 27), (40, 10))
    data = [np.r_[np.ones(s), np.zeros(f)] for s, f in counts]
    res = sample(Coin(), _rows("y", data), key=KEY, **SMALL)
    assert res.summary.converged.all()
    for u, (s, f) in enumerate(counts):
        post = stats.beta(s + 1, f + 1)
        _close(res.draws[u, :, :, 0], post.mean(), post.std(), *post.ppf([0.025, 0.975]))
    assert res.settings["prior"] == {"p": "uniform"}


def test_a_scale_with_an_inverse_gamma_prior_on_its_square_matches_the_conjugate_posterior():
    # the softplus's Jacobian and a prior on the parameter's own value (sd), stated through sd^2 ~ IG(a, b)
    a, b = 3.0, 2.0
    rng = np.random.default_rng(1)
    data = [rng.normal(0.0, sd, size=n) for sd, n in ((0.5, 30), (2.0, 15))]

    def log_prior(sd):  # the density of sd when sd^2 ~ InvGamma(a, b): p(sd^2) * 2 sd
        return (
            jax.scipy.stats.gamma.logpdf(1.0 / sd**2, a, scale=1.0 / b)
            - 4.0 * jnp.log(sd)
            + jnp.log(2.0 * sd)
        )

    res = sample(NormalScale(), _rows("x", data), prior={"sd": log_prior}, key=KEY, **SMALL)
    assert res.summary.converged.all()
    for u, x in enumerate(data):
        post = stats.invgamma(a + len(x) / 2, scale=b + (x**2).sum() / 2)  # of sd^2
        var = res.draws[u, :, :, 0] ** 2
        _close(var, post.mean(), post.std(), *post.ppf([0.025, 0.975]), tol=0.12)


def test_a_parameter_without_two_bounds_needs_a_prior():
    df = _rows("x", [np.zeros(12)])
    with pytest.raises(CogsimError, match=r"no prior for 'mu'.*allowed: a log-density"):
        sample(NormalMean(), df, key=KEY)
    with pytest.raises(CogsimError, match=r"'sd' -> 1.0"):
        sample(NormalScale(), df, prior={"sd": 1.0}, key=KEY)


class NormalBoth:  # x ~ N(mu, sd^2): two parameters without two finite bounds
    name, params = "normal_both", (Param("mu", default=0.0), Param("sd", 0.0, default=1.0))

    def loglik(self, p, t):
        return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], p["sd"])


def test_every_parameter_that_needs_a_prior_is_named_at_once():
    df = _rows("x", [np.zeros(12)])
    both = r"no prior for 'mu' \(bounds \(-inf, inf\)\), 'sd' \(bounds \(0.0, inf\)\); allowed: a log-density"
    with pytest.raises(CogsimError, match=both + r".*e.g. prior=\{'mu': lambda x: .*, 'sd': lambda x: "):
        sample(NormalBoth(), df, key=KEY)
    with pytest.raises(CogsimError, match=r"no prior for 'sd' \(bounds \(0.0, inf\)\); allowed"):
        sample(NormalBoth(), df, prior={"mu": lambda v: jax.scipy.stats.norm.logpdf(v, 0.0, 10.0)}, key=KEY)


def test_a_blank_response_is_named_not_sampled():
    df = _rows("x", [np.linspace(-1.0, 1.0, 12), np.linspace(-1.0, 1.0, 12)])
    df.loc[14, "x"] = np.nan
    flat = {"mu": lambda v: jax.scipy.stats.norm.logpdf(v, 0.0, 10.0)}
    with pytest.raises(DataError, match=r"row 15, column 'x': got \(blank\)"):
        sample(NormalMean(), df, prior=flat, n_warmup=20, n_samples=20, n_chains=2, key=KEY)


@pytest.mark.parametrize(
    ("arg", "value"),
    [
        ("n_chains", 1),
        ("n_warmup", 5),
        ("n_samples", 2.5),
        ("n_leapfrog", 0),
        ("n_temperatures", 0),
        ("level", 1.0),
    ],  # fmt: skip
)
def test_bad_settings_are_refused_naming_the_argument(arg, value):
    said = f"sample level: got {value!r}" if arg == "level" else f"sample: got {arg}={value!r}"
    with pytest.raises(CogsimError, match=said):
        sample(Coin(), _rows("y", [np.r_[np.ones(6), np.zeros(6)]]), key=KEY, **{arg: value})


def test_draws_depend_on_the_key_and_the_unit_not_on_the_other_units():
    counts = ((5, 10), (12, 3), (7, 7))
    df = _rows("y", [np.r_[np.ones(s), np.zeros(f)] for s, f in counts])
    settings = {"n_warmup": 50, "n_samples": 50, "n_chains": 2}
    first = sample(Coin(), df, key=KEY, **settings)
    again = sample(Coin(), df, key=KEY, **settings)
    np.testing.assert_array_equal(first.draws, again.draws)
    alone = sample(Coin(), df[df.subject == 2], key=KEY, **settings)
    np.testing.assert_allclose(alone.draws[0], first.draws[1], rtol=1e-5, atol=1e-6)
    other = sample(Coin(), df, key=jax.random.key(1), **settings)
    assert not np.array_equal(other.draws, first.draws)


def test_a_units_draws_do_not_depend_on_the_other_units_trial_counts():
    # distinct values (nothing to merge) and units of 30, 100 and 300 trials: until 2026-12-07 every unit was
    # padded to the longest, and the 30-trial unit's draws alone and beside the others differed
    rng = np.random.default_rng(1)
    df = _rows("x", [rng.normal(0.5, 1.0, n) for n in (30, 100, 300)])
    flat = {"mu": lambda v: jax.scipy.stats.norm.logpdf(v, 0.0, 10.0)}
    settings = {"prior": flat, "n_warmup": 50, "n_samples": 50, "n_chains": 2, "key": KEY}
    every = sample(NormalMean(), df, **settings)
    for i, s in enumerate((1, 2, 3)):
        alone = sample(NormalMean(), df[df.subject == s], **settings)
        np.testing.assert_array_equal(alone.draws[0], every.draws[i])
    later_first = pd.concat([df[df.subject == s] for s in (3, 1, 2)])  # each unit's trials in their order
    np.testing.assert_array_equal(sample(NormalMean(), later_first, **settings).draws, every.draws)


def test_numpy_counts_are_counts_and_bad_types_are_refused_naming_the_argument():
    df = _rows("y", [np.r_[np.ones(6), np.zeros(6)]])
    small = {"n_warmup": np.int64(20), "n_samples": np.int32(20), "n_chains": np.int64(2)}
    res = sample(Coin(), df, n_temperatures=np.int64(1), level=np.float32(0.9), key=KEY, **small)
    assert res.settings["n_samples"] == 20 and type(res.settings["n_samples"]) is int
    with pytest.raises(CogsimError, match="sample level: got '0.9'"):  # a TypeError before (2026-12-07)
        sample(Coin(), df, level="0.9", key=KEY)
    with pytest.raises(CogsimError, match="sample by: got 'subject'"):  # read as columns s, u, b, ... before
        sample(Coin(), df, by="subject", key=KEY)
    # a prior that is not a scalar log-density: JAX's own errors in the middle of sampling before
    for fn, got in ((lambda x: jnp.ones(3) * x, "gave shape (3,)"), (lambda x: "flat", "gave TypeError")):
        with pytest.raises(CogsimError, match=f"fit prior: 'p' -> .* {re.escape(got)}"):
            sample(Coin(), df, prior={"p": fn}, key=KEY)


def test_mixture2p_posteriors_on_real_trials_agree_with_the_profile_intervals():
    # 125 trials per participant and set size (Zhang & Luck 2008): the posterior under a weak prior is close
    # to the likelihood, so its median lies inside the 95 % profile interval of the ML fit (declared here
    # before the run), and the chains mix
    from cogsim.fit import fit
    from cogsim.models import paradigms
    from cogsim.scenarios.delayed_estimation import trials

    data = trials("zhang_luck2008")
    data = data[data.subject.isin(sorted(data.subject.unique())[:2])]
    model = paradigms.get("delayed_estimation").models["mixture2p"]
    prior = {"sd_rad": lambda x: jax.scipy.stats.norm.logpdf(x, 0.0, 1.0) + jnp.log(2.0)}
    post = sample(model, data, prior=prior, n_warmup=300, n_samples=500, key=KEY)
    ml = fit(model, data, key=KEY)
    both = post.estimates.merge(ml.estimates, on=["model", "subject", "set_size", "parameter"])
    assert len(both) == 16 and both.set_size.notna().all()
    assert ((both.estimate_x >= both.ci_low_y) & (both.estimate_x <= both.ci_high_y)).all()
    assert post.units.converged.all()


def test_a_chain_started_at_a_sharp_mode_stays_there():
    # posterior sd 0.001 around 3.0: a first iteration that moved before evaluating the start would throw
    # the chain hundreds of sds away
    from cogsim.fit._hmc import run

    logp = lambda u: -0.5 * jnp.sum(((u - 3.0) / 1e-3) ** 2)
    out = run(logp, jnp.full(2, 3.0), key=KEY, n_warmup=20, n_samples=20)
    assert np.abs(np.asarray(out.u) - 3.0).max() < 0.01
