"""Functional multi-head attention: multi_head_attention_forward, under torch.nn.functional's name.

A composite of differentiable ops (linear, bmm, softmax, the fused ``scaled_dot_product_attention``), step for step
as PyTorch's ``torch.nn.functional.multi_head_attention_forward``, so the results, the gradients and the errors agree.
With ``need_weights=True`` the (N * num_heads, L, S) weights are formed explicitly (they are returned); with
``need_weights=False`` the attention goes through ``scaled_dot_product_attention`` and never holds them.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .. import creation
from ..errors import InputError, InputTypeError
from ..ops import baddbmm, cat, linear, pad
from ..tensor import Tensor
from . import _attention_fn
from ._activation_fn import dropout

__all__ = ["multi_head_attention_forward"]


class MHAError(InputError, AssertionError):
    """A bad shape given to multi-head attention where PyTorch raises AssertionError: also a ValueError and the
    RuntimeError of gpubp's InputError."""


class MHATypeError(InputTypeError, AssertionError):
    """A mask of a dtype other than bool or floating, where PyTorch raises AssertionError: also a TypeError."""


def _is_float(t: Tensor) -> bool:
    return t.dtype.kind == "f"


def _canonical_mask(
    mask: Tensor | None,
    mask_name: str,
    other_type: Any,
    other_name: str,
    target_type: Any,
    check_other: bool = True,
) -> Tensor | None:
    """A bool mask (True = masked out) as an additive float mask of ``target_type`` (-inf where True); a float mask
    as is. Warns, as PyTorch, when its dtype differs from ``other_type`` (the other mask's)."""
    if mask is None:
        return None
    if mask.dtype != bool and not _is_float(mask):
        raise MHATypeError(f"only bool and floating types of {mask_name} are supported, got {mask.dtype}")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(
            f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both instead.",
            stacklevel=3,
        )
    if not _is_float(mask):
        mask = creation.zeros_like(mask, dtype=target_type).masked_fill_(mask, -math.inf)
    return mask


def _none_or_dtype(t: Tensor | None) -> Any:
    if t is None:
        return None
    if isinstance(t, Tensor):
        return t.dtype
    raise InputTypeError(f"input to _none_or_dtype() must be None or a Tensor, got {type(t).__name__}")


