"""Working-memory models: normalisation, likelihood against simulation, quadrature and Monte-Carlo error,
gradients."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.models import working_memory as wm
from cogsim.models.working_memory import _vp, _workspace

PARAMS = {
    "uniform": {},
    "mixture2p": {"p_mem": 0.7, "sd_rad": 0.4},
    "mixture3p": {"p_mem": 0.8, "p_swap": 0.25, "sd_rad": 0.3},
    "slots_averaging": {"K": 2.6, "sd1_rad": 0.35},
    "vp": {"J1": 30.0, "alpha": 1.2, "tau": 10.0},
    "workspace": {"K": 3.4, "sd1_rad": 0.2, "s": 2.0},
}
NONTARGETS = jnp.array([0.5, 1.0, -2.0, 2.2, -1.1, 3.0, -0.3])


def _params(name):
    return {k: jnp.float32(v) for k, v in PARAMS[name].items()}


def _trials(errors, n):
    nt = jnp.where(jnp.arange(7) < n - 1, NONTARGETS, jnp.nan)
    return {
        "set_size": jnp.full(errors.shape, n),
        "error_rad": errors,
        "nontargets": jnp.tile(nt[None], (errors.shape[0], 1)),
    }


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_density_integrates_to_one_over_the_circle(name):
    grid = jnp.linspace(-jnp.pi, jnp.pi, 8001)[:-1]
    loglik = jax.jit(wm.DELAYED_ESTIMATION[name].loglik)
    for n in (1, 3, 8):
        ll = loglik(_params(name), _trials(grid, n))
        assert jnp.all(jnp.isfinite(ll))
        assert float(jnp.sum(jnp.exp(ll)) * 2 * jnp.pi / grid.size) == pytest.approx(1.0, abs=2e-4)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_likelihood_matches_a_histogram_of_simulated_errors(name):
    """The simulator runs the process (fresh Gumbel draws for the workspace, gamma draws for vp); its
    histogram must match the likelihood's bin probabilities within 5 binomial standard errors. For the
    workspace the reference is its likelihood with 8,192 draws and 1,024 nodes: at 200,000 trials the
    default 512 draws' error is itself detectable (up to ~9 standard errors in a bin; measured separately
    below)."""
    model, n_sim, bins = wm.DELAYED_ESTIMATION[name], 200_000, 24
    loglik = jax.jit(model.loglik)
    if name == "workspace":
        big = _workspace.gumbel_table(8192, seed=1)
        loglik = jax.jit(lambda p, t: _workspace.loglik_table(p, t, big, 1024))
    simulate = jax.jit(lambda p, t, k: model.simulate(p, t, key=k))
    edges = np.linspace(-np.pi, np.pi, bins + 1)
    fine = jnp.linspace(-jnp.pi, jnp.pi, bins * 200 + 1)
    mid = (fine[:-1] + fine[1:]) / 2
    for i, n in enumerate((2, 6)):
        sim = simulate(_params(name), _trials(jnp.zeros(n_sim), n), jax.random.key(i))["error_rad"]
        counts, _ = np.histogram(np.asarray(sim), edges)
        dens = np.exp(np.asarray(loglik(_params(name), _trials(mid, n))))
        p_bin = dens.reshape(bins, 200).sum(1) * float(fine[1] - fine[0])
        se = np.sqrt(p_bin * (1 - p_bin) / n_sim)
        assert np.max(np.abs(counts / n_sim - p_bin) / se) < 5, (name, n)


def _vp_cells(jbar, tau, n_cells):
    """An independent reference rule for vp's precision integral: ``n_cells`` cells uniform in ``log x``,
    each weighted by its exact gamma probability (regularised incomplete gamma) at its geometric mid point."""
    k = jbar / tau
    lo = jnp.log(jax.nn.relu(k - 10 * jnp.sqrt(k)) + k * jnp.exp(-20.0))
    hi = jnp.log(k + 10 * jnp.sqrt(k) + 30.0)
    edges = jnp.exp(jnp.linspace(0.0, 1.0, n_cells + 1) * (hi - lo) + lo)
    cdf = jax.scipy.special.gammainc(k, edges)
    w = jnp.concatenate([cdf[:1], jnp.diff(cdf)]).at[-1].add(1.0 - cdf[-1])
    x = jnp.concatenate([edges[:1] * k / (k + 1), jnp.sqrt(edges[:-1] * edges[1:])])
    return tau * x, w


def _vp_density(nodes, p, n, e):
    j, w = nodes(p["J1"] * n ** (-p["alpha"]), p["tau"])
    kappa = wm.kappa_from_j(j)
    return jnp.sum(w[None] * jnp.exp(wm.vm_logpdf(e[:, None], kappa[None])), axis=1)


@pytest.mark.parametrize(
    "params",
    [(30.0, 1.2, 10.0), (200.0, 2.0, 1.0), (2.0, 1.0, 0.05), (300.0, 0.5, 200.0), (300.0, 0.5, 0.05)],
)
def test_vp_quadrature_error_against_fine_quadratures(params):
    """The model's 32 nodes against the same rule with 4,000 nodes and against 4,000 incomplete-gamma cells:
    the density differs by less than 1e-3 of its peak (measured: 1.5e-4 and 7.7e-4, the latter the cells'
    own error at the narrowest gamma)."""
    p = dict(zip(("J1", "alpha", "tau"), map(jnp.float32, params), strict=True))
    e = jnp.linspace(-jnp.pi, jnp.pi, 201)
    coarse_ll = jax.jit(_vp.loglik_nodes, static_argnums=2)
    cells = jax.jit(lambda p, n: _vp_density(lambda jb, t: _vp_cells(jb, t, 4000), p, n, e))
    for n in (1, 4, 8):
        t = {"set_size": jnp.full(e.shape, n), "error_rad": e}
        coarse, fine = jnp.exp(coarse_ll(p, t, _vp.N_NODES)), jnp.exp(coarse_ll(p, t, 4000))
        assert float(jnp.max(jnp.abs(coarse - fine)) / jnp.max(fine)) < 1e-3
        ref = cells(p, jnp.float32(n))
        assert float(jnp.max(jnp.abs(coarse - ref)) / jnp.max(ref)) < 1e-3


def test_vp_gradient_follows_the_likelihood_where_the_gamma_tail_is_empty():
    """Far from the posterior (small tau, negative alpha) the gamma's left tail holds next to nothing and a
    trial far from the target is explained by the nodes below the window: the log-likelihood of Zhang &
    Luck's participant 1 there changes as its gradient says (central differences within 5 %; with the
    uniform node's weight taken as ``1 - sum`` of the others, float32 rounding, they were off by up to 100
    times), and one such trial matches a float64 reference (adaptive quadrature over J, kappa(J) solved
    exactly: -36.030, slope -34.79 in log J1)."""
    from cogsim.scenarios.delayed_estimation import trials

    d = trials("zhang_luck2008")
    d = d[d.subject == sorted(d.subject.unique())[0]]
    t = {"set_size": jnp.asarray(d.set_size.to_numpy()), "error_rad": jnp.asarray(d.error_rad.to_numpy())}

    def total(v):  # v: log J1, alpha, log tau
        return jnp.sum(wm.VP.loglik({"J1": jnp.exp(v[0]), "alpha": v[1], "tau": jnp.exp(v[2])}, t))

    v = jnp.asarray([np.log(14.93), -0.40, np.log(0.87)], jnp.float32)
    g = np.asarray(jax.jit(jax.grad(total))(v))
    f = jax.jit(total)
    for i in range(3):
        step = jnp.zeros(3).at[i].set(1e-3)
        fd = (float(f(v + step)) - float(f(v - step))) / 2e-3
        assert abs(fd - g[i]) <= 0.05 * abs(g[i]) + 0.5, (i, fd, g[i])

    def one(lj):  # error 3 rad at set size 6
        p = {"J1": jnp.exp(lj), "alpha": jnp.float32(-0.40), "tau": jnp.float32(0.87)}
        return wm.VP.loglik(p, {"set_size": jnp.asarray([6]), "error_rad": jnp.asarray([3.0])})[0]

    lj = jnp.float32(np.log(14.93))
    assert float(one(lj)) == pytest.approx(-36.030, abs=0.01)
    assert float(jax.grad(one)(lj)) == pytest.approx(-34.79, abs=0.05)


@pytest.mark.parametrize("s", [0.0, 2.0, 5.0])
def test_workspace_monte_carlo_error_against_a_large_reference(s):
    """512 fixed draws summarised by 64 quantile nodes vs 8,192 draws and 1,024 nodes: the density differs by
    less than 2 % of its peak (measured: below 1 %); exact (1e-5) at s = 0."""
    p = {"K": jnp.float32(3.5), "sd1_rad": jnp.float32(0.2), "s": jnp.float32(s)}
    big = _workspace.gumbel_table(8192, seed=1)
    e = jnp.linspace(-jnp.pi, jnp.pi, 201)
    small_ll = jax.jit(wm.WORKSPACE.loglik)
    big_ll = jax.jit(lambda p, t: _workspace.loglik_table(p, t, big, 1024))
    for n in (1, 3, 6, 8):
        t = {"set_size": jnp.full(e.shape, n), "error_rad": e}
        a, b = jnp.exp(small_ll(p, t)), jnp.exp(big_ll(p, t))
        err = float(jnp.max(jnp.abs(a - b)) / jnp.max(b))
        assert err < (1e-5 if s == 0 else 0.02), (s, n, err)


def test_workspace_interpolated_share_quantiles_against_sorting_at_every_evaluation():
    """The model interpolates the share quantiles in ``s`` from a 0.1 grid; against sorting the same 512
    draws' shares at every evaluation (``loglik_table``), the density differs by less than 1e-3 of its peak
    (the bound of the vp quadrature; measured: 2.5e-4 at worst, at the narrowest precision ``sd1_rad`` =
    0.02), off the grid as on it (s = 0 and grid points: float32 rounding)."""
    e = jnp.linspace(-jnp.pi, jnp.pi, 201)
    model_ll = jax.jit(wm.WORKSPACE.loglik)
    sorted_ll = jax.jit(lambda p, t: _workspace.loglik_table(p, t, _workspace._TABLE))
    for s, k, sd in [
        (0.0, 3.5, 0.2),
        (0.037, 2.3, 0.02),
        (0.3184, 5.8, 0.07),
        (1.234, 7.99, 0.02),
        (4.45, 1.5, 0.3),
    ]:
        p = {"K": jnp.float32(k), "sd1_rad": jnp.float32(sd), "s": jnp.float32(s)}
        for n in (1, 3, 6, 12):
            t = {"set_size": jnp.full(e.shape, n), "error_rad": e}
            a, b = jnp.exp(model_ll(p, t)), jnp.exp(sorted_ll(p, t))
            err = float(jnp.max(jnp.abs(a - b)) / jnp.max(b))
            assert err < (1e-5 if s == 0 else 1e-3), (s, n, err)


@pytest.mark.parametrize("name", sorted(set(PARAMS) - {"uniform"}))
def test_gradients_are_finite_and_vmap_safe(name):
    model = wm.DELAYED_ESTIMATION[name]
    t = _trials(jnp.array([0.1, -0.5, 2.0, 3.1]), 3)
    t["set_size"] = jnp.array([1, 3, 6, 8])
    g = jax.jit(jax.grad(lambda q: model.loglik(q, t).sum()))(_params(name))
    assert all(bool(jnp.isfinite(v)) for v in g.values())
    batched = jax.tree.map(lambda v: jnp.stack([v, v]), _params(name))
    ll = jax.jit(jax.vmap(lambda q: model.loglik(q, t)))(batched)
    assert ll.shape == (2, 4) and jnp.allclose(ll[0], model.loglik(_params(name), t))


def test_published_shapes():
    """Mixture2p at p_mem = 1 is a von Mises with the stated circular SD; slots: p_mem = min(K/N, 1)."""
    e = jnp.linspace(-jnp.pi, jnp.pi, 20001)[:-1]
    p = {"p_mem": jnp.float32(1.0 - 1e-7), "sd_rad": jnp.float32(0.5)}
    dens = jnp.exp(wm.MIXTURE2P.loglik(p, _trials(e, 1)))
    r = jnp.abs(jnp.sum(dens * jnp.exp(1j * e)) * 2 * jnp.pi / e.size)
    assert float(jnp.sqrt(-2 * jnp.log(r))) == pytest.approx(0.5, rel=1e-3)
    sim = wm.SLOTS_AVERAGING.simulate(
        {"K": jnp.float32(3.0), "sd1_rad": jnp.float32(0.05)},
        _trials(jnp.zeros(40_000), 6),
        key=jax.random.key(0),
    )["error_rad"]
    assert float(jnp.mean(jnp.abs(sim) < 0.3)) == pytest.approx(0.5 + 0.5 * 0.6 / (2 * jnp.pi), abs=0.01)


@pytest.mark.parametrize("name", sorted(wm.CHANGE_DETECTION))
def test_change_detection_models_agree_with_their_simulators(name):
    model = wm.CHANGE_DETECTION[name]
    params = {p.name: jnp.float32(p.default) for p in model.specs}
    t = model.design(40_000, key=jax.random.key(0))
    correct = model.simulate(params, t, key=jax.random.key(1))["correct"]
    p_correct = jnp.exp(model.loglik(params, {**t, "correct": jnp.ones_like(t["change"])}))
    assert float(jnp.mean(correct)) == pytest.approx(float(jnp.mean(p_correct)), abs=0.01)
    p_wrong = jnp.exp(model.loglik(params, {**t, "correct": jnp.zeros_like(t["change"])}))
    assert jnp.allclose(p_correct + p_wrong, 1.0, atol=1e-5)


def test_mixture3p_without_nontargets_is_an_error_not_mixture2p():
    import pandas as pd

    from cogsim.errors import CogsimError, DataError
    from cogsim.fit import fit
    from cogsim.models import paradigms

    p = {"p_mem": jnp.float32(0.8), "p_swap": jnp.float32(0.2), "sd_rad": jnp.float32(0.3)}
    with pytest.raises(CogsimError, match="nontarget_1_rad"):
        wm.MIXTURE3P.loglik(p, {"set_size": jnp.array([2]), "error_rad": jnp.array([0.1])})
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"subject": 1, "set_size": 2, "error_rad": rng.uniform(-3, 3, 30)})
    trials = paradigms.get("delayed_estimation").read(frame)
    with pytest.raises(DataError, match="missing column 'nontarget_1_rad'"):
        fit(wm.MIXTURE3P, trials, ci=None, key=jax.random.key(0))


def test_workspace_share_quantiles_equal_a_full_sort_with_the_same_gradient():
    """The quantiles gathered through a host argsort equal those read off ``jnp.sort`` (values and gradient
    in ``s``)."""
    table = _workspace._TABLE

    def by_sort(s, c):
        ns = jnp.arange(1, _workspace.N_MAX + 1, dtype=jnp.float32)
        m = jnp.minimum(c, ns)
        sel = jnp.arange(_workspace.K_MAX)[None, None, :] < m[:, None, None]
        z = jnp.where(sel, s * jnp.where(jnp.isfinite(table), table, 0.0), -1e30)
        flat = jnp.sort(jnp.where(sel, jax.nn.softmax(z, axis=-1), 2.0).reshape(_workspace.N_MAX, -1), axis=1)
        pos = (jnp.arange(_workspace.N_NODES) + 0.5) / _workspace.N_NODES
        idx = jnp.floor(pos[None, :] * (table.shape[1] * m[:, None])).astype(jnp.int32)
        q = jnp.take_along_axis(flat, jnp.clip(idx, 0, flat.shape[1] - 1), axis=1)
        return jnp.where(m[:, None] > 0, q, 0.0)

    ours = lambda s, c: _workspace._share_quantiles(s, c, table, _workspace.N_NODES)[0]
    for s in (0.7, 3.0):
        for c in (1.0, 3.0):
            np.testing.assert_array_equal(ours(s, c), by_sort(s, c))
            g1 = jax.grad(lambda x, c=c: jnp.sum(ours(x, c) ** 2))(jnp.float32(s))
            g2 = jax.grad(lambda x, c=c: jnp.sum(by_sort(x, c) ** 2))(jnp.float32(s))
            assert float(g1) == pytest.approx(float(g2), rel=1e-5)


def test_workspace_share_table_for_fewer_set_sizes_is_the_full_tables_first_rows():
    """The table computed for set sizes 1..n only (what a fit of data up to set size n asks for) holds the
    full table's entries for those set sizes, bit for bit; n below K_MAX leaves the capacities above n
    empty."""
    full = _workspace.share_quantile_table(n_draws=64, n_nodes=8)
    assert full[0].shape[1] == _workspace.N_MAX
    for n in (1, 6, _workspace.K_MAX + 1):
        cut = _workspace.share_quantile_table(n_draws=64, n_nodes=8, n_rows=n)
        for a, b in zip(cut, full, strict=True):
            assert a.shape == (b.shape[0], n, *b.shape[2:])
            np.testing.assert_array_equal(a, b[:, :n])


def test_workspace_interpolated_fit_reaches_the_sorted_likelihoods_maximum():
    """The interpolation's acceptance rule (b) (declared in ``_workspace``'s docstring): fitted with the
    interpolated and with the per-evaluation-sorted likelihood from the same starts, each participant's
    maximum log-likelihood agrees within 0.1 (three of van den Berg et al.'s participants, 300 trials
    each, one start)."""
    from cogsim import data
    from cogsim.fit import fit
    from cogsim.models import paradigms

    df = paradigms.get("delayed_estimation").read(data.load("vandenberg2012_delayed_estimation"))
    first = df[["experiment", "subject"]].drop_duplicates().iloc[[0, 5, 20]]
    df = df.merge(first, on=["experiment", "subject"]).groupby(["experiment", "subject"]).head(300)
    by = ("experiment", "subject")
    # the same single start for both (the models' per-segment start points left out: the sorted likelihood
    # is several times slower)
    fits = [
        fit(dataclasses.replace(m, starts=()), df, by=by, n_starts=1, ci=None, key=jax.random.key(0)).units
        for m in (wm.WORKSPACE, _workspace.WORKSPACE_SORTED)
    ]
    assert len(fits[0]) == 3 and fits[0]["converged"].all() and fits[1]["converged"].all()
    diff = np.abs(fits[0]["loglik"].to_numpy() - fits[1]["loglik"].to_numpy())
    assert diff.max() < 0.1, diff


def test_workspace_gradient_at_integer_capacity_is_the_right_hand_derivative():
    """At an integer ``K`` (the default 3) the gradient is finite: the right-hand derivative of the mixture
    of ``K`` and ``K + 1`` slots, ``(p_{K+1} - p_K) / p_K`` per trial; between integers the likelihood is
    that mixture."""
    t = _trials(jnp.array([0.1, -0.5, 2.0, 3.1, 0.02]), 3)
    t["set_size"] = jnp.array([1, 3, 6, 8, 12])
    ll = jax.jit(wm.WORKSPACE.loglik)
    grad = jax.jit(jax.grad(lambda q: wm.WORKSPACE.loglik(q, t).sum()))
    for k in (1.0, 3.0, 7.0):
        p = {"K": jnp.float32(k), "sd1_rad": jnp.float32(0.3), "s": jnp.float32(0.5)}
        g = grad(p)
        assert all(bool(jnp.isfinite(v)) for v in g.values()), (k, g)
        lo, hi = jnp.exp(ll(p, t)), jnp.exp(ll({**p, "K": jnp.float32(k + 1)}, t))
        assert float(g["K"]) == pytest.approx(float(jnp.sum((hi - lo) / lo)), rel=1e-4)
        mid = ll({**p, "K": jnp.float32(k + 0.4)}, t)
        np.testing.assert_allclose(mid, jnp.log(0.6 * lo + 0.4 * hi), rtol=1e-5, atol=1e-6)


def test_workspace_declares_one_start_per_capacity_segment():
    assert [p["K"] for p in wm.WORKSPACE.start_points()] == [c + 0.5 for c in range(_workspace.K_MAX)]


def test_slots_rows_by_gather_equal_the_one_hot_product():
    """slots_averaging reads each trial's row of its per-set-size tables by a gather; on Zhang & Luck's
    trials the log-likelihood equals the one-hot product's it replaced at a few points: bit-identical under
    XLA's default optimisations (measured, here and on van den Berg et al.'s data), within float32 rounding
    under the tests' setting (most optimisations off), which is what is asserted."""
    from cogsim import data
    from cogsim.models.working_memory import _slots

    df = data.load("zhang_luck2008_delayed_estimation")
    t = {"set_size": jnp.asarray(df.set_size.to_numpy()), "error_rad": jnp.asarray(df.error_rad.to_numpy())}

    def by_one_hot(p, t):
        logw, kappa = _slots._components(p)
        onehot = jax.nn.one_hot(t["set_size"] - 1, _slots.N_MAX, dtype=kappa.dtype)
        cos1 = jnp.cos(t["error_rad"]) - 1.0
        return jax.nn.logsumexp(onehot @ logw + (onehot @ kappa) * cos1[:, None], axis=1)

    ours, ref = jax.jit(wm.SLOTS_AVERAGING.loglik), jax.jit(by_one_hot)  # trials as arguments, as in fit
    for k, sd in [(0.7, 0.2), (2.6, 0.35), (3.0, 0.3), (5.9, 1.3)]:
        p = {"K": jnp.float32(k), "sd1_rad": jnp.float32(sd)}
        np.testing.assert_allclose(ours(p, t), ref(p, t), rtol=0, atol=2e-6)


