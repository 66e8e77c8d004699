"""cogsim: JAX models of attention in cognition, each held up against human behavioural data.

The core modules are imported lazily, so ``import cogsim`` is cheap and ``cogsim.data``, ``cogsim.sweep`` etc.
load on first use.
"""

from __future__ import annotations

import importlib

from cogsim.errors import CogsimError, ConfigError, DataError

__version__ = "0.1.0"

#: every public submodule (the packages models, kernels and scenarios too), imported on first use
_SUBMODULES = (
    "attention",
    "cli",
    "cli_listing",
    "compare",
    "comparison",
    "compilation_cache",
    "config",
    "cpu_threads",
    "data",
    "errors",
    "executors",
    "fit",
    "fitting_agreement",
    "fitting_command",
    "fitting_comparison",
    "fitting_listing",
    "fitting_lrtests",
    "fitting_posterior",
    "fitting_predictive",
    "fitting_priors",
    "kernels",
    "kg",
    "models",
    "plots",
    "probes",
    "progress",
    "reference",
    "runner",
    "scenario_info",
    "scenario_protocol",
    "scenario_registry",
    "scenarios",
    "store",
    "sweep",
    "sweep_command",
    "tasks",
    "train",
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"cogsim.{name}")
    raise AttributeError(f"module 'cogsim' has no attribute {name!r}")


__all__ = ["CogsimError", "ConfigError", "DataError", "__version__", *_SUBMODULES]
