"""benchmarks/profile_intervals.py runs end to end on a small file (3 participants x 2 set sizes): each
search in a process of its own, the two searches' endpoints judged by the script's rule (the same code on
both sides: every endpoint agrees)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("cogsim.fit")


ROOT = Path(__file__).resolve().parents[2]


def test_each_search_runs_in_its_own_process_and_the_same_code_agrees(
    load_benchmark, mixture_csv, tmp_path, monkeypatch
):
    monkeypatch.chdir(ROOT)  # the script reads the previous search with git, from the checkout
    committed = subprocess.run(["git", "show", "HEAD:cogsim/fit/_profile.py"], capture_output=True)
    if committed.returncode != 0:
        pytest.skip("not a git checkout: the script reads the previous search from a commit")
    bench = load_benchmark("profile_intervals")
    out = tmp_path / "profile.json"
    args = ["--data", str(mixture_csv), "--by", "subject", "--models", "mixture2p", "--previous", "HEAD"]
    assert bench.main([*args, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["each_search_in_its_own_process"]
    row = result["models"]["mixture2p"]
    assert row["units"] == 6  # 3 participants x 2 set sizes
    for tag in ("previous", "current"):
        assert row[tag]["compile_wall_s"] > 0 and row[tag]["run_wall_s"] >= 0  # rounded to 0.01 s
    rule = row["rule"]
    assert rule["endpoints"] == 6 * 2 * 2  # units x parameters x sides
    assert rule["within_tolerance"] + rule["passed_by_reference"] + rule["failed"] == rule["endpoints"]
    if (ROOT / "cogsim" / "fit" / "_profile.py").read_bytes() == committed.stdout:  # the same search twice
        assert rule["within_tolerance"] == rule["endpoints"], rule
