"""Running scenarios: one scenario to a run folder, or the whole suite to a report.

A run folder holds ``run.json`` (provenance), ``results.parquet`` (the simulation), ``human.parquet``,
``comparison.json`` and ``figure.png``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cogsim import config as _config
from cogsim.compare import Comparison
from cogsim.errors import CogsimError
from cogsim.store import atomic_write_parquet, atomic_write_text, provenance, write_run_json


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What one scenario run produced."""

    name: str
    preset: str
    config: Any
    results: pd.DataFrame
    human: pd.DataFrame
    comparison: Comparison
    folder: Path
    wall_time_s: float


def make_config(name: str, *, preset: str = "quick", overrides: Sequence[str] = ()) -> Any:
    """The validated config of scenario ``name``: a preset with ``field=value`` overrides applied."""
    from cogsim import scenarios

    mod = scenarios.get(name)
    if preset not in mod.PRESETS:
        raise CogsimError(
            f"scenario {name!r}: unknown preset {preset!r}; available: {', '.join(mod.PRESETS)}"
        )
    cfg = _config.validate(mod.PRESETS[preset])
    return _config.replace_from_strings(cfg, overrides)


def _save_figure(fig_or_ax: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    fig = getattr(fig_or_ax, "figure", None) or fig_or_ax
    if hasattr(fig_or_ax, "savefig"):
        fig = fig_or_ax
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    import matplotlib.pyplot as plt

    plt.close(fig)


def run(
    name: str,
    *,
    preset: str = "quick",
    overrides: Sequence[str] = (),
    seed: int = 0,
    out: str | os.PathLike = "runs",
    config: Any = None,
) -> RunResult:
    """Runs scenario ``name`` and writes its run folder ``out/name``.

    Args:
      name: a registered scenario.
      preset: which preset to start from ("quick", "paper", ...).
      overrides: ``field=value`` strings applied to the preset.
      seed: the root seed; every random draw of the run derives from ``jax.random.key(seed)``.
      out: parent folder of the run folder.
      config: a ready config instead of preset + overrides.

    Example:
      >>> # from cogsim import runner; res = runner.run("change_detection", preset="quick")
    """
    import jax
    import matplotlib

    matplotlib.use("Agg")
    from cogsim import scenarios

    mod = scenarios.get(name)
    cfg = (
        _config.validate(config)
        if config is not None
        else make_config(name, preset=preset, overrides=overrides)
    )
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    sim = mod.simulate(cfg, key=jax.random.key(seed))
    human = mod.human()
    comp = mod.compare(sim, human)
    wall = time.time() - t0
    atomic_write_parquet(folder / "results.parquet", sim)
    atomic_write_parquet(folder / "human.parquet", human)
    atomic_write_text(folder / "comparison.json", json.dumps(comp.to_dict(), indent=2, default=str))
    for tname, table in comp.tables.items():
        atomic_write_text(folder / f"{tname}.csv", table.to_csv(index=False))
    _save_figure(mod.plot(sim, human), folder / "figure.png")
    write_run_json(
        folder,
        provenance(
            config=cfg,
            seed=seed,
            scenario=name,
            preset=preset,
            overrides=list(overrides),
            wall_time_s=round(wall, 3),
            **(mod.run_record(sim) if hasattr(mod, "run_record") else {}),
        ),
    )
    return RunResult(name, preset, cfg, sim, human, comp, folder, wall)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def summary_rows(results: Sequence[RunResult | tuple[str, str]]) -> list[dict[str, str]]:
    """One row per scenario: scenario, key metric, human value, model value, verdict, seconds."""
    rows = []
    for r in results:
        if isinstance(r, tuple):
            rows.append(
                {
                    "scenario": r[0],
                    "metric": "-",
                    "human": "-",
                    "model": "-",
                    "verdict": "error",
                    "seconds": "-",
                    "note": r[1],
                }
            )
            continue
        m = r.comparison.key_metric
        rows.append(
            {
                "scenario": r.name,
                "metric": m.name,
                "human": _fmt(m.human),
                "model": _fmt(m.value),
                "verdict": r.comparison.verdict,
                "seconds": f"{r.wall_time_s:.0f}",
                "note": "",
            }
        )
    return rows


def format_table(rows: Sequence[dict[str, str]], *, markdown: bool = False) -> str:
    """Formats summary rows as an aligned text table or a Markdown table."""
    cols = ["scenario", "metric", "human", "model", "verdict", "seconds"]
    if markdown:
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(r[c] for c in cols) + " |" for r in rows]
        return "\n".join(lines)
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) if rows else len(c) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines.append("  ".join("-" * widths[c] for c in cols))
    lines += ["  ".join(r[c].ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)


def run_suite(
    *,
    names: Sequence[str] | None = None,
    preset: str = "quick",
    seed: int = 0,
    out: str | os.PathLike = "runs",
    log=print,
) -> list[RunResult | tuple[str, str]]:
    """Runs every registered scenario's ``preset`` and writes ``out/REPORT.md`` with the summary and figures.

    A scenario that raises is reported as an error row (with its message) and the suite goes on.
    """
    from cogsim import scenarios

    names = list(names) if names is not None else scenarios.names()
    results: list[RunResult | tuple[str, str]] = []
    for name in names:
        log(f"== {name} ({preset})")
        try:
            res = run(name, preset=preset, seed=seed, out=out)
        except Exception as exc:  # noqa: BLE001 - one failing scenario must not stop the suite
            tb = traceback.format_exc(limit=3)
            log(f"   ERROR: {type(exc).__name__}: {exc}\n{tb}")
            results.append((name, f"{type(exc).__name__}: {exc}"))
            continue
        log(res.comparison.summary())
        log(f"   ({res.wall_time_s:.0f} s) -> {res.folder}")
        results.append(res)
    rows = summary_rows(results)
    write_report(rows, results, out=out, preset=preset, seed=seed)
    log("\n" + format_table(rows))
    return results


def write_report(rows, results, *, out, preset: str, seed: int) -> Path:
    """Writes ``REPORT.md``: the summary table, then each scenario's checks and figure."""
    out = Path(out)
    parts = [
        "# cogsim scenario report",
        "",
        f"Preset `{preset}`, root seed {seed}. Each row holds the scenario's key metric, "
        "the human value it is compared with, the model's value and the verdict from the scenario's "
        "qualitative checks.",
        "",
        format_table(rows, markdown=True),
        "",
    ]
    for r in results:
        if isinstance(r, tuple):
            parts += [f"## {r[0]}", "", f"Error: `{r[1]}`", ""]
            continue
        rel = os.path.relpath(r.folder / "figure.png", out)
        parts += [f"## {r.name}", "", "```", r.comparison.summary(), "```", "", f"![{r.name}]({rel})", ""]
    path = out / "REPORT.md"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(parts))
    return path
