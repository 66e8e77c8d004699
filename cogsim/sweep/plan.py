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
from typing import Any, get_origin

from cogsim import config as cfglib
from cogsim.errors import CogsimError, ConfigError

EXECUTORS = ("local", "devices", "slurm")


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """Everything that defines a sweep; its hash names the run folder, so the same command resumes.

    Example:
      >>> spec = SweepSpec("change_detection", {"sim_K": (1.0, 2.0)}, (0, 1))
      >>> len(spec.points()), spec.points()[0], spec.run_id().startswith("change_detection-")
      (4, ({'sim_K': 1.0}, 0), True)
    """

    scenario: str
    grid: dict[str, tuple[Any, ...]]
    seeds: tuple[int, ...]
    preset: str = "quick"
    overrides: tuple[str, ...] = ()
    root_seed: int = 0
    #: ``(absolute path, sha256)`` of each user data file the sweep reads: other trials under the same file
    #: name are another sweep (a new folder), never a resume of this one
    data_files: tuple[tuple[str, str], ...] = ()

    def run_id(self) -> str:
        d = dataclasses.asdict(self)
        if not d["data_files"]:  # sweeps on packaged data keep the folder names they had before the field
            d.pop("data_files")
        blob = json.dumps(d, sort_keys=True, default=str)
        return f"{self.scenario}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"

    def points(self) -> list[tuple[dict[str, Any], int]]:
        names = list(self.grid)
        combos = itertools.product(*(self.grid[n] for n in names))
        return [(dict(zip(names, c, strict=True)), s) for c in combos for s in self.seeds]


def _grid_items(item: str, text: str, tp: Any) -> list[str]:
    """A grid's values as text: split at every comma, or for a field of several values (a tuple) at the
    commas outside brackets, so that ``models=(a,b),(c)`` is two values."""
    _, inner = cfglib._is_optional(tp)
    several = get_origin(inner) in (tuple, list) or inner in (tuple, list)
    if not several or not any(b in text for b in "()[]"):
        return text.split(",")
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch in "([") - (ch in ")]")
        if depth < 0:
            break
        if ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise CogsimError(
            f"--grid {item!r}: brackets do not match; allowed: values separated by commas, each value of "
            "several items in brackets, e.g. field=(a,b),(c)"
        )
    return [*items, text[start:]]


