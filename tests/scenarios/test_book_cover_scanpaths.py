"""book_cover_scanpaths: baselines, the comparison logic, one tiny end-to-end run (train, save, re-score)."""

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import config as cfglib
from cogsim.errors import CogsimError, DataError
from cogsim.scenarios import book_cover_scanpaths as bc
from tests.scenarios.tiny import tiny


def test_baselines_end_on_the_target():
    rng = np.random.default_rng(0)
    geo = {"n_rows": 6, "n_cols": 14, "row_pitch": bc.ROW_PITCH}
    for target in (0, 40, 83):
        for p in bc.centre_out(target, 3, rng=rng, **geo):
            assert p[-1] == target and len(set(p)) == len(p)
        for p in bc.nn_walk(target, 3, rng=rng, **geo):
            assert p[-1] == target and len(set(p)) == len(p)
            steps = np.abs(np.diff(np.array(p) % 14)) + np.abs(np.diff(np.array(p) // 14))
            assert np.all(steps >= 1)
        for p in bc.target_template(target, 3, dprime=3.0, falloff=2.0, rng=rng, **geo):
            assert p[-1] == target and len(set(p)) == len(p)
    # centre-out starts at one of the central covers (rows 2-3, columns 6-7)
    first = {bc.centre_out(0, 1, rng=rng, **geo)[0][0] for _ in range(20)}
    assert first <= {34, 35, 48, 49}
    # a visible target (large d', slow fall-off) is found at once; an invisible one takes a long search
    fast = bc.target_template(0, 20, dprime=30.0, falloff=100.0, rng=rng, **geo)
    slow = bc.target_template(0, 20, dprime=0.0, falloff=1.0, rng=rng, **geo)
    assert np.mean([len(p) for p in fast]) == 1.0
    assert np.mean([len(p) for p in slow]) > 20
    lengths = [3, 7, 1]
    assert [len(p) for p in bc.random_baseline(lengths, 84, rng=rng)] == lengths


def _fake_sim(oat_paths, human_paths, target=10):
    rows = []
    for m, paths in [("oat_sampled", oat_paths), ("human", human_paths), ("random", [[1, 2, 3], [4, 5]])]:
        for trial in (1, 2):
            rows += bc.fixation_rows(m, trial, target, paths)
    return bc.fixation_frame(rows)


FLOOR = "OAT (sampled) Sequence Score above the random floor (paired over collages)"


def test_compare_checks_can_pass_and_fail():
    human = [[5, 6, 10], [5, 7, 10], [6, 5, 10]]
    good = bc.compare(_fake_sim([[5, 6, 10], [5, 10]], human), pd.DataFrame())
    assert good.key == "oat_sampled.SS"
    passed = {c.name: c.passed for c in good.checks}
    assert passed[FLOOR]
    assert passed["OAT (sampled) Sequence Score above the best baseline (random, paired over collages)"]
    t = good.tables["methods"].set_index("method")
    assert t.loc["human", "delta"] == 0.0 and t.loc["oat_sampled", "target_found"] == 1.0
    assert good.with_context(data_kind="trial_level").schema_problems() == []
    bad = bc.compare(_fake_sim([[1, 2, 3], [4, 5]], human), pd.DataFrame())
    assert not {c.name: c.passed for c in bad.checks}[FLOOR]
    assert bad.with_context(data_kind="trial_level").verdict != "match"


def test_checks_the_collages_cannot_decide_are_not_tested_not_failed():
    human = [[5, 6, 10], [5, 7, 10], [6, 5, 10]]
    sim = _fake_sim([[5, 6, 10], [5, 10]], human)
    one = bc.compare(sim[sim.trial == 1], pd.DataFrame())  # one collage: no CI over collages
    assert all(not c.tested and not c.passed for c in one.checks) and len(one.checks) == 4
    why = "not tested: 1 collage(s): a bootstrap over collages needs at least 2"
    assert all(why in c.detail for c in one.checks)
    assert one.with_context(data_kind="trial_level").verdict == "untested"  # was "mismatch"
    alone = bc.compare(_fake_sim([[5, 6, 10], [5, 10]], [[5, 6, 10]]), pd.DataFrame())  # one person each
    ceiling = [c for c in alone.checks if "noise ceiling" in c.name]
    assert len(ceiling) == 1 and not ceiling[0].tested
    assert "no collage with two or more human scanpaths" in ceiling[0].detail
    assert [c.tested for c in alone.checks if "noise ceiling" not in c.name] == [True] * 3
    rows = []  # collage 1 seen by one person only: the human SS's CI comes from the collages with a pair
    for m, paths in [("oat_sampled", [[5, 10]]), ("random", [[1, 2, 3]])]:
        for trial in (1, 2, 3):
            rows += bc.fixation_rows(m, trial, 10, paths)
    rows += bc.fixation_rows("human", 1, 10, human[:1])
    for trial in (2, 3):
        rows += bc.fixation_rows("human", trial, 10, human)
    comp = bc.compare(bc.fixation_frame(rows), pd.DataFrame())
    ss = comp.metric("human.SS")
    assert np.isfinite(ss.ci_low) and np.isfinite(ss.ci_high)  # was NaN from the collage without a pair


def test_the_configs_tfp_steps_reach_the_comparison_and_the_figure():
    from cogsim import runner

    sim = _fake_sim([[5, 6, 10], [5, 10]], [[5, 6, 10], [5, 7, 10], [6, 5, 10]])
    ref = bc.Reference(pd.DataFrame(), kind="trial_level", source="made up")
    for steps in (5, 12):
        cfg = bc.Config(tfp_steps=steps)
        comp = runner.compare_with_reference("book_cover_scanpaths", bc, sim, ref, preset="quick", cfg=cfg)
        assert len(comp.tables["tfp"]) == steps
        fig = bc.plot(sim, ref.table)  # the run's figure, drawn after its comparison
        (ax,) = [a for a in fig.axes if a.get_title().startswith("target-fixation probability")]
        assert ax.lines and all(len(line.get_xdata()) == steps for line in ax.lines)


def test_collage_folds_group_by_target_cover_and_shared_target_vector():
    fix, trials = bc.load_collages()
    folds = bc.collage_folds(trials, 4)
    cover = dict(zip(trials.trial, trials.target_image, strict=True))
    for f in range(4):
        assert len({cover[t] for t, g in folds.items() if g == f}) == 1  # one cover per fold
    assert sorted(np.bincount(list(bc.collage_folds(trials, 2).values()))) == [40, 40]
    with pytest.raises(DataError, match="folds"):
        bc.collage_folds(trials, 5)
    ids = [1, 21, 61]
    shared = bc.displays_for(trials, ids).appearance
    per_image = bc.displays_for(trials, ids, target_identity=True).appearance
    targets = trials.set_index("trial").target_object_id.loc[ids].to_numpy()
    assert shared[np.arange(3), targets].tolist() == [2, 2, 2]
    assert per_image[np.arange(3), targets].tolist() == [2, 3, 5]
    assert (shared.sum(1) == 83 + 2).all()


def test_config_validation():
    with pytest.raises(cfglib.ConfigError):
        cfglib.validate(bc.Config(train_first=10, train_last=5))
    with pytest.raises(cfglib.ConfigError):
        cfglib.replace_from_strings(bc.PRESETS["quick"], ["appearance=cnn"])
    with pytest.raises(DataError, match="not a folder"):
        bc.load_collages("/nonexistent/folder")
    with pytest.raises(cfglib.ConfigError, match="folds"):
        cfglib.validate(bc.Config(folds=1))
    with pytest.raises(cfglib.ConfigError, match="save_model"):
        cfglib.validate(bc.Config(folds=2, save_model="somewhere"))
    with pytest.raises(cfglib.ConfigError, match="save_model.*with load_model"):
        cfglib.validate(bc.Config(folds=0, load_model="a", save_model="b"))


def test_the_reference_holds_the_collages_a_config_scores():
    def collages(**kw):
        return sorted(bc.reference(bc.Config(**kw)).table.trial.unique())

    assert collages(folds=2) == list(range(1, 81))  # cross-validation scores every packaged collage
    assert collages(folds=2, load_model="m", eval_first=70, eval_last=72) == [70, 71, 72]  # no training
    assert collages(folds=0, eval_first=65, eval_last=66) == [65, 66]


def test_end_to_end_train_save_and_rescore_user_collages(tmp_path):
    cfg = tiny("book_cover_scanpaths", save_model=str(tmp_path / "model"))
    sim = bc.simulate(cfg, key=jax.random.key(0))
    assert set(sim.method) == set(bc.METHODS)
    assert sorted(sim.trial.unique()) == [65, 66, 67, 68]
    per = sim.groupby(["method", "trial"])["sample"].nunique().unstack()
    assert (per.loc["oat_sampled"] == cfg.n_samples).all() and (per.loc["oat_greedy"] == 1).all()
    assert (per.loc["human"] == 6).all()
    assert sim.object_id.between(0, 83).all()
    comp = bc.compare(sim, bc.reference().table)
    assert comp.key_metric.name == "oat_sampled.SS" and 0.0 <= comp.key_metric.value <= 1.0
    assert len(comp.checks) == 5
    assert comp.with_context(data_kind="trial_level").schema_problems() == []
    bc.plot(sim, bc.reference().table)

    # Score the saved model on "user" collages in the packaged format, without training.
    fix, trials = bc.load_collages()
    folder = tmp_path / "mine"
    folder.mkdir()
    fix[fix.trial.isin([70, 71])].to_csv(folder / "fixations.csv", index=False)
    trials[trials.trial.isin([70, 71])].to_csv(folder / "trials.csv", index=False)
    cfg2 = tiny("book_cover_scanpaths", load_model=str(tmp_path / "model"), eval_data=str(folder))
    sim2 = bc.simulate(cfg2, key=jax.random.key(0))
    assert sorted(sim2.trial.unique()) == [70, 71]
    assert sorted(bc.reference(cfg2).table.trial.unique()) == [70, 71]  # the user's collages, not ours
    assert sim2.attrs["training"] == {"loaded_from": str(tmp_path / "model")}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "fixations.csv").write_text((folder / "fixations.csv").read_text())
    (bad / "trials.csv").write_text((folder / "trials.csv").read_text().replace("target_3.jpg", "cover.jpg"))
    with pytest.raises(CogsimError, match="target_image"):
        bc.simulate(cfglib.replace(cfg2, eval_data=str(bad)), key=jax.random.key(0))


@pytest.mark.slow  # two trainings and decodings with their compilations: about a minute of CPU
def test_cross_validation_scores_every_collage_with_a_model_that_never_saw_its_cover(monkeypatch):
    fix, trials = bc.load_collages()
    few = [1, 2, 21, 22, 41, 42, 61, 62]  # two collages of each target cover, to keep the test fast
    subset = (fix[fix.trial.isin(few)], trials[trials.trial.isin(few)])
    monkeypatch.setattr(bc, "load_collages", lambda: subset)
    cfg = tiny("book_cover_scanpaths", folds=2, n_samples=2)
    sim = bc.simulate(cfg, key=jax.random.key(0))
    assert sorted(sim.trial.unique()) == few
    info = sim.attrs["training"]
    assert set(info) == {"fold0", "fold1"}
    folds = bc.collage_folds(trials[trials.trial.isin(few)], 2)
    for f in (0, 1):
        assert info[f"fold{f}"]["test_collages"] == sorted(t for t, g in folds.items() if g == f)
    assert (sim.groupby("trial").fold.first() == pd.Series(folds).sort_index()).all()
    comp = bc.compare(sim, pd.DataFrame())
    assert comp.tables["folds"].collages.tolist() == [4, 4]
    assert {"fold0.oat_sampled.SS", "fold1.oat_sampled.SS", "fraction_of_noise_ceiling"} <= {
        m.name for m in comp.metrics
    }


def _user_folder(tmp_path, edit_fix=None, edit_trials=None):
    """Collages 70 and 71 of the packaged data written as a user folder, optionally edited."""
    fix, trials = bc.load_collages()
    fix, trials = fix[fix.trial.isin([70, 71])], trials[trials.trial.isin([70, 71])]
    folder = tmp_path / "mine"
    folder.mkdir(parents=True)
    (edit_fix or (lambda d: d))(fix).to_csv(folder / "fixations.csv", index=False)
    (edit_trials or (lambda d: d))(trials).to_csv(folder / "trials.csv", index=False)
    return folder


def test_a_bad_user_folder_is_refused_before_any_training(tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before the user's collages were checked")

    monkeypatch.setattr(bc, "train_model", no_training)
    cfg = tiny("book_cover_scanpaths", eval_data=str(tmp_path / "missing"))
    with pytest.raises(DataError, match="not a folder"):
        bc.simulate(cfg, key=jax.random.key(0))
    twice = _user_folder(tmp_path, edit_trials=lambda t: pd.concat([t, t.iloc[:1]]))
    with pytest.raises(DataError, match="appears twice"):
        bc.simulate(cfglib.replace(cfg, eval_data=str(twice)), key=jax.random.key(0))


def test_a_trial_listed_twice_is_refused_with_its_row(tmp_path):
    folder = _user_folder(tmp_path, edit_trials=lambda t: pd.concat([t, t.iloc[:1]]))
    with pytest.raises(DataError, match=r"trials\.csv: row 4, column 'trial': 70 appears twice"):
        bc.load_collages(folder)


def test_fixation_rows_that_are_repeated_negative_or_missing_are_refused(tmp_path):
    def repeat(f):
        return pd.concat([f.iloc[:3], f.iloc[1:2], f.iloc[3:]])

    def negative(f):
        return f.assign(fixation_index=np.where(np.arange(len(f)) == 2, -1, f.fixation_index))

    cases = {
        "repeat": (repeat, r"fixations\.csv: row 5, column 'fixation_index': value 1 appears twice"),
        "negative": (negative, r"fixations\.csv: row 4, column 'fixation_index': value -1 is not allowed"),
        "empty": (lambda f: f.iloc[:0], r"fixations\.csv: no rows"),
    }
    for name, (edit, message) in cases.items():
        with pytest.raises(DataError, match=message):
            bc.load_collages(_user_folder(tmp_path / name, edit_fix=edit))
