"""The Mosaic GPU forward lowers for Hopper (sm_90) without a GPU, with TMA, wgmma and warp specialization.

tests/kernels/mosaic_check.py lowers the kernel for CUDA (no GPU needed: Mosaic GPU's lowering runs in
Python and targets sm_90 when it finds no GPU) and reads the kernel's MLIR. For every configuration it
checks the tensor-core products (``wgmma`` m64nNk16 of the input dtype into float32, for ``q k^T`` and for
``p v``), TMA loads and stores, mbarrier and ``wgmma`` waits, the register split of the warp
specialization (``setmaxnreg``), three warpgroups, and the dynamic shared memory within the H100/H200
per-block limit. ``COGSIM_COMPILE_CHECK_PYTHON="/path/to/python3.12"`` runs it under another interpreter
too (e.g. jax 0.11; that interpreter needs jax and cogsim).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import mosaic_check  # noqa: E402

OTHER_PYTHONS = os.environ.get("COGSIM_COMPILE_CHECK_PYTHON", "").split()


def _problems(row: dict) -> list[str]:
    d_pad = max(64, 1 << (row["head_dim"] - 1).bit_length())
    block_k = 128 if d_pad <= 128 else 64
    where = f"{row['case']} (jax {row['jax']})"
    bad = []
    if not {block_k, d_pad} <= set(row["wgmma_n"]):  # q k^T: m64n{block_k}; p v: m64n{head_dim}
        bad.append(f"{where}: wgmma shapes n={row['wgmma_n']}, want {block_k} and {d_pad}")
    if row["tma_loads"] < 3 or row["tma_stores"] < 1:  # q, k, v in; out and statistics out
        bad.append(f"{where}: TMA loads {row['tma_loads']}, stores {row['tma_stores']}")
    if not (row["mbarrier_waits"] and row["wgmma_waits"]):
        bad.append(f"{where}: no mbarrier or wgmma waits")
    if row["setmaxnreg"] != 2 or row["threads"] != 384:  # producer down, consumers up; 3 warpgroups
        bad.append(f"{where}: setmaxnreg {row['setmaxnreg']}, threads {row['threads']}")
    ring = 2 * min(2, -(-row["k_len"] // block_k)) * block_k * d_pad * 2  # the k and v slots
    if row["smem_bytes"] is None or not ring < row["smem_bytes"] <= row["smem_limit"]:
        bad.append(f"{where}: shared memory {row['smem_bytes']} not in ({ring}, {row['smem_limit']}]")
    return bad


@pytest.mark.parametrize("case", list(mosaic_check.CONFIGS))
def test_mosaic_forward_lowers_for_sm90_with_tma_and_wgmma(case):
    assert not _problems(mosaic_check.inspect_case(case))


@pytest.mark.parametrize("python", OTHER_PYTHONS)
def test_mosaic_forward_lowers_under_another_interpreter(python, tmp_path):
    out = tmp_path / "mosaic.json"
    cmd = [python, str(HERE / "mosaic_check.py"), "--json", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    rows = json.loads(out.read_text())
    assert [r["case"] for r in rows] == list(mosaic_check.CONFIGS)
    bad = [p for row in rows for p in _problems(row)]
    assert not bad, "\n".join(bad)
