"""Looking scenarios up by name: the application layer's (runner, sweep, command line) access to
``cogsim.scenarios``; every module there whose name does not start with "_" is a scenario."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from cogsim.errors import CogsimError, did_you_mean
from cogsim.scenario_protocol import missing


def names() -> list[str]:
    """Names of the registered scenarios (every public module of ``cogsim.scenarios``).

    Example:
      >>> from cogsim import scenario_registry
      >>> "change_detection" in scenario_registry.names()
      True
    """
    import cogsim.scenarios as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def get(name: str) -> ModuleType:
    """Imports scenario ``name`` and checks it against :class:`cogsim.scenario_protocol.Scenario`.

    Raises:
      CogsimError: unknown name (listing the known ones) or an incomplete module.

    Example:
      >>> get("change_detection").__name__
      'cogsim.scenarios.change_detection'
    """
    known = names()
    if name not in known:
        raise CogsimError(
            f"unknown scenario {name!r}{did_you_mean(name, known)}; available: {', '.join(known)}"
        )
    mod = importlib.import_module(f"cogsim.scenarios.{name}")
    lacking = missing(mod)
    if lacking:
        raise CogsimError(
            f"scenario {name!r} is missing {lacking} (see cogsim.scenario_protocol for the contract)"
        )
    return mod
