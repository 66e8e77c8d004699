"""Reports every difference between two scenario run folders, or two suite folders of run folders.

A run folder holds ``results.parquet`` and ``comparison.json`` (as written by ``cogsim run``). Tables
(``*.parquet``) are compared with ``pandas.testing.assert_frame_equal(check_exact=True)``; every other file
byte for byte, except the run's provenance (``run.json``: times, versions) and figures (``*.png``), which
are skipped unless ``--all`` is given. ``comparison.json`` files that differ are also compared entry by
entry, so the report names the metrics and checks that changed.

Usage::

    python tests/tools/same_results.py BEFORE AFTER [--all]

Exit status 0 when the folders hold the same results, 1 otherwise (each difference on its own line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

SKIPPED = ("run.json", "*.png")


def _run_folders(root: Path) -> dict[str, Path]:
    """``name -> folder`` of every run folder at or below ``root`` (named by their path below it)."""
    if (root / "results.parquet").exists():
        return {".": root}
    return {str(p.parent.relative_to(root)): p.parent for p in sorted(root.rglob("results.parquet"))}


def _json_diffs(a, b, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}/{k}: only in {'before' if k in a else 'after'}" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b), key=str):
            out += _json_diffs(a[k], b[k], f"{where}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} entries before, {len(b)} after"]
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            name = x.get("name", i) if isinstance(x, dict) else i
            out += _json_diffs(x, y, f"{where}[{name}]")
        return out
    return [] if a == b or (a != a and b != b) else [f"{where}: {a!r} -> {b!r}"]


def _compare_file(a: Path, b: Path) -> list[str]:
    if a.suffix == ".parquet":
        try:
            pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b), check_exact=True)
        except AssertionError as e:
            return [" ".join(str(e).split())[:2000]]
        return []
    if a.read_bytes() == b.read_bytes():
        return []
    if a.suffix == ".json":
        try:
            diffs = _json_diffs(json.loads(a.read_text()), json.loads(b.read_text()))
        except ValueError:
            diffs = []
        return ["bytes differ"] + diffs
    return ["bytes differ"]


def differences(before: Path, after: Path, *, everything: bool = False) -> list[str]:
    """Every difference between the run folders under ``before`` and ``after``, one line each."""
    runs_a, runs_b = _run_folders(before), _run_folders(after)
    if not runs_a and not runs_b:
        return [f"no run folders (with results.parquet) in {before} or {after}"]
    out = [
        f"{name}: run only in {'before' if name in runs_a else 'after'}"
        for name in sorted(set(runs_a) ^ set(runs_b))
    ]
    for name in sorted(set(runs_a) & set(runs_b)):
        fa, fb = runs_a[name], runs_b[name]
        files = {p.name for p in fa.iterdir() if p.is_file()} | {p.name for p in fb.iterdir() if p.is_file()}
        for f in sorted(files):
            if not everything and any(Path(f).match(pat) for pat in SKIPPED):
                continue
            if not (fa / f).exists() or not (fb / f).exists():
                out.append(f"{name}/{f}: only in {'before' if (fa / f).exists() else 'after'}")
                continue
            out += [f"{name}/{f}: {d}" for d in _compare_file(fa / f, fb / f)]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--all", action="store_true", help="also compare run.json and figures")
    args = ap.parse_args(argv)
    diffs = differences(args.before, args.after, everything=args.all)
    n_runs = len(set(_run_folders(args.before)) | set(_run_folders(args.after)))
    for d in diffs:
        print(d)
    print(f"{n_runs} run(s) compared: " + ("identical" if not diffs else f"{len(diffs)} difference(s)"))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