@pytest.mark.parametrize("table", ["_J_TO_LOGK", "_LOGK_TO_J"])
def test_lookup_interpolation_equals_jnp_interp_values_and_gradients(table):
    """The tables of ``J`` find a query's interval by a lookup instead of ``jnp.interp``'s binary search:
    the same interval (``searchsorted``), values and gradients, at random points, at every knot and either
    side of it, and beyond both ends (compiled, as in a fit)."""
    from cogsim.models.working_memory import _circular

    t = getattr(_circular, table)
    xp = np.asarray(t.xp)
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(xp[0] - 3, xp[-1] + 3, 50_000),
            xp,
            np.nextafter(xp, np.float32(np.inf)),
            np.nextafter(xp, np.float32(-np.inf)),
            [np.inf, -np.inf],
        ]
    ).astype(np.float32)
    ref = lambda v: jnp.interp(v, t.xp, t.fp)
    inside = (x >= xp[0]) & (x <= xp[-1])
    np.testing.assert_array_equal(
        jax.jit(t.search)(x[inside]), jnp.searchsorted(t.xp, x[inside], side="right")
    )
    np.testing.assert_array_equal(jax.jit(t.interp)(x), jax.jit(ref)(x))
    grad = lambda f: jax.jit(jax.vmap(jax.grad(f)))
    np.testing.assert_array_equal(grad(t.interp)(x), grad(ref)(x))


