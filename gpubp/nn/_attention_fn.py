"""Attention, under ``torch.nn.functional``'s names: scaled_dot_product_attention.

BOOTSTRAP: a dense composite of differentiable ops (the L x S score matrix in memory). The fused op
(``gpubp.ops.attention``) replaces the body below; the signature and the semantics stay PyTorch's.
"""

from __future__ import annotations

import math

from ..creation import ones
from ..tensor import Tensor
from ._activation_fn import dropout

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
    value heads (dim -3) are repeated to the query's count. Dropout with ``dropout_p`` on the attention weights."""
    length, source = query.shape[-2], key.shape[-2]
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa:
        key = key.repeat_interleave(query.shape[-3] // key.shape[-3], -3)
        value = value.repeat_interleave(query.shape[-3] // value.shape[-3], -3)
    scores = (query @ key.transpose(-2, -1)) * factor
    if is_causal:
        causal = ones((length, source), dtype=bool, device=query.device).tril()
        scores = scores.masked_fill(~causal, -math.inf)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, -math.inf) if attn_mask.dtype == bool else scores + attn_mask
    weights = scores.softmax(-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ value
