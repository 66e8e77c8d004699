"""Float32 on a GPU: the declared TF32 error bounds, and the reference made exact there.

Two things round float32 dots on an NVIDIA GPU (sm_80 and later) and not on the CPU:

- the kernels' default ``f32_precision="tf32"``: one TF32 tensor-core product per dot (interpret mode
  ignores ``f32_precision`` and computes exactly), and
- XLA's default float32 dot (``jax.lax.Precision.DEFAULT``), which the jnp references use: TF32 as well.

The compiled tests therefore run the references under ``jax.default_matmul_precision("highest")``
(:func:`exact_on_gpu`) and the kernels' exactness checks at ``f32_precision="ieee"``, so that the float32
bounds test the kernels' logic as they do interpreted; the TF32 modes get their own bounds, declared here
from TF32's arithmetic before any GPU run (not yet checked on a GPU).

TF32 keeps 10 explicit mantissa bits, float16's: unit roundoff ``u = 2**-11`` (about 4.9e-4). A ``"tf32"``
dot rounds both operands to TF32 and accumulates in float32, so each product carries a relative error of
at most ``2u``; an output passes through two such dots (scores, then probabilities times values), a
gradient through up to four. The bounds are float16's, which has the same mantissa, relative to the largest
reference magnitude (at least 1), as the float32 ones: forward ``8u = 2**-8`` (about 3.9e-3, four times two
dots' ``2u``), gradients ``20u`` (about 9.8e-3, the float32 bounds' ratio of 2.5 between gradients and
forward). ``"tf32x3"`` splits each operand into a TF32 high and low part and adds three products, dropping
only ``lo * lo`` and the low parts' rounding: about ``3 u**2`` (7e-7) per product, within the float32
bounds (2e-5 forward, 5e-5 gradients), which it keeps.

For the top-k selection a TF32 score ``s~`` of query ``q`` and key ``k`` is within
``(2u + u**2) * scale * sum_i |q_i k_i|`` of the exact score (plus float32 accumulation,
``head_dim * 2**-24`` of the same sum), so a key may be ranked above another only if their exact scores
differ by less than the two keys' bounds together (:func:`tf32_score_error`).
"""

from __future__ import annotations

import contextlib
import functools

import jax
import numpy as np

U_TF32 = 2.0**-11  # TF32 unit roundoff: 10 explicit mantissa bits, as float16
TF32_TOL = 8 * U_TF32  # forward outputs (out, logsumexp, entropy), relative to max(1, max |reference|)
TF32_GRAD_TOL = 20 * U_TF32  # gradients, same scale


def exact_on_gpu(fn, *, on: bool):
    """``fn`` run under ``jax.default_matmul_precision("highest")`` when ``on`` (compiled runs on a GPU,
    where XLA's default float32 dot is TF32); ``fn`` itself otherwise, so CPU runs are unchanged.

    The precision is fixed when the dots are traced, so it holds under ``jit`` and for the dots of the
    gradient too.

    Example:
      >>> import jax.numpy as jnp
      >>> f = exact_on_gpu(jnp.matmul, on=True)
      >>> "HIGHEST" in jax.jit(f).lower(jnp.ones((2, 2)), jnp.ones((2, 2))).as_text()
      True
    """
    if not on:
        return fn

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with jax.default_matmul_precision("highest"):
            return fn(*args, **kwargs)

    return run


def highest_precision_context(on: bool):
    """``jax.default_matmul_precision("highest")`` when ``on``, else a context that changes nothing."""
    return jax.default_matmul_precision("highest") if on else contextlib.nullcontext()


def tf32_score_error(q, k, scale: float, precision: str = "tf32") -> np.ndarray:
    """Bound on ``|kernel score - exact score|`` per ``[batch, heads, q_len, k_len]`` (as many k as q heads).

    ``"tf32"``: ``(2u + u**2 + head_dim * 2**-24) * scale * sum_i |q_i k_i|``; ``"tf32x3"``: the same with
    ``3 u**2 + (head_dim + 3) * 2**-24`` (the dropped ``lo * lo`` product and the low parts' rounding, then
    the three products' float32 sums).

    Args:
      q: queries ``[batch, q_len, heads, head_dim]``.
      k: keys ``[batch, k_len, heads, head_dim]``.
      scale: the score scale.
      precision: ``"tf32"`` or ``"tf32x3"``.

    Example:
      >>> e = tf32_score_error(np.ones((1, 1, 1, 4)), np.ones((1, 2, 1, 4)), 0.5)
      >>> e.shape, bool(np.allclose(e, (2 * U_TF32 + U_TF32**2 + 4 * 2.0**-24) * 2.0))
      ((1, 1, 1, 2), True)
    """
    q = np.abs(np.asarray(q, np.float64))
    k = np.abs(np.asarray(k, np.float64))
    d = q.shape[-1]
    factor = {
        "tf32": 2 * U_TF32 + U_TF32**2 + d * 2.0**-24,
        "tf32x3": 3 * U_TF32**2 + (d + 3) * 2.0**-24,
    }[precision]
    return factor * np.einsum("bqhd,bkhd->bhqk", q, k) * abs(scale)
