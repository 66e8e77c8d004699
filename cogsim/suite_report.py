"""``REPORT.md`` of ``cogsim suite``: the scorecard and a section per scenario, merged with an earlier report.

A suite run with ``--only`` into a folder that already holds a report replaces the rows and sections of the
scenarios it ran and keeps those of the others; each section names the run (folder, preset, seed, time) it
comes from, so a merged report says which suite each part is from.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cogsim.errors import CogsimError, did_you_mean
from cogsim.store import atomic_write_text

#: the scorecard's columns (``paper``: the paper preset's last measured verdict; ``ceiling``: the model's
#: agreement as a fraction of the human noise ceiling, for trial-level data)
SCORECARD_COLUMNS = (
    "scenario",
    "data",
    "verdict",
    "paper",
    "checks",
    "ceiling",
    "metric",
    "human",
    "model",
    "seconds",
)

_TITLE = "# cogsim scenario report"
_SCORECARD = "## Scorecard"


def only_names(only: str | None) -> list[str] | None:
    """The scenario names of ``cogsim suite --only`` (None: every scenario).

    Raises:
      CogsimError: naming ``--only``, the value and the empty, repeated or unknown name (with the closest
        known one).

    Example:
      >>> only_names("iconic_memory, change_detection")
      ['iconic_memory', 'change_detection']
    """
    from cogsim import scenario_registry

    if only is None:
        return None
    names = [n.strip() for n in only.split(",")]
    if not all(names):
        raise CogsimError(
            f"suite: --only {only!r}: allowed: comma-separated scenario names, none empty "
            "(see `cogsim list`; leave --only out to run every scenario)"
        )
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        raise CogsimError(
            f"suite: --only {only!r}: {twice[0]!r} is given twice; allowed: comma-separated scenario names, "
            "each once"
        )
    known = scenario_registry.names()
    for n in names:
        if n not in known:
            raise CogsimError(
                f"suite: --only {only!r}: unknown scenario {n!r}{did_you_mean(n, known)}; available: "
                f"{', '.join(known)}"
            )
    return names


def format_table(rows: Sequence[dict[str, str]], *, markdown: bool = False) -> str:
    """Formats summary rows as an aligned text table or a Markdown table.

    Example:
      >>> row = dict(scenario="change_detection", data="trial_level", verdict="match", paper="-",
      ...            checks="3/3", ceiling="0.92", metric="k", human="3", model="3.1", seconds="12")
      >>> print(format_table([row]))
      scenario          data         verdict  paper  checks  ceiling  metric  human  model  seconds
      ----------------  -----------  -------  -----  ------  -------  ------  -----  -----  -------
      change_detection  trial_level  match    -      3/3     0.92     k       3      3.1    12
      >>> print(format_table([row], markdown=True).splitlines()[-1])
      | change_detection | trial_level | match | - | 3/3 | 0.92 | k | 3 | 3.1 | 12 |
    """
    cols = list(SCORECARD_COLUMNS)
    if markdown:
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(r[c] for c in cols) + " |" for r in rows]
        return "\n".join(lines)
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) if rows else len(c) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines.append("  ".join("-" * widths[c] for c in cols))
    lines += ["  ".join(r[c].ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)


def earlier_report(path: Path) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """The scorecard rows and the sections (their lines, heading included) of an earlier ``REPORT.md``, by
    scenario; empty where there is none or it cannot be read.

    Example:
      >>> import tempfile
      >>> p = Path(tempfile.mkdtemp()) / "REPORT.md"
      >>> rows, sections = earlier_report(p)
      >>> rows, sections
      ({}, {})
    """
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return {}, {}
    rows: dict[str, dict[str, str]] = {}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    header = "| " + " | ".join(SCORECARD_COLUMNS) + " |"
    in_card = False
    for line in lines:
        if line.startswith("## "):
            current = line[3:].strip() if line != _SCORECARD else None
            in_card = line == _SCORECARD
            if current:
                sections[current] = [line]
            continue
        if current:
            sections[current].append(line)
        elif in_card and line.startswith("| ") and line != header:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == len(SCORECARD_COLUMNS):
                rows[cells[0]] = dict(zip(SCORECARD_COLUMNS, cells, strict=True))
    for body in sections.values():
        while body and not body[-1].strip():
            body.pop()
    return rows, sections


def write_report(rows, results, *, out, preset: str, seed: int, when: _dt.datetime | None = None) -> Path:
    """Writes ``out/REPORT.md``: the scorecard, then each scenario's checks and figure, each section naming
    its run. Rows and sections of scenarios this suite did not run are kept from the report already there.

    ``results`` holds a :class:`cogsim.runner.RunResult` per scenario that ran, or ``(name, message, ...)``
    for one that failed.

    Example:
      >>> import tempfile
      >>> from cogsim.runner import summary_rows
      >>> failed = [("dual_process", "ValueError: bad data", False)]
      >>> path = write_report(summary_rows(failed), failed, out=tempfile.mkdtemp(), preset="quick", seed=0,
      ...                     when=_dt.datetime(2025, 1, 2, 3, 4))
      >>> text = path.read_text()
      >>> text.splitlines()[0], "| dual_process | - | error |" in text
      ('# cogsim scenario report', True)
      >>> print(text.split("## dual_process")[1].strip())
      From the suite of 2025-01-02 03:04 UTC (preset `quick`, seed 0); the run failed and was not kept.
      <BLANKLINE>
      Error: `ValueError: bad data`
    """
    out = Path(out)
    path = out / "REPORT.md"
    when = when or _dt.datetime.now(_dt.UTC)
    stamp = f"{when:%Y-%m-%d %H:%M} UTC"
    names = [_name(r) for r in results]
    old_rows, old_sections = earlier_report(path)
    kept = sorted(n for n in set(old_rows) | set(old_sections) if n not in names)
    merged_rows = {**{n: old_rows[n] for n in kept if n in old_rows}, **{r["scenario"]: r for r in rows}}
    sections: dict[str, list[str]] = {n: old_sections[n] for n in kept if n in old_sections}
    for r in results:
        sections[_name(r)] = _section(r, out=out, preset=preset, seed=seed, stamp=stamp)
    this = (
        f"This suite ({stamp}): preset `{preset}`, root seed {seed}, scenarios {', '.join(names) or 'none'}."
    )
    if kept:
        this += (
            f" Kept from earlier suites into this folder: {', '.join(kept)}; each section below names the "
            "run it comes from."
        )
    parts = [
        _TITLE,
        "",
        _SCORECARD,
        "",
        this,
        "",
        "Columns: the kind of human data (`trial_level`, "
        "`published_means` or `none`); the verdict of this run (`match`, `partial`, `mismatch`, "
        "`untested` or `demonstration`); the paper preset's last measured verdict (checks passed, "
        "date); the checks passed (of those tested); for trial-level data the model's agreement as a "
        "fraction of the human noise ceiling; "
        "the key metric with its human and model values; the run time.",
        "",
        format_table([merged_rows[n] for n in sorted(merged_rows)], markdown=True),
        "",
    ]
    for n in sorted(sections):
        parts += [*sections[n], ""]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(parts))
    return path


def _name(result: Any) -> str:
    return result[0] if isinstance(result, tuple) else result.name


def _section(r: Any, *, out: Path, preset: str, seed: int, stamp: str) -> list[str]:
    if isinstance(r, tuple):
        return [
            f"## {r[0]}",
            "",
            f"From the suite of {stamp} (preset `{preset}`, seed {seed}); the run failed and was not kept.",
            "",
            f"Error: `{r[1]}`",
        ]
    rel_run = Path(os.path.relpath(r.folder, out)).as_posix()
    rel = Path(os.path.relpath(r.folder / "figure.png", out)).as_posix()
    return [
        f"## {r.name}",
        "",
        f"From run `{rel_run}` (preset `{r.preset}`, seed {seed}), suite of {stamp}.",
        "",
        "```",
        r.comparison.summary(),
        "```",
        "",
        f"![{r.name}]({rel})",
    ]
