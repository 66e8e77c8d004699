import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim import compare
from cogsim.models import capacity


def synthetic_trials(K, a, g, *, n_sub=10, reps=40, seed=0):
    """Trials drawn from the fixed-capacity model itself (parameter recovery)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sub):
        for n in (2, 5, 8):
            for b, pc in enumerate((0.3, 0.5, 0.7)):
                for ch in (0, 1):
                    p = capacity.predict(
                        {"K": jnp.array(K), "a": jnp.array(a), "g": jnp.array(g)},
                        jnp.array([n]),
                        jnp.array([b]),
                        jnp.array([ch]),
                    )
                    resp = rng.random(reps) < float(p[0])
                    for r in resp:
                        rows.append(
                            {"sub": s, "N": n, "prch": np.log(pc / (1 - pc)), "ischange": ch, "resp": int(r)}
                        )
    return pd.DataFrame(rows)


def test_predictions_follow_the_equations():
    p = {"K": jnp.array(4.0), "a": jnp.array(0.8), "g": jnp.array([0.3])}
    hit, fa = capacity.predict(p, jnp.array([8, 8]), jnp.array([0, 0]), jnp.array([1, 0]))
    d = 0.5
    assert float(hit) == pytest.approx(0.8 * (d + (1 - d) * 0.3) + 0.2 * 0.3)
    assert float(fa) == pytest.approx(0.8 * (1 - d) * 0.3 + 0.2 * 0.3)


def test_parameter_recovery():
    df = synthetic_trials(3.5, 0.9, [0.3, 0.5, 0.7], n_sub=12, reps=60)
    counts = capacity.counts_from_trials(df)
    fit = capacity.fit(counts, counts.n.sum(0), counts.k.sum(0), steps=800)
    assert float(fit["K"]) == pytest.approx(3.5, abs=0.35)
    assert np.allclose(np.asarray(fit["g"]), [0.3, 0.5, 0.7], atol=0.06)


def test_adam_fit_reaches_the_lbfgs_optimum():
    df = synthetic_trials(2.5, 0.95, [0.4, 0.5, 0.6], n_sub=4, reps=50, seed=3)
    counts = capacity.counts_from_trials(df)
    n, k = counts.n.sum(0), counts.k.sum(0)
    ours = capacity.fit(counts, n, k, steps=1500)
    ref = compare.fit_mle(
        lambda p: (
            -capacity.loglik(
                {"K": p["K"], "a": p["a"], "g": jnp.stack([p["g0"], p["g1"], p["g2"]])},
                counts,
                jnp.asarray(n),
                jnp.asarray(k),
            )
        ),
        {"K": 3.0, "a": 0.9, "g0": 0.5, "g1": 0.5, "g2": 0.5},
        transforms={"K": "log", "a": "logit", "g0": "logit", "g1": "logit", "g2": "logit"},
    )
    assert float(ours["loglik"]) >= ref.loglik - 0.05


def test_bootstrap_is_vectorised_and_seeded():
    df = synthetic_trials(3.0, 0.9, [0.5, 0.5, 0.5], n_sub=6, reps=20)
    counts = capacity.counts_from_trials(df)
    a = capacity.bootstrap(counts, key=jax.random.key(0), n_boot=16, steps=200)
    b = capacity.bootstrap(counts, key=jax.random.key(0), n_boot=16, steps=200)
    assert a["K"].shape == (16,) and a["g"].shape == (16, 3)
    assert np.array_equal(np.asarray(a["K"]), np.asarray(b["K"]))
    assert np.std(np.asarray(a["K"])) > 0