def test_kappa_and_log_i0e_from_one_lookup_against_float64():
    """``kappa_and_log_i0e_from_j`` (the workspace likelihood's conversion): ``kappa`` identical to
    ``kappa_from_j``; ``log i0e(kappa)`` within 1e-6 of float64 SciPy at that ``kappa`` (measured 5.6e-7,
    the float32 table included); its derivative in ``J`` within 1e-5 relative of the exact
    ``(A(kappa) - 1) d kappa / d J`` (measured 1.8e-6; ``jnp.log(i0e(kappa))``'s own gradient is off by up
    to 0.12 relative there, float32 cancellation in ``i1e / i0e - 1``), from ``J = 0`` to 4e5 (compiled)."""
    from scipy import special

    from cogsim.models.working_memory import _circular as c

    grid = np.exp(np.linspace(np.log(1e-8), np.log(4e5), 20_001))
    j = jnp.asarray(np.concatenate([[0.0, 1e-12, 1e-9], grid]), jnp.float32)
    k, log_i0e = jax.jit(c.kappa_and_log_i0e_from_j)(j)
    np.testing.assert_array_equal(k, jax.jit(c.kappa_from_j)(j))
    k64 = np.asarray(k, np.float64)
    np.testing.assert_allclose(np.asarray(log_i0e, np.float64), np.log(special.i0e(k64)), rtol=0, atol=1e-6)
    grad = lambda f: jax.jit(jax.vmap(jax.grad(f)))(j)
    dk = np.asarray(grad(c.kappa_from_j), np.float64)
    exact = (special.i1e(k64) / special.i0e(k64) - 1.0) * dk
    ours = np.asarray(grad(lambda x: c.kappa_and_log_i0e_from_j(x)[1]), np.float64)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours[1:], exact[1:], rtol=1e-5, atol=0)


