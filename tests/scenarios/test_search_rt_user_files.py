"""search_rt_distributions on user trial files: experiments, tasks outside the ``tasks`` field, hard tasks.

Every file is built from the packaged Wolfe et al. (2010) rows by subsetting and relabelling."""

import math
import subprocess
import sys

import jax
import pandas as pd
import pytest

from cogsim import config as cfglib
from cogsim import data
from cogsim.scenarios import _search_rt_measures as ms
from cogsim.scenarios import search_rt_distributions as srd


def _rows(task, subjects, n):
    w = data.load("visual_search_wolfe2010")
    w = w[(w.task == task) & w.subject.isin(subjects)]
    return w[w.groupby("subject").cumcount() < n][srd.COLUMNS].reset_index(drop=True)


@pytest.fixture(scope="module")
def two_experiments(tmp_path_factory):
    """Conjunction subjects 1-2 as experiment E1 and subjects 3-4 relabelled 1-2 as E2: four participants."""
    e1 = _rows("conjunction", [1, 2], 300).assign(experiment="E1")
    e2 = _rows("conjunction", [3, 4], 300).assign(experiment="E2")
    e2["subject"] = e2.subject - 2
    path = tmp_path_factory.mktemp("vs") / "two_experiments.csv"
    pd.concat([e1, e2]).to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def renamed_tasks(tmp_path_factory):
    """Feature subjects 1-2 and conjunction subjects 1-3 renamed ``my search``."""
    t = pd.concat(
        [_rows("feature", [1, 2], 200), _rows("conjunction", [1, 2, 3], 300).assign(task="my search")]
    )
    path = tmp_path_factory.mktemp("vs") / "renamed.csv"
    t.to_csv(path, index=False)
    return str(path)


def test_participants_are_nested_in_experiment_in_the_trial_cut_and_the_measures(two_experiments):
    t = srd.trials(cfglib.validate(srd.Config(data=two_experiments, max_trials=100)))
    assert t.groupby(["experiment", "subject"]).size().to_dict() == {
        ("E1", 1): 100, ("E1", 2): 100, ("E2", 1): 100, ("E2", 2): 100
    }  # fmt: skip
    assert ms.unit_columns(t) == ["task", "experiment", "subject"]
    assert len(ms.unit_slopes(ms.cell_stats(t, (200.0, 8000.0)))) == 8  # 4 participants x present/absent
    full = srd.trials(cfglib.validate(srd.Config(data=two_experiments)))  # 300 trials: cells of 10 per half
    assert len(ms.split_half_mad(full, (200.0, 8000.0))) == 4
    first = srd.trials(cfglib.validate(srd.Config(data=two_experiments, max_subjects=1)))
    assert first.groupby(["experiment", "subject"]).ngroups == 1  # max_subjects counts participants


def test_a_file_with_experiments_fits_and_scores_every_participant(two_experiments):
    cfg = cfglib.validate(
        srd.Config(
            data=two_experiments, models=("parallel",), max_trials=150, n_sim=200, n_starts=1, n_boot=20
        )
    )
    sim = srd.simulate(cfg, key=jax.random.key(0))
    fits = sim[sim.kind == "fit"]
    assert len(fits) == 4 and set(zip(fits.experiment, fits.subject, strict=True)) == {
        ("E1", 1),
        ("E1", 2),
        ("E2", 1),
        ("E2", 2),
    }
    assert sim[sim.kind == "trial"].groupby(["experiment", "subject"]).size().eq(200).all()
    comp = srd.compare(sim, srd.reference(cfg).table, n_boot=20).with_context(data_kind="trial_level")
    assert comp.schema_problems() == []
    assert comp.metric("parallel.quantile_fit").value > 0


