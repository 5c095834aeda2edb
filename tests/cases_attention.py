"""Gradient cases of the attention family (``F.scaled_dot_product_attention``, one fused op), in
tests/test_ops_grad.py's format (its CASES takes them in): float64 gradcheck plus torch forward and backward."""

from __future__ import annotations

import numpy as np
from conftest import torch

import gpubp
import gpubp.nn.functional as F

if torch is not None:
    import torch.nn.functional as TF
    from torch.nn.attention import SDPBackend, sdpa_kernel
else:
    TF = None


def _torch_sdpa(*args, **kw):
    """torch's math backend: its CPU flash kernel has no double backward (test_ops_gradgrad needs one)."""
    with sdpa_kernel(SDPBackend.MATH):
        return TF.scaled_dot_product_attention(*args, **kw)


_OP = "scaled_dot_product_attention"
_RNG = np.random.default_rng(15)
_BOOL = _RNG.random((2, 5, 7)) > 0.4
_BOOL[1, 2] = False  # a row that sees no key: output 0, gradient 0
_ADD = _RNG.standard_normal((5, 7))
_ROW = _RNG.random((1, 7)) > 0.3  # broadcast over the query rows


def _g(mask):
    # an additive mask takes the query's dtype, as torch requires
    return lambda a: gpubp.tensor(mask if mask.dtype == bool else mask.astype(a.dtype), device=a.device)


def _case(shapes, mask=None, **kw):
    gm = (lambda a: None) if mask is None else _g(mask)
    tm = (
        (lambda a: None)
        if mask is None
        else (lambda a: torch.tensor(mask, dtype=torch.bool if mask.dtype == bool else a.dtype))
    )
    return (
        _OP,
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=gm(q), **kw),
        lambda q, k, v: _torch_sdpa(q, k, v, attn_mask=tm(q), **kw),
        shapes,
        "any",
    )


CASES = [
    _case([(2, 5, 4), (2, 5, 4), (2, 5, 4)]),  # plain, 3-D
    _case([(2, 5, 4), (2, 5, 4), (2, 5, 4)], is_causal=True),
    _case([(2, 6, 4), (2, 3, 4), (2, 3, 4)], is_causal=True),  # L > S: the later rows see every key
    _case([(2, 5, 4), (2, 7, 4), (2, 7, 4)], mask=_BOOL),  # boolean mask with a fully masked row
    _case([(2, 5, 4), (2, 7, 4), (2, 7, 3)], mask=_ADD),  # additive mask, Ev != E
    _case([(2, 5, 4), (2, 7, 4), (2, 7, 3)], mask=_ROW, scale=0.7),  # broadcast boolean mask, scale
    _case([(2, 4, 5, 4), (2, 2, 7, 4), (2, 2, 7, 4)], enable_gqa=True),  # GQA: 2 query heads per kv head
    _case([(2, 1, 2, 3, 4), (2, 1, 2, 5, 4), (1, 3, 2, 5, 2)]),  # 5-D, broadcast leading dims
    _case([(3, 4), (5, 4), (5, 2)]),  # 2-D
]
