"""Scaled dot-product attention: the one attention entry point of every cogsim model, dense and top-k.

Models call :func:`dot_product_attention` (dense) and :func:`topk_attention` (each query keeps its ``top_k``
best keys) instead of writing their own softmax, so the Pallas kernels, the probes in :mod:`cogsim.probes`
and analyses of attention statistics see every head.

Shapes follow :func:`jax.nn.dot_product_attention`: ``[batch, seq, heads, head_dim]``.

Paths (``implementation=``) and what each costs:

- ``"xla"``: the jnp reference (:func:`cogsim.kernels.reference_attention`). Builds the
  ``[batch, heads, q_len, k_len]`` float32 score matrix: memory O(q_len * k_len) per head, float32
  dots at XLA's default precision (exact on the CPU; TF32 on A100/H100-class GPUs, as jax documents for
  ``Precision.DEFAULT``). What ``None`` picks off the GPU, so CPU results never depend on the kernels.
- ``"pallas"``: the Triton kernels (:func:`cogsim.kernels.flash_attention`,
  :func:`cogsim.kernels.topk_attention`). Memory O(q_len + k_len) per head; forward ~4 * q_len * k_len *
  head_dim flops on tensor cores (half of that when causal), backward ~2.5x the forward (recomputation).
  float32 inputs use TF32 tensor cores: ``f32_precision="tf32"`` (default: one product, 10-bit mantissa,
  relative error ~1e-3 like bfloat16 scores, the fastest), ``"tf32x3"`` (three products, close to float32
  accuracy, ~3x the tensor-core work and more registers, so smaller tiles) or ``"ieee"`` (exact FMA without
  tensor cores; expected to be much slower, not measured). Tiles come from a shared-memory and register
  budget per (dtype, head dim, bias/mask/stats, arch) (:mod:`cogsim.kernels.tiles`).
- ``"mosaic"``: on Hopper (sm_90) the FlashAttention-3-style forward (:func:`cogsim.kernels.mosaic_attention`:
  TMA, ``wgmma``, warp specialization) for bfloat16/float16 calls without bias or mask. Memory and flops as
  ``"pallas"``, plus padding: queries to 128 rows, keys to 64/128, head dims to 64/128/256. Backward: the
  Triton kernels on its residuals. Other calls (float32, bias, mask, top-k) run the Triton kernels. Opt-in
  only: its forward was benchmarked on an H200 (docs/kernels.md), but its compiled tests have not yet passed
  on a GPU (``benchmarks/gpu_check.sh`` runs them first).
- ``"interpret"``: the Triton kernels in Pallas interpret mode on any device (slow; for tests).
- ``None``: ``"pallas"`` on an sm_80+ GPU when the kernel supports the call (float32/bfloat16/float16,
  ``head_dim <= 256``, top-k ``top_k <= 256``, a concrete ``scale``: not traced under ``jit``/``grad``),
  else ``"xla"``.

Hook points: every call given a ``name`` is a hook point (:func:`attention_hook`, :func:`capturing`,
:func:`record`, :func:`scan`; see :mod:`cogsim._attention_hooks` for how they work under ``jit`` and ``scan``
and how names are formed).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from cogsim._attention_hooks import (
    _check_name,
    _hooked,
    _run_hooks,
    attention_hook,
    capturing,
    record,
    scan,
)
from cogsim.errors import CogsimError, check_count
from cogsim.kernels._common import (
    F32_PRECISIONS,
    MASK_VALUE,
    MAX_HEAD_DIM,
    SUPPORTED_DTYPES,
    as_arrays,
    check_f32_precision,
    check_flag,
    check_inputs,
    check_scale,
    is_traced,
)
from cogsim.kernels.mosaic_attention import mosaic_supports
from cogsim.kernels.reference import reference_attention, reference_topk_attention

__all__ = [
    "IMPLEMENTATIONS",
    "F32_PRECISIONS",
    "MASK_VALUE",
    "AttentionStats",
    "dot_product_attention",
    "topk_attention",
    "reference_attention",
    "attention_hook",
    "capturing",
    "record",
    "scan",
]

IMPLEMENTATIONS = (None, "xla", "pallas", "mosaic", "interpret")
MAX_TOP_K = 256  # the top-k kernel's limit (cogsim.kernels.topk_attention.MAX_TOP_K)
MIN_ARCH = (8, 0)  # the kernels' tensor-core paths need sm_80+
MOSAIC_ARCH = (9, 0)  # wgmma and TMA: Hopper only


class AttentionStats(NamedTuple):
    """Per-query statistics of the attention distribution.

    Attributes:
      logsumexp: natural-log normaliser of the scaled, biased scores, ``[batch, heads, q_len]``.
        Rows whose keys are all masked hold ``-inf``.
      entropy: Shannon entropy (nats) of each query's attention distribution, ``[batch, heads, q_len]``;
        0 for fully masked rows.
      probs: the full attention matrix ``[batch, heads, q_len, k_len]``, only when requested.

    Example:
      >>> import jax.numpy as jnp
      >>> x = jnp.ones((1, 4, 2, 8))
      >>> out, stats = dot_product_attention(x, x, x, is_causal=True, return_stats=True)
      >>> import numpy as np
      >>> np.exp(np.asarray(stats.entropy[0, 0], float)).round(3).tolist()  # uniform over 1, 2, 3, 4 keys
      [1.0, 2.0, 3.0, 4.0]
      >>> stats.logsumexp.shape, stats.probs is None
      ((1, 2, 4), True)
    """

    logsumexp: jax.Array
    entropy: jax.Array
    probs: jax.Array | None = None


# ------------------------------------------------------------------------------------------------- checks
def _check_call(where: str, q, k, v, bias, mask, scale) -> None:
    """Dtypes, lengths and ``scale``: the rules :func:`check_inputs` leaves to the XLA path (static only)."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise CogsimError(
                f"{where}: {name} has dtype {x.dtype}; allowed: a floating dtype (float32, bfloat16, "
                "float16, float64)"
            )
    if k.shape[1] == 0:
        raise CogsimError(f"{where}: k and v have k_len 0 (shape {k.shape}); at least one key is needed")
    if q.shape[3] == 0:
        raise CogsimError(f"{where}: head_dim is 0 (q shape {q.shape}); allowed: head_dim >= 1")
    if bias is not None and not jnp.issubdtype(bias.dtype, jnp.floating):
        raise CogsimError(
            f"{where}: bias has dtype {bias.dtype}; allowed: a floating dtype (a boolean mask goes in mask)"
        )
    if mask is not None and mask.dtype != jnp.bool_:
        raise CogsimError(
            f"{where}: mask has dtype {mask.dtype}; allowed: bool (True = attend); an additive mask "
            "(0 / -inf) goes in bias"
        )
    check_scale(where, scale, kernel=False)  # a traced scale is taken (its value is not read)


