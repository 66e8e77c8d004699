"""Accuracy of the profile-likelihood limits: closed-form profiles (a Gaussian, a linear regression whose
intercept and slope are correlated) and a float64 re-minimisation of the profile at every limit."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from cogsim.fit import Param, _objective, fit
from cogsim.fit._data import pack
from cogsim.fit._profile import profile_intervals

KEY = jax.random.key(0)
CHI2 = float(stats.chi2.ppf(0.95, 1))


class Regression:
    """x ~ N(a + b c, sd): the intercept's and slope's estimates are correlated where c is not centred."""

    name, by_set_size, requires = "regression", False, ()
    params = (Param("a", default=0.0), Param("b", default=0.0), Param("sd", 0.0, default=1.0))

    def loglik(self, p, t):
        return jax.scipy.stats.norm.logpdf(t["x"], p["a"] + p["b"] * t["c"], p["sd"])


def _limits(model, data):
    packed = pack(data, model, by=("subject",))
    res = fit(model, data, n_starts=1, ci=None, key=KEY)
    u_hat = _objective.to_unconstrained(model, res.units[[p.name for p in model.params]].to_numpy())
    lo, hi = profile_intervals(model, _objective.make_nll(model), u_hat, packed.trials, packed.mask)
    return res.units, np.asarray(lo, float), np.asarray(hi, float)


def test_regression_limits_equal_the_closed_form_profiles():
    # profiles with the others re-minimised in closed form: RSS(b) = RSS + (b - b^)^2 Sxx,
    # RSS(a) = RSS + (a - a^)^2 / (1/n + cbar^2 / Sxx), deviance n log(RSS(.) / RSS); for sd the Gaussian's
    rng = np.random.default_rng(11)
    frames = []
    for s, n in enumerate((40, 120, 400)):
        c = rng.uniform(1.0, 3.0, n)
        frames.append(pd.DataFrame({"subject": s, "c": c, "x": 0.5 - 0.8 * c + rng.normal(0, 0.7, n)}))
    data = pd.concat(frames, ignore_index=True)
    units, lo, hi = _limits(Regression(), data)
    for s, frame in data.groupby("subject"):
        c, x, n = frame.c.to_numpy(), frame.x.to_numpy(), len(frame)
        b, a = np.polyfit(c, x, 1)
        rss = np.sum((x - a - b * c) ** 2)
        sxx = np.sum((c - c.mean()) ** 2)
        grow = rss * (np.exp(CHI2 / n) - 1)
        half = {"a": np.sqrt(grow * (1 / n + c.mean() ** 2 / sxx)), "b": np.sqrt(grow / sxx)}
        s_hat = np.sqrt(rss / n)
        dev = lambda sd: n * ((s_hat / sd) ** 2 - 1 - 2 * np.log(s_hat / sd)) - CHI2  # noqa: B023
        exact = {
            "a": (a - half["a"], a + half["a"]),
            "b": (b - half["b"], b + half["b"]),
            "sd": (optimize.brentq(dev, 0.3 * s_hat, s_hat), optimize.brentq(dev, s_hat, 3 * s_hat)),
        }
        for i, name in enumerate(("a", "b", "sd")):
            width = exact[name][1] - exact[name][0]
            # the search ends within 1e-3 of z* = 1.96 (0.05 % of the half-width), float32 around it
            assert lo[s, i] == pytest.approx(exact[name][0], abs=2e-3 * width), (s, name)
            assert hi[s, i] == pytest.approx(exact[name][1], abs=2e-3 * width), (s, name)


def _profile_deviance_np(toy, x, name, value, ll_max):
    """2 (max loglik - profile loglik at ``name = value``), the other parameter re-maximised in float64
    from a grid of starts."""
    if name == "p_mem":
        f = lambda lk: -toy.vm_loglik_np(value, np.exp(lk), x)  # noqa: E731
        grid = np.log([0.3, 1.0, 3.0, 10.0, 30.0, 100.0])
        bounds = (np.log(1e-3), np.log(500.0))
    else:
        f = lambda lp: -toy.vm_loglik_np(1 / (1 + np.exp(-lp)), value, x)  # noqa: E731
        grid = np.array([-4.0, -2.0, 0.0, 2.0, 4.0, 8.0])
        bounds = (-12.0, 16.0)
    best = np.inf
    for g0 in grid:
        r = optimize.minimize(lambda v: f(v[0]), [g0], method="L-BFGS-B", bounds=[bounds])
        best = min(best, float(r.fun))
    return 2 * (ll_max + best)


def test_mixture_limits_have_the_threshold_deviance_by_a_float64_reminimisation(toy, vm_mixture):
    # every finite limit's profile deviance, the other parameter re-maximised in float64 from 6 starts,
    # is within 0.05 of chi2_1(0.95) = 3.841; includes participants with p_mem near 1 and weak memory
    truth = {"p_mem": np.array([0.97, 0.7, 0.4, 0.85]), "kappa": np.array([6.0, 3.0, 8.0, 1.5])}
    data = toy.simulate_frame(vm_mixture, truth, [200, 150, 120, 300], seed=7)
    units, lo, hi = _limits(vm_mixture, data)
    checked = 0
    for s, frame in data.groupby("subject"):
        x = frame.error_rad.to_numpy(float)
        u = s - 1
        ll_max = -_profile_deviance_np(toy, x, "p_mem", units.p_mem.iloc[u], 0.0) / 2
        for i, name in enumerate(("p_mem", "kappa")):
            est = units[name].iloc[u]
            assert lo[u, i] <= est <= hi[u, i]
            for end in (lo[u, i], hi[u, i]):
                if np.isfinite(end) and 0.0 < end < (1.0 if name == "p_mem" else np.inf):
                    assert _profile_deviance_np(toy, x, name, end, ll_max) == pytest.approx(CHI2, abs=0.05)
                    checked += 1
    assert checked >= 12


def test_a_profile_that_never_crosses_ends_at_the_bound(gauss):
    # a parameter the likelihood ignores: its profile is flat, both limits are its bounds
    class Flat(type(gauss)):
        name = "flat"
        params = (*type(gauss).params, Param("unused", 0.0, 1.0, default=0.5))

    x = np.random.default_rng(2).normal(0.0, 1.0, 30)
    units, lo, hi = _limits(Flat(), pd.DataFrame({"subject": 1, "x": x}))
    assert np.all(np.isfinite(lo[0, :2])) and np.all(np.isfinite(hi[0, :2]))
    assert lo[0, 2] == pytest.approx(0.0, abs=1e-6) and hi[0, 2] == pytest.approx(1.0, abs=1e-6)
    # the two Gaussian parameters' limits are those of the model without the flat parameter
    _, lo2, hi2 = _limits(gauss, pd.DataFrame({"subject": 1, "x": x}))
    assert lo[0, :2] == pytest.approx(lo2[0], rel=1e-3) and hi[0, :2] == pytest.approx(hi2[0], rel=1e-3)


def test_newton_profile_reaches_the_constrained_minimum_of_a_correlated_quadratic():
    from cogsim.fit._profile import newton_profile

    a = jnp.array([[4.0, 1.5, 0.5], [1.5, 2.0, -0.7], [0.5, -0.7, 1.0]])
    f = lambda u: 0.5 * u @ a @ u + jnp.exp(0.1 * u[1])  # noqa: E731
    u, v, _ = newton_profile(f, jnp.array([1.0, 3.0, -2.0]), jnp.asarray(0))
    a64 = np.asarray(a, float)
    f64 = lambda w: 0.5 * np.r_[1.0, w] @ a64 @ np.r_[1.0, w] + np.exp(0.1 * w[0])  # noqa: E731
    ref = optimize.minimize(f64, [0.0, 0.0], method="BFGS")
    assert float(v) == pytest.approx(ref.fun, abs=1e-4)
    assert float(u[0]) == 1.0


class _Surface:
    """A two-parameter objective given directly as a function of the unconstrained coordinates (no data):
    ``nll(u, trials, mask)`` ignores its trials."""

    name, by_set_size, requires = "surface", False, ()

    def __init__(self, f, params):
        self.f, self.params = f, params

    def limits(self, u_hat):
        nll = lambda u, trials, mask: self.f(u)  # noqa: E731
        lo, hi = profile_intervals(
            self, nll, jnp.asarray([u_hat]), {"x": jnp.zeros((1, 1))}, jnp.ones((1, 1), bool)
        )
        return np.asarray(lo[0], float), np.asarray(hi[0], float)


def _plateau(u):
    # basin A: u1 follows 2 tanh(u0) steeply and the deviance rises only to 0.09 toward either bound of u0
    # (the profile never crosses the threshold); basin B: a wide second minimum at u1 = 6, deviance 7.9,
    # where the linear response of u1 to u0 at the estimate (slope 2) points at the Wald distance
    a = 0.5 * ((u[1] - 2.0 * jnp.tanh(u[0])) / 0.5) ** 2 + 0.045 * u[0] ** 2 / (1.0 + u[0] ** 2)
    b = 3.95 + 0.5 * ((u[1] - 6.0) / 2.0) ** 2
    return -jnp.logaddexp(-a, -b)


def test_a_plateau_toward_the_bound_is_not_cut_by_a_minimum_of_the_wrong_basin():
    # the profile of p (a logit-transformed probability) is below the threshold up to its bounds: both
    # limits are the bounds 0 and 1, although a profile point re-minimised from the linear response's
    # start lands in basin B, above the threshold
    model = _Surface(_plateau, (Param("p", 0.0, 1.0, default=0.5), Param("v", default=0.0)))
    lo, hi = model.limits([0.0, 0.0])
    assert lo[0] == pytest.approx(0.0, abs=1e-6) and hi[0] == pytest.approx(1.0, abs=1e-6)


def _fold(u):
    # a ridge at u1 = 0: for |u0 - 1.2| < 1 the nuisance u1 has two local minima, u1 = u0 - 2.2 (branch L,
    # the estimate's) and u1 = u0 - 0.2 (branch R, lower once u0 > 1.2); L ends at u0 = 2.2. Profile
    # deviance min(u0^2, u0^2 - 4 u0 + 4.8): along L it would cross chi2 at 1.96, the profile crosses at
    # 2 + sqrt(3.04) = 3.744 (upper) and -1.96 (lower)
    return 0.5 * u[0] ** 2 - u[0] + 0.5 * (u[1] - (u[0] - 1.2)) ** 2 - jnp.abs(u[1])


def test_a_profile_along_a_branch_of_local_minima_that_folds_is_not_taken_for_the_profile():
    model = _Surface(_fold, (Param("a", default=0.0), Param("v", default=0.0)))
    u_hat = np.array([0.0, -2.2])
    lo, hi = model.limits(u_hat)
    assert lo[0] == pytest.approx(-(CHI2**0.5), abs=5e-3)
    assert hi[0] == pytest.approx(2.0 + 3.04**0.5, abs=5e-3)
