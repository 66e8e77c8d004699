"""``cogsim info``'s run times: one measured entry per scenario and preset, the same as README's table."""

from __future__ import annotations

import re
from pathlib import Path

from cogsim import scenario_info, scenario_registry

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_scenario_has_a_quick_time_and_no_entry_names_a_missing_preset():
    names = set(scenario_registry.names())
    assert set(scenario_info.RUNTIMES) == names
    for name, times in scenario_info.RUNTIMES.items():
        presets = set(scenario_registry.get(name).PRESETS)
        assert "quick" in times, name
        assert set(times) <= presets, (name, set(times) - presets)


def test_info_shows_the_measured_times():
    d = scenario_info.describe("change_detection")
    for preset, text in scenario_info.RUNTIMES["change_detection"].items():
        assert d["presets"][preset]["expected_runtime"].startswith(text)


def _readme_table() -> dict[str, dict[str, str]]:
    text = README.read_text()
    section = text[text.index("### Run times") :]
    rows = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        m = re.match(r"\| `(\w+)` \| (.+?) \| (.+?) \|$", line)
        if m:
            rows[m[1]] = {"quick": m[2], "paper": m[3]}
    return rows


def test_readme_run_times_are_the_ones_info_shows():
    table = _readme_table()
    assert set(table) == set(scenario_info.RUNTIMES)
    for name, times in scenario_info.RUNTIMES.items():
        for preset in ("quick", "paper"):
            assert table[name][preset] == times.get(preset, "not measured"), (name, preset)


def test_info_names_the_declared_data_fields():
    swap = scenario_info.describe("kg_semantic_memory")["swap_data"]
    assert swap.startswith("--set graph=PATH") and "train.txt" in swap and "no config field" not in swap
    assert scenario_info.describe("change_detection")["swap_data"].startswith("--set data=PATH")


def test_info_says_what_each_data_field_takes():
    book = scenario_info.describe("book_cover_scanpaths")["swap_data"]
    assert book.startswith("--set eval_data=PATH (folder with fixations.csv and trials.csv")
    assert "a file in the same schema" not in book
    assert scenario_info.describe("kg_semantic_memory")["swap_data"].startswith("--set graph=PATH")
    # a count named like a path is not a data field
    assert "paths_per_display" not in scenario_info.describe("synthetic_shelf_search")["swap_data"]


def test_paper_run_times_citing_a_commit_are_the_ones_their_scenario_pages_give():
    import re

    root = Path(__file__).resolve().parent.parent
    cited = 0
    for name, times in scenario_info.RUNTIMES.items():
        pattern = r"(\d+) s for the whole command \((\d{4}-\d\d-\d\d), ([0-9a-f]{7})\)"
        m = re.fullmatch(pattern, times.get("paper", ""))
        if m:
            page = " ".join((root / "docs" / "scenarios" / f"{name}.md").read_text().split())
            seconds, date, commit = m.groups()
            run = f"`cogsim run {name} --preset paper`"
            assert f"({date}, commit {commit}, {run}, seed 0, {seconds} s of" in page
            cited += 1
    assert cited >= 6
