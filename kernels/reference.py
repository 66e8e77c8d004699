"""Pure-``jnp`` references for the Pallas kernels: the definitions the kernels are tested against.

They build the full ``q_len x k_len`` score matrix, so they are simple and obviously right, and they are
what ``implementation="xla"`` runs.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from cogsim.errors import check_count
from cogsim.kernels._common import MASK_VALUE, MASKED_SCORE

__all__ = ["reference_attention", "reference_flash_attention", "reference_topk_attention"]


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
    """Plain-jnp attention; returns ``(out, probs, logsumexp, entropy)`` in float32 internally.

    As in the kernels: a score (``scale * q.k + bias``) at or below ``MASKED_SCORE`` (a ``-inf`` bias, say)
    counts as masked; rows with no visible key give zeros, logsumexp ``-inf``, entropy 0 and zero
    gradients; a NaN score is not a masked one, so NaN (or ``+inf``) inputs give NaN in the rows they reach.

    Example:
      >>> import jax.numpy as jnp
      >>> q = k = jnp.ones((1, 3, 1, 4))
      >>> v = jnp.arange(3.0).reshape(1, 3, 1, 1) * jnp.ones(4)
      >>> out, probs, lse, ent = reference_attention(q, k, v, is_causal=True)
      >>> out[0, :, 0, 0].tolist(), probs.shape  # the mean of the values up to each query
      ([0.0, 0.5, 1.0], (1, 1, 3, 3))
      >>> import numpy as np
      >>> np.exp(np.asarray(ent[0, 0], float)).round(3).tolist()  # exp(entropy): the keys attended to
      [1.0, 2.0, 3.0]
    """
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
    # Scores at or below the kernels' mask level (a -inf bias) are masked too; NaN is not (it propagates, as
    # in the kernels). Every masked score is the finite MASK_VALUE, so max, exp and gradients stay NaN-free.
    s = jnp.where(s <= MASKED_SCORE, MASK_VALUE, s)
    m = jnp.max(s, axis=-1, keepdims=True)
    e = jnp.where(valid, jnp.exp(s - m), 0.0)
    denom = jnp.sum(e, axis=-1, keepdims=True)
    any_valid = ~(m <= MASK_VALUE)  # some visible key (or NaN): a fully masked row's max is MASK_VALUE
    p = jnp.where(any_valid, e / jnp.where(any_valid, denom, 1.0), 0.0)
    lse = jnp.where(any_valid, m + jnp.log(jnp.where(any_valid, denom, 1.0)), -jnp.inf)[..., 0]
    logp = jnp.where(p > 0, jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)
    entropy = -jnp.sum(p * logp, axis=-1)
    out = jnp.einsum("bhqk,bkhd->bqhd", p.astype(v.dtype), v, preferred_element_type=jnp.float32)
    return out.astype(q.dtype), p, lse, entropy


def reference_flash_attention(
    q: Float[Array, "batch q_len heads head_dim"],
    k: Float[Array, "batch k_len kv_heads head_dim"],
    v: Float[Array, "batch k_len kv_heads head_dim"],
    *,
    bias: Float[Array, "#batch #heads q_len k_len"] | None = None,
    mask: Bool[Array, "#batch #heads q_len k_len"] | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    return_stats: bool = False,
):
    """Dense attention with the signature and conventions of :func:`cogsim.kernels.flash_attention`.

    Args:
      q: queries ``[batch, q_len, heads, head_dim]``.
      k: keys ``[batch, k_len, kv_heads, head_dim]``.
      v: values, same shape as ``k``.
      bias: additive bias broadcastable to ``[batch, heads, q_len, k_len]``.
      mask: boolean mask (True = attend), broadcastable like ``bias``.
      is_causal: causal masking, bottom-right aligned when ``q_len != k_len``.
      scale: score scale; defaults to ``1/sqrt(head_dim)``.
      return_stats: also return logsumexp and entropy ``[batch, heads, q_len]``.

    Returns:
      ``out``, or ``(out, lse, entropy)`` when ``return_stats``.

    Example:
      >>> import jax.numpy as jnp
      >>> from cogsim.kernels import reference_flash_attention
      >>> q = k = v = jnp.ones((1, 3, 1, 4))
      >>> out, lse, ent = reference_flash_attention(q, k, v, return_stats=True)
      >>> round(float(ent[0, 0, 0]), 4)  # uniform over 3 keys: log(3)
      1.0986
    """
    out, _, lse, ent = reference_attention(
        q, k, v, bias=bias, mask=None if mask is None else mask.astype(bool), is_causal=is_causal, scale=scale
    )
    return (out, lse, ent) if return_stats else out


def reference_topk_attention(
    q: Float[Array, "batch q_len heads head_dim"],
    k: Float[Array, "batch k_len kv_heads head_dim"],
    v: Float[Array, "batch k_len kv_heads head_dim"],
    *,
    top_k: int,
    bias: Float[Array, "#batch #heads q_len k_len"] | None = None,
    mask: Bool[Array, "#batch #heads q_len k_len"] | None = None,
    scale: float | None = None,
) -> tuple[Float[Array, "batch q_len heads head_dim"], Int[Array, "batch heads q_len top_k"]]:
    """Dense top-k attention: each query attends, with a softmax, only to its ``top_k`` best keys.

    Keys are ranked by the scaled, biased score; ties go to the lower key index; masked keys (and keys
    whose bias is ``-inf``) are never selected. Slots left when fewer than ``top_k`` keys are visible hold
    index ``-1`` and weight 0; a query with no visible key returns zeros.

    Args:
      q: queries ``[batch, q_len, heads, head_dim]``.
      k: keys ``[batch, k_len, kv_heads, head_dim]``.
      v: values, same shape as ``k``.
      top_k: number of keys each query keeps, ``1 <= top_k <= k_len`` (a Python or NumPy integer).
      bias: additive bias broadcastable to ``[batch, heads, q_len, k_len]``.
      mask: boolean mask (True = may be selected), broadcastable like ``bias``.
      scale: score scale; defaults to ``1/sqrt(head_dim)``.

    Returns:
      ``(out, indices)``: ``out`` ``[batch, q_len, heads, head_dim]`` and the selected key indices
      ``[batch, heads, q_len, top_k]`` in descending score order.

    Example:
      >>> import jax.numpy as jnp
      >>> from cogsim.kernels import reference_topk_attention
      >>> q = jnp.ones((1, 1, 1, 2)); k = jnp.array([[[[0., 0.]], [[1., 1.]], [[2., 2.]]]])
      >>> out, idx = reference_topk_attention(q, k, k, top_k=2)
      >>> idx.tolist()
      [[[[2, 1]]]]
    """
    b, nq, hq, d = q.shape
    nk, hk = k.shape[1], k.shape[2]
    top_k = check_count("topk_attention", "top_k", top_k, high=nk)
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    if hk != hq:
        k = jnp.repeat(k, hq // hk, axis=2)
        v = jnp.repeat(v, hq // hk, axis=2)
    s = jnp.einsum("bqhd,bkhd->bhqk", q.astype(jnp.float32), k.astype(jnp.float32)) * scale
    if bias is not None:
        s = s + bias.astype(jnp.float32)
    valid = s > -jnp.inf
    if mask is not None:
        valid = valid & mask.astype(bool)
    s = jnp.where(valid, s, -jnp.inf)
    vals, idx = jax.lax.top_k(s, top_k)  # stable: equal scores keep the lower index first
    chosen = vals > -jnp.inf
    m = jnp.max(jnp.where(chosen, vals, 0.0), axis=-1, keepdims=True)
    e = jnp.where(chosen, jnp.exp(jnp.where(chosen, vals, 0.0) - m), 0.0)
    denom = jnp.sum(e, axis=-1, keepdims=True)
    p = e / jnp.where(denom > 0, denom, 1.0)
    # out[b, q, h] = sum_t p[b, h, q, t] * v[b, idx[b, h, q, t], h]
    onehot = jax.nn.one_hot(jnp.where(chosen, idx, -1), nk, dtype=jnp.float32)  # [b, h, q, t, nk]
    weights = jnp.einsum("bhqt,bhqtk->bhqk", p, onehot)
    out = jnp.einsum("bhqk,bkhd->bqhd", weights, v.astype(jnp.float32))
    return out.astype(q.dtype), jnp.where(chosen, idx, -1).astype(jnp.int32)
