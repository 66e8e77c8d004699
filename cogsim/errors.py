"""The one exception type users see for bad input: the CLI turns it into one line and exit code 2."""

from __future__ import annotations


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
