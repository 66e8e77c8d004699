"""Pallas attention kernels, each beside a pure-``jnp`` reference (:mod:`cogsim.kernels.reference`).

- :func:`flash_attention`: FlashAttention forward (with logsumexp and entropy) and backward (Triton).
- :func:`mosaic_attention`: FlashAttention-3-style forward for Hopper (Mosaic GPU), Triton backward.
- :func:`topk_attention`: each query attends only to its ``top_k`` best keys.

This package depends on jax and :mod:`cogsim.errors` only. Models reach it through
:func:`cogsim.attention.dot_product_attention` and :func:`cogsim.attention.topk_attention`
(``implementation="pallas"`` or ``"mosaic"`` on a GPU, ``"interpret"`` anywhere).
"""

from cogsim.kernels.flash_attention import flash_attention
from cogsim.kernels.mosaic_attention import mosaic_attention
from cogsim.kernels.reference import reference_attention, reference_flash_attention, reference_topk_attention
from cogsim.kernels.topk_attention import topk_attention

__all__ = [
    "flash_attention",
    "mosaic_attention",
    "topk_attention",
    "reference_attention",
    "reference_flash_attention",
    "reference_topk_attention",
]
