"""Attention: scaled_dot_product_attention as one fused op (forward and VJP), on the backend's
attention primitives (a blocked NumPy path; gpubp's flash-style kernel on CUDA).

Forward saves q, k, v, the output and the rows' log-sum-exp, never the L x S weights; first-order backward is the
backend's ``attention_backward`` (which recomputes the weights block by block). Under ``create_graph`` the rule
writes the dense gradient formula in differentiable ops instead, so second derivatives are exact (the dropout
mask a constant there).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import OUT
from ..backend.attention_reference import dropout_keep
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import check_same_device, make, spec

# the family's registration (gpubp/ops/__init__.py's FAMILIES)
DIFFERENTIABLE: tuple[str, ...] = ("scaled_dot_product_attention",)
NON_DIFFERENTIABLE: tuple[str, ...] = ()
TOP_LEVEL: tuple[str, ...] = ()  # torch has no torch.scaled_dot_product_attention: F's only


def _broadcast(op: str, a: tuple, b: tuple, what: str) -> tuple:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise InputError(f"{op}: the batch dims of {what} do not broadcast: {a} and {b}") from None


def check_attention_args(
    query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None, dropout_p: float, is_causal: bool,
    enable_gqa: bool,
) -> None:  # fmt: skip
    """torch's checks of scaled_dot_product_attention's arguments, raised before any work."""
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise InputError(
            f"{op}: expected query, key, and value to all be at least 2 dimensional, but got query.dim: "
            f"{query.ndim} key.dim: {key.ndim} and value.dim: {value.ndim} instead"
        )
    check_same_device(op, query, key)
    check_same_device(op, query, value)
    if not query.dtype == key.dtype == value.dtype:
        raise InputTypeError(
            f"{op}: expected query, key, and value to have the same dtype, but got query.dtype: {query.dtype} "
            f"key.dtype: {key.dtype} and value.dtype: {value.dtype} instead"
        )
    if query.dtype.kind != "f":
        raise InputTypeError(f"{op}: query, key and value must be floating point, got {query.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise InputError(f"{op}: query's last dim ({query.shape[-1]}) must equal key's ({key.shape[-1]})")
    if key.shape[-2] != value.shape[-2]:
        raise InputError(f"{op}: key and value must have the same length (dim -2), got {key.shape} and {value.shape}")
    if not isinstance(dropout_p, (int, float)) or isinstance(dropout_p, bool):
        raise TypeError(f"{op}: dropout_p must be a float, got {type(dropout_p).__name__}")
    if dropout_p > 1.0:
        raise InputError(f"{op}: dropout probability has to be between 0 and 1, but got {dropout_p}")
    if attn_mask is not None:
        if is_causal:
            raise InputError(f"{op}: explicit attn_mask should not be set when is_causal=True")
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{op}: attn_mask must be a Tensor or None, got {type(attn_mask).__name__}")
        check_same_device(op, query, attn_mask)
        if attn_mask.dtype != np.bool_ and attn_mask.dtype != query.dtype:
            raise InputTypeError(
                f"{op}: expected attn_mask dtype to be bool or to match query dtype, but got attn_mask.dtype: "
                f"{attn_mask.dtype} and query.dtype: {query.dtype} instead"
            )
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and value.ndim >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk == 0 or hv == 0 or hq % hk or hq % hv:
            raise InputError(
                f"{op}: number of heads in key ({hk}) and value ({hv}) must divide the number of heads in query "
                f"({hq}) with enable_gqa=True"
            )


def _bias(mask: Tensor | None, lead: tuple, L: int, S: int, acc: Any) -> Any:  # noqa: N803
    """attn_mask as the primitive's additive bias (1 or B, 1 or L, 1 or S) in the math dtype, or None."""
    op = "scaled_dot_product_attention"
    if mask is None:
        return None
    xp = mask._be.xp
    m = mask._data
    full = lead + (L, S)
    try:
        shp = np.broadcast_shapes(m.shape, full)
    except ValueError:
        shp = None
    if shp != full:
        raise InputError(f"{op}: attn_mask of shape {mask.shape} does not broadcast to the scores' shape {full}")
    if m.dtype == np.bool_:
        b = xp.where(m, acc(0.0), acc(-np.inf))  # True takes part
    else:
        b = m.astype(acc, copy=False)
    b = b.reshape((1,) * (len(full) - b.ndim) + b.shape)
    lm, sm = b.shape[-2], b.shape[-1]
    if all(n == 1 for n in b.shape[:-2]):
        return b.reshape(1, lm, sm)
    # leading dims that differ per batch: materialized over the batch (B, Lm, Sm), once per call
    return xp.broadcast_to(b, lead + (lm, sm)).reshape(-1, lm, sm)


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
    """softmax(query key^T * scale + mask) (dropped out) @ value as one op: (..., L, E), (..., S, E),
    (..., S, Ev) -> (..., L, Ev); leading dims broadcast, key/value heads (dim -3) shared by query-head groups
    with ``enable_gqa``."""
    check_attention_args(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    op = "scaled_dot_product_attention"
    be = query._be
    L, E = query.shape[-2:]
    S, Ev = value.shape[-2], value.shape[-1]
    qlead, klead, vlead = tuple(query.shape[:-2]), tuple(key.shape[:-2]), tuple(value.shape[:-2])
    group = 1
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and value.ndim >= 3:
        hq, hk = qlead[-1], klead[-1]
        if hk != vlead[-1]:
            raise InputError(
                f"{op}: with enable_gqa, key and value must have the same number of heads, got {hk} and {vlead[-1]}"
            )
        group = hq // hk
    kvlead = _broadcast(op, klead, vlead, "key and value")
    if group > 1:
        outer = _broadcast(op, qlead[:-1], kvlead[:-1], "query and key/value")
        lead = outer + (qlead[-1],)
        kvlead = outer + (kvlead[-1],)
    else:
        lead = _broadcast(op, qlead, kvlead, "query and key/value")
        kvlead = lead
    factor = 1.0 / math.sqrt(E) if scale is None else float(scale)
    p = max(float(dropout_p), 0.0)  # torch takes a negative p as no dropout
    acc = np.float64 if query.dtype == np.float64 else np.float32
    B = int(np.prod(lead, dtype=np.int64))
    Bk = int(np.prod(kvlead, dtype=np.int64))
    with be.enter():
        xp = be.xp
        # to the primitive's 3-D views: a reshape copies only where the leading dims cannot merge (heads split out
        # of (N, L, H, E) by a transpose) or broadcast
        q = xp.broadcast_to(query._data, lead + (L, E)).reshape(B, L, E)
        k = xp.broadcast_to(key._data, kvlead + (S, E)).reshape(Bk, S, E)
        v = xp.broadcast_to(value._data, kvlead + (S, Ev)).reshape(Bk, S, Ev)
        bias = _bias(attn_mask, lead, L, S, acc)
        seed = None
        if p >= 1.0:
            bias = xp.full((1, 1, 1), -np.inf, dtype=acc)  # every weight dropped: output 0, gradient 0
            p = 0.0
        elif p > 0.0:
            seed = be.randint(0, 2**62, (1,), np.int64).astype(np.uint64)  # drawn on the device: no host read
        out, lse = be.attention_forward(q, k, v, bias, is_causal, factor, p, seed, group)
        out = out.reshape(lead + (L, Ev))
    mask_grad = attn_mask is not None and attn_mask.dtype != np.bool_ and attn_mask._requires_grad
    inputs = (query, key, value, attn_mask if mask_grad else None)
    specs = [spec(t) for t in inputs]
    shapes = (lead, kvlead, B, Bk, L, S, E, Ev)

    def rule(m: Any, g: Any, qt: Any, kt: Any, vt: Any, o: Any, lse: Any) -> tuple:
        if not m.graph and not mask_grad:
            xp = m.xp
            g3 = g.reshape(B, L, Ev)
            q3 = xp.broadcast_to(qt, lead + (L, E)).reshape(B, L, E)
            k3 = xp.broadcast_to(kt, kvlead + (S, E)).reshape(Bk, S, E)
            v3 = xp.broadcast_to(vt, kvlead + (S, Ev)).reshape(Bk, S, Ev)
            o3 = o.reshape(B, L, Ev)
            dq, dk, dv = m.be.attention_backward(g3, q3, k3, v3, o3, lse, bias, is_causal, factor, p, seed, group)
            grads = (dq.reshape(lead + (L, E)), dk.reshape(kvlead + (S, E)), dv.reshape(kvlead + (S, Ev)), None)
        else:
            grads = _dense_grads(m, g, qt, kt, vt, bias, is_causal, factor, p, seed, group, shapes)
        return tuple(m.unbroadcast(d, sp) for d, sp in zip(grads, specs))

    return make(op, out, be, inputs, rule, saved=(query, key, value, OUT, lse))


def _dense_grads(
    m: Any, g: Any, q: Any, k: Any, v: Any, bias: Any, causal: bool, scale: float, p: float, seed: Any, group: int,
    shapes: tuple,
) -> tuple:  # fmt: skip
    """The gradients by the dense formula, in ``m``'s ops (differentiable under create_graph; also the first-order
    path when an additive mask needs a gradient): P = softmax(S), dV = (P M)^T g, dP = g V^T M,
    dS = P (dP - rowsum(P dP)), dQ = scale dS K, dK = scale dS^T Q, dMask = dS."""
    lead, kvlead, B, Bk, L, S, E, Ev = shapes
    xp = m.be.xp
    acc = np.float64 if m.raw(q).dtype == np.float64 else np.float32
    q4 = m.astype(m.broadcast_to(q, lead + (L, E)).reshape(Bk, group, L, E), acc)
    k4 = m.astype(m.broadcast_to(k, kvlead + (S, E)).reshape(Bk, 1, S, E), acc)
    v4 = m.astype(m.broadcast_to(v, kvlead + (S, Ev)).reshape(Bk, 1, S, Ev), acc)
    g4 = m.astype(g.reshape(Bk, group, L, Ev), acc)
    allowed = xp.ones((1, 1, L, S), dtype=bool)
    if causal:
        allowed = allowed & (xp.arange(S).reshape(1, -1) <= xp.arange(L).reshape(-1, 1))
    s = m.matmul(q4, m.swapaxes(k4, -1, -2)) * scale  # (Bk, G, L, S)
    if bias is not None:
        b4 = bias if bias.shape[0] == 1 else bias.reshape(Bk, group, *bias.shape[1:])
        b4 = b4.reshape((1,) * (4 - b4.ndim) + b4.shape) if b4.ndim < 4 else b4
        allowed = allowed & (b4 > -np.inf)
        s = s + m.const(xp.where(b4 > -np.inf, b4, 0.0).astype(acc))
    allowed = xp.broadcast_to(allowed, (Bk, group, L, S))
    s = m.where(allowed, s, m.const(xp.full((1,), -np.inf, dtype=acc)))
    mx = m.raw(s).max(-1, keepdims=True)
    mx = xp.where(mx > -np.inf, mx, 0.0).astype(acc)  # a constant shift: softmax does not depend on it
    e = m.exp(s - m.const(mx))
    tot = m.sum(e, -1, True)
    seen = m.raw(tot) > 0
    pr = e / m.where(seen, tot, m.const(xp.ones((1,), dtype=acc)))  # rows that see no key: P = 0
    pm = pr
    dp = m.matmul(g4, m.swapaxes(v4, -1, -2))
    if seed is not None:
        keep = dropout_keep(xp, seed, 0, B, 0, L, L, S, p).reshape(Bk, group, L, S)
        mm = m.const((keep * (1.0 / (1.0 - p))).astype(acc))
        pm = pr * mm
        dp = dp * mm
    dv = m.sum(m.matmul(m.swapaxes(pm, -1, -2), g4), 1)  # (Bk, S, Ev)
    ds = pr * (dp - m.sum(pr * dp, -1, True))
    dq = m.matmul(ds, k4) * scale
    dk = m.sum(m.matmul(m.swapaxes(ds, -1, -2), q4), 1) * scale
    dmask = ds.reshape(lead + (L, S)) if bias is not None else None
    return dq.reshape(lead + (L, E)), dk.reshape(kvlead + (S, E)), dv.reshape(kvlead + (S, Ev)), dmask