def test_lookup_refuses_a_table_that_is_not_increasing():
    from cogsim.errors import CogsimError
    from cogsim.models.working_memory._lookup import Lookup

    with pytest.raises(CogsimError, match="strictly increasing"):
        Lookup.build([0.0, 1.0, 1.0], [0.0, 1.0, 2.0])


def _interp_kappa_from_j(j):
    """The conversion as it was before the lookup: ``jnp.interp``'s binary search."""
    from cogsim.models.working_memory import _circular as c

    k = jnp.exp(jnp.interp(jnp.log(jnp.maximum(j, 1e-30)), c._J_TO_LOGK.xp, c._J_TO_LOGK.fp))
    return jnp.where(j <= float(np.exp(c._LOG_J[0])), jnp.sqrt(2 * jnp.maximum(j, 1e-30)), k)


def _interp_j_from_kappa(kappa):
    from cogsim.models.working_memory import _circular as c

    logk = jnp.log(jnp.maximum(kappa, 1e-30))
    return jnp.where(kappa > 1e-30, jnp.exp(jnp.interp(logk, c._LOGK_TO_J.xp, c._LOGK_TO_J.fp)), 0.0)


def _two_gathers(logw, kappa, trials):
    from cogsim.models.working_memory import _circular as c

    cos1 = (jnp.cos(trials["error_rad"]) - 1.0)[:, None]
    n = trials["set_size"]
    return jax.nn.logsumexp(c.rows_by_set_size(logw, n) + c.rows_by_set_size(kappa, n) * cos1, axis=1)