# ------------------------------------------------------------------------------------------------ dispatch
def _gpu_arch() -> tuple[int, int] | None:
    try:
        cc = getattr(jax.devices("gpu")[0], "compute_capability", None)
    except RuntimeError:
        return None
    if not cc:
        return None
    major, _, minor = str(cc).partition(".")
    return int(major), int(minor or 0)


def _resolve(
    implementation: str | None,
    q,
    k,
    *,
    where: str,
    top_k: int | None = None,
    v=None,
    bias=None,
    mask=None,
    scale=None,
) -> str:
    """The path a call runs: "xla", "pallas", "mosaic" or "interpret" (see the module docstring).

    ``top_k`` must have been checked (:func:`cogsim.errors.check_count`) before: it is compared here.
    """
    if implementation not in IMPLEMENTATIONS:
        raise CogsimError(
            f"{where}: implementation={implementation!r} is not allowed; choose one of {IMPLEMENTATIONS}"
        )
    on_gpu = jax.default_backend() == "gpu"
    arch = _gpu_arch() if on_gpu else None
    mosaic_takes = top_k is None and v is not None and mosaic_supports(q, k, v, bias, mask)
    if implementation is None:
        if not on_gpu:
            return "xla"
        fits = (
            q.dtype in SUPPORTED_DTYPES
            and q.dtype == k.dtype
            and q.shape[-1] <= MAX_HEAD_DIM
            and (top_k is None or top_k <= MAX_TOP_K)
            and (arch is None or arch >= MIN_ARCH)
            and not is_traced(scale)  # the kernels need a concrete scale
        )
        return "pallas" if fits else "xla"
    if implementation in ("pallas", "mosaic") and not on_gpu:
        raise CogsimError(
            f"{where}: implementation={implementation!r} needs a GPU (backend is {jax.default_backend()!r}); "
            "use 'interpret' to run the kernel on this device or 'xla' for the reference"
        )
    if implementation == "mosaic":
        if arch is not None and arch[0] != MOSAIC_ARCH[0]:
            raise CogsimError(
                f"{where}: implementation='mosaic' needs a Hopper GPU (sm_90); this one is "
                f"sm_{arch[0]}{arch[1]}; use 'pallas'"
            )
        return "mosaic" if mosaic_takes else "pallas"  # float32, bias, mask, top-k: the Triton kernels
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
    f32_precision: str = "tf32",
    return_stats: bool = False,
    return_probs: bool = False,
    name: str | None = None,
) -> Any:
    """Scaled dot-product attention with optional statistics.

    Args:
      q: queries ``[batch, q_len, heads, head_dim]``, a floating dtype (array-likes are converted with
        ``jnp.asarray``, as in :func:`jax.nn.dot_product_attention`).
      k: keys ``[batch, k_len, kv_heads, head_dim]``, ``k_len >= 1``; ``heads`` must be a multiple of
        ``kv_heads``.
      v: values, same shape as ``k``.
      bias: additive float bias broadcastable to ``[batch, heads, q_len, k_len]`` (an additive mask of 0 and
        ``-inf`` goes here).
      mask: boolean mask (True = attend, dtype bool) broadcastable like ``bias``. Rows with no key return
        zeros.
      is_causal: causal masking (a Python bool), aligned to the bottom-right when ``q_len != k_len``.
      scale: score scale, a finite number >= 0 or a scalar jax array; defaults to ``1/sqrt(head_dim)``. A
        traced scale (under ``jit`` or ``grad``; its value is not checked) runs the XLA path when
        ``implementation`` is None; the kernel paths need a concrete number and refuse it.
      implementation: ``None`` (Pallas (Triton) on an sm_80+ GPU when the kernel supports the call, XLA
        elsewhere; Mosaic runs only when asked for), ``"xla"``, ``"pallas"``, ``"mosaic"`` or
        ``"interpret"``; see the module docstring for what each costs.
      f32_precision: float32 inputs on the Pallas path: ``"tf32"``, ``"tf32x3"`` or ``"ieee"``.
      return_stats: also return :class:`AttentionStats` (logsumexp and entropy per query).
      return_probs: include the full probability matrix in the stats (runs the XLA path); needs
        ``return_stats=True``.
      name: a hook point: the name under which :mod:`cogsim.probes` can capture, ablate or patch this call.

    Returns:
      ``out`` of shape ``[batch, q_len, heads, head_dim]``, or ``(out, stats)`` when ``return_stats``.

    Raises:
      CogsimError: shapes or dtypes that do not fit (non-float ``q``/``k``/``v`` or ``bias``, a non-bool
        ``mask``, ``k_len == 0``), a ``scale`` that is not a finite number >= 0, a flag that is not a bool,
        ``return_probs`` without ``return_stats``, or an unknown ``implementation``/``f32_precision``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from cogsim.attention import dot_product_attention
      >>> q = k = v = jnp.ones((1, 4, 2, 8))
      >>> out, stats = dot_product_attention(q, k, v, is_causal=True, return_stats=True)
      >>> out.shape, stats.entropy.shape
      ((1, 4, 2, 8), (1, 2, 4))
    """
    q, k, v, bias, mask = as_arrays("attention", q, k, v, bias, mask)
    check_inputs(q, k, v, bias, mask, where="attention", kernel=False)
    _check_call("attention", q, k, v, bias, mask, scale)
    for flag, value in (
        ("is_causal", is_causal),
        ("return_stats", return_stats),
        ("return_probs", return_probs),
    ):
        check_flag("attention", flag, value)
    if return_probs and not return_stats:
        raise CogsimError(
            "attention: return_probs=True needs return_stats=True (the probabilities are returned as "
            "AttentionStats.probs)"
        )
    check_f32_precision("attention", f32_precision)
    _check_name(name)
    impl = _resolve(implementation, q, k, where="attention", v=v, bias=bias, mask=mask, scale=scale)
    hooked = _hooked(name)
    if impl == "xla" or hooked or return_probs:
        out, p, lse, ent = reference_attention(
            q, k, v, bias=bias, mask=mask, is_causal=is_causal, scale=scale
        )
        if hooked:
            out = _run_hooks(name, p, out)
        stats = AttentionStats(lse, ent, p if return_probs else None)
    elif impl == "mosaic":
        from cogsim.kernels.mosaic_attention import mosaic_attention

        res = mosaic_attention(q, k, v, is_causal=is_causal, scale=scale, return_stats=return_stats)
        if not return_stats:
            return res
        out, lse, ent = res
        stats = AttentionStats(lse, ent, None)
    else:
        from cogsim.kernels.flash_attention import flash_attention

        res = flash_attention(
            q,
            k,
            v,
            bias=bias,
            mask=mask,
            is_causal=is_causal,
            scale=scale,
            return_stats=return_stats,
            f32_precision=f32_precision,
            interpret=impl == "interpret",
        )
        if not return_stats:
            return res
        out, lse, ent = res
        stats = AttentionStats(lse, ent, None)
    return (out, stats) if return_stats else out


