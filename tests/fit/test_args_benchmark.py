"""The benchmark scripts' arguments: bad ones are usage errors (exit 2) before any work, ``--help`` runs
nothing, quick/dry/peerless runs never default to a committed record, and the fixes of the audit's crashes
(benchmarks/attention.py --cpu, fit.py's peer failures, children's stderr) hold."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cogsim.fit")

ROOT = Path(__file__).resolve().parents[2]
NO_FILE = "no_such_trials.csv"

# (script, arguments): each must stop with a usage error (exit 2) before it computes anything
BAD = [
    ("fit", ["--paradigm", "nope", "--data", NO_FILE, "--xla-threads", "default"]),
    (
        "fit",
        [
            "--paradigm",
            "delayed_estimation",
            "--data",
            NO_FILE,
            "--models",
            "nope",
            "--xla-threads",
            "default",
        ],
    ),
    ("fit", ["--paradigm", "delayed_estimation", "--data", NO_FILE, "--xla-threads", "default"]),
    ("fit", ["--toy", "--data", NO_FILE, "--n-starts", "0"]),
    ("fit", ["--toy", "--data", NO_FILE, "--xla-threads", "0"]),
    ("fit_starts", ["--paradigm", "delayed_estimation", "--data", NO_FILE, "--models", "nope"]),
    (
        "fit_starts",
        ["--paradigm", "delayed_estimation", "--data", NO_FILE, "--models", "vp", "--starts", "x"],
    ),
    (
        "fit_starts",
        ["--paradigm", "delayed_estimation", "--data", NO_FILE, "--models", "vp", "--out", "/proc/no/x"],
    ),
    ("tempering", ["--data", NO_FILE, "--model", "nope"]),
    ("tempering", ["--data", NO_FILE, "--samplers", "nope"]),
    ("search_t0_profile", ["--data", NO_FILE, "--model", "nope"]),
    ("search_t0_profile", ["--data", NO_FILE, "--step", "0"]),
    ("visual_search", ["--experiments", "9"]),
    ("search_t0_ladder_probe", ["--data", NO_FILE, "--ladder", "nope"]),
    ("search_t0_spread_probe", ["--data", NO_FILE, "--starts", "nope"]),
    ("fit_distinct_trials", ["--data", NO_FILE, "--rounds", "0"]),
    ("sbc", ["--n-subjects", "0"]),
    ("oat", ["--epochs", "0"]),
    ("attention", ["--cpu", "--seq-lens", "0"]),
    ("attention", ["--dry-run"]),  # would replace the committed GPU record
    ("profile_intervals", ["--data", NO_FILE, "--models", "nope"]),
    ("search_sample_rt", ["--trials", "0"]),
    ("search_sample_rt", ["--repeats", "0"]),
    ("induction_training", ["--steps", "0"]),
    ("induction_training", ["--quick"]),  # would replace the committed record
    ("kg", ["--graphs", "nope"]),
    ("kg", ["--no-peer"]),  # without the peer: not to the committed record
    ("cache_writes", ["--n", "5"]),
    ("fit_scale", ["--participants", "5"]),
    ("recovery", ["models", "delayed_estimation", "--models", "uniform"]),
    ("sweeps", ["--quick"]),  # would replace the committed record
    ("bms_recovery", ["--bogus"]),
    ("memory_estimates", ["--bogus"]),
]


def _exit_code(load_benchmark, script: str, argv: list[str]) -> int:
    bench = load_benchmark(script)
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    return exc.value.code


@pytest.mark.parametrize(("script", "argv"), BAD, ids=[f"{s}:{' '.join(a)}" for s, a in BAD])
def test_bad_arguments_are_usage_errors(load_benchmark, script, argv, capsys):
    assert _exit_code(load_benchmark, script, argv) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["bms_recovery", "memory_estimates", "loo", "kg", "induction_training"])
def test_help_runs_nothing(load_benchmark, script, capsys):
    assert _exit_code(load_benchmark, script, ["--help"]) == 0
    assert "--out" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("script", "module", "argv"),
    [
        ("kg", "pykeen", []),
        ("induction_training", "torch", ["--out", "x.json"]),
        ("loo", "arviz", ["--data", NO_FILE]),
    ],
)
def test_a_missing_peer_is_a_usage_error_naming_the_bench_extra(load_benchmark, script, module, argv, capsys):
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed")
    assert _exit_code(load_benchmark, script, argv) == 2
    assert ".[bench]" in capsys.readouterr().err


def test_the_cpu_memory_run_lowers_the_backward_of_both_implementations(load_benchmark):
    rows = load_benchmark("attention")._cpu_memory([32], d=16)  # compile only, interpret mode
    got = {(r["op"], r["pass"], r["impl"]) for r in rows}
    assert {("flash", "fwd_bwd", "reference"), ("flash", "fwd_bwd", "kernel")} <= got
    assert all(r["temp_bytes"] >= 0 for r in rows)


def test_fit_threads_after_jax_started_names_that_cause(load_benchmark, monkeypatch):
    import jax.numpy as jnp

    from cogsim import cpu_threads

    jnp.zeros(1).block_until_ready()  # JAX's backends exist in this process
    for var in cpu_threads.ENV:
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SystemExit, match="JAX has already started"):
        load_benchmark("fit")._xla_threads("fit")


def test_fit_counts_peer_failures_and_writes_strict_json(load_benchmark, mixture_csv, tmp_path, monkeypatch):
    bench = load_benchmark("fit")
    real, first = bench.optimize.minimize, []

    def first_unit_fails(f, x0, **kw):  # every start of the first unit ends at -inf log-likelihood
        r = real(f, x0, **kw)
        unit = f.__defaults__[0]  # the unit's trials, bound in scipy_loop's objective
        first[:] = first or [unit]
        if unit is first[0]:
            r.fun = np.inf
        return r

    monkeypatch.setattr(bench.optimize, "minimize", first_unit_fails)
    out = tmp_path / "fit.json"
    bench.main(["--toy", "--data", str(mixture_csv), "--out", str(out), "--xla-threads", "default"])

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    (row,) = json.loads(out.read_text(), parse_constant=no_constants)["models"]
    assert row["scipy_failed_units"] == 1 and row["units_compared"] == row["units"] - 1
    assert row["unit_loglik_scipy"][0] is None and row["loglik_scipy"] is None
    assert row["max_abs_loglik_diff"] is not None and row["max_abs_loglik_diff"] < 0.1


def test_a_failing_child_shows_its_stderr_and_keeps_its_exit_status(load_benchmark, capfd):
    report = load_benchmark("_report")
    cmd = [sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"]
    with pytest.raises(SystemExit) as exc:
        report.child_output(cmd)
    assert exc.value.code == 3 and "boom" in capfd.readouterr().err


def test_an_out_path_gets_its_folders_before_the_work(load_benchmark, tmp_path):
    import argparse

    out = tmp_path / "a" / "b" / "x.json"
    assert load_benchmark("_report").writable(argparse.ArgumentParser(), str(out)) == out
    assert out.parent.is_dir() and not out.exists()


def test_gpu_check_dry_run_needs_its_own_results_folder():
    env = {k: v for k, v in os.environ.items() if k != "GPU_CHECK_RESULTS"}
    env.update(PYTHON=sys.executable, GPU_CHECK_ALLOW_CPU="1", JAX_PLATFORMS="cpu")
    res = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "GPU_CHECK_RESULTS" in res.stderr, res.stderr[-2000:]
