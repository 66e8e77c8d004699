"""Each unit's distinct trials evaluated once, weighted by their count (cogsim.fit._compress)."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim.fit import Param, fit, fit_hierarchical
from cogsim.fit._compress import canonical, compress, read_columns
from cogsim.fit._data import pack
from cogsim.models import paradigms

KEY = jax.random.key(0)


class Gauss:
    name, by_set_size, requires = "gauss", False, ()
    params = (Param("mu", default=0.0), Param("sd", 0.0, default=1.0))

    def loglik(self, p, t):
        return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], p["sd"])


class Running(Gauss):
    """Each trial's mean is the running mean of the earlier trials: trials are not exchangeable."""

    name, trialwise = "running", False

    def loglik(self, p, t):
        prev = jnp.concatenate([jnp.zeros(1), jnp.cumsum(t["x"])[:-1] / jnp.arange(1, t["x"].shape[0])])
        return jax.scipy.stats.norm.logpdf(t["x"], p["mu"] + prev, p["sd"])


def grid_data(n_subjects=3, n=400, seed=0):
    """Gaussian responses rounded to a grid of 0.25 (many repeats), plus a column the model does not read."""
    rng = np.random.default_rng(seed)
    rows = [
        {"subject": s, "x": round(float(rng.normal(s, 1.0 + 0.3 * s)) * 4) / 4, "trial": i}
        for s in range(n_subjects)
        for i in range(n)
    ]
    return pd.DataFrame(rows)


def test_read_columns_finds_what_the_likelihood_reads_and_only_that():
    t = {"x": jnp.zeros(4), "trial": jnp.arange(4), "nontargets": jnp.zeros((4, 3))}
    assert read_columns(Gauss(), t) == ("x",)
    mix3 = paradigms.get("delayed_estimation").models["mixture3p"]
    t = {
        "error_rad": jnp.zeros(4),
        "set_size": jnp.full(4, 4),
        "nontargets": jnp.zeros((4, 3)),
        "trial": t["trial"],
    }
    assert set(read_columns(mix3, t)) == {"error_rad", "nontargets"}


def test_weights_count_every_trial_once_and_rows_are_distinct():
    data = grid_data()
    packed = pack(data, Gauss(), by=("subject",))
    small = compress(packed, Gauss())
    w = np.asarray(small.mask)
    assert w.dtype == np.float32 and small.mask.shape[1] < packed.mask.shape[1]
    np.testing.assert_array_equal(w.sum(1), packed.units["n_trials"].to_numpy())
    x = np.asarray(small.trials["x"])
    for u, grp in data.groupby("subject"):
        real = w[u] > 0
        assert sorted(x[u, real].tolist()) == sorted(grp["x"].unique().tolist())
        counts = grp["x"].value_counts()
        assert all(counts[v] == c for v, c in zip(x[u, real], w[u, real], strict=True))
        assert data.loc[small.rows[u, real], "x"].tolist() == x[u, real].tolist()  # rows point at the data


def test_fit_on_distinct_trials_equals_fit_on_every_trial():
    data = grid_data()
    a = fit(Gauss(), data, ci="profile", key=KEY)
    b = fit(Gauss(), data, ci="profile", compress=False, key=KEY)
    assert a.settings["distinct_trials"] < len(data) and b.settings["distinct_trials"] is None
    np.testing.assert_allclose(a.summary["loglik"], b.summary["loglik"], atol=1e-3)
    np.testing.assert_allclose(a.estimates["estimate"], b.estimates["estimate"], atol=1e-3)
    np.testing.assert_allclose(
        a.estimates[["ci_low", "ci_high"]], b.estimates[["ci_low", "ci_high"]], atol=2e-3
    )
    assert a.summary["n_trials"].tolist() == b.summary["n_trials"].tolist()


def test_hierarchical_fit_on_distinct_trials_equals_every_trial():
    data = grid_data(n_subjects=4, n=200, seed=1)
    a = fit_hierarchical(Gauss(), data, ci=None, key=KEY)
    b = fit_hierarchical(Gauss(), data, ci=None, compress=False, key=KEY)
    np.testing.assert_allclose(a.estimates["estimate"], b.estimates["estimate"], atol=1e-3)
    assert a.log_marginal == pytest.approx(b.log_marginal, abs=1e-2)


