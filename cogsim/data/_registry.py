"""The registry of packaged behavioural and benchmark datasets: looking them up and loading them."""

from __future__ import annotations

import builtins
import importlib.resources
import os
import re
from pathlib import Path

import pandas as pd

from cogsim.data._catalogue import DATASETS
from cogsim.data._dataset import Dataset
from cogsim.data._reader import read_table
from cogsim.errors import DataError, did_you_mean


def _root() -> Path:
    return Path(str(importlib.resources.files("cogsim.data")))


def _get(name: str) -> Dataset:
    if name not in DATASETS:
        known = sorted(DATASETS)
        raise DataError(f"unknown dataset {name!r}{did_you_mean(name, known)}; available: {', '.join(known)}")
    return DATASETS[name]


def list() -> builtins.list[str]:  # noqa: A001 - the documented public name
    """Names of the packaged datasets.

    Example:
      >>> import cogsim
      >>> "rouder2008_change_detection" in cogsim.data.list()
      True
    """
    return sorted(DATASETS)


def folder(name: str) -> Path:
    """The folder holding dataset ``name`` with its README.md and LICENSE.md.

    Example:
      >>> import cogsim
      >>> sorted(p.name for p in cogsim.data.folder("rouder2008_change_detection").glob("*.md"))
      ['LICENSE.md', 'README.md']
    """
    return _root() / _get(name).folder


def readme(name: str) -> str:
    """The provenance README of dataset ``name``.

    Example:
      >>> import cogsim
      >>> print(cogsim.data.readme("rouder2008_change_detection").splitlines()[0])
      # Rouder et al. (2008) change-detection trials (visual working memory capacity)
    """
    return (folder(name) / "README.md").read_text()


def citation(name: str) -> str:
    """How to cite dataset ``name``.

    Example:
      >>> import cogsim
      >>> "Rouder" in cogsim.data.citation("rouder2008_change_detection")
      True
    """
    return _get(name).citation


def info(name: str) -> dict[str, object]:
    """Name, description, files, columns, licence and citation of dataset ``name``.

    Example:
      >>> import cogsim
      >>> d = cogsim.data.info("rouder2008_change_detection")
      >>> d["licence"], d["columns"]["N"], [f.rsplit("/", 1)[-1] for f in d["files"]]
      ('GPL-2', 'int', ['visual_array_trials.csv'])
    """
    d = _get(name)
    return {
        "name": d.name,
        "description": d.description,
        "files": [str(folder(name) / f) for f in d.files],
        "columns": dict(d.schema),
        "licence": d.licence,
        "citation": d.citation,
    }


def load(name: str, *, path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Loads dataset ``name`` as a tidy DataFrame, checking its schema.

    Args:
      name: a name from :func:`list`.
      path: read this file (or folder, for multi-file datasets) instead of the packaged copy, with the same
        schema checks: how users bring their own data in a packaged format.

    Raises:
      DataError: unknown name, or a malformed file (naming file, row and column).

    Example:
      >>> import cogsim
      >>> df = cogsim.data.load("rouder2008_change_detection")
      >>> sorted(int(n) for n in df.N.unique())
      [2, 5, 8]
    """
    d = _get(name)
    base = folder(name)
    if path is not None:
        p = Path(path)
        if len(d.files) == 1:
            files = [p / d.files[0] if p.is_dir() else p]
        else:
            files = [p / f for f in d.files]
    else:
        files = [base / f for f in d.files]
    frames = []
    for f in files:
        df = read_table(f, d.schema, sep=d.sep, header=d.header, checks=d.checks)
        if d.split_column:
            df[d.split_column] = re.sub(r"\.\w+$", "", f.name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
