"""A unit's random numbers (starts, cross-validation folds, bootstrap and predictive copies) follow from the
root key and the unit's own key columns: not from the other units, their order, the order of the ``by``
columns, or which other models `cogsim fit` fits."""

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import cli
from cogsim.fit import fit, predictive
from cogsim.fit._data import unit_ids

KEY = jax.random.key(3)
FILES = ("models.parquet", "fits.parquet")


@pytest.fixture
def trials(toy):
    truth = {"p_mem": np.array([0.9, 0.6, 0.8, 0.7]), "kappa": np.array([8.0, 3.0, 5.0, 4.0])}
    df = toy.simulate_frame(toy.VonMisesMixture(), truth, [80, 80, 80, 80], seed=5)
    df["experiment"] = np.where(df["subject"] <= 2, "A", "B")
    df["subject"] = df["subject"].map({1: "s1", 2: "s2", 3: "s1", 4: "s2"})  # ids repeat across experiments
    return df


def _by_unit(res):
    return res.units.set_index(["experiment", "subject"]).sort_index()


def test_unit_ids_follow_the_key_values_not_the_order():
    a = unit_ids(pd.DataFrame({"experiment": ["A", "B"], "subject": ["s1", "s1"]}), ("experiment", "subject"))
    b = unit_ids(pd.DataFrame({"subject": ["s1", "s1"], "experiment": ["B", "A"]}), ("subject", "experiment"))
    assert a[0] == b[1] and a[1] == b[0] and a[0] != a[1]
    # an id read as a number or as text, a set size as an integer or an integral float: the same unit
    c = unit_ids(pd.DataFrame({"subject": [7], "set_size": [3.0]}), ("subject", "set_size"))
    d = unit_ids(pd.DataFrame({"subject": ["7"], "set_size": [3]}), ("subject", "set_size"))
    assert c[0] == d[0]


def test_by_order_and_other_units_leave_a_units_fit_unchanged(toy, trials):
    model = toy.VonMisesMixture()
    kw = {"cv": 2, "ci": None, "key": KEY}  # the bootstrap's copies: as the predictive ones (test below)
    full = _by_unit(fit(model, trials, by=("experiment", "subject"), **kw))
    swapped = _by_unit(fit(model, trials, by=("subject", "experiment"), **kw))
    cols = ["loglik", "cv_loglik", "p_mem", "kappa"]
    pd.testing.assert_frame_equal(full[cols], swapped[cols])
    # without experiment B (the same padded width: every unit has 80 trials)
    part = _by_unit(fit(model, trials[trials.experiment == "A"], by=("experiment", "subject"), **kw))
    pd.testing.assert_frame_equal(full.loc[part.index, cols], part[cols])
    assert fit(model, trials, by=("experiment", "subject"), **{**kw, "key": jax.random.key(4)}).units[
        "cv_loglik"
    ].to_numpy() != pytest.approx(full["cv_loglik"].to_numpy())  # another key: other folds


def test_predictive_copies_of_a_unit_do_not_depend_on_the_other_units(toy, trials):
    model = toy.VonMisesMixture()
    res = fit(model, trials, by=("experiment", "subject"), ci=None, key=KEY)
    sims = predictive(model, res, trials, n_sims=2, key=KEY)
    a = trials.experiment == "A"
    part = predictive(model, res, trials[a], n_sims=2, key=KEY)
    sel = sims[np.tile(a.to_numpy(), 2)].reset_index(drop=True)
    np.testing.assert_array_equal(sel["error_rad"].to_numpy(), part["error_rad"].to_numpy())


def _sorted(df):
    return df.sort_values(["model", "subject"], kind="stable").reset_index(drop=True)


def test_cogsim_fit_gives_a_model_the_same_numbers_whatever_the_other_models(toy_paradigm, csv, tmp_path):
    tables = {}
    for name, models in {"ab": "vm_mixture,vm_per_set_size", "ba": "vm_per_set_size,vm_mixture"}.items():
        out = tmp_path / name
        args = ["fit", "toy_estimation", "--data", str(csv), "--models", models, "--cv", "2", "--ci", "none"]
        assert cli.main([*args, "--out", str(out)]) == 0
        tables[name] = {f: _sorted(pd.read_parquet(out / f)) for f in FILES}
    alone = tmp_path / "alone"
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "vm_mixture", "--cv", "2"]
    assert cli.main([*args, "--ci", "none", "--out", str(alone)]) == 0
    for f in FILES:
        pd.testing.assert_frame_equal(tables["ab"][f], tables["ba"][f])
        assert tables["ab"][f]["model"].nunique() == 2
    m = tables["ab"]["models.parquet"]
    pd.testing.assert_frame_equal(
        m[m.model == "vm_mixture"].reset_index(drop=True), pd.read_parquet(alone / "models.parquet")
    )


@pytest.mark.parametrize("compress", [None, False])
def test_the_datas_row_order_leaves_the_point_estimates_unchanged(toy, trials, compress):
    """The same trials in another row order: the same estimates and maxima bit for bit (each unit's trials,
    or its distinct trials, are evaluated in the order of their values, not the file's)."""
    model = toy.VonMisesMixture()
    shuffled = trials.sample(frac=1.0, random_state=7)
    assert not shuffled.index.equals(trials.index)
    kw = {"by": ("experiment", "subject"), "ci": None, "compress": compress, "key": KEY}
    a, b = _by_unit(fit(model, trials, **kw)), _by_unit(fit(model, shuffled, **kw))
    cols = ["loglik", "p_mem", "kappa"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)


def test_the_row_order_leaves_a_visual_search_fit_with_data_informed_starts_unchanged():
    """Models whose starts come from their unit's trials (``initial``) and are fitted in passes: the same."""
    from cogsim import data
    from cogsim.models import paradigms

    w = data.load("visual_search_wolfe2010")
    w = w[(w.task == "feature") & w.subject.isin([1, 2])]
    w = w[w.groupby("subject").cumcount() < 150]
    model = paradigms.get("visual_search").models["parallel"]
    kw = {"by": ("task", "subject"), "ci": None, "n_starts": 2, "key": KEY}
    a = fit(model, w, **kw).estimates
    b = fit(model, w.sample(frac=1.0, random_state=3), **kw).estimates
    pd.testing.assert_frame_equal(a, b, check_exact=True)