def test_a_model_whose_trials_are_not_exchangeable_is_not_compressed():
    data = grid_data(n_subjects=1)
    packed = pack(data, Running(), by=("subject",))
    assert compress(packed, Running()) is packed
    assert fit(Running(), data, ci=None, key=KEY).settings["distinct_trials"] is None


def test_continuous_data_are_left_alone():
    data = grid_data(n_subjects=2)
    data["x"] = data["x"] + np.random.default_rng(3).normal(0, 1e-3, len(data))
    packed = pack(data, Gauss(), by=("subject",))
    left = compress(packed, Gauss())  # every trial, in the order of their values (not the file's)
    assert np.asarray(left.mask).dtype == bool and np.array_equal(left.mask, packed.mask)
    assert np.array_equal(np.sort(left.rows, axis=1), np.sort(packed.rows, axis=1))
    assert not np.array_equal(left.rows, packed.rows)
    assert np.array_equal(left.trials["x"], canonical(packed, Gauss()).trials["x"])


@pytest.mark.parametrize(
    "name",
    [m for m, v in paradigms.get("delayed_estimation").models.items() if getattr(v, "sign_invariant", ())],
)
def test_sign_invariant_declarations_hold(name):
    """A model declaring error_rad sign-invariant gives the same per-trial log-likelihood for e and -e."""
    model = paradigms.get("delayed_estimation").models[name]
    rng = np.random.default_rng(0)
    n = 64
    trials = {
        "set_size": jnp.asarray(rng.choice([1, 2, 4, 6, 8], n), jnp.int32),
        "error_rad": jnp.asarray(rng.uniform(-np.pi, np.pi, n), jnp.float32),
    }
    flipped = dict(trials, error_rad=-trials["error_rad"])
    for _ in range(3):
        params = {
            p.name: jnp.float32(rng.uniform(p.low + 0.05 * (min(p.high, 10) - p.low), min(p.high, 10) * 0.9))
            for p in model.params
        }
        np.testing.assert_allclose(
            model.loglik(params, trials), model.loglik(params, flipped), rtol=1e-6, atol=1e-6
        )


def test_a_model_with_initial_starts_evaluates_every_trial_unless_asked():
    class WithInitial(Gauss):
        def initial(self, trials):
            return {"mu": float(np.median(trials["x"]))}

    data = grid_data(n_subjects=2, n=200)
    assert fit(WithInitial(), data, ci=None, key=KEY).settings["distinct_trials"] is None
    assert fit(WithInitial(), data, ci=None, compress=True, key=KEY).settings["distinct_trials"] < len(data)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"min_trials": 2.5}, "got min_trials=2.5; allowed: an integer >= 1"),
        ({"min_trials": "10"}, "got min_trials='10'; allowed: an integer >= 1"),
        ({"min_trials": True}, "got min_trials=True; allowed: an integer >= 1"),
        ({"compress": "yes"}, "got compress='yes'; allowed: True, False or None"),
        ({"compress": 1}, "got compress=1; allowed: True, False or None"),
    ],
)
def test_min_trials_and_compress_take_what_they_say(kw, message):
    from cogsim.errors import CogsimError
    from cogsim.fit import sample

    data = pd.DataFrame({"subject": np.repeat([1, 2], 20), "x": np.arange(40.0) % 7})
    with pytest.raises(CogsimError, match=f"^fit: {message}"):
        fit(Gauss(), data, ci=None, key=KEY, **kw)
    with pytest.raises(CogsimError, match=f"^fit_hierarchical: {message}"):
        fit_hierarchical(Gauss(), data, key=KEY, **kw)
    if "min_trials" in kw:
        with pytest.raises(CogsimError, match=f"^sample: {message}"):
            sample(Gauss(), data, key=KEY, **kw)
    assert (
        fit(Gauss(), data, ci=None, key=KEY, min_trials=np.int64(5), compress=np.bool_(False))
        .summary["converged"]
        .all()
    )
