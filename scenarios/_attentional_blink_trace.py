"""The RSVP stream of attentional_blink in time: item onsets, and each item's sensory trace (on screen until
the next item masks it, then decaying)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def stream_onsets(n_items: int, soa_ms: float) -> np.ndarray:
    """Onset times (ms) of the items of a stream.

    Example:
      >>> stream_onsets(3, 90.0).tolist()
      [0.0, 90.0, 180.0]
    """
    return np.arange(n_items) * float(soa_ms)


def trace_strength(t: jax.Array, onsets: jax.Array, soa_ms: float, trace_ms: float) -> jax.Array:
    """Sensory trace of each item at time ``t``: 0 before onset, 1 until the next item masks it, then an
    exponential decay with time constant ``trace_ms``.

    Example:
      >>> s = trace_strength(jnp.float32(100.0), jnp.array([0.0, 90.0, 180.0]), 90.0, 30.0)
      >>> [round(float(x), 3) for x in s]
      [0.717, 1.0, 0.0]
    """
    since_mask = t - (onsets + soa_ms)
    return jnp.where(
        t < onsets, 0.0, jnp.where(since_mask < 0, 1.0, jnp.exp(-jnp.maximum(since_mask, 0.0) / trace_ms))
    )
