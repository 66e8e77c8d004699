"""cogsim: JAX models of attention in cognition, each held up against human behavioural data.

The core modules are imported lazily, so ``import cogsim`` is cheap and ``cogsim.data``, ``cogsim.sweep`` etc.
load on first use.
"""

from __future__ import annotations

import importlib

from cogsim.errors import CogsimError, ConfigError, DataError

__version__ = "0.1.0"

_SUBMODULES = (
    "attention",
    "compare",
    "compilation_cache",
    "config",
    "data",
    "kernels",
    "models",
    "plots",
    "probes",
    "runner",
    "scenarios",
    "store",
    "sweep",
    "train",
    "kg",
    "executors",
    "progress",
    "scenario_info",
    "scenario_protocol",
    "scenario_registry",
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"cogsim.{name}")
    raise AttributeError(f"module 'cogsim' has no attribute {name!r}")


__all__ = ["CogsimError", "ConfigError", "DataError", "__version__", *_SUBMODULES]
