"""benchmarks/fit_starts.py: a unit's reference is its best over every run, misses are counted against it,
and ``--with`` joins an earlier result's runs to the references."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("cogsim.fit")


def run(model, n, seed, loglik):
    return {"model": model, "n_starts": n, "seed": seed, "units": ["a", "b"], "loglik": loglik}


def test_misses_are_counted_against_each_units_best_over_all_runs(load_benchmark):
    misses = load_benchmark("fit_starts").misses
    runs = [run("m", 4, 0, [-10.0, -5.0]), run("m", 4, 1, [-10.05, -9.0]), run("m", 16, 0, [-12.0, -5.0])]
    out = misses([*runs, run("other", 4, 0, [0.0, 0.0])], tol=0.1)
    assert out["m"]["4"] == {
        "missed": [["b", 1, 4.0]],
        "largest_gap": pytest.approx(4.0),
    }  # 0.05 is within tol
    assert out["m"]["16"]["missed"] == [["a", 0, 2.0]]
    assert out["other"]["4"]["missed"] == []  # another model's runs are not its references


def test_a_run_writes_every_units_loglik_and_joins_earlier_results(
    load_benchmark, mixture_csv, tmp_path, monkeypatch
):
    monkeypatch.setenv("COGSIM_COMPILATION_CACHE", "off")  # main sets it; restored after the test
    bench = load_benchmark("fit_starts")
    args = ["--paradigm", "delayed_estimation", "--data", str(mixture_csv), "--by", "subject"]
    first = bench.main(
        [*args, "--models", "mixture2p", "--starts", "1", "--seeds", "0", "--out", str(tmp_path / "a.json")]
    )
    assert [len(r["loglik"]) for r in first["runs"]] == [3] and first["runs"][0]["units"] == ["a", "b", "c"]
    earlier = json.loads((tmp_path / "a.json").read_text())
    earlier["runs"][0]["loglik"] = [x + 1.0 for x in earlier["runs"][0]["loglik"]]  # a better earlier run
    (tmp_path / "a.json").write_text(json.dumps(earlier))
    second = bench.main(
        [*args, "--models", "mixture2p", "--starts", "2", "--seeds", "0", "--with", str(tmp_path / "a.json")]
        + ["--out", str(tmp_path / "b.json")]
    )
    assert len(second["runs"]) == 1 and second["earlier"] == ["a.json"]
    assert [m[0] for m in second["misses"]["mixture2p"]["2"]["missed"]] == ["a", "b", "c"]
    assert second["misses"]["mixture2p"]["1"]["missed"] == []
