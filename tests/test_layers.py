"""The package's layers, checked by import-linter on the source tree (deferred imports included).

kernels <- library (cogsim/*) <- models <- scenarios <- app (cli, runner, sweep): each layer imports only
the layers below it, and no two sibling modules import each other in a cycle. The contracts live in
pyproject.toml ([tool.importlinter]); the layers contract is exhaustive, so a new module of ``cogsim`` must be
placed in a layer before this test passes.

setuptools maps models/, kernels/ and scenarios/ into the ``cogsim`` namespace, which import-linter cannot
follow in a source checkout; the test copies the Python files into the installed layout first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("models", "kernels", "scenarios")


def _installed_layout(dst: Path) -> Path:
    keep_code = shutil.ignore_patterns("__pycache__", "*.csv", "*.txt", "*.md", "*.json", "*.npz", "*.png")
    pkg = dst / "cogsim"
    shutil.copytree(ROOT / "cogsim", pkg, ignore=keep_code)
    for name in MAPPED:
        shutil.copytree(ROOT / name, pkg / name, ignore=keep_code)
    return dst


def test_import_contracts_hold(tmp_path):
    site = _installed_layout(tmp_path / "site")
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(site)}
    res = subprocess.run(
        [str(exe), "--no-cache", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=site,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
