"""Pallas attention kernels, each beside a pure-``jnp`` reference (:mod:`cogsim.kernels.reference`).

- :func:`flash_attention`: FlashAttention forward (with logsumexp and entropy) and backward.
- :func:`topk_attention`: each query attends only to its ``top_k`` best keys.

This package depends on jax and :mod:`cogsim.errors` only. Models reach it through
:func:`cogsim.attention.dot_product_attention` and :func:`cogsim.attention.topk_attention`
(``implementation="pallas"`` on a GPU, ``"interpret"`` anywhere).
"""

from cogsim.kernels.flash_attention import flash_attention
from cogsim.kernels.reference import reference_attention, reference_flash_attention, reference_topk_attention
from cogsim.kernels.topk_attention import topk_attention

__all__ = [
    "flash_attention",
    "topk_attention",
    "reference_attention",
    "reference_flash_attention",
    "reference_topk_attention",
]
