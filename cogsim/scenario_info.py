"""What ``cogsim info`` and ``cogsim list`` tell about a scenario: its fields, presets with their expected run
time, what a run writes, which packaged data it reads and how to point it at other data.

Expected run times come from the scenario (an optional ``EXPECTED_RUNTIME = {"quick": "about 1 min"}``),
else from the measurements written in its page under docs/scenarios (the quick preset on a shared two-core
CPU), and the last run found under ``runs/`` is shown beside them.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

from cogsim import config as cfglib
from cogsim import scenario_registry

#: quick-preset wall times measured on a shared two-core CPU, as written in docs/scenarios/<name>.md
DOCUMENTED_RUNTIME = {
    "attentional_blink": "about 1 min",
    "book_cover_scanpaths": "109 s",
    "change_detection": "a few seconds",
    "developmental_diet": "60 s",
    "dual_process": "58 s",
    "icl_abrupt_learning": "2 min 6 s",
    "icl_data_dependence": "1 min 27 s",
    "sparse_factor_world": "about 40 s",
    "synthetic_shelf_search": "208 s",
    "visual_search_asymmetry": "61 s",
}

#: what every run folder holds (``<table>.csv`` once per comparison table)
RUN_FILES = {
    "run.json": "provenance: config, seed, preset, git commit, package versions, device, wall time",
    "results.parquet": "the simulation's tidy results",
    "human.parquet": "the human data it was compared with",
    "comparison.json": "metrics with CIs, checks and the verdict",
    "<table>.csv": "each comparison table",
    "figure.png": "model against human figure",
}


def datasets_used(mod: Any) -> list[str]:
    """The packaged datasets (``cogsim data list``) named in the scenario's source.

    Example:
      >>> from cogsim.scenarios import change_detection
      >>> datasets_used(change_detection)
      ['adam2015_change_detection', 'rouder2008_change_detection']
    """
    from cogsim import data

    try:
        source = inspect.getsource(mod)
    except (OSError, TypeError):
        return []
    return [n for n in data.list() if f'"{n}"' in source or f"'{n}'" in source]


def _data_fields(cfg: Any) -> list[str]:
    names = cfglib.field_names(cfg)
    keys = ("data", "path", "weights", "file")
    return [n for n in names if any(k in n.split(".")[-1] for k in keys)]


def _last_run(name: str, runs: str | os.PathLike) -> dict[str, Any] | None:
    from cogsim.store import resolve_run_folder

    try:
        folder = resolve_run_folder(Path(runs) / name)
        record = json.loads((folder / "run.json").read_text())
    except Exception:  # noqa: BLE001 - no or unreadable earlier run: nothing to show
        return None
    return {"folder": str(folder), "preset": record.get("preset"), "wall_time_s": record.get("wall_time_s")}


def describe(name: str, *, preset: str = "quick", runs: str | os.PathLike = "runs") -> dict[str, Any]:
    """Everything ``cogsim info NAME`` shows, as a JSON-ready dict.

    Example:
      >>> d = describe("change_detection")
      >>> d["name"], "n_boot" in [f["name"] for f in d["fields"]]
      ('change_detection', True)
      >>> "rouder2008_change_detection" in [x["name"] for x in d["data"]]
      True
    """
    from cogsim import data, runner

    mod = scenario_registry.get(name)
    cfg = runner.make_config(name, preset=preset)
    declared = getattr(mod, "EXPECTED_RUNTIME", {}) or {}
    presets = {}
    for p in mod.PRESETS:
        if p in declared:
            runtime = f"{declared[p]} (declared by the scenario)"
        elif p == "quick" and name in DOCUMENTED_RUNTIME:
            runtime = (
                f"{DOCUMENTED_RUNTIME[name]} (measured on a shared 2-core CPU; docs/scenarios/{name}.md)"
            )
        else:
            runtime = "not measured"
        presets[p] = {"expected_runtime": runtime}
    used = datasets_used(mod)
    swap_fields = _data_fields(cfg)
    if swap_fields:
        swap = "; ".join(f"--set {f}=PATH" for f in swap_fields) + " (a file in the same schema)"
    elif used:
        swap = (
            "no config field yet; cogsim.data.load(NAME, path=FILE) reads a file in the same schema "
            "(see `cogsim data show NAME` for the columns)"
        )
    else:
        swap = "uses no packaged data"
    return {
        "name": name,
        "description": getattr(mod, "DESCRIPTION", ""),
        "preset": preset,
        "presets": presets,
        "last_run": _last_run(name, runs),
        "fields": [
            {"name": n, "type": tp, "value": value, "doc": doc} for n, tp, value, doc in cfglib.describe(cfg)
        ],
        "writes": {f"runs/{name}/<run-id>/{k}": v for k, v in RUN_FILES.items()},
        "data": [{"name": n, "description": data.info(n)["description"]} for n in used],
        "swap_data": swap,
        "sweep": {
            "vectorised": hasattr(mod, "sweep_point"),
            "traced_fields": list(getattr(mod, "SWEEP_VECTORIZED", ())),
        },
    }


def summary(name: str) -> dict[str, Any]:
    """One line of ``cogsim list``: name, description, presets.

    Example:
      >>> summary("change_detection")["presets"][0]
      'quick'
    """
    mod = scenario_registry.get(name)
    return {"name": name, "description": getattr(mod, "DESCRIPTION", ""), "presets": list(mod.PRESETS)}
