"""Parameters shared across set sizes (cogsim.fit.share): the same likelihood as the per-set-size model where
the values agree, recovery of a shared value, nested comparisons, tables, inert set sizes and bad input."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim import cli, fit
from cogsim.errors import CogsimError
from cogsim.models.working_memory import MIXTURE2P, MIXTURE3P, VP

SIZES = (1, 3, 6)


def _trials(sd_by_size: dict, p_mem: float = 0.8, n_subjects: int = 4, n: int = 200, seed: int = 0):
    """Delayed-estimation errors from the two-component mixture, every participant at every set size."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, n_subjects + 1):
        for size, sd in sd_by_size.items():
            kappa = float(jax.device_get(fit_kappa(sd)))
            mem = rng.random(n) < p_mem
            err = np.where(mem, rng.vonmises(0.0, kappa, n), rng.uniform(-np.pi, np.pi, n))
            rows.append(pd.DataFrame({"subject": s, "set_size": size, "error_rad": err}))
    return pd.concat(rows, ignore_index=True)


def fit_kappa(sd):
    from cogsim.models.working_memory import _circular

    return _circular.kappa_from_sd(jnp.float32(sd))


def test_the_likelihood_is_the_per_set_size_models_where_the_values_agree():
    t = _trials({1: 0.2, 3: 0.3, 6: 0.4}, n_subjects=1, n=50)
    m = fit.share(MIXTURE2P, ["sd_rad"], set_sizes=SIZES)
    params = {"p_mem[1]": 0.95, "p_mem[3]": 0.8, "p_mem[6]": 0.5, "sd_rad": 0.3}
    got = m.loglik({k: jnp.float32(v) for k, v in params.items()}, {c: jnp.asarray(t[c]) for c in t})
    for size in SIZES:
        part = t[t.set_size == size]
        want = MIXTURE2P.loglik(
            {"p_mem": jnp.float32(params[f"p_mem[{size}]"]), "sd_rad": jnp.float32(0.3)},
            {c: jnp.asarray(part[c]) for c in part},
        )
        np.testing.assert_allclose(np.asarray(got)[t.set_size.to_numpy() == size], want, rtol=1e-6)


def test_a_shared_sd_is_recovered_and_costs_nothing_when_true_but_much_when_false():
    same = _trials({1: 0.3, 3: 0.3, 6: 0.3}, seed=1)
    differs = _trials({1: 0.15, 3: 0.3, 6: 0.6}, seed=2)
    shared = fit.share(MIXTURE2P, ["sd_rad"], set_sizes=SIZES)
    key = jax.random.key(0)
    res = {}
    for label, data in (("same", same), ("differs", differs)):
        res[label] = (
            fit.fit(MIXTURE2P, data, ci=None, key=key).summary,
            fit.fit(shared, data, ci="profile" if label == "same" else None, key=key),
        )
    full, nested = res["same"]
    assert (nested.summary["n_params"] == 4).all() and (full["n_params"] == 6).all()
    assert (nested.summary["loglik"] <= full["loglik"] + 1e-3).all()  # nested: never better
    assert (full["loglik"] - nested.summary["loglik"]).sum() < 8.0  # 8 df: chi2(8) 99.9 % point 26 / 2
    sd = nested.estimates.query("parameter == 'sd_rad'")
    assert sd["set_size"].isna().all() and np.all(np.abs(sd["estimate"] - 0.3) < 0.04)
    assert np.all((sd["ci_low"] < sd["estimate"]) & (sd["estimate"] < sd["ci_high"]))
    p_mem = nested.estimates.query("parameter == 'p_mem'")
    assert sorted(p_mem["set_size"].unique()) == list(SIZES) and len(p_mem) == 4 * len(SIZES)
    full, nested = res["differs"]
    assert (full["loglik"] - nested.summary["loglik"]).sum() > 50.0
    assert full["aic"].sum() < nested.summary["aic"].sum()


def test_set_sizes_a_participant_lacks_are_inert_and_the_base_models_inert_parameters_too():
    t = _trials({1: 0.2, 3: 0.3, 6: 0.4}, n_subjects=2, n=60)
    t = t[~((t.subject == 2) & (t.set_size == 6))]  # participant 2 never saw set size 6
    m = fit.share(MIXTURE2P, ["sd_rad"], set_sizes=SIZES)
    res = fit.fit(m, t, ci=None, key=jax.random.key(0))
    assert res.summary.set_index("subject")["n_params"].to_dict() == {1: 4, 2: 3}
    est = res.estimates.set_index(["subject", "parameter", "set_size"])["estimate"]
    assert np.isnan(est.loc[(2, "p_mem", 6)]) and np.isfinite(est.loc[(1, "p_mem", 6)])
    # mixture3p: no non-target to swap with at set size 1, so p_swap[1] is inert
    m3 = fit.share(MIXTURE3P, ["sd_rad"], set_sizes=SIZES)
    nts = {"nontargets": np.full((3, 5), np.nan)}
    nts["nontargets"][1:, 0] = 0.5
    inert = m3.inert({"set_size": np.array([1, 3, 6]), "error_rad": np.zeros(3), **nts})
    assert inert == ("p_swap[1]",)