def _workspace_reference(p, trials):
    """The workspace likelihood as written before: one capacity segment at a time, ``jnp.interp``, two
    gathers."""
    from cogsim.models.working_memory import _circular as c

    log_q, slope = (jnp.asarray(a) for a in _workspace.share_quantile_table())
    j_total = _interp_j_from_kappa(c.kappa_from_sd(p["sd1_rad"]))
    c0, frac = _workspace._split(p["K"])
    kappas, logws = [], []
    for cap, lw in ((c0, jnp.log1p(-frac)), (c0 + 1, jnp.log(frac + _workspace.TINY))):
        share, m, ns = _workspace._interp_shares(p["s"], cap, log_q, slope, _workspace.S_STEP)
        kappa = _interp_kappa_from_j(j_total * share)
        held = jnp.log(jnp.maximum(m / ns, 1e-30)) - jnp.log(_workspace.N_NODES)
        logw = lw + held[:, None] - c.LOG_2PI - jnp.log(jax.scipy.special.i0e(kappa))
        guess = lw + jnp.log(jnp.maximum(1 - m / ns, 1e-30)) - c.LOG_2PI
        kappas += [kappa, jnp.zeros((_workspace.N_MAX, 1))]
        logws += [jnp.where(m[:, None] > 0, logw, -1e30), guess[:, None]]
    logw = jnp.maximum(jnp.concatenate(logws, axis=1), -1e30)
    return _two_gathers(logw, jnp.concatenate(kappas, axis=1), trials)


