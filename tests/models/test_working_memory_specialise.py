"""Working-memory models specialised to a data set: per-set-size tables cut at the largest set size present
give the same per-trial log-likelihood as the full tables, and ``cogsim.fit`` fits the specialised model."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim import data
from cogsim.errors import CogsimError
from cogsim.fit import Param, _model, fit
from cogsim.models import paradigms
from cogsim.models import working_memory as wm
from cogsim.models.working_memory import _workspace

CUT = {"slots_averaging": wm.SLOTS_AVERAGING, "vp": wm.VP, "workspace": wm.WORKSPACE}


@pytest.fixture(scope="module")
def vdb():
    """Van den Berg et al. (2012)'s trials (set sizes 1-8)."""
    return paradigms.get("delayed_estimation").read(data.load("vandenberg2012_delayed_estimation"))


def _draw(model, seed):
    """Parameters drawn uniformly inside each bound's middle 80 % (log-uniform where the range spans
    decades)."""
    rng = np.random.default_rng(seed)
    out = {}
    for p in model.params:
        lo, hi = p.low + 0.1 * (p.high - p.low), p.high - 0.1 * (p.high - p.low)
        if p.low > 0 and p.high / p.low > 100:
            out[p.name] = float(np.exp(rng.uniform(np.log(p.low * 10), np.log(p.high / 10))))
        else:
            out[p.name] = float(rng.uniform(lo, hi))
    return {k: jnp.float32(v) for k, v in out.items()}


@pytest.mark.parametrize("name", sorted(CUT))
def test_cut_tables_give_the_same_loglik_bit_for_bit_and_the_same_gradient(vdb, name):
    model = CUT[name]
    cut = model.specialise(vdb)
    assert cut is not model and cut.n_rows == 8
    trials = {
        "set_size": jnp.asarray(vdb["set_size"].to_numpy(), jnp.int32),
        "error_rad": jnp.asarray(vdb["error_rad"].to_numpy(), jnp.float32),
    }
    # each function compiled once, called at four parameter points
    loglik = [jax.jit(m.loglik) for m in (model, cut)]
    grad = [jax.jit(jax.grad(lambda q, t, m=m: jnp.sum(m.loglik(q, t)))) for m in (model, cut)]
    for seed in range(4):
        p = {q.name: jnp.float32(q.default) for q in model.params} if seed == 0 else _draw(model, seed)
        full, short = (f(p, trials) for f in loglik)
        np.testing.assert_array_equal(np.asarray(short), np.asarray(full))
        g_full, g_short = (f(p, trials) for f in grad)
        for k in p:
            np.testing.assert_allclose(float(g_short[k]), float(g_full[k]), rtol=1e-5, atol=1e-3)


def test_specialise_returns_one_object_per_size_and_the_model_where_nothing_is_cut(vdb):
    ws = wm.WORKSPACE
    assert ws.specialise(vdb) is ws.specialise(vdb.copy())
    assert ws.specialise(vdb.query("set_size <= 4")).n_rows == 4
    assert ws.specialise(pd.DataFrame({"set_size": [1, ws.max_set_size]})) is ws  # the tables' end
    assert ws.specialise(pd.DataFrame({"set_size": [1.5, 3.0]})) is ws  # not set sizes: left to the checks
    assert ws.specialise(pd.DataFrame({"error_rad": [0.1]})) is ws
    assert _workspace.WORKSPACE_SORTED.specialise(vdb) is _workspace.WORKSPACE_SORTED  # no cut tables
    assert wm.MIXTURE2P.specialise(vdb) is wm.MIXTURE2P


@pytest.mark.parametrize("name", sorted(CUT))
def test_a_set_size_beyond_the_cut_is_nan_not_a_row_of_zeros(name):
    cut = CUT[name].specialise(pd.DataFrame({"set_size": [1, 2, 3]}))
    p = {q.name: jnp.float32(q.default) for q in cut.params}
    ll = cut.loglik(p, {"set_size": jnp.array([2, 4]), "error_rad": jnp.array([0.1, 0.1])})
    assert np.isfinite(float(ll[0])) and np.isnan(float(ll[1]))


class _Gauss:
    name, by_set_size, requires = "gauss", False, ()
    params = (Param("mu"), Param("sd", 0.0, default=1.0))

    def __init__(self, tag=None, seen=None):
        self.tag, self.seen = tag, seen if seen is not None else []

    def loglik(self, p, t):
        self.seen.append(self.tag)  # at trace time: which object the fit evaluates
        return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], p["sd"])

    def specialise(self, trials):
        return _Gauss(f"n={len(trials['x'])}", self.seen)


def test_fit_evaluates_the_model_the_data_specialise_it_to():
    x = np.random.default_rng(0).normal(1.0, 0.5, 60)
    model = _Gauss()
    res = fit(model, pd.DataFrame({"subject": 1, "x": x}), ci=None, key=jax.random.key(0))
    assert set(model.seen) == {"n=60"}
    assert abs(float(res.units["mu"].iloc[0]) - x.mean()) < 1e-3


def test_a_specialised_model_with_another_name_or_parameters_is_refused():
    class Other(_Gauss):
        name = "other"

    class Renamed(_Gauss):
        def specialise(self, trials):
            return Other()

    with pytest.raises(CogsimError, match="specialise: got a model named 'other'"):
        _model.specialised(Renamed(), pd.DataFrame({"x": [0.0]}))


@pytest.mark.parametrize("name", sorted(CUT))
def test_loglik_parts_compose_to_the_loglik_bit_for_bit(vdb, name):
    trials = {
        "set_size": jnp.asarray(vdb["set_size"].to_numpy()[:2000], jnp.int32),
        "error_rad": jnp.asarray(vdb["error_rad"].to_numpy()[:2000], jnp.float32),
    }
    for model in (CUT[name], CUT[name].specialise(vdb)):
        tables, rows = model.loglik_parts()
        p = _draw(model, 7)
        np.testing.assert_array_equal(
            np.asarray(jax.jit(lambda q, m=model: m.loglik(q, trials))(p)),
            np.asarray(jax.jit(lambda q, tables=tables, rows=rows: rows(tables(q), trials))(p)),
        )
    assert wm.MIXTURE2P.loglik_parts() is None and _workspace.WORKSPACE_SORTED.loglik_parts() is None