def test_simulation_and_the_likelihood_ratio_test_use_each_set_sizes_values():
    t = _trials({1: 0.15, 3: 0.3, 6: 0.6}, n_subjects=1, n=150, seed=3)
    nested = fit.share(MIXTURE2P, ["sd_rad"], set_sizes=SIZES)
    vals = {"p_mem[1]": 1.0 - 1e-6, "p_mem[3]": 1.0 - 1e-6, "p_mem[6]": 1e-6, "sd_rad": 0.2}
    trials = {"set_size": jnp.asarray(np.repeat(SIZES, 400))}
    err = np.asarray(nested.simulate(vals, trials, key=jax.random.key(1))["error_rad"])
    sizes = np.repeat(SIZES, 400)
    assert np.std(err[sizes == 3]) < 0.3 and np.std(err[sizes == 6]) > 1.5  # memory, then guessing
    test = fit.lr_test(MIXTURE2P, nested, t, n_boot=9, n_starts=1, key=jax.random.key(0))
    assert test.lr > 10 and test.p_value == pytest.approx(1 / 10)


@pytest.mark.parametrize(
    ("model", "shared", "sizes", "match"),
    [
        (VP, ["tau"], SIZES, "share 'vp': the model is not fitted per set size"),
        (MIXTURE2P, ["kappa"], SIZES, "share 'mixture2p': got parameter 'kappa'; allowed: one of"),
        (MIXTURE2P, ["sd_rad", "p_mem"], SIZES, "at least one and not all"),
        (MIXTURE2P, [], SIZES, "at least one and not all"),
        (MIXTURE2P, ["sd_rad"], (1, 2.5), "set_sizes: got [1, 2.5]; allowed: distinct positive integers"),
        (MIXTURE2P, ["sd_rad"], (0, 2), "allowed: distinct positive integers"),
    ],
)
def test_bad_shares_are_named(model, shared, sizes, match):
    with pytest.raises(CogsimError, match=match.replace("[", r"\[").replace("]", r"\]")):
        fit.share(model, shared, set_sizes=sizes)


def test_data_with_another_set_size_are_refused():
    m = fit.share(MIXTURE2P, ["sd_rad"], set_sizes=(1, 3))
    between = _trials({1: 0.2, 2: 0.3}, n_subjects=1, n=30)
    with pytest.raises(CogsimError, match="the data have set size 2; allowed: the set sizes it was built"):
        fit.fit(m, between, ci=None, key=jax.random.key(0))
    beyond = _trials({1: 0.2, 4: 0.3}, n_subjects=1, n=30)
    with pytest.raises(CogsimError, match="row 31, column 'set_size': got 4; allowed: 1 to 3"):
        fit.fit(m, beyond, ci=None, key=jax.random.key(0))


def test_the_command_line_shares_and_fixes_in_one_bracket(tmp_path, capsys):
    csv = tmp_path / "t.csv"
    t = _trials({1: 0.2, 3: 0.3, 6: 0.4}, n_subjects=3, n=60)
    rng = np.random.default_rng(5)
    for j in range(1, 6):  # the other items, relative to the target (blank beyond the set size)
        t[f"nontarget_{j}_rad"] = np.where(t.set_size > j, rng.uniform(-np.pi, np.pi, len(t)), np.nan)
    t.to_csv(csv, index=False)
    out = tmp_path / "o"
    models = "mixture2p,mixture2p[sd_rad=shared],mixture3p[p_swap=0,sd_rad=shared]"
    args = ["fit", "delayed_estimation", "--data", str(csv), "--models", models, "--ci", "none"]
    assert cli.main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    fits = pd.read_parquet(out / "fits.parquet")
    shared = fits[fits.model == "mixture2p[sd_rad=shared]"]
    assert shared.groupby("parameter")["set_size"].apply(lambda s: s.isna().all()).to_dict() == {
        "p_mem": False,
        "sd_rad": True,
    }
    models_df = pd.read_parquet(out / "models.parquet").set_index(["model", "subject"])["loglik"]
    a, b = models_df["mixture2p[sd_rad=shared]"], models_df["mixture3p[p_swap=0,sd_rad=shared]"]
    np.testing.assert_allclose(a, b, atol=0.01)  # p_swap = 0: the same model
    compared = json.loads((out / "comparison.json").read_text())["models"]
    assert set(compared) == {"mixture2p", "mixture2p[sd_rad=shared]", "mixture3p[p_swap=0,sd_rad=shared]"}


def test_the_hierarchical_group_table_lists_each_set_sizes_parameter_under_its_name():
    t = _trials({1: 0.2, 3: 0.3, 6: 0.4}, n_subjects=3, n=60, seed=4)
    res = fit.fit_hierarchical(fit.share(MIXTURE2P, ["sd_rad"], set_sizes=SIZES), t, key=jax.random.key(0))
    group = res.group.set_index(["parameter", "set_size"])
    assert sorted(group.loc["p_mem"].index) == list(SIZES) and group.loc["sd_rad"].index.isna().all()
    assert (res.group["n_units"] == 3).all()