def _shape_check(
    query: Tensor, key: Tensor, value: Tensor, kpm: Tensor | None, mask: Tensor | None, heads: int
) -> bool:
    """PyTorch's ``_mha_shape_check``: whether the input is batched (3-D) or not (2-D)."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise MHAError(
                "multi_head_attention_forward: for batched (3-D) `query`, expected `key` and `value` to be 3-D but "
                f"found {key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        if kpm is not None and kpm.ndim != 2:
            raise MHAError(
                "multi_head_attention_forward: for batched (3-D) `query`, expected `key_padding_mask` to be `None` or "
                f"2-D but found {kpm.ndim}-D tensor instead"
            )
        if mask is not None and mask.ndim not in (2, 3):
            raise MHAError(
                "multi_head_attention_forward: for batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or "
                f"3-D but found {mask.ndim}-D tensor instead"
            )
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise MHAError(
                "multi_head_attention_forward: for unbatched (2-D) `query`, expected `key` and `value` to be 2-D but "
                f"found {key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        if kpm is not None and kpm.ndim != 1:
            raise MHAError(
                "multi_head_attention_forward: for unbatched (2-D) `query`, expected `key_padding_mask` to be `None` "
                f"or 1-D but found {kpm.ndim}-D tensor instead"
            )
        if mask is not None:
            if mask.ndim not in (2, 3):
                raise MHAError(
                    "multi_head_attention_forward: for unbatched (2-D) `query`, expected `attn_mask` to be `None`, "
                    f"2-D or 3-D but found {mask.ndim}-D tensor instead"
                )
            expected = (heads, query.shape[0], key.shape[0])
            if mask.ndim == 3 and tuple(mask.shape) != expected:
                raise MHAError(f"Expected `attn_mask` shape to be {expected} but got {tuple(mask.shape)}")
        return False
    raise MHAError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query tensor")


def _in_projection_packed(q: Tensor, k: Tensor, v: Tensor, w: Tensor, b: Tensor | None) -> tuple[Tensor, ...]:
    """q, k, v projected by the packed (3E, E) weight: one product for self-attention (q is k is v), two for
    encoder-decoder attention (k is v), three otherwise."""
    e = q.shape[-1]
    if tuple(w.shape) != (3 * e, e) or (b is not None and tuple(b.shape) != (3 * e,)):
        bias = None if b is None else tuple(b.shape)
        raise MHAError(
            f"multi_head_attention_forward: expected in_proj_weight of shape {(3 * e, e)} and in_proj_bias of shape "
            f"{(3 * e,)}, got {tuple(w.shape)} and {bias}"
        )
    if k is v:
        if q is k:  # self-attention
            return tuple(linear(q, w, b).chunk(3, -1))  # each (..., E)
        w_q, w_kv = w.split([e, 2 * e])
        b_q, b_kv = (None, None) if b is None else b.split([e, 2 * e])
        return (linear(q, w_q, b_q), *linear(k, w_kv, b_kv).chunk(2, -1))
    ws = w.chunk(3)
    bs = (None, None, None) if b is None else b.chunk(3)
    return tuple(linear(x, wi, bi) for x, wi, bi in zip((q, k, v), ws, bs))


def _in_projection(q: Tensor, k: Tensor, v: Tensor, ws: tuple[Tensor, ...], bs: tuple) -> tuple[Tensor, ...]:
    """q, k, v projected by separate weights (E, E), (E, kdim), (E, vdim) (kdim / vdim other than E)."""
    eq, ek, ev = q.shape[-1], k.shape[-1], v.shape[-1]
    for name, w, want in zip(("query", "key", "value"), ws, ((eq, eq), (eq, ek), (eq, ev))):
        if tuple(w.shape) != want:
            raise MHAError(f"expecting {name} weights shape of {want}, but got {tuple(w.shape)}")
    for name, b in zip(("query", "key", "value"), bs):
        if b is not None and tuple(b.shape) != (eq,):
            raise MHAError(f"expecting {name} bias shape of {(eq,)}, but got {tuple(b.shape)}")
    return tuple(linear(x, w, b) for x, w, b in zip((q, k, v), ws, bs))


def _check_attn_mask(mask: Tensor, tgt_len: int, src_len: int, bh: int) -> Tensor:
    """A 2-D (L, S) mask as (1, L, S); a 3-D one must be (N * num_heads, L, S)."""
    if mask.ndim == 2:
        if tuple(mask.shape) != (tgt_len, src_len):
            raise InputError(
                f"The shape of the 2D attn_mask is {tuple(mask.shape)}, but should be {(tgt_len, src_len)}."
            )
        return mask.unsqueeze(0)
    if tuple(mask.shape) != (bh, tgt_len, src_len):
        raise InputError(
            f"The shape of the 3D attn_mask is {tuple(mask.shape)}, but should be {(bh, tgt_len, src_len)}."
        )
    return mask


def _static(t: Tensor, name: str, bh: int, head_dim: int) -> Tensor:
    if t.shape[0] != bh:
        raise MHAError(f"expecting {name}.size(0) of {bh}, but got {t.shape[0]}")
    if t.shape[2] != head_dim:
        raise MHAError(f"expecting {name}.size(2) of {head_dim}, but got {t.shape[2]}")
    return t


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention of query (L, N, E) over key (S, N, kdim) / value (S, N, vdim), or unbatched (L, E):
    returns (output (L, N, E), weights (N, L, S) averaged over heads, (N, H, L, S), or None), as PyTorch's."""
    is_batched = _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:  # run as a batch of one
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(
        key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask", query.dtype
    )
    if is_causal and attn_mask is None:
        raise InputError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint stands for the mask: the fused attention masks causally itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False  # the merged mask is no longer causal
    if embed_dim != embed_dim_to_check:
        raise MHAError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise MHAError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise MHAError(
                f"key's sequence and batch dims {tuple(key.shape[:2])} do not match value's {tuple(value.shape[:2])}"
            )
    elif tuple(key.shape) != tuple(value.shape):
        raise MHAError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")
    if key.shape[1] != bsz:
        raise MHAError(f"multi_head_attention_forward: query has batch size {bsz} but key has {key.shape[1]}")

    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise MHAError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)  # (L|S, N, E)
    else:
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise MHAError(f"use_separate_proj_weight is True but {name}_proj_weight is None")
        biases = (None, None, None) if in_proj_bias is None else tuple(in_proj_bias.chunk(3))
        q, k, v = _in_projection(query, key, value, (q_proj_weight, k_proj_weight, v_proj_weight), biases)

    if attn_mask is not None:
        attn_mask = _check_attn_mask(attn_mask, tgt_len, src_len, bsz * num_heads)  # (1 | N*H, L, S)

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise MHAError("bias cannot be added to static key.")
        if static_v is not None:
            raise MHAError("bias cannot be added to static value.")
        k = cat([k, bias_k.repeat(1, bsz, 1)])  # (S + 1, N, E)
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise MHAError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise MHAError("bias_v is set but bias_k is None")

    bh = bsz * num_heads
    q = q.reshape(tgt_len, bh, head_dim).transpose(0, 1)  # (N*H, L, hd)
    k = (
        k.reshape(k.shape[0], bh, head_dim).transpose(0, 1)
        if static_k is None
        else _static(static_k, "static_k", bh, head_dim)
    )
    v = (
        v.reshape(v.shape[0], bh, head_dim).transpose(0, 1)
        if static_v is None
        else _static(static_v, "static_v", bh, head_dim)
    )

    if add_zero_attn:
        k = cat([k, creation.zeros((bh, 1, head_dim), dtype=k.dtype, device=k.device)], 1)
        v = cat([v, creation.zeros((bh, 1, head_dim), dtype=v.dtype, device=v.device)], 1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise MHAError(
                f"Expected key_padded_mask.shape to be {(bsz, src_len)}, but got {tuple(key_padding_mask.shape)}"
            )
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1).reshape(bh, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm  # (N*H, L | 1, S)
    if not training:
        dropout_p = 0.0

    if need_weights:
        if is_causal and attn_mask is None:
            raise MHAError("FIXME: is_causal not implemented for need_weights")
        q_scaled = q * math.sqrt(1.0 / float(head_dim))
        kt = k.transpose(-2, -1)  # (N*H, hd, S)
        weights = baddbmm(attn_mask, q_scaled, kt) if attn_mask is not None else q_scaled.bmm(kt)
        weights = weights.softmax(-1)  # (N*H, L, S)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = weights.bmm(v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)  # (L, N, E)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)  # (N, L, S)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:  # (1, L, S) -> (1, 1, L, S); (N*H, L|1, S) -> (N, H, L|1, S)
        if attn_mask.shape[0] == 1 and attn_mask.ndim == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = _attention_fn.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)  # (N, H, L, hd)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not is_batched:
        out = out.squeeze(1)
    return out, None
