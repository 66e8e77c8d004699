"""Every docstring example in the package runs and prints what it says (``doctest``).

The examples are the documentation users copy first, so each module's ``Example:`` sections are executed
here, imported under their installed names (``cogsim.models.induction``, not the file path).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
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
    if module.__name__ != name:  # a name that stands in for another module (sys.modules[__name__] = other)
        pytest.skip(f"{name} is {module.__name__}, whose examples run under that name")
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


# ------------------------------------------------------------------------------ every public name: an example
# The public API: each module cogsim/__init__.py names, with the modules of cogsim.tasks. Left out: the
# command line's modules (their functions take parsed arguments, print and write run folders; `cogsim
# <command> --help` documents them) and the packages models, kernels and scenarios (their modules' examples
# run above; a name there need not have one).
COMMAND_LINE = {
    "cli",
    "cli_listing",
    "fitting_agreement",
    "fitting_command",
    "fitting_comparison",
    "fitting_listing",
    "fitting_lrtests",
    "fitting_posterior",
    "fitting_predictive",
    "fitting_priors",
    "sweep_command",
}
PACKAGES = {"models", "kernels", "scenarios"}

# Public names without an example, each for a reason.
NO_EXAMPLE = {
    # run scenarios: seconds to minutes each, writing run folders (README.md and docs/ show the calls)
    "cogsim.runner.run",
    "cogsim.runner.run_suite",
    "cogsim.runner.compare_with_reference",
    # run or resume a sweep (scenario evaluations, a run folder, Slurm for some): docs/sweeps.md shows the
    # calls and tests/test_docs_examples.py runs its Python examples
    "cogsim.sweep.run",
    "cogsim.sweep.resume",
    "cogsim.sweep.run_pending",
    "cogsim.sweep.local_worker",
    "cogsim.sweep.evaluate_points",
    "cogsim.store.load",
    "cogsim.executors.reconcile",
    "cogsim.executors.run_slurm",
    "cogsim.executors.run_task",
    # what only a model fit makes (seconds of compiling each); the examples of fit, lr_test and recover
    # show them (fit_hierarchical and sample theirs)
    "cogsim.fit.FitResult",
    "cogsim.fit.HierarchicalResult",
    "cogsim.fit.SampleResult",
    "cogsim.fit.LRTest",
    "cogsim.fit.RecoveryResult",
    # fit every model to data simulated from every model (four fits at the least); confusion's example
    # shows the table they make
    "cogsim.fit.model_recovery",
    "cogsim.fit.model_recovery_scores",
    # image generators: compiling one takes about a second; diet_image's example draws from all six
    "cogsim.tasks.diets.dead_leaves",
    "cogsim.tasks.diets.noise_1f",
    "cogsim.tasks.diets.shaded_spheres",
    "cogsim.tasks.diets.contours",
}


def _api_modules() -> list[str]:
    import cogsim

    names = [f"cogsim.{n}" for n in cogsim._SUBMODULES if n not in COMMAND_LINE | PACKAGES]
    tasks = importlib.import_module("cogsim.tasks")
    names += [i.name for i in pkgutil.iter_modules(tasks.__path__, "cogsim.tasks.") if "._" not in i.name]
    return sorted(names)


def _public_objects() -> dict[int, tuple[object, set[str]]]:
    """Every public function and class of the API modules, with the dotted names it is public under: a
    module's ``__all__``, or (without one) its names not starting with ``_`` that come from cogsim (names the
    command line's modules define are theirs)."""
    found: dict[int, tuple[object, set[str]]] = {}
    for name in _api_modules():
        module = importlib.import_module(name)
        listed = getattr(module, "__all__", None)
        for attr in listed if listed is not None else [a for a in vars(module) if not a.startswith("_")]:
            obj = getattr(module, attr)
            home = getattr(obj, "__module__", None) or ""
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or not home.startswith("cogsim."):
                continue
            if listed is None and home.split(".")[1] in COMMAND_LINE:
                continue
            found.setdefault(id(obj), (obj, set()))[1].add(f"{name}.{attr}")
    return found


def _has_example(obj) -> bool:
    """Whether the docstring holds a doctest example that runs something (not only a ``>>> # ...`` line)."""
    examples = doctest.DocTestParser().get_examples(inspect.getdoc(obj) or "")
    return any(e.source.strip() and not e.source.lstrip().startswith("#") for e in examples)


def test_every_public_name_has_an_example():
    objects = _public_objects()
    assert len(objects) > 200  # the walk found the API
    lacking = sorted(
        min(names) for obj, names in objects.values() if not _has_example(obj) and not names & NO_EXAMPLE
    )
    assert not lacking, (
        "public names without a runnable `Example:` section (>>> lines with their output), as the others "
        f"have: {lacking}"
    )


def test_example_allow_lists_are_current():
    objects = _public_objects()
    public = {n for _, names in objects.values() for n in names}
    unknown = sorted(NO_EXAMPLE - public)
    assert not unknown, f"no such public name (renamed or removed?); drop it from NO_EXAMPLE: {unknown}"
    done = sorted(
        min(names & NO_EXAMPLE) for obj, names in objects.values() if _has_example(obj) and names & NO_EXAMPLE
    )
    assert not done, f"these have an example now; drop them from NO_EXAMPLE: {done}"
    import cogsim

    assert COMMAND_LINE | PACKAGES <= set(cogsim._SUBMODULES)