def parse_grid(items: Sequence[str], base_cfg: Any) -> dict[str, tuple[Any, ...]]:
    """Parses ``["a=1,2,3", "b.c=0.1,0.2"]`` to typed value tuples, validating each value (a field that
    holds several values takes each grid value in brackets: ``"models=(a,b),(c)"``).

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
        values = tuple(cfglib.parse_value(v, tp, path=key) for v in _grid_items(item, text, tp))
        # validate each value in context; the validated (normalised) values must differ
        canonical = [repr(_field_value(cfglib.replace(base_cfg, **{key: v}), key)) for v in values]
        if key in grid:
            raise CogsimError(f"--grid: field {key!r} given twice")
        repeated = sorted({values[i] for i, c in enumerate(canonical) if canonical.count(c) > 1}, key=repr)
        if repeated:
            raise CogsimError(
                f"--grid {item!r}: {', '.join(map(repr, repeated))} given more than once; allowed: distinct "
                "values (each grid point once)"
            )
        grid[key] = values
    return grid


def check_combinations(mod: Any, base_cfg: Any, grid: Mapping[str, Sequence[Any]]) -> None:
    """Refuses, before anything runs, a grid point whose values are each allowed alone but not together (a
    rule across fields, such as ``typical_per_subject`` at most ``n_predicates x (n_entities - 1)``): such a
    point would fail at every run and every resume.

    Checked: every combination of the grid's values for a scenario run point by point (each costs a
    ``simulate`` run, so the check is small next to the sweep); for one with ``sweep_point``, every
    combination of the static fields with each value of each vectorised field (as its evaluation does).

    Raises:
      CogsimError: naming the grid point and the config's reason.
    """
    vec = set(vectorized(mod)) if hasattr(mod, "sweep_point") else set()
    statics = [n for n in grid if n not in vec]
    swept = [n for n in grid if n in vec]
    for combo in itertools.product(*(grid[n] for n in statics)):
        fixed = dict(zip(statics, combo, strict=True))
        for point in [{**fixed, n: v} for n in swept for v in grid[n]] or [fixed]:
            if len(point) < 2:
                continue  # one field: its values were checked alone (parse_grid)
            try:
                cfglib.replace(base_cfg, **point)
            except ConfigError as exc:
                where = ", ".join(f"{k}={v!r}" for k, v in point.items())
                raise CogsimError(
                    f"--grid: the grid point {where} is not allowed ({exc}); each value is allowed alone, "
                    "not together: change the grid so that no point combines them"
                ) from None


def _field_value(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def spec_from_dict(d: Mapping[str, Any]) -> SweepSpec:
    """The :class:`SweepSpec` stored in a run folder's meta (``store.get_meta("spec")``).

    Example:
      >>> spec = SweepSpec("change_detection", {"sim_K": (1.0, 2.0)}, (0, 1))
      >>> spec_from_dict(dataclasses.asdict(spec)) == spec
      True
    """
    return SweepSpec(
        d["scenario"],
        {k: tuple(v) for k, v in d["grid"].items()},
        tuple(d["seeds"]),
        d.get("preset", "quick"),
        tuple(d.get("overrides", ())),
        int(d.get("root_seed", 0)),
        tuple((str(p), str(h)) for p, h in d.get("data_files", ())),
    )


def failed_note(store: Any) -> str | None:
    """The line that ends a sweep with failed points (every executor): how many, where their reasons are
    (``cogsim sweep status``) and how to retry them; None when none failed."""
    n = store.counts()["failed"]
    if not n:
        return None
    return (
        f"sweep: {n} point(s) failed; see `cogsim sweep status {store.root}` for each reason, then run "
        f"`cogsim sweep --resume {store.root}` to retry them"
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


def _recording(cfg: Any, prefix: str, seen: set[str]) -> Any:
    """``cfg`` as an instance of a subclass that notes in ``seen`` every field read from it."""
    cls = type(cfg)
    names = {f.name for f in dataclasses.fields(cfg)}

    def getattribute(self, name):
        value = object.__getattribute__(self, name)
        if name in names:
            seen.add(prefix + name)
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                return _recording(value, f"{prefix}{name}.", seen)
        return value

    namespace = {
        "__getattribute__": getattribute,
        "__hash__": lambda self: hash(cfg),  # jit's static arguments hash configs: not a read
        "__eq__": lambda self, other: cfg == other,
    }
    sub = type(cls.__name__, (cls,), namespace)
    obj = object.__new__(sub)
    for f in dataclasses.fields(cfg):
        object.__setattr__(obj, f.name, getattr(cfg, f.name))
    return obj


def fields_read(mod: Any, cfg: Any) -> set[str] | None:
    """Dotted names of the config fields ``mod.sweep_point`` reads, found by tracing it abstractly
    (``jax.eval_shape``: nothing is computed). None when the scenario has no ``sweep_point`` or it cannot be
    traced that way.

    Example:
      >>> from cogsim.scenarios import change_detection
      >>> sorted(fields_read(change_detection, change_detection.Config()))
      ['data', 'sim_K', 'sim_a', 'sim_guess', 'sim_trials']
    """
    if not hasattr(mod, "sweep_point"):
        return None
    import jax

    seen: set[str] = set()
    proxy = _recording(cfg, "", seen)
    try:
        jax.eval_shape(lambda key: mod.sweep_point(proxy, key=key), jax.random.key(0))
    except Exception:  # noqa: BLE001 - not traceable abstractly: no verdict, the sweep goes on
        return None
    return seen


def check_fields_read(
    mod: Any,
    cfg: Any,
    fields: Sequence[str],
    *,
    scenario: str,
    given: str = "grid",
    grid: dict[str, tuple] | None = None,
) -> None:
    """Refuses a sweep over fields that ``sweep_point`` never reads (every grid point would be the same), or
    (``given="set"``) ``--set`` overrides of such fields (they would change nothing).

    A nested field ``a.b`` counts as read when ``a.b`` or a whole section above it was read. With ``grid``,
    the fields read are those of ``cfg`` and of ``cfg`` with each static (not vectorised) swept field at each
    of its values, so a field read only under some grid value counts as read.

    Raises:
      CogsimError: naming the unread fields and the fields that are read.
    """
    if not fields:
        return
    seen = fields_read(mod, cfg)
    if seen is None:
        return
    vec = vectorized(mod)
    for name, values in (grid or {}).items():
        if name in vec:
            continue
        for v in values:
            more = fields_read(mod, cfglib.replace(cfg, **{name: v}))
            seen |= more or set()
    unread = []
    for name in fields:
        parts = name.split(".")
        if not any(".".join(parts[: i + 1]) in seen for i in range(len(parts))):
            unread.append(name)
    if unread:
        read = ", ".join(sorted(n for n in seen if "." not in n)) or "none"
        effect = (
            "every grid point would give the same numbers"
            if given == "grid"
            else "--set would change nothing in this sweep"
        )
        raise CogsimError(
            f"sweep: {', '.join(map(repr, unread))} not read by {scenario}.sweep_point, so {effect}; it "
            f"reads: {read}"
        )
