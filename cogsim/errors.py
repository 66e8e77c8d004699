"""The one exception type users see for bad input: the CLI turns it into one line and exit code 2."""

from __future__ import annotations

import numbers
from typing import Any


class CogsimError(ValueError):
    """Bad input or state, with a message naming the field, the value and what is allowed.

    A ValueError, so code that catches ValueError keeps working; the command line prints its message in one
    line and exits 2.

    Example:
      >>> try:
      ...     check_count("fit", "n_starts", 0)
      ... except ValueError as err:
      ...     print(type(err).__name__, "-", err)
      CogsimError - fit: got n_starts=0; allowed: an integer >= 1
    """


class ConfigError(CogsimError):
    """A configuration field is unknown, of the wrong type, or out of range.

    Example:
      >>> err = ConfigError("n_trials", -3, "an integer >= 1")
      >>> print(err)
      config field 'n_trials': got -3; allowed: an integer >= 1
      >>> err.field, err.value
      ('n_trials', -3)
    """

    def __init__(self, field: str, value: object, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"config field {field!r}: got {value!r}; allowed: {allowed}")


class DataError(CogsimError):
    """A data file is missing or malformed; the message names the file, row and column.

    Example:
      >>> import os, tempfile
      >>> from cogsim.data import read_table
      >>> path = os.path.join(tempfile.mkdtemp(), "trials.csv")
      >>> with open(path, "w") as f:
      ...     _ = f.write("sub,rt\\n1,fast\\n")
      >>> try:
      ...     read_table(path, {"sub": "id", "rt": "float"})
      ... except DataError as err:
      ...     print(err)
      /...trials.csv: row 2, column 'rt': value 'fast' is not a valid float
    """


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


def check_count(
    where: str, name: str, value: object, *, low: int = 1, high: int | None = None, detail: str = ""
) -> int:
    """``value`` as a plain int when it is a whole number from ``low`` to ``high`` (no upper limit for None),
    else a CogsimError ``"<where>: got <name>=<value>; allowed: an integer >= <low><detail>"`` (or ``"an
    integer from <low> to <high>"``). The one check of count-like arguments (sizes, resamples, starts,
    ``top_k``): Python and NumPy integers are accepted; bools (NumPy's too) and floats, even ``3.0``, refused.

    Args:
      where: the function (or command) named first in the message.
      name: the argument.
      value: what was passed.
      low: the smallest allowed value.
      high: the largest allowed value, or None for no upper limit.
      detail: appended to the message, e.g. ``" (k_len=8)"`` for why the limits are what they are.

    Example:
      >>> import numpy as np
      >>> check_count("make_world", "n_vars", np.int64(12))
      12
      >>> check_count("make_world", "seed", -1, low=0)
      Traceback (most recent call last):
      ...
      cogsim.errors.CogsimError: make_world: got seed=-1; allowed: an integer >= 0
      >>> check_count("topk_attention", "top_k", True, high=8, detail=" (k_len=8)")
      Traceback (most recent call last):
      ...
      cogsim.errors.CogsimError: topk_attention: got top_k=True; allowed: an integer from 1 to 8 (k_len=8)
    """
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        allowed = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
        raise CogsimError(f"{where}: got {name}={value!r}; allowed: {allowed}{detail}")
    return int(value)
