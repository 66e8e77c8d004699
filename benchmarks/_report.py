"""Writing a benchmark's result (imported as a sibling module: each script puts its folder on the path)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine(**extra) -> dict:
    """The machine a result was measured on: Python version, CPU count, 1-minute load at the call, and
    ``extra``."""
    load = os.getloadavg()[0]
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "load_1min": load, **extra}


def emit(result: dict, out: str | None) -> None:
    """Prints ``result`` as JSON and writes it to ``out`` when given."""
    text = json.dumps(result, indent=1)
    print(text)
    if out:
        Path(out).write_text(text + "\n")
