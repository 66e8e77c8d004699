"""What ``cogsim info`` and ``cogsim list`` tell about a scenario: its fields, presets with their expected run
time, what a run writes, which packaged data it reads and how to point it at other data.

Expected run times come from the scenario (an optional ``EXPECTED_RUNTIME = {"quick": "about 1 min"}``),
else from the measured wall times in :data:`RUNTIMES` (README.md, "Run times"), and the last run found under
``runs/`` is shown beside them.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

from cogsim import config as cfglib
from cogsim import scenario_registry

#: Wall times per preset, the table "Run times" in README.md: quick presets as timed by ``make run`` from a
#: fresh clone (2026-12-05, commit ae522b0, a 2-core machine without a GPU; delayed_estimation's timed alone
#: after its noise ceiling, README.md); paper presets from the run named on the scenario's page (its date; a
#: 2-core CPU unless the entry says otherwise).
RUNTIMES: dict[str, dict[str, str]] = {
    "attentional_blink": {"quick": "47 s", "paper": "16 min (2026-12-05)"},
    "book_cover_scanpaths": {"quick": "149 s", "paper": "not measured (hours per fold on a CPU, estimated)"},
    "change_detection": {"quick": "21 s", "paper": "187 s for the whole command (2026-12-05, 4953108)"},
    "delayed_estimation": {
        "quick": "41 s for the whole command (2026-12-07, five sets of copies for its noise ceiling; 38 s "
        "inside the run with one, 24 s before it)",
        "paper": "4 min 8 s (2026-12-07; 6 min on 2026-12-05)",
    },
    "developmental_diet": {"quick": "108 s", "paper": "58 min (2026-12-05)"},
    "dual_process": {
        "quick": "93 s",
        "paper": "185 s on one H200 GPU (2026-12-04); hours on a CPU (estimated)",
    },
    "episodic_recall": {"quick": "14 s", "paper": "483 s for the whole command (2026-12-05, 4953108)"},
    "family_trees": {"quick": "12 s", "paper": "184 s for the whole command (2026-12-05, 4953108)"},
    "icl_abrupt_learning": {
        "quick": "60 s",
        "paper": "not measured in full (2 of its 6 seeds, no failure case: 40 min, 2026-11-29)",
    },
    "icl_data_dependence": {"quick": "235 s", "paper": "not measured (about 18 CPU-hours, estimated)"},
    "iconic_memory": {"quick": "8 s", "paper": "87 s for the whole command (2026-12-05, 4953108)"},
    "kg_semantic_memory": {"quick": "11 s", "paper": "160 s for the whole command (2026-12-05, 4953108)"},
    "search_rt_distributions": {"quick": "61 s", "paper": "133 s (2026-12-05)"},
    "semantic_verification": {"quick": "18 s", "paper": "199 s for the whole command (2026-12-05, 4953108)"},
    "sparse_factor_world": {"quick": "81 s", "paper": "34 min (2026-12-05)"},
    "synthetic_shelf_search": {"quick": "116 s", "paper": "not measured (about 15 CPU-hours, estimated)"},
    "visual_search_asymmetry": {"quick": "128 s", "paper": "15 min (2026-12-05)"},
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
    """The packaged datasets (``cogsim data list``) named in the scenario's source or in the source of the
    private helper modules it imports (``cogsim.scenarios._*``, e.g. where its trials are read).

    Example:
      >>> from cogsim.scenarios import change_detection
      >>> datasets_used(change_detection)
      ['adam2015_change_detection', 'rouder2008_change_detection']
    """
    from cogsim import data

    prefix = f"{mod.__name__.rpartition('.')[0]}._"
    owners = {
        v.__name__ if inspect.ismodule(v) else getattr(v, "__module__", None) for v in vars(mod).values()
    }
    names = sorted(n for n in owners if isinstance(n, str) and n.startswith(prefix) and n in sys.modules)
    helpers = [sys.modules[n] for n in names]
    source = ""
    for m in [mod, *helpers]:
        try:
            source += inspect.getsource(m)
        except (OSError, TypeError):
            continue
    return [n for n in data.list() if f'"{n}"' in source or f"'{n}'" in source]


def _data_fields(mod: Any, cfg: Any) -> list[str]:
    """The config fields naming the data compared with: the scenario's ``DATA_FIELDS`` where it declares
    them, else the text fields whose names say data, path or file."""
    declared = getattr(mod, "DATA_FIELDS", None)
    if declared is not None:
        return list(declared)
    keys = ("data", "path", "file")  # human data; model weights are not data (e.g. a backbone .npz)
    text = {n for n, _, value, _ in cfglib.describe(cfg) if isinstance(value, str)}
    return [n for n in cfglib.field_names(cfg) if n in text and any(k in n.split(".")[-1] for k in keys)]


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
    measured = RUNTIMES.get(name, {})
    presets = {}
    for p in mod.PRESETS:
        if p in declared:
            runtime = f"{declared[p]} (declared by the scenario)"
        elif p in measured:
            runtime = f"{measured[p]} (README.md, 'Run times')"
        else:
            runtime = "not measured"
        presets[p] = {"expected_runtime": runtime}
    used = datasets_used(mod)
    swap_fields = _data_fields(mod, cfg)
    if swap_fields:
        docs = {n: doc for n, _, _, doc in cfglib.describe(cfg)}
        form = {f: docs.get(f) or "a file in the same schema" for f in swap_fields}
        swap = "; ".join(f"--set {f}=PATH ({text})" for f, text in form.items())
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
