import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim import fit
from cogsim.models import search
from cogsim.models.search import _baselines, _cgs

TRUTH = dict(
    w_target=4.0, w_quit=0.3, dw_quit=0.15, p_guess=0.03, t0_s=0.3, scale_s=0.025, k_item=1.5, k_res=6.0
)


def _params(model, **kw):
    p = {q.name: q.default for q in model.params}
    p.update({k: v for k, v in kw.items() if k in p})
    return {k: jnp.float32(v) for k, v in p.items()}


def test_cgs_outcome_probabilities_sum_to_one_and_absent_trials_never_find_a_target():
    n = jnp.array([3, 6, 12, 18, 3, 6, 12, 18])
    tp = jnp.array([1, 1, 1, 1, 0, 0, 0, 0])
    yes, no = _cgs.cgs_outcome_probs(4.0, 0.3, 0.15, 0.0, n, tp, max_items=18)
    np.testing.assert_allclose(np.asarray((yes + no).sum(1)), 1.0, atol=1e-5)
    assert float(yes[4:].sum()) == 0.0  # no guessing: absent trials end with "absent"
    # absent trials inspect at most N items, and more items on average when N is larger
    k = np.arange(19)
    mean_n = (np.asarray(no[4:]) * k).sum(1)
    assert np.all(np.diff(mean_n) > 0)
    assert all(float(no[4 + i, int(s) + 1 :].sum()) == 0.0 for i, s in enumerate([3, 6, 12, 18]))


def _per_trial_mixture(model, p, t):
    """The mixture likelihood with P(n, response) computed trial by trial (the definition of the models)."""
    m = model.max_items
    if model.name == "cgs":
        yes, no = _cgs.cgs_outcome_probs(
            p["w_target"], p["w_quit"], p["dw_quit"], p["p_guess"], t["set_size"], t["target_present"],
            max_items=m,
        )  # fmt: skip
    else:
        n, tp, k = t["set_size"][:, None], t["target_present"][:, None], jnp.arange(m + 1)
        p_n = jnp.where(tp == 1, jnp.where((k >= 1) & (k <= n), 1.0 / n, 0.0), jnp.where(k == n, 1.0, 0.0))
        p_yes = jnp.where(tp == 1, 1 - p["p_miss"], p["p_fa"])
        yes, no = p_n * p_yes, p_n * (1 - p_yes)
    p_obs = jnp.where(search.responded_present(t)[:, None] == 1, yes, no)
    shape = jnp.broadcast_to(p["k_res"] + jnp.arange(m + 1) * p["k_item"], p_obs.shape)
    return search.mixture_loglik(p_obs, shape, t["rt_ms"] / 1000.0, p["t0_s"], p["scale_s"])


@pytest.mark.parametrize("name", ["cgs", "serial"])
def test_tabled_likelihood_equals_the_per_trial_mixture_and_has_finite_gradients(name):
    model = type(search.MODELS[name])(max_items=18)
    p = _params(model, **TRUTH, p_miss=0.04, p_fa=0.02)
    k1, k2 = jax.random.split(jax.random.key(5))
    t = model.design(300, key=k1)
    t["correct"] = jax.random.bernoulli(k2, 0.8, (300,)).astype(jnp.int32)
    # RTs from 0.2 to 4 s, and some before t0 (0.3 s) and beyond the contaminant's 15 s
    t["rt_ms"] = jnp.concatenate([jnp.linspace(200.0, 4000.0, 296), jnp.array([100.0, 299.0, 2e4, 3e4])])

    @jax.jit
    def both(q):
        grads = jax.grad(lambda r: model.loglik(r, t).sum())(q)
        return model.loglik(q, t), _per_trial_mixture(model, q, t), grads

    got, want, grads = both(p)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-4)
    assert all(bool(jnp.isfinite(g)) for g in grads.values())


def _binned_density(model, p, n, tp, edges, yes):
    """The likelihood's probability mass of each RT bin for one response (fine midpoint rule)."""
    fine = np.linspace(edges[0], edges[-1], (len(edges) - 1) * 20 + 1)
    mid = (fine[:-1] + fine[1:]) / 2
    correct = yes if tp == 1 else 1 - yes
    t = {
        "set_size": jnp.full(mid.shape, n),
        "target_present": jnp.full(mid.shape, tp),
        "correct": jnp.full(mid.shape, correct),
        "rt_ms": jnp.asarray(mid, jnp.float32),
    }
    dens = np.exp(np.asarray(model.loglik(p, t), float))
    return (dens * np.diff(fine) / 1000.0).reshape(len(edges) - 1, 20).sum(1)


