"""The runner: run folders that never overwrite, atomic writes, checks before any computation, the suite."""

import json
import os
import time

import pytest

from cogsim import runner, store
from cogsim.errors import CogsimError, ConfigError


def test_suite_writes_report_with_summary_table(tmp_path, monkeypatch):
    from cogsim.scenarios import change_detection
    from tests.scenarios.tiny import tiny

    # the real scenario at its tiny settings (the report, not the scenario, is under test)
    monkeypatch.setitem(change_detection.PRESETS, "quick", tiny("change_detection"))
    lines = []
    results = runner.run_suite(names=["change_detection"], out=tmp_path, log=lines.append)
    assert len(results) == 1 and not isinstance(results[0], tuple)
    report = (tmp_path / "REPORT.md").read_text()
    header = "| " + " | ".join(runner.SCORECARD_COLUMNS) + " |"
    assert "## Scorecard" in report and header in report
    row = next(line for line in report.splitlines() if line.startswith("| change_detection |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    card = dict(zip(runner.SCORECARD_COLUMNS, cells, strict=True))
    assert card["data"] == results[0].comparison.data_kind == "trial_level"
    assert card["verdict"] in ("match", "partial", "mismatch", "demonstration")
    rel = os.path.relpath(results[0].folder / "figure.png", tmp_path)
    assert f"]({rel})" in report and (tmp_path / rel).is_file()  # the figure link resolves
    assert any("verdict" in line for line in lines)


def test_a_failing_scenario_is_reported_and_the_suite_goes_on(tmp_path, monkeypatch):
    from cogsim.scenarios import change_detection

    def boom(config, *, key):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(change_detection, "simulate", boom)
    results = runner.run_suite(names=["change_detection"], out=tmp_path, log=lambda s: None)
    assert isinstance(results[0], tuple) and "simulated failure" in results[0][1]
    assert "error" in (tmp_path / "REPORT.md").read_text()


def test_suite_checks_every_name_before_running_any(tmp_path, monkeypatch):
    from cogsim.scenarios import iconic_memory

    ran = []
    monkeypatch.setattr(iconic_memory, "simulate", lambda config, *, key: ran.append(1))
    with pytest.raises(CogsimError, match="unknown scenario 'nosuch'"):
        runner.run_suite(names=["iconic_memory", "nosuch"], out=tmp_path, log=lambda s: None)
    assert ran == [] and not (tmp_path / "iconic_memory").exists()


def test_runs_never_overwrite_and_latest_points_at_the_newest(tmp_path, fake):
    a = runner.run("change_detection", seed=0, out=tmp_path)
    b = runner.run("change_detection", seed=1, out=tmp_path)
    c = runner.run("change_detection", seed=1, out=tmp_path)  # the same id within a second: a new folder
    folders = {a.folder, b.folder, c.folder}
    assert len(folders) == 3 and all((f / "run.json").is_file() for f in folders)
    assert "-quick-s0-" in a.folder.name and "-quick-s1-" in b.folder.name
    assert store.resolve_run_folder(tmp_path / "change_detection" / "latest") == c.folder
    assert store.resolve_run_folder(tmp_path / "change_detection") == c.folder
    assert json.loads((a.folder / "run.json").read_text())["seed"] == 0
    assert not [p for p in (tmp_path / "change_detection").iterdir() if p.name.startswith(".")]


def test_a_run_that_fails_leaves_no_folder_and_latest_unchanged(tmp_path, fake, monkeypatch):
    done = runner.run("change_detection", out=tmp_path)

    def plot_fails(sim, human, ax=None):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(fake, "plot", plot_fails)
    with pytest.raises(RuntimeError, match="plot failed"):
        runner.run("change_detection", seed=3, out=tmp_path)
    parent = tmp_path / "change_detection"
    assert sorted(p.name for p in parent.iterdir()) == sorted([done.folder.name, "latest"])
    assert store.resolve_run_folder(parent / "latest") == done.folder


def test_the_runner_reports_its_stages_unless_quiet(tmp_path, fake):
    import io

    from cogsim import progress

    buf = io.StringIO()
    progress.configure(enabled=True, stream=buf)
    try:
        runner.run("change_detection", out=tmp_path)
        progress.configure(enabled=False, stream=buf)
        n = len(buf.getvalue())
        runner.run("change_detection", out=tmp_path)
    finally:
        progress.configure(enabled=True, stream=None)
    lines = buf.getvalue().splitlines()
    for stage in ("simulating", "comparing", "plotting", "writing"):
        assert any(stage in line and line.endswith("...") for line in lines)
        assert any(stage in line and "done (" in line for line in lines)
    assert len(buf.getvalue()) == n  # quiet: nothing more


def test_the_last_override_of_a_field_wins():
    assert runner.make_config("change_detection", overrides=["n_boot=5", "n_boot=20"]).n_boot == 20
    with pytest.raises(ConfigError, match="'n_boot'"):
        runner.make_config("change_detection", overrides=["n_boot=20", "n_boot=5"])


def test_overrides_apply_to_a_ready_config_as_run_json_records_them(tmp_path, fake):
    cfg = runner.make_config("change_detection", overrides=["n_boot=30"])
    res = runner.run("change_detection", config=cfg, overrides=["n_boot=40"], out=tmp_path)
    assert res.config.n_boot == 40 and res.results.n_boot.tolist() == [40]  # was 30, with n_boot=40 recorded
    record = json.loads((res.folder / "run.json").read_text())
    assert record["config"]["n_boot"] == 40 and record["overrides"] == ["n_boot=40"]
    res = runner.run("change_detection", overrides=(o for o in ["n_boot=50"]), out=tmp_path)  # an iterator
    assert res.config.n_boot == 50
    assert json.loads((res.folder / "run.json").read_text())["overrides"] == ["n_boot=50"]  # was []
    with pytest.raises(CogsimError, match="overrides: got 'n_boot=40'"):
        runner.run("change_detection", config=cfg, overrides="n_boot=40", out=tmp_path)


@pytest.mark.parametrize("seed", [-1, 2**32, 99999999999999999999, 1.5, True])
def test_seeds_out_of_range_are_rejected_before_computing(seed, tmp_path, monkeypatch):
    from cogsim.scenarios import change_detection

    monkeypatch.setattr(change_detection, "simulate", lambda *a, **k: pytest.fail("computed"))
    with pytest.raises(CogsimError, match="seed: got"):
        runner.run("change_detection", seed=seed, out=tmp_path)
    assert not (tmp_path / "change_detection").exists()


def test_an_output_folder_that_is_a_file_fails_before_computing(tmp_path, monkeypatch):
    from cogsim.scenarios import change_detection

    monkeypatch.setattr(change_detection, "simulate", lambda *a, **k: pytest.fail("computed"))
    (tmp_path / "file").write_text("x")
    t0 = time.perf_counter()
    with pytest.raises(CogsimError, match="is not a writable folder"):
        runner.run("change_detection", out=tmp_path / "file")
    assert time.perf_counter() - t0 < 1.0


def test_run_id_reads_as_time_preset_seed_and_config_hash():
    rid = store.run_id(config_json='{"a": 1}', preset="paper", seed=12)
    stamp, preset, seed, digest = rid.rsplit("-", 3)[0], *rid.rsplit("-", 3)[1:]
    assert len(stamp) == 15 and preset == "paper" and seed == "s12" and len(digest) == 8
    assert store.run_id(config_json='{"a": 2}', preset="paper", seed=12)[-8:] != digest


def test_the_paper_verdict_is_shown_only_for_runs_on_the_paper_presets_data(tmp_path, fake):
    on_paper_data = runner.run("change_detection", out=tmp_path)
    assert on_paper_data.comparison.paper == fake.PAPER_RUN
    other = runner.run("change_detection", overrides=["data=adam2015"], out=tmp_path)  # not the paper's data
    assert other.comparison.paper is None
    paper = runner.run("change_detection", preset="paper", overrides=["n_boot=10"], out=tmp_path)
    assert paper.comparison.paper is None  # the paper preset's own verdict is the run's


def _section(report, name):
    """The lines of the report's section ``## name`` (up to the next section)."""
    lines = report.splitlines()
    start = lines.index(f"## {name}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end])


def test_two_only_suites_into_one_folder_keep_both_sections_each_naming_its_run(tmp_path, fake, monkeypatch):
    from cogsim.scenarios import iconic_memory

    first = runner.run_suite(names=["change_detection"], out=tmp_path, log=lambda s: None)
    monkeypatch.setattr(iconic_memory, "simulate", lambda config, *, key: 1 / 0)
    runner.run_suite(names=["iconic_memory"], out=tmp_path, log=lambda s: None)
    report = (tmp_path / "REPORT.md").read_text()
    kept = _section(report, "change_detection")
    rel = os.path.relpath(first[0].folder, tmp_path)
    assert f"From run `{rel}`" in kept and "verdict" in kept
    assert "ZeroDivisionError" in _section(report, "iconic_memory")
    assert "| change_detection |" in report and "| iconic_memory |" in report  # both scorecard rows
    assert "Kept from earlier suites into this folder: change_detection" in report


def test_a_failing_scenario_is_one_line_in_the_log_and_its_traceback_only_with_debug(tmp_path, monkeypatch):
    from cogsim.scenarios import iconic_memory

    def boom(config, *, key):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(iconic_memory, "simulate", boom)
    for debug in (False, True):
        lines = []
        results = runner.run_suite(names=["iconic_memory"], out=tmp_path, log=lines.append, debug=debug)
        text = "\n".join(lines)
        assert "ERROR: RuntimeError: simulated failure" in text and results[0][2] is False
        assert ("Traceback" in text) is debug and (__file__ in text) is debug


def test_ctrl_c_in_a_suite_writes_the_report_of_the_finished_runs(tmp_path, fake, monkeypatch):
    from cogsim.scenarios import iconic_memory

    def interrupted(config, *, key):
        raise KeyboardInterrupt

    monkeypatch.setattr(iconic_memory, "simulate", interrupted)
    with pytest.raises(runner.SuiteInterrupted) as caught:
        runner.run_suite(names=["change_detection", "iconic_memory"], out=tmp_path, log=lambda s: None)
    assert "finished runs kept: change_detection; REPORT.md lists them" in caught.value.note
    report = (tmp_path / "REPORT.md").read_text()
    assert "## change_detection" in report and "## iconic_memory" not in report


def test_a_suite_refuses_a_name_given_twice(tmp_path):
    with pytest.raises(CogsimError, match="'iconic_memory' twice"):
        runner.run_suite(names=["iconic_memory", "iconic_memory"], out=tmp_path, log=lambda s: None)


def test_seeds_may_be_numpy_integers_but_not_bools():
    import numpy as np

    assert runner.check_seed(np.int64(3)) == 3 and type(runner.check_seed(np.uint32(3))) is int
    with pytest.raises(CogsimError, match="seed: got"):
        runner.check_seed(np.bool_(True))
