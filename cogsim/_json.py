"""Strict JSON: NaN and infinities (Python's or NumPy's, also inside lists and pairs) written as null."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_ready(x: Any) -> Any:
    """``x`` (nested dicts, lists and numbers) with every NaN or infinity, also NumPy's, as None: strict JSON.

    Example:
      >>> json_ready({"lr": float("inf"), "xs": [1.0, float("nan")], "n": 3})
      {'lr': None, 'xs': [1.0, None], 'n': 3}
    """
    if isinstance(x, dict):
        return {k: json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x
