"""change_detection on trial files in the documented schema that the packaged data sets do not exercise:
an experiment column whose subject ids repeat, base-rate blocks not crossed with every set size, participants
lacking some cells, string ids, one participant, one set size. Every file is built from packaged rows
(subsets, relabelled ids, duplicates), never from invented trials."""

import json

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import runner
from cogsim.scenarios import change_detection as cd
from cogsim.store import file_sha256

pytest.importorskip("cogsim.fit")  # the CSV reader of the change_detection paradigm

FAST = ["n_boot=10", "fit_steps=100", "models=fixed_capacity"]


def _adam(subjects) -> pd.DataFrame:
    t = cd.trials("adam2015")
    return t[t.subject.isin(subjects)].reset_index(drop=True)


def test_subject_ids_repeating_across_experiments_are_different_participants(tmp_path):
    a = _adam([1, 2, 3]).assign(experiment="A")
    b = _adam([4, 5, 6]).assign(experiment="B", subject=lambda d: d.subject - 3)  # ids 1-3 again
    path = tmp_path / "two_experiments.csv"
    pd.concat([a, b]).to_csv(path, index=False)
    assert cd.participant_ids(str(path)) == ["A/1", "A/2", "A/3", "B/1", "B/2", "B/3"]
    counts = cd._counts(str(path))
    assert counts.n.shape[0] == 6
    assert np.array_equal(counts.n[3:], cd._counts("adam2015").n[3:6])  # B/1 is Adam's subject 4
    res = runner.run("change_detection", overrides=[f"data={path}", *FAST], out=tmp_path / "runs")
    per = res.results[(res.results.kind == "parameter") & res.results.participant.notna()]
    assert sorted(per.participant.unique()) == ["A/1", "A/2", "A/3", "B/1", "B/2", "B/3"]
    # unique ids across experiments: the same six participants, labelled by subject alone
    path2 = tmp_path / "distinct.csv"
    pd.concat([a, b.assign(subject=b.subject + 3)]).to_csv(path2, index=False)
    assert cd.participant_ids(str(path2)) == [1, 2, 3, 4, 5, 6]


def test_nested_labels_with_slashes_in_the_ids_never_merge_participants(tmp_path):
    a = _adam([1, 2]).assign(experiment="a", subject=lambda d: d.subject.map({1: "b/c", 2: "x"}))
    b = _adam([3, 4]).assign(experiment="a/b", subject=lambda d: d.subject.map({3: "c", 4: "x"}))
    path = tmp_path / "slashes.csv"
    pd.concat([a, b]).to_csv(path, index=False)
    assert cd.participant_ids(str(path)) == ["a/b\\/c", "a/x", "a\\/b/c", "a\\/b/x"]  # four, not three


def test_base_rate_blocks_not_crossed_with_the_large_set_sizes(tmp_path):
    t = cd.trials("rouder2008")
    t = t[t.subject.isin(sorted(t.subject.unique())[:4])]
    keep = (t.set_size == 2) | (t.base_rate == 0.5) | ((t.set_size == 8) & (t.base_rate == 0.7))
    path = tmp_path / "uncrossed.csv"
    t[keep].to_csv(path, index=False)
    res = runner.run("change_detection", overrides=[f"data={path}", *FAST], out=tmp_path / "runs")
    checks = {c.name.split(" (")[0]: c for c in res.comparison.checks}
    k = next(c for name, c in checks.items() if name.startswith("K agrees"))
    assert "over the 3 set size x change probability conditions the data have" in k.detail
    human = res.human.query("set_size >= 5")
    assert len(human) == 3
    assert res.comparison.metric("K").human == pytest.approx(float(human.cowan_k.mean()))


def test_one_set_size_per_base_rate_block_reports_the_baseline_check_not_tested(tmp_path):
    t = cd.trials("rouder2008")
    t = t[t.subject.isin(sorted(t.subject.unique())[:4])]
    keep = ((t.set_size == 2) & (t.base_rate == 0.3)) | ((t.set_size == 5) & (t.base_rate == 0.5))
    keep |= (t.set_size == 8) & (t.base_rate == 0.7)  # each block at one set size: the baseline is the data
    path = tmp_path / "one_size_per_block.csv"
    t[keep].to_csv(path, index=False)
    res = runner.run("change_detection", overrides=[f"data={path}", *FAST], out=tmp_path / "runs")
    by_name = {c.name.split(" (")[0]: c for c in res.comparison.checks}
    c = by_name["rates closer than the set-size-blind baseline's"]  # was a fail against an RMSE of 0 [0, 0]
    assert not c.tested and not c.passed and np.isnan(c.value)
    assert c.detail.startswith("not tested: one set size per change probability (0.3: N = 2; 0.5: N = 5;")
    blind = res.comparison.metric("rmse_set_size_blind")
    assert np.isnan(blind.value) and blind.note.startswith("not defined: one set size per change probability")
    assert by_name["K agrees with the Cowan K plateau at set sizes 5/8"].tested  # identified: 3 set sizes
    assert by_name["hit and false-alarm rates reproduced"].tested


