"""Planning a sweep: its spec (grid x seeds), the grid parsed from strings, points grouped for compilation.

Nothing here evaluates a point; :mod:`cogsim.sweep.evaluate` does, and :mod:`cogsim.sweep.executors` decides
where.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cogsim import config as cfglib
from cogsim.errors import CogsimError

EXECUTORS = ("local", "devices", "slurm")


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """Everything that defines a sweep; its hash names the run folder, so the same command resumes."""

    scenario: str
    grid: dict[str, tuple[Any, ...]]
    seeds: tuple[int, ...]
    preset: str = "quick"
    overrides: tuple[str, ...] = ()
    root_seed: int = 0

    def run_id(self) -> str:
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return f"{self.scenario}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"

    def points(self) -> list[tuple[dict[str, Any], int]]:
        names = list(self.grid)
        combos = itertools.product(*(self.grid[n] for n in names))
        return [(dict(zip(names, c, strict=True)), s) for c in combos for s in self.seeds]


def parse_grid(items: Sequence[str], base_cfg: Any) -> dict[str, tuple[Any, ...]]:
    """Parses ``["a=1,2,3", "b.c=0.1,0.2"]`` to typed value tuples, validating each value.

    Example:
      >>> import dataclasses
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     lr: float = 0.1
      >>> parse_grid(["lr=0.1,0.2"], C())
      {'lr': (0.1, 0.2)}
    """
    grid: dict[str, tuple[Any, ...]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise CogsimError(f"--grid {item!r}: expected field=v1,v2,... (e.g. --grid n_boot=100,200)")
        f, tp = cfglib._lookup_field(base_cfg, key, text)
        values = tuple(cfglib.parse_value(v, tp, path=key) for v in text.split(","))
        for v in values:  # validate each value in context
            cfglib.replace(base_cfg, **{key: v})
        if key in grid:
            raise CogsimError(f"--grid: field {key!r} given twice")
        grid[key] = values
    return grid


def spec_from_dict(d: Mapping[str, Any]) -> SweepSpec:
    """The :class:`SweepSpec` stored in a run folder's meta (``store.get_meta("spec")``)."""
    return SweepSpec(
        d["scenario"],
        {k: tuple(v) for k, v in d["grid"].items()},
        tuple(d["seeds"]),
        d.get("preset", "quick"),
        tuple(d.get("overrides", ())),
        int(d.get("root_seed", 0)),
    )


def vectorized(mod) -> tuple[str, ...]:
    return tuple(getattr(mod, "SWEEP_VECTORIZED", ()))


def group_points(points: Sequence[tuple[str, dict, int]], vec: Sequence[str]):
    groups: dict[str, list] = {}
    for pid, params, seed in points:
        static = {k: v for k, v in params.items() if k not in vec}
        groups.setdefault(json.dumps(static, sort_keys=True, default=str), []).append((pid, params, seed))
    return groups


def chunks(seq: Sequence, size: int):
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def param_value(v: Any) -> Any:
    return str(v) if isinstance(v, (tuple, list)) else v