def _vp_reference(p, trials):
    from cogsim.models.working_memory import _circular as c

    ns = jnp.arange(1, _vp.N_MAX + 1, dtype=jnp.float32)
    j, w = jax.vmap(lambda jb: _vp.nodes(jb, p["tau"]))(p["J1"] * ns ** (-p["alpha"]))
    kappa = _interp_kappa_from_j(j)
    logw = jnp.log(jnp.maximum(w, 1e-30)) - c.LOG_2PI - jnp.log(jax.scipy.special.i0e(kappa))
    return _two_gathers(logw, kappa, trials)


def _slots_reference(p, trials):
    from cogsim.models.working_memory import _circular as c
    from cogsim.models.working_memory import _slots

    n = jnp.arange(1, _slots.N_MAX + 1, dtype=jnp.float32)
    j1 = _interp_j_from_kappa(c.kappa_from_sd(p["sd1_rad"]))
    c0, w = _slots._split(p["K"])
    logws, kappas = [], []
    for cap, lw in ((c0, jnp.log1p(-w)), (c0 + 1, jnp.log(w + _slots.TINY))):
        q = jnp.floor(cap / n)
        r = cap - q * n
        logws += [lw + jnp.log(r / n), lw + jnp.log1p(-r / n)]
        kappas += [_interp_kappa_from_j((q + 1) * j1), _interp_kappa_from_j(q * j1)]
    kappa = jnp.maximum(jnp.stack(kappas, axis=1), 0.0)
    logw = jnp.stack(logws, axis=1) - c.LOG_2PI - jnp.log(jax.scipy.special.i0e(kappa))
    return _two_gathers(jnp.maximum(logw, -1e30), kappa, trials)


