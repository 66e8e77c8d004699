"""`make test`'s pytest arguments: a test worker that dies ends the run with a failure, not a hang."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _make_args() -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return shlex.split(re.search(r"^PYTEST_ARGS \?= (.*)$", text, re.M).group(1))


def test_a_worker_that_dies_ends_the_run_instead_of_hanging_it(tmp_path):
    (tmp_path / "test_dies.py").write_text(
        "import os, signal\n\ndef test_first():\n    pass\n\n"
        "def test_dies():\n    os.kill(os.getpid(), signal.SIGSEGV)\n\ndef test_after():\n    pass\n"
    )
    for name in "bcde":
        body = f"def test_{name}1():\n    pass\n\ndef test_{name}2():\n    pass\n"
        (tmp_path / f"test_{name}.py").write_text(body)
    args = [a for a in _make_args() if not a.startswith("--durations")]
    assert "--dist" in args and "-n" in args
    res = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir",
         str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert re.search(r"FAILED .*test_dies\.py::test_dies - worker 'gw\d' crashed", out), out
    assert re.search(r"1 failed, \d+ passed", out), out
