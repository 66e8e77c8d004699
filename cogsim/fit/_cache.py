"""Compiled programs cached per model: a call through an ``functools.lru_cache`` that falls back to the
uncached function when an argument (a user's model, a prior) cannot be hashed."""

from __future__ import annotations


def cached(fn, *args):
    """``fn(*args)`` through its ``lru_cache``, or ``fn.__wrapped__(*args)`` where an argument is unhashable.

    Example:
      >>> import functools
      >>> @functools.lru_cache
      ... def double(x):
      ...     return 2 * len(x)
      >>> cached(double, (1, 2)), cached(double, [1, 2])  # a list cannot be a cache key
      (4, 4)
    """
    try:
        return fn(*args)
    except TypeError:  # an unhashable argument: no cache
        return fn.__wrapped__(*args)
