"""The random key the fitting functions take: one ``jax.random.key(seed)``, checked before anything runs."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from cogsim.errors import CogsimError


def check_key(key: Any, *, what: str) -> None:
    """Refuses anything but one JAX random key: a typed key (``jax.random.key(seed)``) of shape ``()``, or
    a raw ``jax.random.PRNGKey(seed)`` (two uint32 words).

    Raises:
      CogsimError: naming the function, the value given and what is allowed.

    Example:
      >>> check_key(jax.random.key(0), what="fit")
      >>> check_key(0, what="fit")
      Traceback (most recent call last):
      ...
      cogsim.errors.CogsimError: fit key: got 0 (int); allowed: one jax.random.key(seed), e.g. key=jax.random.key(0)
    """  # noqa: E501
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    is_key = dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    if is_key and shape == ():  # jax.random.key(seed)
        return
    if not is_key and dtype is not None and np.dtype(dtype) == np.uint32 and shape == (2,):  # PRNGKey(seed)
        return
    got = f"{key!r} ({type(key).__name__})" if shape is None else f"an array of shape {shape}, dtype {dtype}"
    raise CogsimError(f"{what} key: got {got}; allowed: one jax.random.key(seed), e.g. key=jax.random.key(0)")
