"""The command line as a user meets it: real subprocesses, exit codes, one-line errors."""

import json
import subprocess
import sys

import pytest


def cogsim(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "cogsim", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "no_such_scenario"], "unknown scenario 'no_such_scenario'"),
        (["run", "change_detection", "--set", "n_boot=abc"], "'n_boot': got 'abc'; allowed: an integer"),
        (["run", "change_detection", "--set", "bogus=1"], "'bogus': got '1'; allowed: a field of Config"),
        (
            ["run", "change_detection", "--set", "level=2"],
            "'level': got 2.0; allowed: values in [0.5, 0.999]",
        ),
        (["run", "change_detection", "--preset", "huge"], "unknown preset 'huge'"),
        (["data", "show", "nope"], "unknown dataset 'nope'"),
        (["sweep", "change_detection"], "give at least one --grid"),
        (["sweep", "change_detection", "--grid", "sim_K=1,x"], "'sim_K': got 'x'; allowed: a number"),
        (["compare", "/nonexistent/run"], "is not a run folder"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(args, needle):
    res = cogsim(*args)
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_help_everywhere():
    for args in ([], ["run"], ["sweep"], ["data"], ["compare"], ["suite"], ["info"]):
        res = cogsim(*args, "--help")
        assert res.returncode == 0 and "usage:" in res.stdout


def test_list_data_and_info():
    assert "change_detection" in cogsim("list").stdout
    out = cogsim("data", "list").stdout
    assert "rouder2008_change_detection" in out and "umls" in out
    show = cogsim("data", "show", "rouder2008_change_detection").stdout
    assert "GPL-2" in show and "Rouder" in show
    assert "n_boot" in cogsim("info", "change_detection").stdout


def test_run_then_compare(tmp_path):
    res = cogsim(
        "run",
        "change_detection",
        "--set",
        "n_boot=20",
        "--set",
        "fit_steps=300",
        "--set",
        "per_participant=false",
        "--set",
        "models=fixed_capacity",
        "--out",
        str(tmp_path),
    )
    assert res.returncode == 0, res.stderr
    assert "K " in res.stdout and "hit_obs" in res.stdout
    run_dir = tmp_path / "change_detection"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["scenario"] == "change_detection" and record["seed"] == 0
    assert record["config"]["n_boot"] == 20 and record["versions"]["jax"]
    res = cogsim("compare", str(run_dir))
    assert res.returncode == 0 and "verdict" in res.stdout