def test_every_task_of_a_file_is_fitted_by_default_and_left_out_tasks_are_named(renamed_tasks, tmp_path):
    t = srd.trials(cfglib.validate(srd.Config(data=renamed_tasks)))
    assert list(t.task.drop_duplicates()) == ["feature", "my search"]
    said = []
    only = cfglib.validate(srd.Config(data=renamed_tasks, tasks=("feature",)))
    assert set(srd.trials(only, log=said.append).task) == {"feature"}
    assert said and "my search" in said[0]
    human = srd.reference(only).table
    stored = tmp_path / "human.parquet"  # as a run folder keeps it: `cogsim compare` reads no data file
    human.to_parquet(stored)
    human = pd.read_parquet(stored)
    comp = srd.compare(human[srd.COLUMNS].assign(kind="trial", model="cgs"), human, n_boot=20,
                       tasks=("feature",))  # fmt: skip
    assert "my search" in comp.metric("note.tasks_not_fitted").note
    with pytest.raises(cfglib.ConfigError, match="tasks"):
        srd.trials(cfglib.validate(srd.Config(data=renamed_tasks, tasks=("feature", "conjunction"))))


def test_packaged_default_run_fits_the_three_tasks():
    t = srd.trials(srd.Config(max_trials=10))
    assert sorted(t.task.unique()) == sorted(srd.TASKS) and t.groupby(["task", "subject"]).ngroups == 21


def _self_comparison(path, *, slower=1.0, **kw):
    cfg = cfglib.validate(srd.Config(data=path, **kw))
    human = srd.reference(cfg).table
    sim = human[srd.COLUMNS].assign(kind="trial", model="cgs")  # the data as a model's trials: no fit
    sim["rt_ms"] = sim.rt_ms * slower  # a model a little off the data (quantile MADs above 0)
    return srd.compare(sim, human, n_boot=20, hard_tasks=cfg.hard_tasks, models=cfg.models)


def test_checks_1_to_3_say_when_they_are_not_run_and_hard_tasks_marks_them(renamed_tasks):
    comp = _self_comparison(renamed_tasks)
    assert not any(c.name.startswith("my search:") for c in comp.checks)
    assert "my search" in comp.metric("note.checks_1_3_not_run").note
    assert "my search" in comp.metric("note.eccnet_not_run").note
    comp = _self_comparison(renamed_tasks, hard_tasks=("my search",))
    names = {c.name for c in comp.checks}
    assert "my search: CGS absent/present slope ratio overlaps the human CI" in names
    assert "my search: CGS misses rise with set size" in names
    assert not any(m.name == "note.checks_1_3_not_run" for m in comp.metrics)
    with pytest.raises(cfglib.ConfigError, match="hard_tasks"):
        srd.trials(cfglib.validate(srd.Config(data=renamed_tasks, hard_tasks=("conjunction",))))


def test_one_participant_has_a_slope_ratio_estimate_without_a_ci_and_checks_not_tested(tmp_path):
    path = tmp_path / "one.csv"
    _rows("conjunction", [1], 300).to_csv(path, index=False)
    comp = _self_comparison(str(path))
    present, absent = (comp.metric(f"human.conjunction.slope_{c}").value for c in ("present", "absent"))
    for who in ("human", "cgs"):
        ratio = comp.metric(f"{who}.conjunction.slope_ratio")
        assert ratio.value == pytest.approx(absent / present)
        assert math.isnan(ratio.ci_low) and math.isnan(ratio.ci_high)
    by_name = {c.name: c for c in comp.checks}
    ratio_check = by_name["conjunction: CGS absent/present slope ratio overlaps the human CI"]
    assert not ratio_check.tested and "not tested: the human ratio has no CI" in ratio_check.detail
    assert not any(c.tested for c in comp.checks)  # every check needs a CI over participants
    assert all("not tested: " in c.detail for c in comp.checks) and not any(c.passed for c in comp.checks)
    assert comp.verdict == "untested" and not any(m.name.startswith("note.hard_task") for m in comp.metrics)


def test_one_set_size_reports_checks_1_to_3_not_tested_and_scores_the_rest(tmp_path):
    path = tmp_path / "one_size.csv"
    rows = _rows("conjunction", [1, 2, 3], 400)
    rows[rows.set_size == rows.set_size.max()].to_csv(path, index=False)
    comp = _self_comparison(str(path), slower=1.1)
    untested = [c for c in comp.checks if not c.tested]
    assert [c.name.split(": CGS ")[1] for c in untested] == [
        "absent/present slope ratio overlaps the human CI", "RT spread (absent) grows with set size",
        "misses rise with set size",
    ]  # fmt: skip
    assert all("not tested: one set size (N = 18)" in c.detail for c in untested), [
        c.detail for c in untested
    ]
    quantiles = [c for c in comp.checks if c.tested]
    assert [c.name for c in quantiles] == [
        "CGS quantile fit per participant reaches half the split-half noise ceiling"
    ]
    assert comp.checks_passed.endswith("(3 not tested)")


