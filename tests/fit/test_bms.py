"""Random-effects Bayesian model selection (cogsim.fit.bms) against closed forms, exact integrals and
simulated groups."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from cogsim.errors import CogsimError
from cogsim.fit import bms
from cogsim.fit._bms import exceedance


@pytest.mark.parametrize("alpha", [(3.0, 1.0), (0.3, 0.7), (0.05, 0.15), (12.5, 11.0), (200.0, 190.0)])
def test_two_model_exceedance_is_the_beta_tail(alpha):
    # r_1 ~ Beta(a1, a2): P(r_1 > 1/2) = 1 - I_{1/2}(a1, a2)
    xp = exceedance(alpha)
    assert xp[0] == pytest.approx(1.0 - special.betainc(alpha[0], alpha[1], 0.5), abs=1e-7)
    assert xp.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "alpha", [(30.0, 2.0, 5.0), (5.0, 6.0, 7.0), (0.2, 0.3, 0.5, 2.0), (41.0, 40.0, 3.0)]
)
def test_exceedance_of_several_models_matches_dirichlet_draws(alpha):
    n = 400_000
    draws = np.random.default_rng(7).dirichlet(alpha, n)
    mc = np.bincount(draws.argmax(1), minlength=len(alpha)) / n
    se = np.sqrt(mc * (1 - mc) / n) + 1 / n
    assert np.all(np.abs(exceedance(alpha) - mc) < 5 * se)


def _exact_log_evidence(L: np.ndarray) -> float:
    """log p(L) of the random-effects model for two models, r ~ Beta(1, 1), by quadrature."""
    shift = L.max(1, keepdims=True)
    e = np.exp(L - shift)

    def density(r):
        return np.exp(np.sum(np.log(r * e[:, 0] + (1 - r) * e[:, 1])))

    return float(np.log(integrate.quad(density, 0, 1, limit=200, epsabs=0)[0]) + shift.sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_free_energy_bounds_the_exact_evidence_and_the_null_is_exact(seed):
    rng = np.random.default_rng(seed)
    L = rng.normal(0.0, 3.0, (15, 2)) - 50.0
    res = bms(L)
    exact = _exact_log_evidence(L)
    assert res.converged
    assert res.free_energy <= exact + 1e-6  # a lower bound (mean field: q(m) q(r))
    assert exact - res.free_energy < 1.0
    # the null (r = 1/2): every participant's evidence averaged over the two models
    null = np.sum(special.logsumexp(L, axis=1) - np.log(2))
    assert res.free_energy_null == pytest.approx(null, abs=1e-9)
    assert res.bor == pytest.approx(1.0 / (1.0 + np.exp(res.free_energy - null)), abs=1e-12)


def test_decisive_participants_are_counted_and_the_evidence_is_exact():
    # each participant's evidence decides between the models: alpha = 1 + number of participants per model
    truth = np.array([0] * 14 + [1] * 5 + [2] * 1)
    counts = np.bincount(truth)
    L = np.full((20, 3), -40.0)
    L[np.arange(20), truth] = 0.0
    res = bms(L, models=["a", "b", "c"])
    assert res.alpha == pytest.approx(1.0 + counts, abs=1e-6)
    assert res.frequency == pytest.approx((1.0 + counts) / 23, abs=1e-6)
    # known assignments: p(L) = E[prod_n r_{m_n}] under Dir(1, 1, 1) = Gamma(3) prod Gamma(1 + c) / Gamma(23),
    # and the null's p(L) = 3^-20 (up to the e^-40 of the losing models)
    exact = special.gammaln(3) + special.gammaln(1.0 + counts).sum() - special.gammaln(23)
    assert res.free_energy == pytest.approx(exact, abs=1e-9)
    assert res.free_energy_null == pytest.approx(-20 * np.log(3), abs=1e-9)
    assert res.bor == pytest.approx(1 / (1 + np.exp(exact + 20 * np.log(3))), rel=1e-6)
    assert np.argmax(res.exceedance) == np.argmax(res.protected_exceedance) == 0
    assert np.argmax(res.attribution[["a", "b", "c"]].to_numpy(), 1).tolist() == truth.tolist()
    ci = res.frequency_ci
    assert np.all((ci[:, 0] < res.frequency) & (res.frequency < ci[:, 1]))


def test_indistinguishable_models_leave_the_omnibus_risk_high_and_protect_the_exceedance():
    # the same evidence for every model: nothing favours any frequency over 1/K
    L = np.tile(np.random.default_rng(3).normal(-100.0, 5.0, (30, 1)), (1, 3))
    res = bms(L)
    assert res.frequency == pytest.approx([1 / 3] * 3, abs=1e-9)
    assert res.bor > 0.5
    assert np.all(np.abs(res.protected_exceedance - 1 / 3) <= np.abs(res.exceedance - 1 / 3) + 1e-12)


def test_frequencies_of_a_simulated_group_are_recovered_within_their_intervals():
    # 60 participants, each from model 0 with probability 0.7, evidence of 3 +- 2 nats for its own model
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(20):
        own = (rng.random(60) > 0.7).astype(int)
        L = rng.normal(0.0, 1.0, (60, 2))
        L[np.arange(60), own] += rng.normal(3.0, 2.0, 60)
        res = bms(L)
        hits += res.frequency_ci[0, 0] <= 0.7 <= res.frequency_ci[0, 1]
    assert hits >= 16  # 95 % intervals: at least 16 of 20 groups (binomial P(<16) < 0.02)


def test_families_sum_their_members_and_have_one_prior_count_each():
    # half the participants favour m0, half m1 (one family), none the single-model family
    L = np.full((10, 3), -30.0)
    L[:5, 0] = L[5:, 1] = 0.0
    res = bms(L, models=["m0", "m1", "m2"], families={"AB": ["m0", "m1"], "C": ["m2"]})
    assert res.names == ("AB", "C")
    assert res.alpha0 == pytest.approx([1.0, 1.0])
    assert res.alpha == pytest.approx([11.0, 1.0], abs=1e-6)
    assert res.exceedance[0] > 0.999
    assert res.attribution[["AB", "C"]].sum(axis=1).to_numpy() == pytest.approx(np.ones(10))
    by_model = bms(L, models=["m0", "m1", "m2"])
    assert by_model.exceedance.max() < 0.6  # m0 and m1 split the group: neither is clearly the more frequent


def _table():
    rows = []
    for s, (a, b) in enumerate([(100.0, 110.0), (120.0, 118.0), (90.0, 99.0), (80.0, 95.0)]):
        rows += [{"model": "a", "subject": f"s{s}", "bic": a, "aic": a - 2}]
        rows += [{"model": "b", "subject": f"s{s}", "bic": b, "aic": b - 4}]
    return pd.DataFrame(rows)


def test_a_fitted_model_table_gives_minus_half_bic_as_log_evidence():
    table = _table()
    res = bms(table)
    wide = table.pivot(index="subject", columns="model", values="bic")
    direct = bms(-0.5 * wide[["a", "b"]].to_numpy(), models=["a", "b"])
    assert res.names == ("a", "b") and res.criterion == "bic"
    assert res.alpha == pytest.approx(direct.alpha) and res.bor == pytest.approx(direct.bor)
    assert res.attribution["subject"].tolist() == ["s0", "s1", "s2", "s3"]
    assert bms(table, criterion="aic").alpha != pytest.approx(res.alpha)
    d = res.as_dict()
    assert d["criterion"] == "bic" and d["n_participants"] == 4 and set(d["models"]) == {"a", "b"}
    assert sum(m["protected_exceedance"] for m in d["models"].values()) == pytest.approx(1.0)
    assert list(res.table.columns) == [
        "name", "alpha", "frequency", "ci_low", "ci_high", "exceedance", "protected_exceedance",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (None, {"criterion": "loglik"}, "bms criterion: got 'loglik'; allowed: one of"),
        (None, {"by": ("participant",)}, "bms table: no column 'participant'"),
        (None, {"by": "subject"}, "bms by: got 'subject'; allowed: a non-empty tuple of column names"),
        ("dup", {}, "model 'a' appears twice for participant 's0';"),
        ("nan", {}, "no finite bic for model 'b', participant 's1';"),
        ("one", {}, "bms models: got ['a']; allowed: at least 2 models"),
        (None, {"families": {"F": ["a", "zzz"]}}, "bms families['F']: got model 'zzz'"),
        (None, {"families": {"F": ["a"]}}, "model 'b' is in 0 families; allowed: every model in exactly one"),
        (None, {"families": {"F": ["a", "b"], "G": ["b"]}}, "model 'b' is in 2 families"),
    ],
)
def test_bad_tables_and_options_are_named(change, kwargs, match):
    table = _table()
    if change == "dup":
        table = pd.concat([table, table.iloc[:1]])
    elif change == "nan":
        table.loc[3, "bic"] = np.nan
    elif change == "one":
        table = table[table["model"] == "a"]
    with pytest.raises(CogsimError, match=match.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        bms(table, **kwargs)


def test_bad_arrays_are_named():
    with pytest.raises(CogsimError, match=r"shape \(3,\); allowed: \[participants, models\]"):
        bms(np.zeros(3))
    with pytest.raises(CogsimError, match="got inf for model 'm1', row 0"):
        bms(np.array([[0.0, np.inf]]))
    with pytest.raises(CogsimError, match=r"bms models: got \['x'\]; allowed: 2 distinct names"):
        bms(np.zeros((2, 2)), models=["x"])