@pytest.mark.parametrize(
    ("name", "reference", "draw"),
    [
        (
            "workspace",
            _workspace_reference,
            lambda r: {
                "K": r.uniform(0, 8),
                "sd1_rad": np.exp(r.uniform(np.log(0.03), np.log(3))),
                "s": r.uniform(0, 10),
            },
        ),
        (
            "vp",
            _vp_reference,
            lambda r: {
                "J1": np.exp(r.uniform(0, np.log(500))),
                "alpha": r.uniform(-0.5, 3),
                "tau": np.exp(r.uniform(np.log(0.05), np.log(200))),
            },
        ),
        (
            "slots_averaging",
            _slots_reference,
            lambda r: {"K": r.uniform(0, 8), "sd1_rad": np.exp(r.uniform(np.log(0.03), np.log(3)))},
        ),
    ],
)
def test_likelihood_equals_its_earlier_formulation_at_random_parameters(name, reference, draw):
    """The cheaper formulations (the interval lookup, one gather of the stacked tables, the workspace's two
    capacity segments in one batched pass) against the formulations they replaced, written out here: the
    per-trial log-likelihood and its gradient agree within float32 rounding at 12 random parameter sets
    (measured, under XLA's default optimisations and the tests' setting alike: per-trial log-likelihoods
    identical for vp and slots_averaging, within 2.4e-7 for workspace; gradients within 1.4e-6 of the
    largest component)."""
    model = getattr(wm, name.upper())
    rng = np.random.default_rng(1)
    trials = {
        "set_size": jnp.asarray(rng.integers(1, 9, 400)),
        "error_rad": jnp.asarray(rng.vonmises(0.0, 2.0, 400), jnp.float32),
    }
    ours, ref = jax.jit(model.loglik), jax.jit(reference)
    g_ours = jax.jit(jax.grad(lambda p, t: jnp.sum(model.loglik(p, t))))
    g_ref = jax.jit(jax.grad(lambda p, t: jnp.sum(reference(p, t))))
    for _ in range(12):
        p = {k: jnp.float32(v) for k, v in draw(rng).items()}
        np.testing.assert_allclose(ours(p, trials), ref(p, trials), rtol=1e-6, atol=1e-6)
        go, gr = g_ours(p, trials), g_ref(p, trials)
        scale = max(float(jnp.abs(v)) for v in gr.values())
        for k in gr:
            assert abs(float(go[k]) - float(gr[k])) <= 1e-5 * scale + 1e-4, (p, k, go[k], gr[k])


def test_fixed_capacity_declares_start_points_below_the_capacity_plateau():
    for m in (wm.FIXED_CAPACITY, wm.FIXED_CAPACITY_BASE_RATE):
        assert [p["K"] for p in m.start_points()] == [1.5, 5.0], m.name


