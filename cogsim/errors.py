"""The one exception type users see for bad input: the CLI turns it into one line and exit code 2."""

from __future__ import annotations

import numbers
from typing import Any


class CogsimError(ValueError):
    """Bad input or state, with a message naming the field, the value and what is allowed."""


class ConfigError(CogsimError):
    """A configuration field is unknown, of the wrong type, or out of range."""

    def __init__(self, field: str, value: object, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"config field {field!r}: got {value!r}; allowed: {allowed}")


class DataError(CogsimError):
    """A data file is missing or malformed; the message names the file, row and column."""


def did_you_mean(value: object, choices) -> str:
    """``" (did you mean 'x'?)"`` naming the choice closest to ``value`` (difflib), or ``""`` when none is
    close: for messages that refuse an unknown name.

    Example:
      >>> did_you_mean("iconic_memorx", ["iconic_memory", "change_detection"])
      " (did you mean 'iconic_memory'?)"
      >>> did_you_mean("zzz", ["iconic_memory"])
      ''
    """
    import difflib

    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_level(where: str, level: Any) -> Any:
    """``level`` itself when it is a number strictly between 0 and 1 (a CI's coverage, e.g. 0.95), else a
    CogsimError naming ``where``, the value and what is allowed.

    Example:
      >>> check_level("mean_ci", 0.9)
      0.9
    """
    if not isinstance(level, numbers.Real) or isinstance(level, bool) or not 0 < float(level) < 1:
        raise CogsimError(f"{where}: level={level!r} is not allowed; use a number in (0, 1), e.g. 0.95")
    return level


def check_count(where: str, name: str, value: object, *, low: int = 1) -> int:
    """``value`` as a plain int when it is a whole number >= ``low`` (numpy integers accepted; bools and
    floats refused), else a CogsimError naming ``where``, ``name``, the value and what is allowed.

    Example:
      >>> check_count("make_world", "n_vars", 12)
      12
      >>> check_count("make_world", "seed", -1, low=0)
      Traceback (most recent call last):
      ...
      cogsim.errors.CogsimError: make_world: seed=-1 is not allowed; use an integer >= 0
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise CogsimError(f"{where}: {name}={value!r} is not allowed; use an integer >= {low}")
    return int(value)


def check_n_boot(where: str, n_boot: object) -> int:
    """``n_boot`` (bootstrap resamples) as an int >= 1, else a CogsimError; numpy integers are accepted,
    bools and floats refused.

    Example:
      >>> check_n_boot("bootstrap_ci", 200)
      200
    """
    return check_count(where, "n_boot", n_boot)
