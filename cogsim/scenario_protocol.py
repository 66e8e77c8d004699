"""The contract every scenario module follows, as a :class:`typing.Protocol`.

A scenario is a module of ``cogsim.scenarios`` (registered by its file name; modules starting with "_" are
helpers). The application layer (runner, sweep, command line) looks scenarios up by name and checks them
against :class:`Scenario`; the library never does.

Example:
  >>> from cogsim.scenario_protocol import Scenario, missing
  >>> from cogsim.scenarios import change_detection
  >>> isinstance(change_detection, Scenario), missing(change_detection)
  (True, [])
"""

from __future__ import annotations

import dataclasses
import inspect
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import jax
    import pandas as pd

    from cogsim.compare import Comparison
    from cogsim.reference import Reference

#: attributes every scenario module has
REQUIRED = ("Config", "PRESETS", "simulate", "reference", "compare", "plot")
#: attributes a scenario may add: vectorised sweeps, a description for ``cogsim list``, the paper
#: preset's last measured verdict (a :class:`cogsim.comparison.PaperRun`, shown beside quicker presets) and
#: the config fields that name the data compared with (:func:`paper_run_applies`)
OPTIONAL = ("DESCRIPTION", "sweep_point", "SWEEP_VECTORIZED", "PAPER_RUN", "DATA_FIELDS")


@runtime_checkable
class Scenario(Protocol):
    """What a scenario module defines.

    Attributes:
      Config: a frozen dataclass of the scenario's settings (defaults = the published setting), fields
        declared with :func:`cogsim.config.field` (types, ranges, docs).
      PRESETS: named configs, at least ``"quick"`` (and usually ``"paper"``).
      DESCRIPTION: optional, one line for ``cogsim list``.
      SWEEP_VECTORIZED: optional, the fields ``sweep_point`` may receive traced (varied under ``jax.vmap``).
      PAPER_RUN: optional, the paper preset's last measured verdict (:class:`cogsim.comparison.PaperRun`).
      DATA_FIELDS: optional, the ``Config`` fields that name the data the run is compared with (a packaged
        data set or a user's file); the paper verdict is shown only for runs on the paper preset's data
        (:func:`paper_run_applies`).

    Example:
      >>> from cogsim.scenarios import change_detection as mod
      >>> isinstance(mod, Scenario), "quick" in mod.PRESETS, mod.PRESETS["quick"].data
      (True, True, 'rouder2008')
      >>> import types
      >>> isinstance(types.ModuleType("empty"), Scenario)
      False
    """

    Config: ClassVar[type]
    PRESETS: ClassVar[dict[str, Any]]

    def simulate(self, config: Any, *, key: jax.Array) -> pd.DataFrame:
        """Runs the model; tidy results."""

    def reference(self, config: Any = None) -> Reference:
        """The reference table (from :mod:`cogsim.data`, or the file a ``data`` field names) and its kind:
        trial level, published means, or none (see :mod:`cogsim.reference`)."""

    def compare(self, sim: pd.DataFrame, human: pd.DataFrame) -> Comparison:
        """Metrics with CIs, checks and a verdict. Keyword options after ``(sim, human)`` that are also
        fields of ``Config`` (e.g. ``n_boot``, ``level``) get the run's values (:func:`compare_options`)."""

    def plot(self, sim: pd.DataFrame, human: pd.DataFrame, ax: Any = None) -> Any:
        """A matplotlib Axes or Figure."""


@runtime_checkable
class SweepableScenario(Scenario, Protocol):
    """A scenario with a vectorised sweep entry point (optional part of the contract).

    ``sweep_point(config, *, key)`` is pure JAX and returns scalar outputs; the fields in
    ``SWEEP_VECTORIZED`` may be traced.

    Example:
      >>> from cogsim.scenarios import change_detection, delayed_estimation
      >>> isinstance(change_detection, SweepableScenario), change_detection.SWEEP_VECTORIZED
      (True, ('sim_K', 'sim_a', 'sim_guess'))
      >>> isinstance(delayed_estimation, SweepableScenario)  # a scenario without sweep_point
      False
    """

    SWEEP_VECTORIZED: ClassVar[tuple[str, ...]]

    def sweep_point(self, config: Any, *, key: jax.Array) -> dict[str, jax.Array]:
        """One grid point's scalar outputs."""


def missing(module: ModuleType) -> list[str]:
    """The required attributes of the protocol that ``module`` lacks (empty when it is a scenario).

    Example:
      >>> import types
      >>> missing(types.ModuleType("empty"))
      ['Config', 'PRESETS', 'simulate', 'reference', 'compare', 'plot']
    """
    return [a for a in REQUIRED if not hasattr(module, a)]


def compare_options(mod: Any, cfg: Any) -> dict[str, Any]:
    """The settings ``mod.compare`` takes by keyword that are also fields of the run's config (e.g. a
    scenario's ``n_boot`` and ``level``), with the config's values, so that ``--set n_boot=...`` reaches the
    comparison's CIs.

    Example:
      >>> from cogsim.scenarios import delayed_estimation as mod
      >>> compare_options(mod, mod.Config(n_boot=300))
      {'n_boot': 300, 'level': 0.95}
    """
    if cfg is None or not dataclasses.is_dataclass(cfg):
        return {}
    fields = {f.name for f in dataclasses.fields(cfg)}
    params = list(inspect.signature(mod.compare).parameters.values())[2:]  # after (sim, human)
    return {p.name: getattr(cfg, p.name) for p in params if p.name in fields}


def paper_run_applies(mod: Any, cfg: Any) -> bool:
    """Whether the paper preset's last measured verdict (``mod.PAPER_RUN``) speaks for a run with config
    ``cfg``: the run's ``DATA_FIELDS`` hold the paper preset's values, or for a tuple a part of them (the
    quick preset's smaller share of the same data). A run on other data, e.g. a user's file, is another test,
    and the paper verdict is not shown beside it.

    Example:
      >>> from cogsim.scenarios import delayed_estimation as mod
      >>> quick, mine = mod.PRESETS["quick"], mod.Config(datasets=("my_trials.csv",))
      >>> paper_run_applies(mod, quick), paper_run_applies(mod, mine)
      (True, False)
    """
    paper = getattr(mod, "PRESETS", {}).get("paper")
    if cfg is None or paper is None:
        return True
    for name in getattr(mod, "DATA_FIELDS", ()):
        ours, theirs = getattr(cfg, name), getattr(paper, name)
        if isinstance(ours, tuple) and isinstance(theirs, tuple):
            if not set(ours) <= set(theirs):
                return False
        elif ours != theirs:
            return False
    return True
