"""benchmarks/gpu_check.sh as a dry run on the CPU: the attention stage's code path end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _gpu_check(results: Path, timeout: int, **stages: str) -> subprocess.CompletedProcess:
    """benchmarks/gpu_check.sh as a CPU dry run writing to ``results``, with the stage settings given."""
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        GPU_CHECK_ALLOW_CPU="1",
        GPU_CHECK_RESULTS=str(results),
        GPU_CHECK_TOTAL_S="1500",
        **stages,
    )
    cmd = ["bash", str(ROOT / "benchmarks" / "gpu_check.sh")]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow  # ~1-2 minutes on an idle 2-core machine: the stage compiles a dozen interpreted kernels
def test_gpu_check_dry_run_writes_correctness_results_and_ratios(tmp_path):
    res = _gpu_check(tmp_path, 900, GPU_CHECK_STAGES="attention", GPU_CHECK_ATTENTION_S="1200")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    payload = json.loads((tmp_path / "attention_gpu.json").read_text())
    assert payload["dry_run"] and not payload["errors"] and not payload["skipped"]
    # correctness first: interpreted kernels against the reference, float32 with bias and bfloat16, and the
    # Mosaic forward (emulated) with the Triton backward
    errs = {r["setting"]: r for r in payload["correctness"]}
    assert set(errs) == {"bf16", "f32_bias", "bf16_mosaic"}
    assert max(v for k, v in errs["f32_bias"].items() if k.startswith("max_abs_err")) < 1e-4
    assert max(v for k, v in errs["bf16"].items() if k.startswith("max_abs_err")) < 0.1
    assert max(v for k, v in errs["bf16_mosaic"].items() if k.startswith("max_abs_err")) < 0.1
    # every setting measured for the kernel and its peer, forward and backward, with ratios
    seen = {(r["setting"], r["impl"], r["pass"]) for r in payload["results"]}
    for setting in ("bf16", "f32_bias"):
        for impl in ("cogsim", "xla"):
            assert {(setting, impl, "fwd"), (setting, impl, "fwd_bwd")} <= seen
    assert {("bf16", "cogsim_mosaic", "fwd"), ("bf16", "cogsim_mosaic", "fwd_bwd")} <= seen
    assert {(r["setting"], r["pass"]) for r in payload["ratios"] if "vs_xla" in r} == {
        (s, p) for s in ("bf16", "f32_bias") for p in ("fwd", "fwd_bwd")
    }
    assert any(r["impl"] == "cogsim_mosaic" and "vs_cogsim" in r for r in payload["ratios"])
    assert [(t["impl"], t["met"]) for t in payload["targets"]] == [("cogsim", None)] * 3 + [
        ("cogsim_mosaic", None)
    ] * 2  # no GPU peers in a dry run


@pytest.mark.slow  # ~30-40 s: four small pytest runs, one stopped at its 10 s budget
def test_gpu_check_runs_each_test_file_in_order_with_its_own_budget(tmp_path):
    """A failing file and a file stopped at its budget hide none of the files after them; one merged JSON."""
    (tmp_path / "test_fails.py").write_text("def test_fails():\n    assert 1 == 2\n")
    (tmp_path / "test_hangs.py").write_text("import time\n\ndef test_hangs():\n    time.sleep(120)\n")
    (tmp_path / "test_passes.py").write_text("def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    order = [tmp_path / "test_fails.py", tmp_path / "test_hangs.py", tmp_path / "test_passes.py"]
    mosaic = "tests/kernels/test_mosaic_attention.py"  # compiled: skipped without a Hopper GPU
    results = tmp_path / "results"
    weighted = " ".join(f"{p}:{w}" for p, w in zip([*order, mosaic], (1, 1, 4, 4), strict=True))
    res = _gpu_check(
        results,
        300,
        GPU_CHECK_STAGES="tests",
        # the first two files get the 10 s minimum; the last two most of the rest (importing jax for the
        # Mosaic file can take over 10 s on a loaded machine)
        GPU_CHECK_TEST_S="60",
        GPU_CHECK_TEST_FILES=weighted,
    )
    assert res.returncode != 0, res.stdout[-3000:]  # a test failed
    payload = json.loads((results / "kernel_tests_gpu.json").read_text())
    files = payload["files"]
    assert [f["file"] for f in files] == [*map(str, order), mosaic]
    fails, hangs, passes, mosaic_run = files
    assert (fails["tests"], fails["failures"], fails["timed_out"]) == (1, 1, False)
    assert fails["problems"][0]["test"].endswith("test_fails")
    assert hangs["timed_out"] and hangs["budget_s"] == 10 and hangs["returncode"] == 124  # timeout(1)
    assert (passes["tests"], passes["failures"], passes["errors"], passes["returncode"]) == (2, 0, 0, 0)
    assert mosaic_run["skipped"] == mosaic_run["tests"] == 1 and mosaic_run["returncode"] == 5  # none ran
    assert payload["failures"] == 1 and payload["timed_out"] and payload["returncode"] != 0
    assert payload["tests"] == sum(f.get("tests", 0) for f in files)
