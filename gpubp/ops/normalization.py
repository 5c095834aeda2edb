"""Normalization over the last dims as fused ops: layer_norm and rms_norm, forward and VJP each one
pass, on the backend's row-norm primitives (NumPy; gpubp's kernel on CUDA).

Composed from small ops, a layer norm records ~8 nodes (mean, sub, var, add, rsqrt, mul, mul, add) and walks the
data ~8 times each way; speed demands a fused op. The normalized dims are flattened into one axis, x (R, C), and the
backend normalizes row by row (``row_norm_forward``), saving only the (R,) mean and rstd; backward is one call
(``row_norm_backward``: dx, dweight, dbias). Under ``create_graph`` the rule recomputes the composite formula with
differentiable ops, so gradients of gradients are exact.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import check_same_device, make

# the family's registration (gpubp/ops/__init__.py's FAMILIES)
DIFFERENTIABLE: tuple[str, ...] = ("layer_norm", "rms_norm")
NON_DIFFERENTIABLE: tuple[str, ...] = ()
TOP_LEVEL: tuple[str, ...] = ()  # gpubp.layer_norm / rms_norm are nn.functional's (gpubp/__init__.py: NN_FUNCTIONS)

_HALF = (np.dtype(np.float16),)


def _math_dtype(dtype: Any) -> Any:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _check(op: str, x: Any, normalized_shape: Any, params: dict[str, Any], mixed_ok: bool) -> tuple[int, ...]:
    """The normalized shape, after checking x and the affine parameters (PyTorch's RuntimeErrors as InputError /
    InputTypeError). ``mixed_ok``: any floating parameter dtype (rms_norm), else x's (or float32 for float16 x)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    shape = (int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if not shape or x.shape[x.ndim - len(shape) :] != shape:
        raise InputError(
            f"{op}: input shape {x.shape} does not end with normalized_shape {shape} (given "
            f"normalized_shape={list(shape)}, expected input with shape [*, {', '.join(map(str, shape))}])"
        )
    if x.dtype.kind != "f":
        raise InputTypeError(f"{op}: not implemented for {x.dtype} input; expected a floating-point tensor")
    allowed = {x.dtype, np.dtype(np.float32)} if x.dtype in _HALF else {x.dtype}
    for name, p in params.items():
        if p is None:
            continue
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(p).__name__}")
        check_same_device(op, x, p)
        if tuple(p.shape) != shape:
            raise InputError(
                f"{op}: expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                f"{list(p.shape)} and normalized_shape = {list(shape)}"
            )
        if p.dtype.kind != "f" or (not mixed_ok and p.dtype not in allowed):
            want = "a floating-point dtype" if mixed_ok else " or ".join(sorted(map(str, allowed)))
            raise InputTypeError(f"{op}: mixed dtype: input is {x.dtype} but {name} is {p.dtype}; expected {want}")
    return shape


def layer_norm(
    input: Tensor,  # noqa: A002 - PyTorch's name
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) dims, as one op."""
    shape = _check("layer_norm", input, normalized_shape, {"weight": weight, "bias": bias}, False)
    return _row_norm("layer_norm", input, shape, weight, bias, float(eps), False)


def rms_norm(
    input: Tensor,  # noqa: A002 - PyTorch's name
    normalized_shape: Any,
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last len(normalized_shape) dims, as one op; eps None is the
    machine epsilon of the math type (float32's for float16 input, computed in float32 as PyTorch)."""
    shape = _check("rms_norm", input, normalized_shape, {"weight": weight}, True)
    if eps is None:
        eps = float(np.finfo(_math_dtype(input.dtype)).eps)
    return _row_norm("rms_norm", input, shape, weight, None, float(eps), True)


def _row_norm(name: str, x: Tensor, shape: tuple, weight: Tensor | None, bias: Tensor | None, eps: float, rms: bool):
    be = x._be
    cols = math.prod(shape)
    rows = x.numel() // cols if cols else math.prod(x.shape[: x.ndim - len(shape)])
    xshape = tuple(x.shape)
    w = None if weight is None else weight._data.reshape(cols)
    b = None if bias is None else bias._data.reshape(cols)
    with be.enter():
        y, mean, rstd = be.row_norm_forward(x._data.reshape(rows, cols), w, b, eps, rms)  # a copy only for views
    out = y.reshape(xshape)
    need = (x._requires_grad, weight is not None and weight._requires_grad, bias is not None and bias._requires_grad)
    wspec = None if weight is None else (tuple(weight.shape), weight.dtype)
    bspec = None if bias is None else (tuple(bias.shape), bias.dtype)

    def rule(m: Any, g: Any, xv: Any, wv: Any, mean: Any, rstd: Any) -> tuple:
        if m.graph:  # create_graph: the composite formula in differentiable ops, exact to any order
            return _graph_grads(g, xv, wv, eps, rms, rows, cols, need, wspec, bspec)
        g2 = g.reshape(rows, cols)
        x2 = xv.reshape(rows, cols)
        w2 = None if wv is None else wv.reshape(cols)
        dx, dw, db = m.be.row_norm_backward(g2, x2, w2, mean, rstd, rms, *need)
        return (
            None if dx is None else dx.reshape(xshape),
            None if dw is None else dw.reshape(wspec[0]).astype(wspec[1], copy=False),
            None if db is None else db.reshape(bspec[0]).astype(bspec[1], copy=False),
        )

    return make(name, out, be, (x, weight, bias), rule, saved=(x, weight, mean, rstd))


def _graph_grads(
    g: Tensor, x: Tensor, w: Tensor | None, eps: float, rms: bool, rows: int, cols: int, need: tuple, ws: Any, bs: Any
) -> tuple:
    """The VJP on tensors: xhat and rstd recomputed from x, then the formulas of ``row_norm_backward``."""
    mdt = _math_dtype(x.dtype)
    xm = x.reshape(rows, cols).astype(mdt)  # (R, C)
    gm = g.reshape(rows, cols).astype(mdt)
    if rms:
        rstd = ((xm * xm).mean(-1, keepdim=True) + eps).rsqrt()  # (R, 1)
        xhat = xm * rstd
    else:
        xc = xm - xm.mean(-1, keepdim=True)
        rstd = ((xc * xc).mean(-1, keepdim=True) + eps).rsqrt()
        xhat = xc * rstd
    dx = dw = db = None
    if need[0]:
        gw = gm if w is None else gm * w.reshape(cols).astype(mdt)
        inner = gw - xhat * (gw * xhat).mean(-1, keepdim=True)
        if not rms:
            inner = inner - gw.mean(-1, keepdim=True)
        dx = (rstd * inner).reshape(x.shape).astype(x.dtype)
    if need[1]:
        dw = (gm * xhat).sum(0).reshape(ws[0]).astype(ws[1])
    if need[2]:
        db = gm.sum(0).reshape(bs[0]).astype(bs[1])
    return dx, dw, db