@pytest.mark.parametrize("name", ["cgs", "serial", "parallel"])
@pytest.mark.parametrize("tp", [1, 0])
def test_likelihood_matches_a_simulation_of_the_same_model(name, tp):
    model = search.MODELS[name]
    p = _params(model, **TRUTH)
    # 100,000 trials: a correct simulator's sampling noise alone gives a total variation of at most 0.004
    # (expected) against the bound of 0.02; at 6,000 it was 0.011-0.016 (docs/fitting_log.md)
    n, m = 12, 100_000
    t = {"set_size": jnp.full((m,), n), "target_present": jnp.full((m,), tp)}
    sim = model.simulate(p, t, key=jax.random.key(3))
    rt, correct = np.asarray(sim["rt_ms"]), np.asarray(sim["correct"])
    yes = correct if tp == 1 else 1 - correct
    edges = np.linspace(0.0, 3000.0, 31)
    for resp in (1, 0):
        h, _ = np.histogram(rt[yes == resp], edges)
        observed = h / m
        predicted = _binned_density(model, p, n, tp, edges, resp)
        # histogram agreement: every bin within 4 binomial SDs (+0.002), total variation below 0.02
        sd = np.sqrt(np.maximum(predicted * (1 - predicted), 1e-12) / m)
        assert np.all(np.abs(observed - predicted) < 4 * sd + 0.002), (resp, observed, predicted)
    both = np.concatenate([_binned_density(model, p, n, tp, edges, r) for r in (1, 0)])
    obs = np.concatenate([np.histogram(rt[yes == r], edges)[0] / m for r in (1, 0)])
    assert 0.5 * np.abs(both - obs).sum() < 0.02
    assert abs(both.sum() - 1.0) < 0.01  # the likelihood is a density over RT x response


def test_more_items_take_longer_and_absent_slopes_exceed_present_slopes_in_cgs():
    model = search.CGS
    p = _params(model, **TRUTH)
    t = model.design(20_000, key=jax.random.key(0))
    sim = model.simulate(p, t, key=jax.random.key(1))
    df = pd.DataFrame(
        {**{k: np.asarray(v) for k, v in t.items()}, **{k: np.asarray(v) for k, v in sim.items()}}
    )
    ok = df[df.correct == 1]
    slopes = {tp: np.polyfit(g.set_size, g.rt_ms, 1)[0] for tp, g in ok.groupby("target_present")}
    assert 0 < slopes[1] < slopes[0]
    miss = df[df.target_present == 1].groupby("set_size").correct.mean()
    assert miss.iloc[-1] < miss.iloc[0]  # misses rise with set size


@pytest.mark.slow  # about 80 s on a loaded 2-core machine (fit compilation and 2 x 1200 trials)
def test_cgs_parameters_are_recovered_from_simulated_participants():
    model = _cgs.CGS(max_items=18)
    truths = [dict(TRUTH, w_target=2.0, dw_quit=0.1), dict(TRUTH, w_target=10.0, dw_quit=0.4)]
    rows = []
    for s, tr in enumerate(truths):
        t = model.design(1200, key=jax.random.key(10 + s))
        out = model.simulate(_params(model, **tr), t, key=jax.random.key(20 + s))
        cols = {k: np.asarray(v) for k, v in {**t, **out}.items()}
        rows.append(pd.DataFrame({"subject": s, **cols}))
    res = fit.fit(model, pd.concat(rows), by=("subject",), n_starts=1, ci=None, key=jax.random.key(0))
    est = res.estimates.pivot_table(index="subject", columns="parameter", values="estimate")
    for s, tr in enumerate(truths):
        assert abs(est.loc[s, "t0_s"] - tr["t0_s"]) < 0.05
        assert abs(np.log(est.loc[s, "w_target"] / tr["w_target"])) < np.log(1.5)
        assert abs(np.log(est.loc[s, "w_quit"] / tr["w_quit"])) < np.log(1.6)
    assert est.loc[1, "w_target"] > 2 * est.loc[0, "w_target"]
    assert est.loc[1, "dw_quit"] > est.loc[0, "dw_quit"]


def test_serial_baseline_predicts_absent_slope_twice_the_present_slope():
    model = _baselines.SerialSelfTerminating()
    p = _params(model, **TRUTH)
    means = {}
    for tp in (1, 0):
        for n in (3, 18):
            t = {"set_size": jnp.array([n]), "target_present": jnp.array([tp]), "correct": jnp.array([1])}
            grid = np.linspace(1, 6000, 6000)
            tt = {kk: jnp.repeat(v, len(grid)) for kk, v in t.items()} | {
                "rt_ms": jnp.asarray(grid, jnp.float32)
            }
            d = np.exp(np.asarray(model.loglik(p, tt), float))
            means[tp, n] = (grid * d).sum() / d.sum()
    ratio = (means[0, 18] - means[0, 3]) / (means[1, 18] - means[1, 3])
    assert ratio == pytest.approx(2.0, rel=0.05)


