"""The parametric-bootstrap likelihood-ratio test of nested models (`cogsim.fit.lr_test`)."""

import jax
import numpy as np
import pytest
from scipy import stats

from cogsim import fit as fitlib
from cogsim.errors import CogsimError


def _frame(toy, sd, n=200, n_subjects=4, seed=11):
    truth = {"mu": list(np.linspace(-1.0, 1.0, n_subjects)), "sd": [sd] * n_subjects}
    return toy.simulate_frame(toy.Gauss(), truth, [n] * n_subjects, seed=seed)


def test_an_interior_null_gives_the_chi_square_p_values(toy):
    """Holding sd at its true, interior value: the statistic is asymptotically chi-square(1), so the
    bootstrap p-values must agree with the chi-square ones (Monte Carlo error of 200 copies: SE <= 0.036)."""
    data = _frame(toy, sd=1.0)
    g = toy.Gauss()
    res = fitlib.lr_test(g, fitlib.fix(g, {"sd": 1.0}), data, n_boot=200, key=jax.random.key(0))
    t = res.table
    assert (t["lr"] > -1e-3).all() and res.n_boot == 200 and len(res.null) == 200
    np.testing.assert_allclose(t["p_value"], stats.chi2.sf(t["lr"].clip(lower=0), 1), atol=0.12)
    assert abs(res.p_value - stats.chi2.sf(max(res.lr, 0.0), len(t))) < 0.12
    # the simulated null itself: mean of a chi-square(4) is 4
    assert 3.0 < res.null.mean() < 5.0


def test_a_wrong_held_value_is_rejected_at_the_smallest_p_value(toy):
    data = _frame(toy, sd=1.5)
    g = toy.Gauss()
    res = fitlib.lr_test(g, fitlib.fix(g, {"sd": 0.7}), data, n_boot=30, key=jax.random.key(0))
    assert (res.table["lr"] > 50).all()
    np.testing.assert_allclose(res.table["p_value"], 1 / 31)
    assert res.p_value == pytest.approx(1 / 31)


def test_bad_arguments_name_what_is_allowed(toy):
    g, data = toy.Gauss(), _frame(toy, sd=1.0, n=20, n_subjects=1)
    with pytest.raises(CogsimError, match="lr_test: got n_boot=0; allowed: an integer >= 1"):
        fitlib.lr_test(g, fitlib.fix(g, {"sd": 1.0}), data, n_boot=0, key=jax.random.key(0))
    with pytest.raises(CogsimError, match="parameters \\['b'\\] are not parameters of 'gauss'"):
        fitlib.lr_test(g, toy.Laplace(), data, key=jax.random.key(0))
    with pytest.raises(CogsimError, match="allowed: columns other than 'sim'"):
        fitlib.lr_test(
            g,
            fitlib.fix(g, {"sd": 1.0}),
            data.rename(columns={"subject": "sim"}),
            by=("sim",),
            key=jax.random.key(0),
        )


def test_cli_tests_each_fixed_model_against_its_base(toy_paradigm, csv, tmp_path, capsys):
    import json

    import pandas as pd

    from cogsim import cli

    out = tmp_path / "out"
    args = ["fit", "toy_estimation", "--data", str(csv), "--ci", "none", "--out", str(out)]
    rc = cli.main([*args, "--models", "vm_mixture,vm_mixture[kappa=1]", "--lr-test", "10"])
    assert rc == 0, capsys.readouterr().err
    (entry,) = json.loads((out / "comparison.json").read_text())["lr_tests"]
    assert (
        entry["full"] == "vm_mixture" and entry["nested"] == "vm_mixture[kappa=1]" and entry["n_boot"] == 10
    )
    table = pd.read_parquet(out / "lr_tests.parquet")
    assert " ".join(table.columns) == "full nested subject loglik_full loglik_nested lr p_value"
    assert entry["lr"] == pytest.approx(table["lr"].sum(), abs=1e-6) and 1 / 11 <= entry["p_value"] <= 1
    assert "lr test vm_mixture[kappa=1] against vm_mixture" in capsys.readouterr().out
    args[-1] = str(tmp_path / "other")
    assert cli.main([*args, "--models", "vm_mixture", "--lr-test", "10"]) == 2
    err = capsys.readouterr().err
    assert "fit --lr-test: no nested pair among the models ['vm_mixture']" in err
    assert "e.g. --models 'vm_mixture,vm_mixture[p_mem=0.5]'" in err  # a model of the paradigm fitted


def test_the_refusal_without_a_nested_pair_suggests_a_model_of_the_paradigm_fitted():
    from cogsim import fitting_command
    from cogsim.errors import CogsimError
    from cogsim.fitting_lrtests import pairs

    models = fitting_command._registry().get("change_detection").models
    with pytest.raises(CogsimError, match=r"e.g. --models 'fixed_capacity,fixed_capacity\[K=3\]'$"):
        pairs({"sdt": models["sdt"]}, models)


def test_a_nested_model_whose_base_is_not_fitted_is_named_not_tested():
    from cogsim.fit import fix
    from cogsim.fitting_lrtests import pairs, untested
    from cogsim.models.working_memory import MIXTURE2P, MIXTURE3P

    chosen = {"mixture2p": MIXTURE2P, "mixture2p[sd_rad=0.3]": fix(MIXTURE2P, {"sd_rad": 0.3}),
              "mixture3p[p_swap=0]": fix(MIXTURE3P, {"p_swap": 0.0})}  # fmt: skip
    assert pairs(chosen) == [("mixture2p", "mixture2p[sd_rad=0.3]")]
    assert untested(chosen) == ["mixture3p[p_swap=0]"]
