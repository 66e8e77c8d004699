"""``cogsim compare`` in-process on small run folders (tests/conftest.py's ``fake`` scenario): what it
rewrites and keeps, the damaged folders it refuses, and the run folders it finds."""

import json
import os

import pandas as pd
import pytest

from cogsim import cli, runner, store
from cogsim.compare import Comparison, Metric


def _compare(capsys, *args):
    rc = cli.main(["--quiet", "compare", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def _rescored(fake, monkeypatch, value):
    monkeypatch.setattr(
        fake,
        "compare",
        lambda sim, human: Comparison(
            (Metric("x", value),), (), tables={"conditions": pd.DataFrame({"y": [value]})}
        ),
    )


def test_compare_rewrites_the_tables_and_figure_and_keeps_the_earlier_comparisons(
    tmp_path, fake, monkeypatch, capsys
):
    folder = runner.run("change_detection", out=tmp_path).folder
    first = {n: (folder / n).read_bytes() for n in ("comparison.json", "conditions.csv", "figure.png")}
    _rescored(fake, monkeypatch, 99.0)
    rc, out, err = _compare(capsys, folder)
    assert rc == 0, err
    assert json.loads((folder / "comparison.json").read_text())["metrics"][0]["value"] == 99.0
    assert pd.read_csv(folder / "conditions.csv").y.tolist() == [99.0]  # the table is not stale
    assert "wrote comparison.json, conditions.csv, figure.png" in out and "previous/" in out
    (kept,) = (folder / "previous").iterdir()
    assert {n: (kept / n).read_bytes() for n in first} == first  # the run's first comparison, whole
    # a second compare: the tables' digests still hold, and the first comparison is still there
    _rescored(fake, monkeypatch, 7.0)
    rc, out, err = _compare(capsys, folder)
    assert rc == 0, err
    assert len(list((folder / "previous").iterdir())) == 2
    assert (kept / "comparison.json").read_bytes() == first["comparison.json"]


def test_compare_writes_back_deleted_derived_files(tmp_path, fake, capsys):
    folder = runner.run("change_detection", out=tmp_path).folder
    for n in ("comparison.json", "conditions.csv", "figure.png"):
        (folder / n).unlink()
    rc, _, err = _compare(capsys, folder)
    assert rc == 0, err
    assert all((folder / n).is_file() for n in ("comparison.json", "conditions.csv", "figure.png"))


@pytest.mark.parametrize("table", ["human.parquet", "results.parquet"])
def test_compare_calls_a_run_folder_without_one_of_its_tables_damaged(tmp_path, fake, capsys, table):
    folder = runner.run("change_detection", out=tmp_path).folder
    (folder / table).unlink()
    before = (folder / "comparison.json").read_bytes()
    rc, _, err = _compare(capsys, folder)
    assert rc == 2 and f"is damaged: {table} is missing" in err and str(folder) in err, err
    assert (folder / "comparison.json").read_bytes() == before


@pytest.mark.parametrize(
    "table, needle",
    [
        (pd.DataFrame({"y": [1.0]}), "has no column 'x' (its columns: y)"),
        (pd.DataFrame({"x": pd.Series([], dtype=float)}), "has 0 rows"),
    ],
)
def test_compare_refuses_a_results_table_of_another_shape_even_when_its_digest_matches(
    tmp_path, fake, capsys, table, needle
):
    folder = runner.run("change_detection", out=tmp_path).folder
    table.to_parquet(folder / "results.parquet", index=False)
    record = json.loads((folder / "run.json").read_text())
    record["files"]["results.parquet"]["sha256"] = store.file_sha256(folder / "results.parquet")
    (folder / "run.json").write_text(json.dumps(record))
    rc, _, err = _compare(capsys, folder)
    assert rc == 2 and "results.parquet" in err and needle in err, err
    assert "internal error" not in err


@pytest.mark.parametrize("edit", ["no sha256", "no input_files"])
def test_compare_refuses_a_user_data_file_without_its_digest(tmp_path, fake, capsys, edit):
    data = tmp_path / "my_trials.csv"
    rows = [
        f"S{s},{n},{c},{(s + n + c) % 3 > 0}"
        for s in range(2)
        for n in (2, 4)
        for c in (0, 1)
        for _ in range(3)
    ]
    data.write_text("subject,set_size,change,correct\n" + "\n".join(rows) + "\n")
    folder = runner.run("change_detection", overrides=[f"data={data}"], out=tmp_path / "runs").folder
    record = json.loads((folder / "run.json").read_text())
    assert record["input_files"][0]["sha256"]
    if edit == "no sha256":
        del record["input_files"][0]["sha256"]
    else:
        del record["input_files"]
    (folder / "run.json").write_text(json.dumps(record))
    rc, _, err = _compare(capsys, folder)
    assert rc == 2 and "input_files" in err and "config field 'data'" in err and "run.json" in err, err


def test_compare_names_what_is_wrong_with_the_path(tmp_path, fake, capsys):
    (tmp_path / "f").write_text("x")
    assert _compare(capsys, "")[2].count("got ''; allowed: a run folder path") == 1
    assert "does not exist" in _compare(capsys, tmp_path / "nope")[2]
    assert "is a file, not a folder" in _compare(capsys, tmp_path / "f")[2]
    folder = runner.run("change_detection", out=tmp_path / "runs").folder
    parent = folder.parent
    (parent / "latest").unlink()
    rc, _, err = _compare(capsys, parent)
    assert rc == 2 and "without a `latest` run" in err and folder.name in err, err
    os.symlink("gone", parent / "latest")
    rc, _, err = _compare(capsys, parent)
    assert rc == 2 and "which no longer exists" in err and folder.name in err, err


def test_compare_help_says_what_it_writes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["compare", "-h"])
    text = " ".join(capsys.readouterr().out.split())
    assert "figure.png" in text and "previous/" in text and "comparison.json" in text
