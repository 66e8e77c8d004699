"""The wheel installs into a fresh environment and the mapped namespaces and data files come with it."""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("src")
    # Build from a copy so the check does not write build/ or egg-info into the working tree.
    for name in ("pyproject.toml", "README.md", "cogsim", "models", "kernels", "scenarios"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, build / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy(src, build / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(build),
        ],
        check=True,
        timeout=300,
    )
    return next(out.glob("cogsim-*.whl"))


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "cogsim/models/__init__.py",
        "cogsim/kernels/__init__.py",
        "cogsim/scenarios/__init__.py",
        "cogsim/scenarios/change_detection.py",
        "cogsim/data/umls/train.txt",
        "cogsim/data/rouder2008_change_detection/LICENSE.md",
        "cogsim/models/eccnet/__init__.py",
        "cogsim/weights/eccnet/diet_normal.npz",
        "cogsim/tasks/search_displays.py",
    ):
        assert required in names
    assert not any(n.startswith(("models/", "scenarios/", "kernels/")) for n in names)
    # every package of the source tree is in the wheel (the package list in pyproject.toml is explicit)
    mapped = {"cogsim": "cogsim", "models": "cogsim/models", "kernels": "cogsim/kernels"}
    mapped["scenarios"] = "cogsim/scenarios"
    for top, installed in mapped.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.relative_to(ROOT / top).as_posix()
            assert f"{installed}/{rel}" in names, f"package {init.parent} is missing from the wheel"


def test_wheel_installs_into_a_second_venv_and_runs(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    # Dependencies come from this environment's site-packages (a .pth file), cogsim only from the wheel.
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    code = (
        "import cogsim, cogsim.models, cogsim.kernels, cogsim.scenarios, pathlib;"
        "from cogsim.scenarios import change_detection;"
        "assert 'site-packages' in cogsim.__file__, cogsim.__file__;"
        "print(len(cogsim.data.load('rouder2008_change_detection')), cogsim.scenario_registry.names())"
    )
    res = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("12345") and "change_detection" in res.stdout
