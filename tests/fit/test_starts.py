"""Start points: the default and random starts, a model's own extra start points, and why slots needs them."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim.errors import CogsimError
from cogsim.fit import Param, fit
from cogsim.fit._fit import starts

KEY = jax.random.key(0)


class Capacity:
    name, by_set_size, requires = "capacity", False, ()
    params = (Param("K", 0.0, 8.0, default=3.0), Param("sd", 0.0, default=1.0))

    def __init__(self, points=()):
        self.points = points

    def loglik(self, p, t):
        return jax.scipy.stats.norm.logpdf(t["x"], p["K"], p["sd"])

    def start_points(self):
        return self.points


def test_model_start_points_follow_the_default_and_random_starts():
    model = Capacity(({"K": 0.5}, {"K": 6.5, "sd": 2.0}))
    u = starts(model, np.arange(3), 2, key=KEY)
    assert u.shape == (4, 3, 2)
    plain = starts(Capacity(), np.arange(3), 2, key=KEY)
    np.testing.assert_array_equal(u[:2], plain)  # the default and random starts are unchanged
    k, sd = model.params
    np.testing.assert_allclose(k.from_unconstrained(u[2:, :, 0]), [[0.5] * 3, [6.5] * 3], rtol=1e-5)
    np.testing.assert_allclose(sd.from_unconstrained(u[2:, :, 1]), [[1.0] * 3, [2.0] * 3], rtol=1e-5)


def test_random_starts_are_the_default_plus_the_documented_draws_bit_for_bit():
    # start s of the unit with id i: default + N(0, 1) keyed by fold_in(fold_in(key, s), i), whatever the
    # other units (the draws run in one program; the numbers are those of drawing one unit at a time)
    model = Capacity()
    ids = np.array([7, 3, 2**31 + 5], np.uint32)
    u = np.asarray(starts(model, ids, 4, key=KEY))
    base = np.asarray([p.to_unconstrained(p.default) for p in model.params])
    np.testing.assert_array_equal(u[0], np.broadcast_to(base, (3, 2)))
    for s in range(1, 4):
        for j, i in enumerate(ids):
            draw = jax.random.normal(jax.random.fold_in(jax.random.fold_in(KEY, s), int(i)), (2,))
            np.testing.assert_array_equal(u[s, j], base + np.asarray(draw))
    np.testing.assert_array_equal(np.asarray(starts(model, ids[1:], 4, key=KEY)), u[:, 1:])


BAD_POINTS = [({"K": 9.0}, r"K=9\.0.*inside \(0\.0, 8\.0\)"), ({"k": 1}, "'K'")]


@pytest.mark.parametrize(("point", "match"), BAD_POINTS)
def test_a_start_point_outside_the_model_is_refused(point, match):
    with pytest.raises(CogsimError, match=match):
        starts(Capacity((point,)), np.arange(2), 1, key=KEY)


def test_slots_gradient_is_finite_at_integer_capacity():
    from cogsim.models import working_memory as wm

    trials = {"set_size": jnp.array([1, 2, 4, 6, 8]), "error_rad": jnp.array([0.1, -0.3, 1.0, 2.5, -0.2])}
    f = lambda k: wm.SLOTS_AVERAGING.loglik({"K": k, "sd1_rad": jnp.float32(0.4)}, trials).sum()
    g = jax.jit(jax.grad(f))
    assert np.isfinite(float(g(jnp.float32(3.0))))  # the default start sits on a kink
    assert float(g(jnp.float32(3.0))) == pytest.approx(float(g(jnp.float32(3.0 + 1e-6))), rel=1e-3)


def _grid_max(model, data) -> float:
    """The log-likelihood's maximum over a K x sd1 grid (K every 0.02, sd1 on a log grid), refined around the
    best point (K every 0.0005, sd1 every 0.1 %)."""
    trials = {c: jnp.asarray(data[c].to_numpy()) for c in ("set_size", "error_rad")}
    ll = jax.jit(jax.vmap(lambda k, s: model.loglik({"K": k, "sd1_rad": s}, trials).sum()))

    def best(ks, ss):
        kk, sg = (a.ravel() for a in jnp.meshgrid(ks, ss, indexing="ij"))
        vals = ll(kk, sg)
        i = int(jnp.argmax(vals))
        return float(vals[i]), float(kk[i]), float(sg[i])

    _, k0, s0 = best(jnp.arange(0.01, 8.0, 0.02), jnp.geomspace(0.021, 3.9, 60))
    ks = jnp.clip(jnp.linspace(k0 - 0.02, k0 + 0.02, 81), 1e-4, 8.0 - 1e-4)
    return best(ks, jnp.geomspace(s0 / 1.1, s0 * 1.1, 191))[0]


@pytest.fixture(scope="module")
def slots_case():
    """Seeded data on which the default start alone ends on a worse integer-K segment: one participant,
    K 0.86, sd1 0.12, 300 trials at set sizes 1/2/4/6/8 (the model's own design)."""
    from cogsim.models import working_memory as wm

    model = wm.SLOTS_AVERAGING

    @jax.jit
    def simulate(key):
        k1, k2 = jax.random.split(key)
        trials = model.design(300, key=k1)
        return trials["set_size"], model.simulate({"K": 0.858, "sd1_rad": 0.118}, trials, key=k2)["error_rad"]

    n, err = simulate(jax.random.key(0))
    data = pd.DataFrame({"subject": 1, "set_size": np.asarray(n), "error_rad": np.asarray(err, float)})
    return model, data, _grid_max(model, data)


def test_slots_fit_reaches_the_grid_maximum(slots_case):
    """With the model's start points (one per integer-K segment), one default start is enough to reach the
    grid maximum within 0.1."""
    model, data, target = slots_case
    res = fit(model, data, n_starts=1, ci=None, key=KEY).units
    assert res["loglik"].iloc[0] == pytest.approx(target, abs=0.1)
    assert res["K"].iloc[0] < 1.0


@pytest.mark.slow
def test_slots_default_start_alone_ends_on_a_worse_segment(slots_case):
    """The defect the start points remove: from the default start alone (K = 3), L-BFGS ends on another
    integer-K segment, more than 1 log-unit below the grid maximum, and reports convergence."""
    model, data, target = slots_case
    alone = fit(dataclasses.replace(model, starts=()), data, n_starts=1, ci=None, key=KEY).units
    assert alone["loglik"].iloc[0] < target - 1.0
    assert alone["K"].iloc[0] > 1.0 and bool(alone["converged"].iloc[0])