@pytest.mark.parametrize(
    ("truth", "seed", "stuck"),
    [
        # the random start lands on the plateau K >= 8 (the largest set size), the likelihood flat in K
        ({"K": 4.7, "a": 0.9, "g": 0.5}, 10213, lambda k: k >= 8.0),
        # the default start stops at a local maximum below the set-size-4 kink, the maximum lies above it
        ({"K": 4.5, "a": 0.85, "g": 0.5}, 621, lambda k: k < 4.0),
    ],
    ids=["plateau", "segment"],
)  # seeds found by searching for the failure; 162 and 15 before the random starts were keyed by the unit's
# ids (2026-12-05), after which the plateau case is rarer (no seed in 0-3,999 shows it; 10213 does)
def test_fixed_capacity_start_points_reach_the_maximum_the_default_starts_miss(truth, seed, stuck):
    """One simulated participant (500 trials, set sizes 2/4/6/8), 2 starts: without the declared start points
    the fit ends at a worse point marked converged; with them, below the plateau with a higher likelihood."""
    import pandas as pd

    from cogsim import fit

    m = wm.FIXED_CAPACITY
    df = fit.simulate_data(m, pd.DataFrame({"subject": [1], **truth}), 500, key=jax.random.key(seed))
    without, with_ = (
        fit.fit(model, df, n_starts=2, ci=None, key=jax.random.key(seed)).units.iloc[0]
        for model in (dataclasses.replace(m, starts=()), m)
    )
    assert stuck(without.K) and bool(without.converged), without.to_dict()
    assert 4.0 < with_.K < 6.0 and bool(with_.converged), with_.to_dict()
    assert with_.loglik > without.loglik + 0.5, (with_.loglik, without.loglik)


# ------------------------------------------------------------- set sizes outside the tables, trial shapes
_TABLE_MODELS = [
    (wm.VP, {"J1": 10.0, "alpha": 1.0, "tau": 5.0}, 32),
    (wm.SLOTS_AVERAGING, {"K": 3.0, "sd1_rad": 0.4}, 16),
]


@pytest.mark.parametrize(("model", "params", "top"), _TABLE_MODELS, ids=["vp", "slots_averaging"])
def test_set_sizes_outside_the_tables_give_nan_and_valid_ones_are_unchanged(model, params, top):
    p = {k: jnp.float32(v) for k, v in params.items()}
    sizes = jnp.array([0.0, -1.0, top + 1.0, 2.5, jnp.nan, 1.0, 2.0, float(top)])
    ll = np.asarray(model.loglik(p, {"set_size": sizes, "error_rad": jnp.full(8, 0.1)}))
    assert np.isnan(ll[:5]).all()  # before: log(34)-like values, set size 0 read the last row, 2.5 read 2
    ok = model.loglik(p, {"set_size": jnp.array([1, 2, top]), "error_rad": jnp.full(3, 0.1)})
    np.testing.assert_array_equal(ll[5:], np.asarray(ok))  # integer or float set sizes: the same values


def test_rows_by_set_size_gives_nan_rows_outside_the_table():
    from cogsim.models.working_memory._circular import rows_by_set_size

    rows = np.asarray(rows_by_set_size(jnp.arange(6.0).reshape(3, 2), jnp.array([0, -1, 4, 2])))
    assert np.isnan(rows[:3]).all()
    np.testing.assert_array_equal(rows[3], [2.0, 3.0])


@pytest.mark.parametrize(
    ("model", "params"),
    [(wm.VP, {"J1": 10.0, "alpha": 1.0, "tau": 5.0}), (wm.MIXTURE2P, {"p_mem": 0.9, "sd_rad": 0.3})],
    ids=["vp", "mixture2p"],
)
def test_one_trial_of_0d_arrays_gives_a_0d_loglik_and_lengths_must_agree(model, params):
    from cogsim.errors import CogsimError

    p = {k: jnp.float32(v) for k, v in params.items()}
    one = model.loglik(p, {"set_size": 2, "error_rad": 0.1})
    jitted = jax.jit(model.loglik)(p, {"set_size": 2, "error_rad": 0.1})
    ref = model.loglik(p, {"set_size": jnp.array([2]), "error_rad": jnp.array([0.1])})
    assert one.shape == () and jitted.shape == ()
    assert float(one) == float(ref[0]) == float(jitted)
    with pytest.raises(CogsimError, match=r"'set_size' 3, 'error_rad' 2"):
        model.loglik(p, {"set_size": jnp.array([1, 2, 3]), "error_rad": jnp.array([0.1, 0.2])})


def test_vp_loglik_has_the_documented_floor():
    p = {"J1": jnp.float32(1000.0), "alpha": jnp.float32(-1.0), "tau": jnp.float32(0.01)}
    ll = wm.VP.loglik(p, {"set_size": jnp.array([1, 8]), "error_rad": jnp.array([3.1, 3.1])})
    np.testing.assert_allclose(np.asarray(ll), np.log(1e-30 / (2 * np.pi)), atol=1e-3)
