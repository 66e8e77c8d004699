from cogsim import runner


def test_suite_writes_report_with_summary_table(tmp_path):
    lines = []
    results = runner.run_suite(names=["change_detection"], out=tmp_path, log=lines.append)
    assert len(results) == 1 and not isinstance(results[0], tuple)
    report = (tmp_path / "REPORT.md").read_text()
    assert "| scenario | metric | human | model | verdict | seconds |" in report
    assert "change_detection/figure.png" in report
    assert any("verdict" in line for line in lines)


def test_a_failing_scenario_is_reported_and_the_suite_goes_on(tmp_path, monkeypatch):
    from cogsim.scenarios import change_detection

    def boom(config, *, key):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(change_detection, "simulate", boom)
    results = runner.run_suite(names=["change_detection"], out=tmp_path, log=lambda s: None)
    assert isinstance(results[0], tuple) and "simulated failure" in results[0][1]
    assert "error" in (tmp_path / "REPORT.md").read_text()