def test_sems_count_only_the_participants_who_have_the_cell(tmp_path):
    t = _adam([1, 2, 3])
    t = t[~((t.subject == 1) & (t.set_size >= 4))]  # participant 1 saw set sizes 2 and 3 only
    path = tmp_path / "unbalanced.csv"
    t.to_csv(path, index=False)
    table = cd.reference(cd.Config(data=str(path))).table.set_index("set_size")
    for n in (2, 4):
        have = t[(t.set_size == n) & (t.change == 1)].groupby("subject").correct.mean()
        assert len(have) == (3 if n == 2 else 2)
        sem = have.std(ddof=1) / np.sqrt(len(have))
        assert table.loc[n, "hit_sem"] == pytest.approx(sem)
        assert table.loc[n, "n_participants_change"] == len(have)


def test_results_keep_the_files_participant_ids(tmp_path):
    ids = {1: "003", 2: "s 1", 3: "ß2"}
    path = tmp_path / "string_ids.csv"
    _adam([1, 2, 3]).assign(subject=lambda d: d.subject.map(ids)).to_csv(path, index=False)
    over = [f"data={path}", *FAST, "per_participant=true"]
    res = runner.run("change_detection", overrides=over, out=tmp_path / "runs")
    stored = pd.read_parquet(res.folder / "results.parquet")
    per = stored[(stored.kind == "parameter") & stored.participant.notna()]
    assert sorted(per.participant) == sorted(ids.values())
    group = stored[(stored.kind == "parameter") & stored.participant.isna()]
    assert "K" in set(group.name)
    sim = cd.simulate(cd.Config(data="adam2015", n_boot=10, fit_steps=100), key=jax.random.key(0))
    per = sim[(sim.kind == "parameter") & (sim.participant != -1)]
    assert sorted(per.participant.unique()) == list(range(1, 41))  # Adam et al.'s ids, not 0-39


def test_one_participant_gives_no_ci_and_no_passing_check(tmp_path):
    path = tmp_path / "one.csv"
    _adam([7]).to_csv(path, index=False)
    cfg = cd.Config(data=str(path), n_boot=10, fit_steps=100, per_participant=False)
    sim = cd.simulate(cfg, key=jax.random.key(0))
    k = sim[(sim.kind == "parameter") & (sim.name == "K")].iloc[0]
    assert np.isnan(k.ci_low) and np.isnan(k.ci_high)
    comp = cd.compare(sim, cd.reference(cfg).table)
    assert comp.checks and not any(c.passed for c in comp.checks)
    for c in comp.checks:
        assert "no CI (1 participant: a participant bootstrap needs at least 2)" in c.detail, c.name
        assert not c.tested, c.name
    assert comp.verdict == "untested" and comp.checks_passed.startswith("0/0 (")
    assert comp.metric("K").ci_low is None or np.isnan(comp.metric("K").ci_low)


def _one_set_size(tmp_path, source: str, subjects) -> tuple:
    """``source``'s ``subjects`` at their largest set size only, fitted and compared."""
    path = tmp_path / "one_size.csv"
    t = cd.trials(source)
    t = t[t.subject.isin(subjects)]
    t[t.set_size == t.set_size.max()].to_csv(path, index=False)
    cfg = cd.Config(data=str(path), n_boot=20, fit_steps=300, per_participant=False)
    sim = cd.simulate(cfg, key=jax.random.key(0))
    return sim, cd.compare(sim, cd.reference(cfg).table)


