"""Timing shared by the benchmarks (imported as a sibling module: each script puts its folder on the path)."""

from __future__ import annotations

import time

import jax


def fastest(fn, *args, repeats: int = 3) -> float:
    """Seconds per call: the fastest of ``repeats`` timed calls after a warm-up call (on a shared machine the
    fastest call is the one least disturbed by other work)."""
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t)
    return best
