"""What the attention kernels, their references and :mod:`cogsim.attention` share: the mask value, the input
checks and the block-size rules. Depends on jax and :mod:`cogsim.errors` only.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from cogsim.errors import CogsimError

# A large finite negative number (not -inf) so that fully masked rows stay NaN-free.
MASK_VALUE = -0.7 * float(jnp.finfo(jnp.float32).max)
# The kernels keep scores in base 2 and clamp them at MASK_VALUE, so a natural-log score (scale * q.k + bias)
# at or below this (about -1.65e38) counts as masked, in the kernels and in the references alike.
MASKED_SCORE = MASK_VALUE * math.log(2.0)

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
      kernel: the Pallas kernels' stricter rules too: supported dtypes, ``head_dim <= 256``, ``k_len >= 1``.
        Bias and mask may be 1 on any axis (they broadcast to ``[batch, heads, q_len, k_len]``) either way.
    """
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not hasattr(x, "ndim") or not hasattr(x, "dtype"):
            raise CogsimError(
                f"{where}: {name} of type {type(x).__name__} is not an array; allowed: a jax or NumPy array"
            )
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
    if kernel and q.shape[3] == 0:
        raise CogsimError(f"{where}: head_dim is 0 (q shape {q.shape}); allowed: head_dim >= 1")
    if kernel and k.shape[1] == 0:
        raise CogsimError(f"{where}: k and v have k_len 0 (shape {k.shape}); at least one key is needed")
    want = (q.shape[0], q.shape[2], q.shape[1], k.shape[1])
    for name, x in (("bias", bias), ("mask", mask)):
        if x is None:
            continue
        if not hasattr(x, "ndim") or not hasattr(x, "dtype"):
            raise CogsimError(
                f"{where}: {name} of type {type(x).__name__} is not an array; allowed: a jax or NumPy array"
            )
        if x.ndim != 4:
            raise CogsimError(
                f"{where}: {name} must be [batch|1, heads|1, q_len|1, k_len|1]; got shape {x.shape}"
            )
        for axis, (got, full) in enumerate(zip(x.shape, want, strict=True)):
            if got != full and got != 1:
                raise CogsimError(
                    f"{where}: {name} shape {x.shape} does not broadcast to {want} (axis {axis}); "
                    "each axis must match or be 1"
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


def as_array(where: str, name: str, x):
    """``x`` as a jax array (array-likes such as nested lists are accepted, as in jax.nn); None stays None."""
    if x is None or isinstance(x, jax.Array):
        return x
    try:
        return jnp.asarray(x)
    except (TypeError, ValueError) as err:
        raise CogsimError(
            f"{where}: {name} of type {type(x).__name__} is not an array; allowed: a jax or NumPy array "
            "(or a nested list of numbers)"
        ) from err


def as_arrays(where: str, *arrays) -> tuple:
    """``(q, k, v, bias, mask)`` through :func:`as_array`."""
    return tuple(as_array(where, n, x) for n, x in zip(("q", "k", "v", "bias", "mask"), arrays, strict=True))


def check_flag(where: str, name: str, value) -> None:
    """Flags are Python or NumPy bools (``1`` or ``"yes"`` are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise CogsimError(f"{where}: {name}={value!r} is not allowed; use True or False")


def is_traced(x) -> bool:
    """Whether ``x`` is an abstract value (under ``jit``, ``grad`` or ``vmap``) whose value cannot be read."""
    return isinstance(x, jax.core.Tracer)


def check_scale(where: str, scale, *, kernel: bool):
    """``scale`` checked: None, a finite number >= 0 or a scalar array; returns it (a float for kernels).

    Args:
      where: the function named in the message.
      scale: the score scale given.
      kernel: the Pallas kernels need its value (a Python float, static in the kernel), so a traced scale
        is refused; the XLA path takes a traced scalar as it is.
    """
    if scale is None:
        return None
    if isinstance(scale, (jax.Array, np.ndarray)) and not isinstance(scale, np.bool_):
        if scale.ndim != 0:
            raise CogsimError(f"{where}: scale has shape {scale.shape}; allowed: a scalar")
        if is_traced(scale):
            if kernel:
                raise CogsimError(
                    f"{where}: scale is a traced value (under jit, grad or vmap); the kernel needs a "
                    "concrete number: pass a Python float, or use cogsim.attention with "
                    "implementation='xla' (or None, which picks 'xla' for a traced scale)"
                )
            return scale
        if not (jnp.issubdtype(scale.dtype, jnp.floating) or jnp.issubdtype(scale.dtype, jnp.integer)):
            raise CogsimError(f"{where}: scale has dtype {scale.dtype}; allowed: a real number")
        value = float(scale)
    elif isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
        value = None
    else:
        value = float(scale)
    if value is None or not math.isfinite(value) or value < 0:
        raise CogsimError(
            f"{where}: scale={scale!r} is not allowed; use None (1/sqrt(head_dim)), a finite number >= 0 "
            "or a scalar jax array"
        )
    return value if kernel else scale


def check_runs_here(where: str, interpret, *arrays) -> None:
    """A compiled kernel called eagerly off the GPU: a clear error instead of Pallas' "Only interpret mode".

    Calls with a traced input are not refused here: they may be lowered for a GPU from a CPU-only host (the
    compile checks do, with constants closed over).
    """
    check_flag(where, "interpret", interpret)
    if interpret or jax.default_backend() == "gpu" or any(is_traced(x) for x in arrays):
        return
    raise CogsimError(
        f"{where}: the compiled kernel needs a GPU (backend is {jax.default_backend()!r}); pass "
        "interpret=True to run it in Pallas interpret mode, or call cogsim.attention.dot_product_attention "
        "(or topk_attention), which picks the path for the device"
    )


def check_kernel_call(where: str, q, k, v, bias, mask, *, scale, interpret, **flags) -> tuple:
    """The checks every public kernel function makes first (arrays, shapes, dtypes, flags, ``scale``,
    interpret off the GPU); returns ``(q, k, v, bias, mask, scale)`` with ``scale`` a float or None."""
    q, k, v, bias, mask = as_arrays(where, q, k, v, bias, mask)
    check_inputs(q, k, v, bias, mask, where=where, kernel=True)
    for name, value in flags.items():
        check_flag(where, name, value)
    scale = check_scale(where, scale, kernel=True)
    check_runs_here(where, interpret, q, k, v)
    return q, k, v, bias, mask, scale


def full_rows(x, nq: int, nk: int):
    """A bias or mask broadcast to full ``q_len`` and ``k_len`` (batch and heads may stay 1: the kernels'
    BlockSpecs broadcast those); autodiff sums a broadcast bias's gradient back to its shape."""
    if x is None or x.shape[2:] == (nq, nk):
        return x
    return jnp.broadcast_to(x, x.shape[:2] + (nq, nk))


def mask_int8(mask):
    """A bool or integer mask as the kernels' int8 (any nonzero value attends; ``256`` is not 0)."""
    return None if mask is None else (mask != 0).astype(jnp.int8)


def idiv(a, b: int):
    """``a // b`` for non-negative int32 block arithmetic; int32 on both sides also under ``jax_enable_x64``
    (where a Python ``b`` would become int64 and ``lax.div`` refuse the mix)."""
    return jax.lax.div(jnp.asarray(a).astype(jnp.int32), jnp.int32(b))


def empty_attention(q, return_stats: bool):
    """The result of an attention call with no query rows (``batch``, ``q_len`` or ``heads`` 0)."""
    out = jnp.zeros(q.shape, q.dtype)
    if not return_stats:
        return out
    rows = jnp.zeros((q.shape[0], q.shape[2], q.shape[1]), jnp.float32)
    return out, rows, rows