def test_one_set_size_reports_the_set_size_checks_not_tested_and_no_absurd_ceiling(tmp_path):
    sim, comp = _one_set_size(tmp_path, "adam2015", [1, 2])  # two rates: hits and false alarms at N = 6
    by_name = {c.name.split(" (")[0]: c for c in comp.checks}
    for start in ("K agrees with the Cowan K plateau at set sizes 6", "hit and false-alarm rates reproduced",
                  "rates closer than the set-size-blind baseline's"):  # fmt: skip
        c = by_name[start]
        assert not c.passed and np.isnan(c.value) and np.all(np.isnan(c.ci)), c.name
        assert c.detail.startswith("not tested: one set size (N = 6)"), c.detail
        assert not c.tested, c.name
    assert "K is not identified" in by_name["K agrees with the Cowan K plateau at set sizes 6"].detail
    for name in ("fraction_of_noise_ceiling", "rmse_set_size_blind"):  # were 1e7 and 0 [0, 0]
        m = comp.metric(name)
        assert np.isnan(m.value) and m.note.startswith("not defined: one set size (N = 6)"), (name, m)
    assert "not identified from one set size" in comp.metric("K").note
    assert "not identified from one set size" in comp.metric("a").note
    assert comp.metric("g_0.5").note == ""  # the guess rate is identified from the two rates
    assert np.isfinite(comp.metric("K").value)  # still fitted and reported


def test_one_set_size_with_base_rate_blocks_still_tests_the_rates_and_the_guessing(tmp_path):
    sim, comp = _one_set_size(tmp_path, "rouder2008", [1, 2, 3])  # N = 8, three base rates: six rates
    tested = {c.name: c for c in comp.checks if not c.detail.startswith("not tested")}
    assert any(n.startswith("guessing rises") for n in tested)
    assert any(n.startswith("hit and false-alarm rates reproduced") for n in tested)
    assert [c.name.split(" (")[0] for c in comp.checks if c.detail.startswith("not tested")] == [
        "K agrees with the Cowan K plateau at set sizes 8", "rates closer than the set-size-blind baseline's"
    ]  # fmt: skip
    assert [c.tested for c in comp.checks] == [not c.detail.startswith("not tested") for c in comp.checks]
    assert comp.checks_passed.endswith("(2 not tested)") and comp.verdict != "mismatch"
    assert np.isfinite(comp.metric("fraction_of_noise_ceiling").value)
    assert np.isnan(comp.metric("rmse_set_size_blind").value)


def test_a_run_on_a_relative_path_is_rescored_from_anywhere_and_refused_once_the_file_changes(
    tmp_path, monkeypatch, capsys
):
    from cogsim import cli

    here = tmp_path / "lab"
    here.mkdir()
    _adam([1, 2]).to_csv(here / "mine.csv", index=False)
    monkeypatch.chdir(here)
    res = runner.run("change_detection", overrides=["data=mine.csv", *FAST], out=tmp_path / "runs")
    record = json.loads((res.folder / "run.json").read_text())
    assert record["config"]["data"] == str(here / "mine.csv")  # the absolute path
    assert record["input_files"] == [
        {"field": "data", "path": str(here / "mine.csv"), "sha256": file_sha256(here / "mine.csv")}
    ]
    monkeypatch.chdir(tmp_path)  # elsewhere: the same verdict
    assert cli.main(["compare", str(res.folder)]) == 0
    assert json.loads((res.folder / "comparison.json").read_text())["verdict"] == res.comparison.verdict
    _adam([1, 3]).to_csv(here / "mine.csv", index=False)  # other trials under the same name: refused
    capsys.readouterr()
    assert cli.main(["compare", str(res.folder)]) == 2
    err = capsys.readouterr().err
    assert "config field 'data'" in err and "changed since the run" in err and "Traceback" not in err
    (here / "mine.csv").unlink()  # deleted: named as missing (was "the config ... does not fit")
    assert cli.main(["compare", str(res.folder)]) == 2
    err = capsys.readouterr().err
    assert f"the run's data file {str(here / 'mine.csv')!r} (config field 'data') is missing" in err


def test_sweep_point_of_a_file_without_a_half_base_rate_uses_the_nearest(tmp_path):
    t = cd.trials("rouder2008")
    path = tmp_path / "no_half.csv"
    t[t.base_rate.isin([0.3, 0.7])].to_csv(path, index=False)
    out = cd.sweep_point(cd.Config(data=str(path), sim_K=3.0), key=jax.random.key(0))
    assert {"cowan_k_n2", "accuracy_n2", "loglik"} <= set(out)
    assert all(np.isfinite(float(v)) for v in out.values())
