"""The passes after the best-of-starts solve and the convergence check (cogsim.fit._passes): a point on a
plateau at a bound is unconverged even where its gradient norm is small, a maximum at the bound stays
converged, and a data-informed start and the check's rounds reach each unit's maximum."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim.errors import CogsimError
from cogsim.fit import Param, fit
from cogsim.fit._data import pack
from cogsim.fit._optim import CONVERGED_GTOL
from cogsim.fit._passes import STABLE_TOL, check, initial_starts, near_bound, probe, refine, solve_from

KEY = jax.random.key(0)
FLOOR = float(np.log(0.01 / 200.0))


class Shifted:
    """A normal of SD 1 at a shift ``t >= 0`` mixed with a uniform floor: far from the data the normal's
    density falls below the floor and the gradient in ``t`` vanishes (a plateau, like the search models'
    contaminant with their shift ``t0_s`` at 0)."""

    name, by_set_size, requires = "shifted", False, ()

    def __init__(self, default=5.0):
        self.params = (Param("t", 0.0, default=default),)

    def loglik(self, p, t):
        normal = jax.scipy.stats.norm.logpdf(t["x"], p["t"], 1.0)
        return jnp.logaddexp(jnp.log(0.99) + normal, FLOOR)


class ShiftedWithInitial(Shifted):
    def initial(self, trials):
        return {"t": float(np.median(trials["x"]))}


class ShiftedPasses(Shifted):
    """Declares an ``initial`` start that says nothing (the default): the passes run, from no data."""

    def initial(self, trials):
        return {}


def _data(means, n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"subject": np.repeat(np.arange(len(means)), n), "x": rng.normal(np.repeat(means, n), 1.0)}
    )


def _solution(model, packed, t):
    u = model.params[0].to_unconstrained(jnp.asarray(t, jnp.float32))[:, None]
    return solve_from(model, packed, {}, u)


def test_a_point_on_the_plateau_at_the_bound_is_unconverged_though_its_gradient_norm_is_small():
    model = Shifted(default=8.0)
    packed = pack(_data([10.0, 10.0]), model, by=("subject",))
    sol = _solution(model, packed, [1e-3, 10.0])  # unit 0 on the plateau at t = 0, unit 1 at its maximum
    assert float(sol[2][0]) <= CONVERGED_GTOL  # the gradient norm alone would call it converged
    assert near_bound(model, sol[0]).ravel().tolist() == [True, False]
    converged, again = check(model, packed, {}, sol)
    assert converged.tolist() == [False, True]
    assert float(sol[1][0] - again[1][0]) > 100.0  # the probe from the default finds the maximum
    assert abs(float(sol[1][1] - again[1][1])) <= STABLE_TOL * 200


def test_a_maximum_at_the_bound_stays_converged():
    model = Shifted(default=1.0)
    packed = pack(_data([-3.0]), model, by=("subject",))  # the likelihood rises toward t = 0
    res = fit(model, _data([-3.0]), n_starts=2, ci=None, key=KEY).units
    assert res["t"].iloc[0] < 0.01 and bool(res["converged"].iloc[0])
    sol = _solution(model, packed, [1e-4])
    assert check(model, packed, {}, sol)[0].tolist() == [True]


def test_fit_leaves_the_plateau_by_the_initial_start_or_the_probe_and_reports_the_check():
    data = _data([8.0, 12.0])
    # from the default 40 every start ends on the plateau (the normal's density underflows there)
    far = fit(Shifted(default=40.0), data, n_starts=1, ci=None, key=KEY).units
    with_initial = fit(ShiftedWithInitial(default=40.0), data, n_starts=1, ci=None, key=KEY).units
    np.testing.assert_allclose(with_initial["t"], data.groupby("subject")["x"].mean(), atol=0.01)
    assert with_initial["converged"].all()
    assert (with_initial["loglik"].to_numpy() > far["loglik"].to_numpy() + 100).all()
    # a plateau away from any bound is not detected: the probe is a plain restart there, and stays
    assert far["converged"].all()


def test_refine_moves_a_unit_off_the_plateau_at_the_bound_and_reports_it_converged():
    model = ShiftedPasses(default=8.0)
    data = _data([10.0, 11.0])
    packed = pack(data, model, by=("subject",))
    sol = _solution(model, packed, [1e-3, 11.0])  # unit 0 on the plateau at t = 0
    u, nll, gnorm, n_iter, converged = refine(model, packed, {}, sol)
    t = np.asarray(model.params[0].from_unconstrained(u[:, 0]))
    np.testing.assert_allclose(t, data.groupby("subject")["x"].mean(), atol=0.01)
    assert float(sol[1][0] - nll[0]) > 100.0 and converged.tolist() == [True, True]


def test_probe_resets_only_the_parameters_near_a_bound():
    model = Shifted(default=5.0)
    u = model.params[0].to_unconstrained(jnp.asarray([0.005, 0.02]))[:, None]
    t = np.asarray(model.params[0].from_unconstrained(probe(model, u)[:, 0]))
    np.testing.assert_allclose(t, [5.0, 0.02], rtol=1e-5)


def test_initial_starts_are_checked_against_the_bounds():
    packed = pack(_data([8.0, 12.0]), ShiftedWithInitial(), by=("subject",))
    t = np.asarray(Shifted().params[0].from_unconstrained(initial_starts(ShiftedWithInitial(), packed)[:, 0]))
    np.testing.assert_allclose(t, _data([8.0, 12.0]).groupby("subject")["x"].median(), rtol=1e-5)
    assert initial_starts(Shifted(), packed) is None

    class Bad(Shifted):
        def initial(self, trials):
            return {"t": -1.0}

    with pytest.raises(CogsimError, match=r"initial: got t=-1\.0; allowed: a value inside \(0\.0, inf\)"):
        initial_starts(Bad(), packed)


def test_refine_reports_the_check_of_the_point_it_returns():
    model = ShiftedPasses(default=8.0)
    data = _data([10.0, 11.0, -2.0, 9.0], n=150, seed=1)
    packed = pack(data, model, by=("subject",))
    sol = _solution(model, packed, [1e-3, 11.0, 1e-3, 40.0])  # plateau at 0, maximum, bound maximum, far
    *out, converged = refine(model, packed, {}, sol)
    again, _ = check(model, packed, {}, tuple(out))
    assert converged.tolist() == again.tolist()
    assert (np.asarray(out[1]) <= np.asarray(sol[1])).all()  # never worse than the solve it started from


def test_a_model_without_initial_has_no_passes_and_keeps_the_gradient_rule():
    model = Shifted(default=8.0)
    packed = pack(_data([10.0, 11.0]), model, by=("subject",))
    sol = _solution(model, packed, [1e-3, 11.0])  # unit 0 on the plateau at t = 0
    u, nll, gnorm, n_iter, converged = refine(model, packed, {}, sol)
    np.testing.assert_array_equal(np.asarray(u), np.asarray(sol[0]))
    assert converged.tolist() == (np.asarray(sol[2]) <= CONVERGED_GTOL).tolist() == [True, True]


def test_a_fit_stopped_on_a_cliff_of_real_trials_is_unconverged():
    """Wolfe et al. (2010), spatial configuration subject 6, the parallel model: the fit stops where the
    trials of exactly 350 ms would fall to the contaminant (gamma shape below 1, so the likelihood rises
    toward that edge); a restart cannot move it, but its gradient is far from zero."""
    from cogsim import data
    from cogsim.fit._passes import STALL_GTOL
    from cogsim.models import paradigms

    par = paradigms.get("visual_search")
    w = data.load("visual_search_wolfe2010")
    unit = par.read(w[(w.task == "spatial_configuration") & (w.subject == 6)].reset_index(drop=True))
    res = fit(par.models["parallel"], unit, by=("task", "subject"), n_starts=4, ci=None, key=KEY)
    row = res.units.iloc[0]
    assert row["grad_norm"] > STALL_GTOL and not row["converged"]
    assert res.summary["grad_norm"].iloc[0] == row["grad_norm"] and not res.summary["converged"].iloc[0]
    assert abs(row["t0_s"] - 0.35) < 1e-3 and row["k_yes"] < 1.0  # on the edge at the 350 ms trials
