"""The Pallas kernels compile for an H100/H200 (sm_90a) and an A100 (sm_80) without a GPU.

tests/kernels/ptx_check.py lowers the kernels for CUDA, compiles their Triton IR to PTX and SASS with the
``triton`` package (a test extra; no GPU needed) and reads the resources. For every kernel of the
configurations it checks: shared memory within the architecture's per-block limit, no spills (no ``STL``/
``LDL`` instructions, no local memory), and tensor cores: ``wgmma`` for the 16-bit flash kernels on sm_90a,
``wgmma`` or ``mma`` elsewhere (tiles under 64 rows use ``mma``), TF32 for float32 inputs. The
configurations are the worst cases the models and the benchmark send (float32 at head_dim 128 with bias,
mask, statistics and causal masking; bfloat16 at 128; top-k in float32). A second, small set checks that
``f32_precision`` reaches the PTX: TF32 ``mma`` for "tf32" and "tf32x3", none for "ieee". Both sets are
compiled by one run of the script (one import of JAX and one pool of compile workers for both).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _toolchain_missing() -> str | None:
    if importlib.util.find_spec("triton") is None:
        return "the triton package is not installed (pip install -e '.[test]' on Linux x86-64 installs it)"
    return None


# Another interpreter to run the check under too (e.g. Python 3.12 with jax 0.11, which lowers for an
# abstract GPU): COGSIM_COMPILE_CHECK_PYTHON="/path/to/python3.12".
def _require_toolchain() -> None:
    """Skips (fails in CI) when the CUDA compile toolchain is missing."""
    missing = _toolchain_missing()
    if missing:
        if IN_CI:
            pytest.fail(f"the CUDA compile check cannot run in CI: {missing}")
        pytest.skip(f"CUDA compile check: {missing}")


PYTHONS = [sys.executable, *os.environ.get("COGSIM_COMPILE_CHECK_PYTHON", "").split()]


@pytest.fixture(scope="module", params=PYTHONS, ids=[f"python{i}" for i in range(len(PYTHONS))])
def report(request, tmp_path_factory):
    _require_toolchain()
    out = tmp_path_factory.mktemp("ptx") / "report.json"
    cmd = [request.param, str(HERE / "ptx_check.py"), "--set", "ci", "--set", "precision", "--jobs", "2"]
    res = subprocess.run([*cmd, "--json", str(out)], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-4000:]
    return json.loads(out.read_text())


def test_every_kernel_fits_shared_memory_without_spills_on_tensor_cores(report):
    kernels = [k for k in report["kernels"] if k["set"] == "ci"]
    names = {k["name"] for k in kernels}
    assert {
        "cogsim_flash_fwd",
        "cogsim_flash_bwd_dq",
        "cogsim_flash_bwd_dkdv",
        "cogsim_flash_bwd_fused",
        "cogsim_topk_select",
    } <= names
    assert {k["arch"] for k in kernels} == {"sm_90a", "sm_80"}
    bad = []
    for k in kernels:
        where = f"{k['case']} {k['name']} {k['arch']}"
        if k["smem_bytes"] > k["smem_limit"]:
            bad.append(f"{where}: shared memory {k['smem_bytes']} > {k['smem_limit']}")
        if k["spill_stores"] or k["spill_loads"] or k["local_bytes"]:
            bad.append(f"{where}: spills {k['spill_stores']}/{k['spill_loads']}, local {k['local_bytes']} B")
        # wgmma needs 64-row tiles: the 16-bit flash kernels have them on sm_90a; the top-k selection, the
        # float32 backward at head_dim 128 and the fused backward (32-row tiles, from the register budget)
        # use mma there
        narrow = ("cogsim_topk_select", "cogsim_flash_bwd_fused")
        if k["arch"] == "sm_90a" and k["dtype"] != "float32" and k["name"] not in narrow:
            tensor_core = k["mix"]["wgmma"]
        else:
            tensor_core = k["mix"]["wgmma"] + k["mix"]["mma"]
        if not tensor_core:
            bad.append(f"{where}: no tensor-core instruction ({k['mix']})")
        if k["dtype"] == "float32" and not k["tf32"]:
            bad.append(f"{where}: float32 dots without TF32")
    assert not bad, "\n".join(bad)


def test_f32_precision_reaches_the_ptx(report):
    """ "ieee" float32 dots compile to FMA, no TF32 tensor-core product (what the compiled exactness tests
    rely on); "tf32" to TF32 ``mma``; "tf32x3" to three times as many (one small forward, sm_80)."""
    kernels = [k for k in report["kernels"] if k["set"] == "precision"]
    assert len(kernels) == 3 and {k["arch"] for k in kernels} == {"sm_80"}
    precision_report = {k["case"].rsplit("-", 1)[1]: k for k in kernels}
    ieee, tf32, x3 = (precision_report[p] for p in ("ieee", "tf32", "tf32x3"))
    assert not ieee["tf32"] and ieee["mix"]["mma"] == ieee["mix"]["wgmma"] == 0
    assert ieee["mix"]["fma_f32"] > 10 * tf32["mix"]["fma_f32"]  # the dots' products as scalar FMAs
    assert tf32["tf32"] and tf32["mix"]["mma"] > 0
    assert x3["tf32"] and x3["mix"]["mma"] == 3 * tf32["mix"]["mma"]
