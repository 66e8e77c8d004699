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