def topk_attention(
    q: Float[Array, "batch q_len heads head_dim"],
    k: Float[Array, "batch k_len kv_heads head_dim"],
    v: Float[Array, "batch k_len kv_heads head_dim"],
    *,
    top_k: int,
    bias: Float[Array, "#batch #heads q_len k_len"] | None = None,
    mask: Bool[Array, "#batch #heads q_len k_len"] | None = None,
    scale: float | None = None,
    implementation: str | None = None,
    f32_precision: str = "tf32",
) -> tuple[Float[Array, "batch q_len heads head_dim"], Int[Array, "batch heads q_len top_k"]]:
    """Top-k attention: each query attends, with a softmax, only to its ``top_k`` best-scoring keys.

    Scores are ``scale * q.k + bias``; masked keys (and keys whose bias is ``-inf``) are never selected;
    ties go to the lower key index. Slots left when fewer than ``top_k`` keys are visible hold index ``-1``
    and weight 0.

    Args:
      q: queries ``[batch, q_len, heads, head_dim]``.
      k: keys ``[batch, k_len, kv_heads, head_dim]``; ``heads`` must be a multiple of ``kv_heads``.
      v: values, same shape as ``k``.
      top_k: keys kept per query.
      bias: additive float score bias (the Gumbel noise of a workspace goes here).
      mask: True where a key may be selected (dtype bool).
      scale: score scale, as in :func:`dot_product_attention`; defaults to ``1/sqrt(head_dim)``.
      implementation: as in :func:`dot_product_attention`: ``None`` (the Pallas selection kernel on an
        sm_80+ GPU for ``top_k <= 256``, the jnp reference elsewhere), ``"xla"``, ``"pallas"``,
        ``"mosaic"`` (runs the Triton selection kernel: there is no Mosaic top-k) or ``"interpret"``.
      f32_precision: float32 selection scores on the Pallas path: ``"tf32"``, ``"tf32x3"`` or ``"ieee"``.

    Returns:
      ``(out [batch, q_len, heads, head_dim], indices [batch, heads, q_len, top_k])``; index -1 marks an
      unused place.

    Example:
      >>> import jax.numpy as jnp
      >>> q = jnp.ones((1, 1, 1, 4)); k = jnp.arange(5.0)[None, :, None, None] * jnp.ones((1, 5, 1, 4))
      >>> topk_attention(q, k, k, top_k=2)[1].tolist()
      [[[[4, 3]]]]
    """
    q, k, v, bias, mask = as_arrays("topk_attention", q, k, v, bias, mask)
    check_inputs(q, k, v, bias, mask, where="topk_attention", kernel=False)
    _check_call("topk_attention", q, k, v, bias, mask, scale)
    check_f32_precision("topk_attention", f32_precision)
    top_k = check_count("topk_attention", "top_k", top_k, high=k.shape[1])
    impl = _resolve(implementation, q, k, where="topk_attention", top_k=top_k, scale=scale)
    if impl == "xla":
        return reference_topk_attention(q, k, v, top_k=top_k, bias=bias, mask=mask, scale=scale)
    from cogsim.kernels.topk_attention import topk_attention as kernel

    return kernel(
        q,
        k,
        v,
        top_k=top_k,
        bias=bias,
        mask=mask,
        scale=scale,
        f32_precision=f32_precision,
        interpret=impl == "interpret",
    )
