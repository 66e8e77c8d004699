"""What the attention kernels, their references and :mod:`cogsim.attention` share: the mask value, the input
checks and the block-size rules. Depends on jax and :mod:`cogsim.errors` only.
"""

from __future__ import annotations

import jax.numpy as jnp

from cogsim.errors import CogsimError

# A large finite negative number (not -inf) so that fully masked rows stay NaN-free.
MASK_VALUE = -0.7 * float(jnp.finfo(jnp.float32).max)

SUPPORTED_DTYPES = (jnp.float32, jnp.bfloat16, jnp.float16)
MAX_HEAD_DIM = 256
MIN_BLOCK = 16  # Triton's dot needs every operand dimension >= 16
MAX_BLOCK = 256
F32_PRECISIONS = ("tf32", "tf32x3", "ieee")


def check_inputs(q, k, v, bias, mask, *, where: str, kernel: bool) -> None:
    """Raises :class:`CogsimError` (one line naming the argument) when shapes or dtypes do not fit.

    Args:
      q, k, v, bias, mask: the arguments of an attention call (``bias``/``mask`` may be None).
      where: the function named in the message.
      kernel: the Pallas kernels' stricter rules too: supported dtypes, ``head_dim <= 256``, non-empty
        lengths, bias/mask with full ``q_len`` and ``k_len`` (the reference also broadcasts those).
    """
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.ndim != 4:
            raise CogsimError(f"{where}: {name} must be [batch, seq, heads, head_dim]; got shape {x.shape}")
        if kernel and x.dtype not in SUPPORTED_DTYPES:
            raise CogsimError(f"{where}: {name} has dtype {x.dtype}; allowed: float32, bfloat16, float16")
    if kernel and not (q.dtype == k.dtype == v.dtype):
        raise CogsimError(f"{where}: q, k and v must share a dtype; got {q.dtype}, {k.dtype}, {v.dtype}")
    if k.shape != v.shape:
        raise CogsimError(f"{where}: k and v must have the same shape; got {k.shape} and {v.shape}")
    if q.shape[0] != k.shape[0] or q.shape[3] != k.shape[3]:
        raise CogsimError(f"{where}: q {q.shape} and k {k.shape} must agree in batch and head_dim")
    if k.shape[2] == 0 or q.shape[2] % k.shape[2]:
        raise CogsimError(f"{where}: q heads ({q.shape[2]}) must be a multiple of k/v heads ({k.shape[2]})")
    if kernel and q.shape[3] > MAX_HEAD_DIM:
        raise CogsimError(
            f"{where}: head_dim={q.shape[3]} is not allowed; the kernel supports head_dim <= {MAX_HEAD_DIM}"
        )
    if kernel and (q.shape[1] == 0 or k.shape[1] == 0):
        raise CogsimError(f"{where}: q_len and k_len must be >= 1; got {q.shape[1]}, {k.shape[1]}")
    want = (q.shape[0], q.shape[2], q.shape[1], k.shape[1])
    for name, x in (("bias", bias), ("mask", mask)):
        if x is None:
            continue
        if x.ndim != 4:
            raise CogsimError(
                f"{where}: {name} must be [batch|1, heads|1, q_len, k_len]; got shape {x.shape}"
            )
        for axis, (got, full) in enumerate(zip(x.shape, want, strict=True)):
            if got != full and not (got == 1 and (axis < 2 or not kernel)):
                rule = "; batch and heads may be 1, q_len and k_len must match" if kernel else ""
                raise CogsimError(
                    f"{where}: {name} shape {x.shape} does not broadcast to {want} (axis {axis}){rule}"
                )
    if kernel and bias is not None and not jnp.issubdtype(bias.dtype, jnp.floating):
        raise CogsimError(f"{where}: bias must be a float array; got dtype {bias.dtype}")
    if (
        kernel
        and mask is not None
        and not (mask.dtype == jnp.bool_ or jnp.issubdtype(mask.dtype, jnp.integer))
    ):
        raise CogsimError(f"{where}: mask must be a boolean array; got dtype {mask.dtype}")


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def check_block(where: str, name: str, value: int | None) -> None:
    """Block sizes are powers of two in [MIN_BLOCK, MAX_BLOCK] (Triton); checked in interpret mode too."""
    if value is None:
        return
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < MIN_BLOCK
        or value > MAX_BLOCK
        or value & (value - 1)
    ):
        raise CogsimError(
            f"{where}: {name}={value!r} is not allowed; block sizes must be powers of two "
            f"between {MIN_BLOCK} and {MAX_BLOCK} (Triton requires power-of-two tiles, and the check is "
            "applied in interpret mode too)"
        )


def fit_block(block: int, length: int) -> int:
    """Shrinks a default block to the (power-of-two rounded) length, never below MIN_BLOCK."""
    return max(MIN_BLOCK, min(block, next_pow2(length)))


def check_f32_precision(where: str, value: str) -> None:
    if value not in F32_PRECISIONS:
        raise CogsimError(f"{where}: f32_precision={value!r} is not allowed; choose one of {F32_PRECISIONS}")
