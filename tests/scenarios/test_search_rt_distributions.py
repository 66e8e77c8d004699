"""The search_rt_distributions scenario: human measures, the data field, the comparison, a tiny fit."""

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import config as cfglib
from cogsim.errors import DataError
from cogsim.scenarios import _search_rt_measures as ms
from cogsim.scenarios import search_rt_distributions as srd

RANGE = (200.0, 8000.0)


@pytest.fixture(scope="module")
def human():
    return srd.reference(srd.Config()).table


def test_human_slopes_order_the_tasks_and_absent_slopes_are_about_twice_present(human):
    slopes = ms.unit_slopes(ms.cell_stats(human, RANGE))
    mean = slopes.groupby(["task", "target_present"]).slope.mean()
    assert mean["feature", 1] < mean["conjunction", 1] < mean["spatial_configuration", 1]
    for task in ("conjunction", "spatial_configuration"):
        assert 1.5 < mean[task, 0] / mean[task, 1] < 3.5
    assert abs(mean["feature", 1]) < 3  # about flat


def test_split_half_reliability_is_high_for_mean_rt_and_quantiles(human):
    rel = ms.split_half_reliability(human, RANGE)
    assert rel["mean_rt"] > 0.95 and rel["quantiles"] > 0.95 and rel["slope"] > 0.9


def _comparison(human, sim_trials):
    sim = pd.concat([sim_trials.assign(kind="trial", model=m) for m in ("cgs", "serial")], ignore_index=True)
    return srd.compare(sim, human, n_boot=50).with_context(data_kind="trial_level")


def test_compare_of_data_with_itself_passes_the_fit_checks_and_follows_the_schema(human):
    sub = human[human.task.isin(["conjunction"])]
    resampled = sub.groupby(["task", "subject"]).sample(frac=1.0, replace=True, random_state=0)
    comp = _comparison(sub, resampled)
    assert comp.schema_problems() == []
    assert comp.metric("fraction_of_noise_ceiling").value > 1.0  # a resample of the data fits them
    names = {c.name for c in comp.checks}
    assert "conjunction: CGS absent/present slope ratio overlaps the human CI" in names
    assert any("quantile fit" in n for n in names)
    ratio = comp.metric("cgs.conjunction.slope_ratio")
    assert ratio.value == pytest.approx(comp.metric("human.conjunction.slope_ratio").value, rel=0.2)
    assert all(c.passed for c in comp.checks if "quantile fit" in c.name or "ratio" in c.name)


def test_compare_fails_a_model_without_set_size_effects(human):
    sub = human[human.task == "conjunction"]
    flat = sub.copy()
    rng = np.random.default_rng(0)
    flat["rt_ms"] = rng.permutation(flat.rt_ms.to_numpy())  # RT no longer depends on set size or presence
    comp = _comparison(sub, flat)
    failed = {c.name for c in comp.checks if not c.passed}
    assert "conjunction: CGS RT spread (absent) grows with set size" in failed
    assert "CGS quantile fit per participant reaches half the split-half noise ceiling" in failed


def test_data_field_takes_a_csv_in_the_same_schema(tmp_path):
    df = srd.trials(srd.Config(max_subjects=1, max_trials=40, tasks=("feature",)))
    path = tmp_path / "mine.csv"
    df.drop(columns="task").to_csv(path, index=False)
    t = srd.trials(cfglib.validate(srd.Config(data=str(path))))
    assert set(t.task) == {"all"} and len(t) == 40
    bad = df.copy()
    bad.loc[3, "rt_ms"] = -5.0
    bad.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"row 4, column 'rt_ms'"):
        srd.trials(srd.Config(data=str(path)))
    with pytest.raises(cfglib.ConfigError, match="data"):
        cfglib.validate(srd.Config(data="missing.csv"))


@pytest.mark.slow  # about 2 minutes on a loaded 2-core machine (compiling two fits)
def test_tiny_run_fits_simulates_and_compares():
    cfg = srd.Config(
        tasks=("conjunction",),
        models=("cgs", "serial"),
        max_subjects=2,
        max_trials=300,
        n_sim=500,
        n_starts=1,  # one start: this test checks that the pipeline runs and the schema, not fitted values
    )
    sim = srd.simulate(cfg, key=jax.random.key(0))
    assert set(sim[sim.kind == "fit"].model) == {"cgs", "serial"}
    trials = sim[sim.kind == "trial"]
    assert trials.groupby("model").size().to_dict() == {"cgs": 1000, "serial": 1000}
    comp = srd.compare(sim, srd.reference(cfg).table, n_boot=50).with_context(data_kind="trial_level")
    assert comp.schema_problems() == []
    srd.plot(sim, srd.reference(cfg).table)


def test_eccnet_is_scored_on_the_slope_ordering_and_a_model_without_it_fails(human):
    sub = human[human.groupby(["task", "subject"]).cumcount() < 400]
    resampled = sub.groupby(["task", "subject"]).sample(frac=1.0, replace=True, random_state=1)
    comp = srd.compare(resampled.assign(kind="trial", model="eccnet"), sub, n_boot=50)
    order = [c for c in comp.checks if "steeper than" in c.name]
    assert len(order) == 2 and all(c.passed for c in order)
    assert any(c.name.startswith("conjunction: eccNET") for c in comp.checks)
    flat = sub.copy()
    flat["rt_ms"] = np.random.default_rng(0).permutation(flat.rt_ms.to_numpy())  # no task or set-size effect
    comp = srd.compare(flat.assign(kind="trial", model="eccnet"), sub, n_boot=50)
    assert not all(c.passed for c in comp.checks if "steeper than" in c.name)
