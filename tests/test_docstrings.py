"""Every docstring example in the package runs and prints what it says (``doctest``).

The examples are the documentation users copy first, so each module's ``Example:`` sections are executed
here, imported under their installed names (``cogsim.models.induction``, not the file path).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import tempfile

import jax
import pytest
from jax.experimental.compilation_cache import compilation_cache as jax_cache

# The mapped folders (models/, kernels/, scenarios/) are separate roots of the namespace, so each package is
# walked from its own __path__.
ROOTS = ("cogsim", "cogsim.models", "cogsim.kernels", "cogsim.scenarios")
SKIP = {"cogsim.__main__"}  # runs the command line on import


def _modules() -> list[str]:
    names = set(ROOTS)
    for root in ROOTS:
        pkg = importlib.import_module(root)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{root}."):
            if info.name.startswith("cogsim.data.") and not info.name.startswith("cogsim.data._"):
                continue  # dataset folders hold files, not code
            names.add(info.name)
    return sorted(names - SKIP)


MODULES = _modules()


def test_modules_found():
    assert {"cogsim.attention", "cogsim.train", "cogsim.compare"} <= set(MODULES)
    assert any(m.startswith("cogsim.models.") for m in MODULES)
    assert any(m.startswith("cogsim.scenarios.") for m in MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    # the examples' temporary files and folders (tempfile.mkdtemp() and the like) go into the test's folder
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    report: list[str] = []
    cache_before = jax.config.jax_compilation_cache_dir
    try:
        for test in tests:
            runner.run(test, out=report.append)
    finally:
        _persistent_cache_off_again(cache_before)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)


def _persistent_cache_off_again(before):
    """An example that turns JAX's persistent compilation cache on (``cogsim.compilation_cache.enable``) would
    leave it on for every test this worker runs afterwards: turn it back."""
    if jax.config.jax_compilation_cache_dir != before:
        jax.config.update("jax_compilation_cache_dir", before)
        jax_cache.reset_cache()
