"""The Python examples of the fitting pages run as written, in order, each page in one namespace.

``my_trials.csv`` (the reader's own file in the pages) is a copy of the packaged Zhang & Luck (2008) trials.
Blocks that need something the page leaves to the reader (a fit folder of their own, their own design or
models) or that fit every Wolfe et al. (2010) trial with profile intervals (minutes) are left out, named in
``LEFT_OUT`` by a phrase they contain; a phrase that no block contains fails the test, so the list cannot go
stale silently.
"""

import re
import shutil
from pathlib import Path

import pytest

from cogsim import data

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("docs/fitting.md", "docs/fitting_paradigms.md")
LEFT_OUT = {
    "docs/fitting.md": ("runs/my_fit/models.parquet", "design=my_design"),
    "docs/fitting_paradigms.md": ('data.load("visual_search_wolfe2010")',),
}


def blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_python_examples_run(page, tmp_path, monkeypatch):
    source = data.folder("zhang_luck2008_delayed_estimation") / "trials.csv"
    shutil.copy(source, tmp_path / "my_trials.csv")
    monkeypatch.chdir(tmp_path)
    found = blocks(page)
    assert found, page
    for phrase in LEFT_OUT[page]:
        assert any(phrase in b for b in found), (page, phrase)
    ran = 0
    namespace: dict = {}
    for i, code in enumerate(found):
        if any(phrase in code for phrase in LEFT_OUT[page]):
            continue
        exec(compile(code, f"{page} block {i}", "exec"), namespace)
        ran += 1
    assert ran == len(found) - len(LEFT_OUT[page])


def test_every_cogsim_module_the_docs_name_is_an_attribute_of_the_package():
    """`cogsim.cpu_threads.limit()`, `cogsim.fit.sample`, ... work after a bare `import cogsim`, which stays
    cheap (no NumPy, pandas or JAX until a module is used)."""
    import subprocess
    import sys

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = sorted(
        {m for p in pages for m in re.findall(r"\bcogsim\.([a-z_]+)\.", p.read_text(encoding="utf-8"))}
    )
    assert {"cpu_threads", "fit", "reference", "fitting_comparison", "store"} <= set(named)
    code = (
        "import sys, cogsim\n"
        "print([m for m in ('numpy', 'pandas', 'jax') if m in sys.modules])\n"
        f"for name in {named!r}:\n"
        "    getattr(cogsim, name)\n"
        "print(cogsim.cpu_threads.limit.__name__, cogsim.fitting_comparison.TIE_TOL > 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["[]", "limit True"]
