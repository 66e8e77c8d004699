"""Writing a benchmark's result and checking its arguments (imported as a sibling module: each script puts its
folder on the path)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Iterable
from pathlib import Path

#: the committed records (quoted by the docs): quick, dry and peerless runs never write here by default
RESULTS = Path(__file__).resolve().parent / "results"

#: how to install the peers the benchmarks compare with (pyproject.toml's ``bench`` extra)
BENCH_EXTRA = "pip install -e '.[bench]'"


def machine(**extra) -> dict:
    """The machine a result was measured on: Python version, CPU count, 1-minute load at the call, and
    ``extra``."""
    load = os.getloadavg()[0]
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "load_1min": load, **extra}


def emit(result: dict, out: str | Path | None) -> None:
    """Prints ``result`` as JSON and writes it to ``out`` when given (its folder created)."""
    text = json.dumps(result, indent=1)
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")


def writable(ap: argparse.ArgumentParser, out: str | Path | None, option: str = "--out") -> Path | None:
    """``out`` as a path, its folder created and checked writable before any work (a usage error, exit 2,
    otherwise); ``None`` stays ``None``."""
    if out is None:
        return None
    path = Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        ap.error(f"{option} {out}: cannot create its folder ({e.strerror or e})")
    blocked = path.exists() and not os.access(path, os.W_OK)
    if path.is_dir() or not os.access(path.parent, os.W_OK) or blocked:
        ap.error(f"{option} {out}: cannot write there")
    return path


def not_a_record(ap: argparse.ArgumentParser, out: str | Path | None, why: str) -> Path:
    """``out`` for a run that must not replace a committed record (a quick, dry or peerless run): required,
    outside ``benchmarks/results``, and writable; a usage error otherwise."""
    if out is None:
        ap.error(f"{why} needs --out: its default is a committed record in benchmarks/results")
    path = Path(out)
    if path.resolve().parent == RESULTS and path.exists():
        ap.error(f"{why}: --out {out} is a committed record; write elsewhere")
    return writable(ap, path)


def at_least(ap: argparse.ArgumentParser, low: int = 1, **values) -> None:
    """A usage error for the first of ``values`` (``option_name=value``; None is skipped; lists are checked
    item by item) below ``low``."""
    for name, value in values.items():
        for v in value if isinstance(value, list | tuple) else [value]:
            if v is not None and v < low:
                ap.error(f"--{name.replace('_', '-')} {v}: must be at least {low}")


def known(ap: argparse.ArgumentParser, option: str, given: Iterable[str], allowed: Iterable[str]) -> None:
    """A usage error when any of ``given`` is not in ``allowed`` (which the message lists)."""
    allowed = list(allowed)
    bad = [g for g in given if g not in allowed]
    if bad:
        ap.error(f"{option} {','.join(bad)}: unknown; allowed: {', '.join(allowed) or '(none)'}")


def needs(ap: argparse.ArgumentParser, module: str, what: str, no_peer: str | None = None):
    """``module`` imported, or a usage error saying that the benchmark needs it (the ``bench`` extra) and,
    with ``no_peer``, the flag that runs without it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        alt = f" (or {no_peer} to run without it, to a file outside benchmarks/results)" if no_peer else ""
        ap.error(f"needs {module} ({what}): the bench extra, {BENCH_EXTRA}{alt}")


def paradigm_models(ap: argparse.ArgumentParser, paradigm: str | None, models: str | None = None):
    """The registered paradigm ``paradigm`` with the model names in ``models`` (comma-separated specs, as
    ``cogsim fit --models`` takes them) checked against its models; a usage error listing the allowed names
    otherwise."""
    from cogsim import fitting_command
    from cogsim.errors import CogsimError
    from cogsim.fit._fixed import parse_spec, split_models

    try:
        par = fitting_command._paradigm(paradigm)
        names = [parse_spec(n)[0] for n in split_models(models)] if models else []
    except CogsimError as e:
        ap.error(str(e))
    known(ap, "--models", names, par.models)
    return par


def int_list(ap: argparse.ArgumentParser, option: str, text: str, low: int = 1) -> list[int]:
    """Comma-separated whole numbers, each at least ``low``; a usage error otherwise."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        ap.error(f"{option} {text}: allowed: comma-separated whole numbers")
    if any(v < low for v in values):
        ap.error(f"{option} {text}: each must be at least {low}")
    return values


def read_trials(ap: argparse.ArgumentParser, par, path: str):
    """``par.read(path)``: the paradigm's checked trials, or a usage error saying what is wrong."""
    from cogsim.errors import CogsimError

    try:
        return par.read(path)
    except (CogsimError, OSError) as e:
        ap.error(f"--data {path}: {e}")


def child_output(cmd: list[str], capture: bool = True, **kwargs) -> str | None:
    """The standard output of the process ``cmd`` (shown as it runs instead when not ``capture``; its
    standard error always is); when it fails, this process exits with its exit status, after saying so."""
    import subprocess
    import sys

    res = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None, text=True, **kwargs)
    if res.returncode:
        print(f"child process failed (exit status {res.returncode}): {' '.join(cmd)}", file=sys.stderr)
        raise SystemExit(res.returncode)
    return res.stdout
