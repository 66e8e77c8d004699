"""Scaled dot-product attention: the one attention entry point of every cogsim model.

Models call :func:`dot_product_attention` instead of writing their own softmax, so the Pallas kernels
(``implementation="pallas"`` / ``"interpret"``), the probes in :mod:`cogsim.probes` and analyses of
attention statistics see every head.

Shapes follow :func:`jax.nn.dot_product_attention`: ``[batch, seq, heads, head_dim]``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from cogsim.errors import CogsimError

IMPLEMENTATIONS = (None, "xla", "pallas", "interpret")

# A large finite negative number (not -inf) so that fully masked rows stay NaN-free.
MASK_VALUE = -0.7 * float(jnp.finfo(jnp.float32).max)


class AttentionStats(NamedTuple):
    """Per-query statistics of the attention distribution.

    Attributes:
      logsumexp: natural-log normaliser of the scaled, biased scores, ``[batch, heads, q_len]``.
        Rows whose keys are all masked hold ``-inf``.
      entropy: Shannon entropy (nats) of each query's attention distribution, ``[batch, heads, q_len]``;
        0 for fully masked rows.
      probs: the full attention matrix ``[batch, heads, q_len, k_len]``, only when requested.
    """

    logsumexp: jax.Array
    entropy: jax.Array
    probs: jax.Array | None = None


# Probe hooks: callables ``hook(name, probs, out) -> out`` run at trace time by named attention calls.
_HOOKS: list[Callable[[str, jax.Array, jax.Array], jax.Array]] = []


@contextlib.contextmanager
def attention_hook(hook: Callable[[str, jax.Array, jax.Array], jax.Array]) -> Iterator[None]:
    """Installs ``hook`` for every *named* attention call inside the context.

    The hook receives the call's ``name``, its probabilities ``[batch, heads, q, k]`` and its output
    ``[batch, q, heads, head_dim]`` and returns the (possibly modified) output. It runs at trace time, so a
    hook that stores arrays must return them from the traced function (see :mod:`cogsim.probes`).
    """
    _HOOKS.append(hook)
    try:
        yield
    finally:
        _HOOKS.remove(hook)


def _check_inputs(q: jax.Array, k: jax.Array, v: jax.Array, bias, mask) -> None:
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.ndim != 4:
            raise CogsimError(f"attention: {name} must be [batch, seq, heads, head_dim]; got shape {x.shape}")
    if k.shape != v.shape:
        raise CogsimError(f"attention: k and v must have the same shape; got {k.shape} and {v.shape}")
    if q.shape[0] != k.shape[0] or q.shape[3] != k.shape[3]:
        raise CogsimError(f"attention: q {q.shape} and k {k.shape} must agree in batch and head_dim")
    if q.shape[2] % k.shape[2]:
        raise CogsimError(f"attention: q heads ({q.shape[2]}) must be a multiple of k/v heads ({k.shape[2]})")
    for name, x in (("bias", bias), ("mask", mask)):
        if x is None:
            continue
        if x.ndim != 4:
            raise CogsimError(
                f"attention: {name} must be [batch|1, heads|1, q_len, k_len]; got shape {x.shape}"
            )
        want = (q.shape[0], q.shape[2], q.shape[1], k.shape[1])
        for axis, (got, full) in enumerate(zip(x.shape, want, strict=True)):
            if got not in (1, full):
                raise CogsimError(
                    f"attention: {name} shape {x.shape} does not broadcast to {want} (axis {axis})"
                )


def reference_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    *,
    bias: jax.Array | None = None,
    mask: jax.Array | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Plain-jnp attention; returns ``(out, probs, logsumexp, entropy)`` in float32 internally."""
    b, nq, hq, d = q.shape
    nk, hk = k.shape[1], k.shape[2]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    if hk != hq:  # grouped-query attention: repeat k/v heads
        k = jnp.repeat(k, hq // hk, axis=2)
        v = jnp.repeat(v, hq // hk, axis=2)
    s = jnp.einsum("bqhd,bkhd->bhqk", q.astype(jnp.float32), k.astype(jnp.float32)) * scale
    if bias is not None:
        s = s + bias.astype(jnp.float32)
    valid = jnp.ones((1, 1, nq, nk), dtype=bool)
    if mask is not None:
        valid = valid & mask.astype(bool)
    if is_causal:
        # Bottom-right aligned when nq != nk (as in FlashAttention-2; jax.nn aligns top-left).
        qi = jnp.arange(nq)[:, None] + (nk - nq)
        kj = jnp.arange(nk)[None, :]
        valid = valid & (kj <= qi)[None, None]
    s = jnp.where(valid, s, MASK_VALUE)
    m = jnp.max(s, axis=-1, keepdims=True)
    e = jnp.where(valid, jnp.exp(s - m), 0.0)
    denom = jnp.sum(e, axis=-1, keepdims=True)
    any_valid = denom > 0
    p = jnp.where(any_valid, e / jnp.where(any_valid, denom, 1.0), 0.0)
    lse = jnp.where(any_valid, m + jnp.log(jnp.where(any_valid, denom, 1.0)), -jnp.inf)[..., 0]
    logp = jnp.where(p > 0, jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)
    entropy = -jnp.sum(p * logp, axis=-1)
    out = jnp.einsum("bhqk,bkhd->bqhd", p.astype(v.dtype), v, preferred_element_type=jnp.float32)
    return out.astype(q.dtype), p, lse, entropy


def _resolve(implementation: str | None) -> str:
    if implementation not in IMPLEMENTATIONS:
        raise CogsimError(
            f"attention: implementation={implementation!r} is not allowed; choose one of {IMPLEMENTATIONS}"
        )
    if implementation is None:
        return "pallas" if jax.default_backend() == "gpu" else "xla"
    if implementation == "pallas" and jax.default_backend() != "gpu":
        raise CogsimError(
            f"attention: implementation='pallas' needs a GPU (backend is {jax.default_backend()!r}); "
            "use 'interpret' to run the kernel on this device or 'xla' for the reference"
        )
    return implementation


def dot_product_attention(
    q: Float[Array, "batch q_len heads head_dim"],
    k: Float[Array, "batch k_len kv_heads head_dim"],
    v: Float[Array, "batch k_len kv_heads head_dim"],
    *,
    bias: Float[Array, "#batch #heads q_len k_len"] | None = None,
    mask: Bool[Array, "#batch #heads q_len k_len"] | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    implementation: str | None = None,
    return_stats: bool = False,
    return_probs: bool = False,
    name: str | None = None,
) -> Any:
    """Scaled dot-product attention with optional statistics.

    Args:
      q: queries ``[batch, q_len, heads, head_dim]``.
      k: keys ``[batch, k_len, kv_heads, head_dim]``; ``heads`` must be a multiple of ``kv_heads``.
      v: values, same shape as ``k``.
      bias: additive bias broadcastable to ``[batch, heads, q_len, k_len]``.
      mask: boolean mask (True = attend) broadcastable like ``bias``. Rows with no key return zeros.
      is_causal: causal masking, aligned to the bottom-right when ``q_len != k_len``.
      scale: score scale; defaults to ``1/sqrt(head_dim)``.
      implementation: ``None`` (Pallas on GPU, XLA elsewhere), ``"xla"``, ``"pallas"`` or ``"interpret"``.
      return_stats: also return :class:`AttentionStats` (logsumexp and entropy per query).
      return_probs: with ``return_stats``, include the full probability matrix (XLA path).
      name: a name under which :mod:`cogsim.probes` can capture, ablate or patch this call.

    Returns:
      ``out`` of shape ``[batch, q_len, heads, head_dim]``, or ``(out, stats)`` when ``return_stats``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from cogsim.attention import dot_product_attention
      >>> q = k = v = jnp.ones((1, 4, 2, 8))
      >>> out, stats = dot_product_attention(q, k, v, is_causal=True, return_stats=True)
      >>> out.shape, stats.entropy.shape
      ((1, 4, 2, 8), (1, 2, 4))
    """
    _check_inputs(q, k, v, bias, mask)
    impl = _resolve(implementation)
    hooked = name is not None and bool(_HOOKS)
    if impl == "xla" or hooked or return_probs:
        out, p, lse, ent = reference_attention(
            q, k, v, bias=bias, mask=mask, is_causal=is_causal, scale=scale
        )
        if hooked:
            for hook in list(_HOOKS):
                out = hook(name, p, out)
        stats = AttentionStats(lse, ent, p if return_probs else None)
    else:
        from cogsim import kernels  # deferred: Pallas import cost only when used

        res = kernels.flash_attention(
            q,
            k,
            v,
            bias=bias,
            mask=mask,
            is_causal=is_causal,
            scale=scale,
            return_stats=return_stats,
            interpret=impl == "interpret",
        )
        if not return_stats:
            return res
        out, lse, ent = res
        stats = AttentionStats(lse, ent, None)
    return (out, stats) if return_stats else out
