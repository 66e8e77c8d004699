"""Configs are data: frozen dataclasses, validated, overridden from strings, round-tripped through JSON.

A scenario or model declares its settings as a frozen dataclass. Constraints live in field metadata,
written with :func:`field`::

    @dataclasses.dataclass(frozen=True)
    class Config:
        n_trials: int = field(100, low=1, doc="trials per condition")
        lapse: float = field(0.05, low=0.0, high=1.0)
        model: str = field("fixed_capacity", choices=("fixed_capacity", "workspace"))

:func:`validate` checks types and ranges (recursively); :func:`replace_from_strings` applies command-line
overrides such as ``"fit.lr=0.01"`` parsed to each field's declared type. The ranges are absolute sanity
bounds; :func:`check_fits` (from :mod:`cogsim._memory`) checks a config's estimated memory against this
machine's, before any computation.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, get_args, get_origin, get_type_hints

from cogsim._memory import MEMORY_ENV, available_bytes, check_fits  # noqa: F401 - the memory caps
from cogsim.errors import ConfigError

_MISSING = dataclasses.MISSING

#: the largest integer a field takes without a declared ``high``: JAX counts and indexes with int32
INT_LIMIT = 2**31 - 1


def field(
    default: Any = _MISSING,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: Sequence[Any] | None = None,
    doc: str = "",
    default_factory: Any = _MISSING,
    allow_empty: bool = False,
    distinct: bool | None = None,
) -> Any:
    """A dataclass field with validation metadata.

    Args:
      default: the default value.
      low: inclusive lower bound for numbers (and for every element of a tuple of numbers).
      high: inclusive upper bound.
      choices: the allowed values.
      doc: a one-line description, shown by ``cogsim run NAME --help``.
      allow_empty: an empty tuple is a meaningful value (e.g. "no ablations") even when the default is not.
      distinct: whether a tuple's items must differ from each other. By default a tuple of strings (a list of
        names: models, datasets, conditions) must hold each name once; a tuple of numbers may repeat values.
      default_factory: as in :func:`dataclasses.field`.

    Example:
      >>> import dataclasses
      >>> from cogsim import config
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     k: int = config.field(3, low=1)
      >>> config.validate(C(k=2)).k
      2
    """
    meta = {"low": low, "high": high, "choices": tuple(choices) if choices is not None else None, "doc": doc}
    if allow_empty:
        meta["allow_empty"] = True
    if distinct is not None:
        meta["distinct"] = bool(distinct)
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) != len(get_args(tp)):
            return True, args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
    return False, tp


def _check_type(path: str, value: Any, tp: Any) -> Any:
    """Returns ``value`` coerced to ``tp`` (int -> float, list -> tuple) or raises ConfigError."""
    optional, inner = _is_optional(tp)
    if value is None:
        if optional or tp is Any:
            return None
        raise ConfigError(path, value, f"a value of type {_type_name(tp)}")
    tp = inner
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(path, value, f"one of {list(get_args(tp))}")
        return value
    if origin in (tuple, list, Sequence) or tp in (tuple, list):
        if not isinstance(value, (tuple, list)):
            raise ConfigError(path, value, f"a sequence ({_type_name(tp)})")
        args = get_args(tp)
        if args and args[-1] is Ellipsis:
            return tuple(_check_type(f"{path}[{i}]", v, args[0]) for i, v in enumerate(value))
        if args:
            if len(args) != len(value):
                raise ConfigError(path, value, f"a tuple of {len(args)} items ({_type_name(tp)})")
            return tuple(
                _check_type(f"{path}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args, strict=True))
            )
        return tuple(value)
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(path, value, "a mapping")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, Mapping):
            return from_dict(tp, value, _path=path)
        if not isinstance(value, tp):
            raise ConfigError(path, value, f"a {tp.__name__} config")
        return validate(value, _path=path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, value, "a boolean (true/false)")
        return value
    if tp is int:  # numpy integers too (not bools)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ConfigError(path, value, "an integer")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(path, value, "a number")
        if not math.isfinite(value):
            raise ConfigError(path, value, "a finite number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, value, "a string")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(path, value, f"a value of type {_type_name(tp)}")
    return value


def _check_range(path: str, value: Any, meta: Mapping[str, Any]) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(path, value, f"one of {list(choices)}")
    low, high = meta.get("low"), meta.get("high")
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        if item is None or isinstance(item, bool) or not isinstance(item, (int, float)):
            continue
        cap = high
        if high is None and isinstance(item, int):
            cap = INT_LIMIT  # no declared cap: what an int32 holds
        if (low is not None and item < low) or (cap is not None and item > cap):
            lo = "-inf" if low is None else low
            hi = "inf" if cap is None else cap
            why = " (the int32 limit of JAX arrays)" if high is None and cap is not None else ""
            raise ConfigError(path, value, f"values in [{lo}, {hi}]{why}")


def _names_tuple(tp: Any) -> bool:
    """Whether ``tp`` (or ``tp | None``) is ``tuple[str, ...]``: a list of names."""
    _, tp = _is_optional(tp)
    args = get_args(tp)
    return get_origin(tp) in (tuple, list, Sequence) and len(args) == 2 and args == (str, Ellipsis)


def _check_field(path: str, value: Any, f: dataclasses.Field, tp: Any = None) -> None:
    """Range and choices of ``value``; a tuple must not be empty unless the field's default is empty; the
    items of a tuple of names (``tuple[str, ...]``, or a tuple field declared ``distinct=True``) must differ.
    """
    _check_range(path, value, f.metadata)
    distinct = f.metadata.get("distinct")
    if distinct is None:
        distinct = tp is not None and _names_tuple(tp)
    if distinct and isinstance(value, tuple) and len(set(map(repr, value))) != len(value):
        repeated = sorted({repr(v) for v in value if sum(repr(w) == repr(v) for w in value) > 1})
        raise ConfigError(path, value, f"distinct values (repeated: {', '.join(repeated)})")
    if isinstance(value, tuple) and not value:
        default = f.default if f.default is not _MISSING else None
        if f.default_factory is not _MISSING:
            default = f.default_factory()
        if not f.metadata.get("allow_empty") and (default is None or len(default) > 0):
            raise ConfigError(path, value, "a non-empty list of values (comma-separated)")


def is_trial_file(value: str) -> bool:
    """Whether a data field's ``value`` names an existing trial file (``.csv``, ``.tsv``/``.tab``, possibly
    compressed, or ``.parquet``; any case): the test a scenario's ``data`` field applies to what is not one
    of its packaged data sets.

    Example:
      >>> is_trial_file("rouder2008"), is_trial_file("no_such_file.csv")
      (False, False)
    """
    from cogsim.fit._paradigm import trial_file_kind

    return trial_file_kind(value) is not None and os.path.isfile(value)


def validate(cfg: Any, *, _path: str = "") -> Any:
    """Checks every field's type and range; returns the config with numbers and tuples normalised.

    Raises:
      ConfigError: naming the field, the value and what is allowed.

    Example:
      >>> import dataclasses
      >>> from cogsim import config
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     lapse: float = config.field(0.05, low=0.0, high=1.0)
      ...     sizes: tuple[int, ...] = (2, 4)
      >>> config.validate(C(lapse=1, sizes=[6, 8]))  # int -> float, list -> tuple
      C(lapse=1.0, sizes=(6, 8))
      >>> config.validate(C(lapse=1.5))
      Traceback (most recent call last):
      ...
      cogsim.errors.ConfigError: ...lapse...
    """
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise ConfigError(_path or "<config>", cfg, "a dataclass config instance")
    hints = _hints(type(cfg))
    changes = {}
    for f in dataclasses.fields(cfg):
        path = f"{_path}.{f.name}" if _path else f.name
        value = getattr(cfg, f.name)
        new = _check_type(path, value, hints[f.name])
        _check_field(path, new, f, hints[f.name])
        if new is not value:
            changes[f.name] = new
    if hasattr(cfg, "__post_validate__"):
        try:
            cfg.__post_validate__()
        except ConfigError as exc:  # a section's own rule: its field named as --set names it
            if not _path or str(exc.field).startswith(f"{_path}."):
                raise
            raise ConfigError(f"{_path}.{exc.field}", exc.value, exc.allowed) from None
    return dataclasses.replace(cfg, **changes) if changes else cfg


def field_names(cls_or_cfg: Any, *, prefix: str = "") -> list[str]:
    """Dotted names of every leaf field, e.g. ``["n_trials", "fit.lr"]``.

    Example:
      >>> import dataclasses
      >>> from cogsim import config
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     n_trials: int = 100
      ...     lapse: float = 0.05
      >>> config.field_names(C)
      ['n_trials', 'lapse']
    """
    cls = cls_or_cfg if isinstance(cls_or_cfg, type) else type(cls_or_cfg)
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        _, tp = _is_optional(hints[f.name])
        if dataclasses.is_dataclass(tp):
            out += field_names(tp, prefix=f"{prefix}{f.name}.")
        else:
            out.append(prefix + f.name)
    return out


def _lookup_field(cfg: Any, dotted: str, value: Any = None) -> tuple[dataclasses.Field, Any]:
    obj_cls = type(cfg)
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(obj_cls)}
        if part not in fields:
            here = ".".join(parts[:i])
            allowed = ", ".join(sorted(fields))
            raise ConfigError(dotted, value, f"a field of {here or obj_cls.__name__}: {allowed}")
        f = fields[part]
        tp = _hints(obj_cls)[part]
        if i < len(parts) - 1:
            _, tp = _is_optional(tp)
            if not dataclasses.is_dataclass(tp):
                raise ConfigError(dotted, value, f"{part} is a leaf field ({_type_name(tp)}), not a section")
            obj_cls = tp
    return f, tp


def parse_value(text: str, tp: Any, *, path: str = "<value>") -> Any:
    """Parses a command-line string into a value of type ``tp`` (numbers, bools, None, tuples, JSON).

    Example:
      >>> from cogsim import config
      >>> config.parse_value("2,4,8", tuple[int, ...]), config.parse_value("yes", bool)
      ((2, 4, 8), True)
      >>> config.parse_value("none", float | None) is None
      True
    """
    optional, inner = _is_optional(tp)
    stripped = text.strip()
    if optional and stripped.lower() in ("none", "null", ""):
        return None
    tp = inner
    origin = get_origin(tp)
    if tp is str:
        return text
    if origin is Literal:
        for choice in get_args(tp):
            if str(choice) == stripped:
                return choice
        raise ConfigError(path, text, f"one of {list(get_args(tp))}")
    if tp is bool:
        low = stripped.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ConfigError(path, text, "a boolean (true/false)")
    if tp is int:
        try:
            return int(stripped)
        except ValueError:
            raise ConfigError(path, text, "an integer") from None
    if tp is float:
        try:
            return float(stripped)
        except ValueError:
            raise ConfigError(path, text, "a number") from None
    if origin in (tuple, list, Sequence) or tp in (tuple, list):
        args = get_args(tp)
        body = stripped
        pairs = {"[": "]", "(": ")"}
        opened = body[:1] if body[:1] in pairs else ""
        closed = body[-1:] if body[-1:] in pairs.values() else ""
        # a closing bracket at the end with no opening one anywhere: "1,2]" (while "a,f(x)" is a name)
        unopened = closed and not opened and {")": "(", "]": "["}[closed] not in body
        if opened or unopened:
            if len(body) < 2 or not opened or pairs[opened] != closed:
                raise ConfigError(
                    path, text, "comma-separated values, optionally in matching brackets: [v1,v2] or (v1,v2)"
                )
            body = body[1:-1]
        items = body.split(",") if body.strip() else []
        if any(not x.strip() for x in items):  # "1,,2" or "1,2,": an item left out by mistake
            raise ConfigError(path, text, "comma-separated values with no empty item, e.g. 1,2,3")
        if args and args[-1] is Ellipsis:
            return tuple(parse_value(x, args[0], path=path) for x in items)
        if args:
            if len(items) != len(args):
                raise ConfigError(path, text, f"{len(args)} comma-separated values ({_type_name(tp)})")
            return tuple(parse_value(x, a, path=path) for x, a in zip(items, args, strict=True))
        return tuple(items)
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        raise ConfigError(path, text, f"a JSON value of type {_type_name(tp)}") from None


def replace(cfg: Any, /, *, _path: str = "", **changes: Any) -> Any:
    """``dataclasses.replace`` with dotted keys (``replace(cfg, **{"fit.lr": 0.1})``) and validation.

    A field inside an optional section that is None (``opt: Fit | None = None``) first creates the section
    from its defaults, then sets the field.

    Raises:
      ConfigError: naming the full dotted field, the value and what is allowed.

    Example:
      >>> import dataclasses
      >>> from cogsim import config
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     n_trials: int = config.field(100, low=1)
      >>> config.replace(C(), n_trials=20)
      C(n_trials=20)
      >>> config.replace(C(), n_trials=0)
      Traceback (most recent call last):
      ...
      cogsim.errors.ConfigError: ...n_trials...
    """
    nested: dict[str, dict[str, Any]] = {}
    flat = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            flat[key] = value
    names = {f.name for f in dataclasses.fields(cfg)}
    for key in list(flat) + list(nested):
        if key not in names:
            raise ConfigError(
                _path + key, changes.get(key), f"a field of {type(cfg).__name__}: {', '.join(sorted(names))}"
            )
    hints = _hints(type(cfg))
    for head, sub in nested.items():
        section = getattr(cfg, head)
        _, tp = _is_optional(hints[head])
        first = f"{_path}{head}.{next(iter(sub))}"
        if not dataclasses.is_dataclass(tp):
            raise ConfigError(
                first, sub[next(iter(sub))], f"{head} is a leaf field ({_type_name(tp)}), not a section"
            )
        if section is None:
            section = _default_section(tp, first, sub[next(iter(sub))])
        flat[head] = replace(section, _path=f"{_path}{head}.", **sub)
    return validate(dataclasses.replace(cfg, **flat), _path=_path.removesuffix("."))


def _default_section(tp: type, path: str, value: Any) -> Any:
    """A section of type ``tp`` from its defaults, for setting a field inside an unset optional section."""
    try:
        return tp()
    except TypeError:
        raise ConfigError(
            path, value, f"a field of a section that is set: {tp.__name__} has fields without defaults"
        ) from None


def replace_from_strings(cfg: Any, overrides: Iterable[str]) -> Any:
    """Applies ``["a.b=3", "name=x"]`` overrides, each parsed to its field's type, then validates.

    When a field is given more than once, the last value wins (earlier ones are not checked).

    Example:
      >>> import dataclasses
      >>> from cogsim import config
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     lapse: float = config.field(0.1, low=0, high=1)
      >>> config.replace_from_strings(C(), ["lapse=0.25"]).lapse
      0.25
    """
    if isinstance(overrides, str):
        raise ConfigError("<overrides>", overrides, 'a list of "field=value" strings, not one string')
    texts: dict[str, str] = {}
    for item in overrides:
        if not isinstance(item, str):
            raise ConfigError("<override>", item, "a string of the form field=value (e.g. n_trials=100)")
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(item, item, "an override of the form field=value (e.g. n_trials=100)")
        texts.pop(key, None)
        texts[key] = text  # the last override of a field wins
    changes: dict[str, Any] = {}
    for key, text in texts.items():
        f, tp = _lookup_field(cfg, key, text)
        value = parse_value(text, tp, path=key)
        _check_field(key, _check_type(key, value, tp), f, tp)
        changes[key] = value
    return replace(cfg, **changes)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict (tuples become lists).

    Example:
      >>> import dataclasses
      >>> from cogsim import config
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     sizes: tuple[int, ...] = (2, 4)
      ...     lapse: float = 0.05
      >>> config.to_dict(C())
      {'sizes': [2, 4], 'lapse': 0.05}
    """
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def from_dict(cls: type, data: Mapping[str, Any], *, _path: str = "") -> Any:
    """Builds and validates ``cls`` from a (possibly nested) dict; unknown keys are errors.

    Example:
      >>> import dataclasses
      >>> from cogsim import config
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     sizes: tuple[int, ...] = (2, 4)
      ...     lapse: float = 0.05
      >>> config.from_dict(C, {"sizes": [2, 4, 8]})
      C(sizes=(2, 4, 8), lapse=0.05)
    """
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        path = f"{_path}.{key}" if _path else key
        if key not in names:
            raise ConfigError(path, value, f"a field of {cls.__name__}: {', '.join(sorted(names))}")
        _, tp = _is_optional(hints[key])
        if dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
            value = from_dict(tp, value, _path=path)
        kwargs[key] = value
    return validate(cls(**kwargs), _path=_path)