def test_an_unknown_hard_task_exits_2_naming_the_field(renamed_tasks, tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "cogsim", "run", "search_rt_distributions", "--set", f"data={renamed_tasks}",
         "--set", "hard_tasks=nosuch", "--set", "models=parallel", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert "hard_tasks" in res.stderr


def test_a_cell_with_trials_but_no_correct_rt_in_range_is_compared_and_plotted(tmp_path):
    path = tmp_path / "all_errors.csv"
    rows = _rows("feature", [1, 2], 300)
    rows.loc[(rows.set_size == 18) & (rows.target_present == 1), "correct"] = 0  # all misses
    rows.to_csv(path, index=False)
    cfg = cfglib.validate(srd.Config(data=str(path)))
    human = srd.reference(cfg).table
    sim = human[srd.COLUMNS].assign(kind="trial", model="cgs")  # the model's trials hold the same cell
    comp = srd.compare(sim, human, n_boot=20).with_context(data_kind="trial_level")
    assert comp.schema_problems() == []
    cell = comp.tables["human_cells"].query("set_size == 18 and target_present == 1")
    assert cell.error_rate.tolist() == [1.0] and cell.mean_rt.isna().all()
    fig = srd.plot(sim, human)  # the quantile panel skips the cell: it has no correct RT
    assert len(fig.axes) == 3


def test_a_run_of_models_no_check_scores_is_untested_not_a_demonstration(tmp_path):
    path = tmp_path / "two.csv"
    _rows("conjunction", [1, 2], 200).to_csv(path, index=False)
    cfg = cfglib.validate(srd.Config(data=str(path), models=("serial", "parallel")))
    human = srd.reference(cfg).table
    sim = pd.concat([human[srd.COLUMNS].assign(kind="trial", model=m) for m in cfg.models])
    comp = srd.compare(sim, human, n_boot=20, models=cfg.models).with_context(data_kind="trial_level")
    assert comp.checks == () and comp.verdict == "untested"
    assert "verdict: untested (no check applies to these settings)" in comp.summary()


def test_eccnet_skips_a_task_whose_humans_give_its_quitting_rule_nothing_to_fit(tmp_path):
    path = tmp_path / "present_only.csv"
    rows = pd.concat([_rows("feature", [1, 2], 200), _rows("conjunction", [1, 2], 200)])
    rows = rows[(rows.task == "feature") | (rows.target_present == 1)]  # conjunction: no absent trial
    rows.to_csv(path, index=False)
    cfg = cfglib.validate(srd.Config(data=str(path), models=("eccnet",), n_sim=100, ecc_displays=1))
    t = srd.trials(cfg)
    sim = srd._eccnet.simulate(cfg, t, key=jax.random.key(0))
    assert set(sim.task) == {"feature"}  # was a rule fitted to a NaN target: the search grid's first point
    comp = srd.compare(sim, srd.reference(cfg).table, n_boot=20, models=cfg.models)
    note = comp.metric("note.eccnet_not_run")
    assert note.value == 1 and "'conjunction': its quitting rule has nothing to fit" in note.note
    assert "no correct target-absent trial with an RT in 200-8000 ms" in note.note
    human = srd.reference(cfg).table
    comp = srd.compare(human[srd.COLUMNS].assign(kind="trial", model="cgs"), human, n_boot=20)
    ratio = next(c for c in comp.checks if c.name.startswith("conjunction: CGS absent/present"))
    assert not ratio.tested and "not tested: no target-absent trials" in ratio.detail  # not "2 participants"
    spread = next(c for c in comp.checks if c.name.startswith("conjunction: CGS RT spread"))
    assert "not tested: no target-absent trials: no contrast" in spread.detail
