"""``cogsim list`` without importing the scenarios: each line read from its module's source.

A scenario's ``DESCRIPTION`` and the names of its ``PRESETS`` are literals at the top of its module, so the
listing reads them with :mod:`ast` instead of importing twenty modules (and JAX, flax, matplotlib with them):
the command answers in a fraction of a second. A module whose values are not plain literals, assigned once,
is imported and asked (:func:`cogsim.scenario_info.summary`), so the listing always says what the module says.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

from cogsim import scenario_registry


def _static_values(source: str) -> dict[str, Any] | None:
    """``{"description", "presets"}`` from a module's source, or None where they are not plain literals
    assigned once at the top (a computed value, a second assignment, a change such as ``PRESETS[k] = v``)."""
    tree = ast.parse(source)
    found: dict[str, ast.expr] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            if isinstance(target, ast.Name) and target.id in ("DESCRIPTION", "PRESETS"):
                if target.id in found:
                    return None
                found[target.id] = node.value
    for node in ast.walk(tree):  # PRESETS changed after its assignment
        if isinstance(node, ast.Subscript | ast.Attribute) and getattr(node.value, "id", None) == "PRESETS":
            if isinstance(node, ast.Attribute) or isinstance(node.ctx, ast.Store | ast.Del):
                return None
    description, presets = found.get("DESCRIPTION"), found.get("PRESETS")
    if not (isinstance(description, ast.Constant) and isinstance(description.value, str)):
        return None
    if not isinstance(presets, ast.Dict):
        return None
    names = [k.value if isinstance(k, ast.Constant) else None for k in presets.keys]
    if not all(isinstance(n, str) for n in names):
        return None
    return {"description": description.value, "presets": names}


def summary(name: str) -> dict[str, Any]:
    """One line of ``cogsim list`` (name, description, presets), the same as
    :func:`cogsim.scenario_info.summary` but read from the source where it can be.

    Example:
      >>> summary("change_detection")["presets"]
      ['quick', 'paper']
    """
    spec = importlib.util.find_spec(f"cogsim.scenarios.{name}")
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    values = _static_values(origin.read_text()) if origin is not None and origin.suffix == ".py" else None
    if values is None:
        from cogsim import scenario_info

        return scenario_info.summary(name)
    return {"name": name, **values}


def rows() -> list[dict[str, Any]]:
    """Every registered scenario's line of ``cogsim list``, by name.

    Example:
      >>> "change_detection" in [r["name"] for r in rows()]
      True
    """
    return [summary(name) for name in scenario_registry.names()]