def to_json(cfg: Any) -> str:
    """Serialises a config to JSON.

    Example:
      >>> import dataclasses
      >>> from cogsim import config
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     lapse: float = 0.05
      ...     sizes: tuple[int, ...] = (2, 4)
      >>> print(config.to_json(C()))
      {
        "lapse": 0.05,
        "sizes": [
          2,
          4
        ]
      }
    """
    return json.dumps(to_dict(cfg), indent=2, sort_keys=True)


def from_json(cls: type, text: str) -> Any:
    """Parses JSON written by :func:`to_json` back into a validated ``cls``.

    Example:
      >>> import dataclasses
      >>> from cogsim import config
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     lapse: float = 0.05
      ...     sizes: tuple[int, ...] = (2, 4)
      >>> config.from_json(C, config.to_json(C(sizes=(3,)))) == C(sizes=(3,))
      True
    """
    return from_dict(cls, json.loads(text))


def describe(cls_or_cfg: Any) -> list[tuple[str, str, Any, str]]:
    """``(dotted name, type, default/current value, doc)`` for every leaf field, for help texts.

    The fields of an optional section that is None are described with their class defaults and the note
    that setting one creates the section.

    Example:
      >>> import dataclasses
      >>> from cogsim import config
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     lapse: float = config.field(0.05, low=0.0, high=1.0, doc="guess rate")
      >>> config.describe(C)
      [('lapse', 'float', 0.05, 'guess rate; in [0.0, 1.0]')]
    """
    cfg = cls_or_cfg if not isinstance(cls_or_cfg, type) else cls_or_cfg()
    rows = []
    for name in field_names(cfg):
        f, tp = _lookup_field(cfg, name)
        value, unset = cfg, None
        parts = name.split(".")
        for i, part in enumerate(parts):
            if value is None:  # an unset optional section: the class default of the field
                unset = unset or ".".join(parts[:i])
                value = f.default_factory() if f.default_factory is not _MISSING else f.default
                value = None if value is _MISSING else value
                break
            value = getattr(value, part)
        meta = f.metadata
        doc = meta.get("doc", "")
        extra = (
            [f"section {unset} is unset (None); setting this field creates it from defaults"] if unset else []
        )
        if meta.get("choices") is not None:
            extra.append(f"one of {list(meta['choices'])}")
        if meta.get("low") is not None or meta.get("high") is not None:
            lo, hi = meta.get("low"), meta.get("high")
            if hi is None and _is_optional(tp)[1] is int:
                hi = INT_LIMIT
            extra.append(f"in [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]")
        rows.append((name, _type_name(tp), value, "; ".join([d for d in [doc, *extra] if d])))
    return rows