def _sample_rt_item_by_item(n_items, k_item, k_res, t0_s, scale_s, *, key, cols=None):
    """The simulator before the gamma-sum identity: ``cols`` item times drawn per trial (MAX_ITEMS there;
    here by default the largest ``n_items``, the same distribution at a fraction of the cost), the first
    ``n_items`` kept."""
    from cogsim.models.search._timing import CONTAMINANT, RT_MAX_S

    cols = int(n_items.max()) if cols is None else cols
    k1, k2, k3, k4 = jax.random.split(key, 4)
    shape = n_items.shape
    items = jax.random.gamma(k1, k_item, (*shape, cols)) * scale_s
    items = jnp.where(jnp.arange(cols) < n_items[..., None], items, 0.0).sum(-1)
    rt = t0_s + jax.random.gamma(k2, k_res, shape) * scale_s + items
    cont = jax.random.uniform(k3, shape) < CONTAMINANT
    rt = jnp.where(cont, jax.random.uniform(k4, shape, maxval=RT_MAX_S), rt)
    return rt, cont


# (n_items, k_item, k_res, scale_s); n_items None: uniform on 0..MAX_ITEMS per trial
GAMMA_SUM_SETTINGS = [(0, 2.0, 8.0, 0.02), (6, 2.0, 8.0, 0.02), (32, 2.0, 8.0, 0.02), (12, 0.5, 3.0, 0.05),
                      (0, 1.0, 3.5, 0.1), (None, 2.0, 8.0, 0.02)]  # fmt: skip


@pytest.mark.parametrize("setting", GAMMA_SUM_SETTINGS, ids=lambda s: f"n{s[0]}-k{s[1]}-r{s[2]}-s{s[3]}")
def test_one_gamma_draw_per_trial_has_the_distribution_of_the_item_by_item_sum(setting):
    # Acceptance rule declared in docs/fitting_log.md ("Visual-search simulation by the gamma-sum identity:
    # protocol") before it was run: KS at alpha 0.001, moments within 4 standard errors of the analytic ones.
    from scipy import stats

    from cogsim.models.search._timing import MAX_ITEMS, sample_rt

    n_fix, k_item, k_res, scale = setting
    m, t0 = 20_000, 0.25
    if n_fix is None:
        n = jax.random.randint(jax.random.key(7), (m,), 0, MAX_ITEMS + 1)
    else:
        n = jnp.full((m,), n_fix, jnp.int32)
    old, old_cont = _sample_rt_item_by_item(n, k_item, k_res, t0, scale, key=jax.random.key(11))
    new, new_cont = sample_rt(n, k_item, k_res, t0, scale, key=jax.random.key(12))
    assert stats.ks_2samp(np.asarray(old), np.asarray(new)).pvalue > 0.001
    a = k_res + np.asarray(n, np.float64) * k_item
    mean_i, var_i = t0 + scale * a, scale**2 * a
    for rt, cont in ((old, old_cont), (new, new_cont)):
        keep = ~np.asarray(cont)
        x = np.asarray(rt, np.float64)[keep]
        mu, var = mean_i[keep].mean(), var_i[keep].mean() + mean_i[keep].var()
        assert abs(x.mean() - mu) < 4 * np.sqrt(var / x.size), (x.mean(), mu)
        if n_fix is not None:
            se_var = var * np.sqrt((2 + 6 / a[0]) / x.size)
            assert abs(x.var(ddof=1) - var) < 4 * se_var, (x.var(ddof=1), var)


def test_sample_rt_keeps_the_contaminant_draws_and_shape_of_the_item_by_item_sampler():
    from cogsim.models.search._timing import CONTAMINANT, RT_MAX_S, sample_rt

    n = jax.random.randint(jax.random.key(0), (5_000,), 0, 19)
    key = jax.random.key(5)
    rt, cont = sample_rt(n, 2.0, 8.0, 0.25, 0.02, key=key)
    old, old_cont = _sample_rt_item_by_item(n, 2.0, 8.0, 0.25, 0.02, key=key)
    assert rt.shape == n.shape and cont.dtype == jnp.bool_
    np.testing.assert_array_equal(np.asarray(cont), np.asarray(old_cont))  # same flags, same key
    np.testing.assert_array_equal(np.asarray(rt)[np.asarray(cont)], np.asarray(old)[np.asarray(old_cont)])
    assert float(rt[cont].max()) <= RT_MAX_S and float(rt[~cont].min()) > 0.25
    many = jnp.zeros((100_000,), jnp.int32)
    _, cont = sample_rt(many, 2.0, 8.0, 0.25, 0.02, key=key)
    assert abs(float(cont.mean()) - CONTAMINANT) < 4 * np.sqrt(CONTAMINANT / many.size)


