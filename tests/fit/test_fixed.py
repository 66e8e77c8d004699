"""Models with parameters held fixed (`cogsim.fit.fix`, `--models 'name[param=value]'`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim import cli
from cogsim import fit as fitlib
from cogsim.errors import CogsimError
from cogsim.fit._fixed import parse_spec, split_models


def _gauss_frame(toy, n=(40, 60, 80)):
    truth = {"mu": [0.5, -1.0, 2.0], "sd": [1.5, 1.5, 1.5]}
    return toy.simulate_frame(toy.Gauss(), truth, list(n), seed=3)


def test_a_fixed_sd_leaves_the_mean_at_its_closed_form_and_one_parameter(toy):
    data = _gauss_frame(toy)
    held = fitlib.fix(toy.Gauss(), {"sd": 1.5})
    assert held.name == "gauss[sd=1.5]" and [p.name for p in held.params] == ["mu"]
    res = fitlib.fit(held, data, ci="profile", key=jax.random.key(0))
    est = res.estimates.set_index("subject")
    assert set(res.estimates["parameter"]) == {"mu"}
    for s, g in data.groupby("subject"):
        x = g["x"].to_numpy(np.float64)
        assert est.loc[s, "estimate"] == pytest.approx(x.mean(), abs=2e-3)
        # the profile interval of a normal mean with known sd: mean +- 1.96 sd / sqrt(n)
        half = 1.959964 * 1.5 / np.sqrt(len(x))
        assert est.loc[s, "ci_low"] == pytest.approx(x.mean() - half, abs=0.01)
        assert est.loc[s, "ci_high"] == pytest.approx(x.mean() + half, abs=0.01)
        ll = -0.5 * np.sum(((x - x.mean()) / 1.5) ** 2) - len(x) * np.log(1.5 * np.sqrt(2 * np.pi))
        row = res.summary.set_index("subject").loc[s]
        assert row["loglik"] == pytest.approx(ll, abs=0.01)
        assert row["n_params"] == 1 and row["aic"] == pytest.approx(2 - 2 * row["loglik"])


def test_the_nested_model_never_beats_the_full_one(toy):
    data = _gauss_frame(toy)
    full = fitlib.fit(toy.Gauss(), data, ci=None, key=jax.random.key(0)).summary.set_index("subject")
    nested = fitlib.fit(fitlib.fix(toy.Gauss(), {"sd": 0.7}), data, ci=None, key=jax.random.key(0))
    nested = nested.summary.set_index("subject")
    assert (nested["loglik"] <= full["loglik"] + 1e-3).all()
    assert (full["loglik"] - nested["loglik"] > 5).all()  # sd 0.7 against a true 1.5: clearly worse
    assert (nested["n_params"] == full["n_params"] - 1).all()


def test_simulate_and_recovery_use_the_fixed_value(toy):
    held = fitlib.fix(toy.Gauss(), {"sd": 0.25})
    trials = {"trial": jnp.arange(2000)}
    key = jax.random.key(1)
    a = held.simulate({"mu": jnp.float32(1.0)}, trials, key=key)["x"]
    b = toy.Gauss().simulate({"mu": jnp.float32(1.0), "sd": jnp.float32(0.25)}, trials, key=key)["x"]
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    rec = fitlib.recover(held, {"mu": (-1.0, 1.0)}, 100, 12, key=jax.random.key(2))
    row = rec.table.set_index("parameter").loc["mu"]
    assert row["correlation"] > 0.95 and list(rec.table["parameter"]) == ["mu"]


def test_mixture3p_without_swaps_is_mixture2p_trial_by_trial():
    from cogsim.models import paradigms

    par = paradigms.get("delayed_estimation")
    m2, m3 = par.models["mixture2p"], par.models["mixture3p"]
    held = fitlib.fix(m3, {"p_swap": 0.0})
    assert [p.name for p in held.params] == [p.name for p in m2.params]
    rng = np.random.default_rng(0)
    n = 200
    trials = {
        "set_size": jnp.asarray(rng.choice([2, 4, 6], n), jnp.float32),
        "error_rad": jnp.asarray(rng.uniform(-np.pi, np.pi, n), jnp.float32),
        "nontargets": jnp.asarray(rng.uniform(-np.pi, np.pi, (n, 5)), jnp.float32),
    }
    for p_mem, sd in ((0.9, 0.3), (0.4, 0.8)):
        p = {"p_mem": jnp.float32(p_mem), "sd_rad": jnp.float32(sd)}
        np.testing.assert_allclose(held.loglik(p, trials), m2.loglik(p, trials), rtol=1e-5, atol=1e-5)


def test_optional_methods_follow_the_base_model(toy):
    class WithStarts(toy.Gauss):
        def start_points(self):
            return ({"mu": 1.0, "sd": 2.0}, {"mu": 1.0, "sd": 3.0}, {"sd": 4.0})

    held = fitlib.fix(WithStarts(), {"sd": 1.0})
    assert held.start_points() == ({"mu": 1.0},)  # the fixed value dropped, repeats merged
    assert not hasattr(fitlib.fix(toy.Gauss(), {"sd": 1.0}), "start_points")
    assert not hasattr(held, "initial") and held.by_set_size is False


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"nope": 1.0}, "got parameter 'nope'; allowed: mu, sd"),
        ({"sd": -1.0}, "got sd=-1.0; allowed: a number from 0.0 to inf"),
        ({"sd": float("nan")}, "got sd=nan"),
        ({"sd": "abc"}, "got sd='abc'"),
        ({}, "got no parameter values"),
    ],
)
def test_bad_values_name_the_parameter_and_what_is_allowed(toy, values, message):
    with pytest.raises(CogsimError, match="fix 'gauss'") as err:
        fitlib.fix(toy.Gauss(), values)
    assert message in str(err.value)


def test_model_specifications_on_the_command_line():
    assert split_models("a, b[x=1,y=2],c") == ["a", "b[x=1,y=2]", "c"]
    assert parse_spec(" b[x=1, y=-2.5e-1] ") == ("b", {"x": 1.0, "y": -0.25})
    assert parse_spec("a") == ("a", {})
    for bad in ("b[x]", "b[x=1", "b[x=one]", "b[]x"):
        with pytest.raises(CogsimError, match="allowed: a model name, or name"):
            parse_spec(bad)
    with pytest.raises(CogsimError, match=r"got 'b\[x=1,x=2\]': 'x' is given twice; allowed: one value each"):
        parse_spec("b[x=1,x=2]")


def test_cli_fits_a_model_beside_its_nested_version(toy_paradigm, csv, tmp_path, capsys):
    out = tmp_path / "out"
    models = "vm_mixture,vm_mixture[kappa=8]"
    rc = cli.main(
        ["fit", "toy_estimation", "--data", str(csv), "--models", models, "--out", str(out), "--ci", "none"]
    )
    assert rc == 0, capsys.readouterr().err
    table = pd.read_parquet(out / "models.parquet")
    k = table.groupby("model")["n_params"].first()
    assert k["vm_mixture"] == 2 and k["vm_mixture[kappa=8]"] == 1
    fits = pd.read_parquet(out / "fits.parquet")
    assert set(fits.query("model == 'vm_mixture[kappa=8]'")["parameter"]) == {"p_mem"}
    ll = table.pivot(index="subject", columns="model", values="loglik")
    assert (ll["vm_mixture[kappa=8]"] <= ll["vm_mixture"] + 1e-3).all()
    assert cli.main(["fit", "toy_estimation", "--data", str(csv), "--models", "vm_mixture[kappa=-1]"]) == 2
    assert "fit --models 'vm_mixture[kappa=-1]': fix 'vm_mixture': got kappa=-1.0" in capsys.readouterr().err


def test_a_held_value_under_which_trials_are_impossible_is_refused(tmp_path, capsys):
    # Wolfe et al.'s feature search, subjects 1-3: 2 of them made false alarms, which serial search with no
    # false alarms (p_fa = 0) cannot produce: their log-likelihood is -inf whatever the other parameters
    from cogsim import data

    w = data.load("visual_search_wolfe2010")
    w = w[(w.task == "feature") & w.subject.isin([1, 2, 3])]
    w = w[w.groupby("subject").cumcount() < 320]
    path = tmp_path / "feature.csv"
    w.to_csv(path, index=False)
    args = ["fit", "visual_search", "--data", str(path), "--ci", "none", "--out", str(tmp_path / "o")]
    assert cli.main([*args, "--models", "serial,serial[p_fa=0]", "--lr-test", "5"]) == 2
    err = capsys.readouterr().err
    assert "model 'serial[p_fa=0]': the held p_fa=0 makes the trials of 2 of 3 participants impossible" in err
    assert "feature/1, feature/2" in err and "Traceback" not in err and not (tmp_path / "o").exists()
    from cogsim.models import paradigms

    vs = paradigms.get("visual_search")
    serial = vs.models["serial"]
    with pytest.raises(CogsimError, match=r"lr_test nested: model 'serial\[p_fa=0\]': the held p_fa=0"):
        fitlib.lr_test(serial, fitlib.fix(serial, {"p_fa": 0.0}), vs.read(str(path)), by=("task", "subject"),
                       n_boot=2, key=jax.random.key(0))  # fmt: skip
