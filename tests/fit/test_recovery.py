import jax
import numpy as np
import pytest

from cogsim.errors import CogsimError
from cogsim.fit import confusion, model_recovery, model_recovery_scores, recover

KEY = jax.random.key(1)


def test_recover_mixture_parameters(vm_mixture):
    res = recover(vm_mixture, {"p_mem": (0.4, 0.95), "kappa": (2.0, 12.0)}, 300, 30, key=KEY)
    table = res.table.set_index("parameter")
    assert (table["correlation"] > 0.9).all()
    assert abs(table.loc["p_mem", "bias"]) < 0.03
    assert len(res.truth) == 30 and table["n"].eq(30).all()


@pytest.mark.slow
def test_model_recovery_tells_gaussian_from_laplace(gauss, laplace):
    matrix = model_recovery([gauss, laplace], 300, 10, key=KEY)
    assert list(matrix.index) == ["gauss", "laplace"] and list(matrix.columns) == ["gauss", "laplace"]
    assert np.allclose(matrix.sum(axis=1), 1.0)
    assert np.diag(matrix.to_numpy()).min() >= 0.8


def test_recover_needs_a_value_for_every_parameter(gauss):
    with pytest.raises(CogsimError, match="no value for 'sd'"):
        recover(gauss, {"mu": 0.0}, 50, 3, key=KEY)
    with pytest.raises(CogsimError, match="inside"):
        recover(gauss, {"mu": 0.0, "sd": -1.0}, 50, 3, key=KEY)


def test_simulated_frame_reads_back_through_the_paradigm():
    from cogsim.fit import simulate_data
    from cogsim.fit._recovery import draw_truth
    from cogsim.models import paradigms

    de = paradigms.get("delayed_estimation")
    model = de.models["mixture3p"]
    truth = draw_truth(model, {"p_mem": 0.8, "p_swap": 0.2, "sd_rad": 0.3}, 2, key=KEY)
    sim = simulate_data(model, truth, 40, key=KEY)
    assert "nontarget_1_rad" in sim.columns and "nontarget_1" not in sim.columns
    back = de.read(sim)
    assert back.attrs["extra_columns"] == [] and len(back) == 80


def test_model_recovery_scores_give_both_criteria(gauss, laplace):
    scores = model_recovery_scores([gauss, laplace], 100, 4, key=KEY, n_starts=1)
    assert len(scores) == 2 * 4 * 2  # generating x participants x fitted
    assert set(scores.columns) >= {"generating", "subject", "model", "aic", "bic", "converged"}
    assert scores["converged"].dtype == bool
    for crit in ("aic", "bic"):
        m = confusion(scores, crit)
        assert list(m.index) == ["gauss", "laplace"] and np.allclose(m.sum(axis=1), 1.0)
        best = scores.loc[scores.groupby(["generating", "subject"])[crit].idxmin()]
        won = best.query("generating == 'gauss'").model == "gauss"
        assert m.loc["gauss", "gauss"] == pytest.approx(won.mean())
    with pytest.raises(CogsimError, match="criterion"):
        confusion(scores, "waic")


def test_hierarchical_recovery_refits_the_same_truth_and_data(gauss, monkeypatch):
    from cogsim.fit import HierarchicalResult, _recovery

    seen = {}
    for name in ("fit", "fit_hierarchical"):
        real = getattr(_recovery, name)

        def spy(model, data, *a, _real=real, _name=name, **kw):
            seen[_name] = (data.copy(), kw["key"])
            return _real(model, data, *a, **kw)

        monkeypatch.setattr(_recovery, name, spy)
    spec = {"mu": (-1.0, 1.0), "sd": (0.5, 1.5)}
    ml = recover(gauss, spec, 40, 12, key=KEY)
    hier = recover(gauss, spec, 40, 12, key=KEY, method="hierarchical")
    assert ml.truth.equals(hier.truth)
    assert seen["fit"][0].equals(seen["fit_hierarchical"][0])
    assert jax.numpy.array_equal(
        jax.random.key_data(seen["fit"][1]), jax.random.key_data(seen["fit_hierarchical"][1])
    )
    assert list(hier.table.columns) == list(ml.table.columns)
    assert list(hier.table["parameter"]) == ["mu", "sd"] and hier.table["n"].eq(12).all()
    assert isinstance(hier.fit, HierarchicalResult) and not isinstance(ml.fit, HierarchicalResult)
    assert hier.fit.settings["init"] == "ml" and hier.fit.settings["n_starts"] == 2
    # the MAPs are not the ML estimates: the group prior moves them
    assert not np.allclose(hier.fit.units["mu"], ml.fit.units["mu"])


def test_recover_rejects_an_unknown_method(gauss):
    with pytest.raises(CogsimError, match="recover method: got 'bayes'"):
        recover(gauss, {"mu": 0.0, "sd": 1.0}, 50, 3, key=KEY, method="bayes")


def _truth(**values):
    import pandas as pd

    return pd.DataFrame({"subject": [1, 2], "mu": 0.0, "sd": 1.0, **values})


def test_simulate_data_refuses_true_values_outside_the_bounds_as_recover_does(gauss):
    from cogsim.fit import simulate_data

    with pytest.raises(
        CogsimError, match=r"simulate_data truth\['sd'\]: got values in \[-1, 1\]; allowed: inside"
    ):
        simulate_data(gauss, _truth(sd=[1.0, -1.0]), 20, key=KEY)
    assert len(simulate_data(gauss, _truth(), 20, key=KEY)) == 40


@pytest.mark.parametrize("column", ["subject", "sd"])
def test_simulate_data_names_a_missing_truth_column(gauss, column):
    from cogsim.fit import simulate_data

    with pytest.raises(
        CogsimError, match=rf"simulate_data truth: missing column '{column}'; allowed: a DataFrame"
    ):
        simulate_data(gauss, _truth().drop(columns=column), 20, key=KEY)


@pytest.mark.parametrize(
    ("params", "n_trials", "needle"),
    [
        (
            {"mu": (1.0, -1.0), "sd": 1.0},
            20,
            "recover params['mu']: got (1.0, -1.0); allowed: a (low, high) range",
        ),
        (
            {"mu": (1.0, 1.0), "sd": 1.0},
            20,
            "recover params['mu']: got (1.0, 1.0); allowed: a (low, high) range",
        ),
        (
            {"mu": 0.0, "sd": 1.0, "sdd": 2.0},
            20,
            "recover params: got 'sdd'; allowed: the parameters of model",
        ),
        ({"mu": 0.0, "sd": 1.0}, 20.0, "recover: got n_trials=20.0; allowed: an integer >= 1"),
        ({"mu": 0.0, "sd": 1.0}, True, "recover: got n_trials=True; allowed: an integer >= 1"),
    ],
)
def test_recover_refuses_reversed_ranges_unknown_names_and_non_integer_counts(
    gauss, params, n_trials, needle
):
    with pytest.raises(CogsimError) as err:
        recover(gauss, params, n_trials, 3, key=KEY)
    assert needle in str(err.value)


def test_recover_takes_a_numpy_integer_count(gauss):
    r = recover(gauss, {"mu": 0.0, "sd": 1.0}, np.int64(30), np.int64(2), n_starts=1, key=KEY)
    assert len(r.truth) == 2