# ------------------------------------------------------------- invalid trials, the bounds, trial shapes
_CONTAMINANT_ONLY = float(np.log(search.CONTAMINANT * 0.5 / search.RT_MAX_S))


@pytest.mark.parametrize("model", [search.CGS, search.SERIAL], ids=["cgs", "serial"])
def test_set_sizes_outside_the_table_give_only_the_contaminant(model):
    p = _params(model)
    t = {
        "set_size": jnp.array([33, 40, 0, -1, 6]),
        "target_present": jnp.array([0, 0, 1, 0, 1]),
        "correct": jnp.array([1, 1, 1, 1, 1]),
        "rt_ms": jnp.array([600.0, 600.0, 450.0, 450.0, 400.0]),
    }
    ll = np.asarray(model.loglik(p, t))  # before: another kind's row (CGS: -4.52, -2.01, 1.74, 0.75)
    np.testing.assert_allclose(ll[:4], _CONTAMINANT_ONLY, rtol=1e-6)
    assert ll[4] > _CONTAMINANT_ONLY + 5
    frac = dict(t, set_size=jnp.array([6.5, 6.0, 6.0, 6.0, 6.0]))
    ll = np.asarray(model.loglik(p, frac))
    np.testing.assert_allclose(ll[0], _CONTAMINANT_ONLY, rtol=1e-6)


@pytest.mark.parametrize("bad", [0, -1, 2.5, 33])
def test_check_trials_refuses_set_sizes_that_are_not_whole_numbers_in_the_table(bad):
    from cogsim.errors import DataError

    df = pd.DataFrame(
        {"set_size": [3, bad], "target_present": [1, 0], "correct": [1, 1], "rt_ms": [500, 600]}
    )
    with pytest.raises(
        DataError, match=rf"row 2, column 'set_size': got {bad}; allowed: 1 to 32, a whole number"
    ):
        search.CGS.check_trials(df, "t.csv")
    if bad != 33:  # the parallel model has no table, but a set size is still a whole number >= 1
        with pytest.raises(DataError, match=r"column 'set_size'"):
            search.PARALLEL.check_trials(df, "t.csv")


def test_cgs_probabilities_sum_to_one_with_no_quitting_weight():
    yes, no = search.cgs_outcome_probs(5.0, 0.0, 0.0, 0.05, jnp.array([6, 6, 1]), jnp.array([0, 1, 0]))
    assert np.isfinite(np.asarray(yes)).all() and np.isfinite(np.asarray(no)).all()  # before: NaN (0/0)
    np.testing.assert_allclose(np.asarray((yes + no).sum(1)), 1.0, atol=1e-6)
    # absent: every distractor rejected, then nothing left but to quit: 6 items, a guess
    np.testing.assert_allclose(float(no[0, 6]), 0.95, atol=1e-6)
    np.testing.assert_allclose(float(yes[0, 6]), 0.05, atol=1e-6)
    # the limit of a vanishing quit weight
    y2, n2 = search.cgs_outcome_probs(5.0, 1e-7, 0.0, 0.05, jnp.array([6, 6, 1]), jnp.array([0, 1, 0]))
    np.testing.assert_allclose(np.asarray(yes), np.asarray(y2), atol=1e-5)
    np.testing.assert_allclose(np.asarray(no), np.asarray(n2), atol=1e-5)
    p = _params(search.CGS, w_quit=0.0, dw_quit=0.0)
    t = {
        "set_size": jnp.array([6, 6]),
        "target_present": jnp.array([0, 0]),
        "correct": jnp.array([1, 1]),
        "rt_ms": jnp.array([700.0, 700.0]),
    }
    assert float(search.CGS.loglik(p, t)[0]) > _CONTAMINANT_ONLY + 3  # before: the contaminant only
    sim = search.CGS.simulate(
        p, {"set_size": jnp.full(2000, 6), "target_present": jnp.zeros(2000, int)}, key=jax.random.key(0)
    )
    assert 0.9 < float(sim["correct"].mean()) < 0.99  # absent, but for guesses and contaminants


@pytest.mark.parametrize("model", [search.CGS, search.SERIAL, search.PARALLEL], ids=lambda m: m.name)
def test_search_loglik_takes_one_trial_of_0d_arrays_and_refuses_mismatched_lengths(model):
    from cogsim.errors import CogsimError

    p = _params(model)
    one = {"set_size": 6, "target_present": 1, "correct": 1, "rt_ms": 500.0}
    ll = model.loglik(p, one)
    ref = model.loglik(p, {k: jnp.array([v]) for k, v in one.items()})
    assert ll.shape == () and float(ll) == float(ref[0])
    bad = {k: jnp.array([v, v]) for k, v in one.items()} | {"rt_ms": jnp.array([500.0, 600.0, 700.0])}
    with pytest.raises(CogsimError, match=r"'rt_ms' 3"):
        model.loglik(p, bad)
