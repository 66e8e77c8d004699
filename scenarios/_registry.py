"""Discovery of scenario modules inside ``cogsim.scenarios``."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from cogsim.errors import CogsimError

_REQUIRED = ("Config", "PRESETS", "simulate", "human", "compare", "plot")


def names() -> list[str]:
    """Names of the registered scenarios (every public module of ``cogsim.scenarios``).

    Example:
      >>> from cogsim import scenarios
      >>> "change_detection" in scenarios.names()
      True
    """
    import cogsim.scenarios as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def get(name: str) -> ModuleType:
    """Imports scenario ``name`` and checks that it follows the protocol.

    Raises:
      CogsimError: unknown name (listing the known ones) or an incomplete module.
    """
    known = names()
    if name not in known:
        raise CogsimError(f"unknown scenario {name!r}; available: {', '.join(known)}")
    mod = importlib.import_module(f"cogsim.scenarios.{name}")
    missing = [a for a in _REQUIRED if not hasattr(mod, a)]
    if missing:
        raise CogsimError(f"scenario {name!r} is missing {missing} (see cogsim.scenarios for the protocol)")
    return mod
