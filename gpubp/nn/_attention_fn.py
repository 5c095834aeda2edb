"""Attention, under ``torch.nn.functional``'s names: scaled_dot_product_attention, one fused op
(``gpubp.ops.attention``): blocked over query rows on the CPU, gpubp's flash-style kernels on CUDA; the L x S
weights are never kept for backward."""

from __future__ import annotations

from ..ops import attention as _attention
from ..tensor import Tensor

__all__ = ["scaled_dot_product_attention"]


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value over the last two dims, any leading batch dims.

    ``attn_mask``: boolean (True takes part) or additive, broadcastable to (..., L, S); ``is_causal``: key j is seen
    by query i when j <= i (top-left aligned, as PyTorch); ``scale`` defaults to 1 / sqrt(E); ``enable_gqa``: key and
    value heads (dim -3) are shared by groups of query heads. Dropout with ``dropout_p`` on the attention weights
    (always applied, as PyTorch's function). A row that sees no key gives 0 and a zero gradient."""
    return _attention.scaled_dot_product_attention(
        query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa
    )
