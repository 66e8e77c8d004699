"""Shared fixtures. Only tests that ask for a fixture use it; nothing else runs here except that the
commands the tests start leave the user's compilation cache alone (``COGSIM_COMPILATION_CACHE=off`` unless
set; tests/test_compilation_cache.py turns it on in temporary folders)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("COGSIM_COMPILATION_CACHE", "off")
# XLA compiles the tests' tiny programs with few optimisations (LLVM's expensive passes off): most tests spend
# their time compiling, which this roughly halves; results may differ from optimised code in the last bits.
# JAX reads this when it is first imported (here, and in the commands the tests start); =0 turns it off.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# XLA's CPU fusion emitters off (the older elemental emitters): most of the tests' compilations are of small
# programs, which compiled about 40 % faster so in a micro-benchmark (docs/architecture.md, "Tests").
# COGSIM_TEST_XLA_FLAGS= (empty) keeps XLA's defaults.
_TEST_XLA_FLAGS = os.environ.setdefault("COGSIM_TEST_XLA_FLAGS", "--xla_cpu_use_fusion_emitters=false")
if _TEST_XLA_FLAGS.strip() and _TEST_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_TEST_XLA_FLAGS}".strip()

ROOT = Path(__file__).resolve().parent.parent
SLURM_UP = ROOT / ".ci" / "slurm_up.sh"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")


def _sinfo_state() -> str | None:
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout.split() else None


def _controller_host() -> str | None:
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.strip().startswith("SlurmctldHost"):
            return value.strip().split("(")[0]
    return None


def _default_partition() -> str | None:
    out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=15)
    names = out.stdout.split()
    default = [n.rstrip("*") for n in names if n.endswith("*")]
    return (default or [n.rstrip("*") for n in names] or [None])[0]


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node Slurm cluster whose controller is this machine.

    Started with ``.ci/slurm_up.sh`` (as root) when installed but not running, and stopped again at the end
    of the session if this fixture started it. Outside CI the tests that use it skip with the reason when
    Slurm is missing; with ``CI=true`` they fail instead.
    """

    def unavailable(reason: str):
        if _in_ci():
            pytest.fail(f"CI=true but {reason}; .ci/run starts the cluster with .ci/slurm_up.sh")
        pytest.skip(reason)

    missing = [n for n in ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "srun") if not _which(n)]
    if missing:
        unavailable(
            f"Slurm is not installed (missing {', '.join(missing)}); as root, .ci/slurm_up.sh installs "
            "and starts a single-node cluster"
        )
    started = False
    if _sinfo_state() not in ("idle", "mix", "alloc", "comp"):  # down, drained or not responding
        if os.geteuid() != 0:
            unavailable("the local Slurm cluster is not running and starting it needs root (.ci/slurm_up.sh)")
        proc = subprocess.run(["bash", str(SLURM_UP)], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            unavailable(f".ci/slurm_up.sh could not start Slurm: {proc.stdout[-500:]} {proc.stderr[-500:]}")
        started = "cluster up" in proc.stdout
    host = _controller_host()
    if host not in (socket.gethostname(), socket.gethostname().split(".")[0]):
        unavailable(
            f"the Slurm controller answering here is {host!r}, not this machine; the tests submit jobs "
            "only to a local test cluster"
        )
    yield {"partition": _default_partition()}
    if started:
        subprocess.run(["bash", str(SLURM_UP), "stop"], capture_output=True, timeout=60)


@pytest.fixture
def fake(monkeypatch):
    """change_detection with its computation replaced by a trivial one: the runner's folder handling is under
    test here, not the scenario (tests/test_cli.py runs the real scenario)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from cogsim.compare import Comparison, Metric
    from cogsim.reference import Reference
    from cogsim.scenarios import change_detection as mod

    def simulate(config, *, key):
        import jax

        return pd.DataFrame({"x": [float(jax.random.uniform(key))], "n_boot": [config.n_boot]})

    monkeypatch.setattr(mod, "simulate", simulate)
    monkeypatch.setattr(
        mod, "reference", lambda config=None: Reference(pd.DataFrame({"x": [0.5]}), kind="none")
    )
    monkeypatch.setattr(
        mod,
        "compare",
        lambda sim, human: Comparison(
            (Metric("x", float(sim.x[0])),), (), tables={"conditions": pd.DataFrame({"x": sim.x})}
        ),
    )
    monkeypatch.setattr(mod, "plot", lambda sim, human, ax=None: plt.subplots()[1])
    return mod
