"""Matrix products: matmul (1-D, 2-D, batched with broadcasting) and the fused linear layer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import check_same_device, make, spec


def _check_float_pair(op: str, a: Tensor, b: Tensor) -> None:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected Tensors, got {type(a).__name__} and {type(b).__name__}")
    check_same_device(op, a, b)
    if a.dtype != b.dtype:
        raise InputTypeError(f"{op}: dtypes differ ({a.dtype} and {b.dtype}); cast one with .to(dtype)")


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics: 1-D operands are vectors, leading dims broadcast."""
    _check_float_pair("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise InputError(f"matmul: both operands need at least 1 dim, got shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise InputError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: {ka} (last dim of the first) != "
            f"{kb} ({'first' if b.ndim == 1 else 'second-to-last'} dim of the second)"
        )
    xp = a._be.xp
    x, y = a._data, b._data
    try:
        out = xp.matmul(x, y)
    except ValueError:
        raise InputError(f"matmul: batch dims of shapes {a.shape} and {b.shape} cannot be broadcast together") from None
    sa, sb = spec(a), spec(b)

    # the product over >= 2-D views: a vector is a (1, k) row on the left, a (k, 1) column on the right
    xs2, ys2 = _as_2d(x.shape, True), _as_2d(y.shape, False)
    g2_shape = np.broadcast_shapes(xs2[:-2], ys2[:-2]) + (xs2[-2], ys2[-1])

    def rule(m: Any, g: Any, x: Any, y: Any) -> tuple:
        g2 = g.reshape(g2_shape)
        ga = gb = None
        if sa is not None:
            ga = m.unbroadcast(m.matmul(g2, m.swapaxes(y.reshape(ys2), -1, -2)), (xs2, sa[1])).reshape(sa[0])
        if sb is not None:
            gb = m.unbroadcast(m.matmul(m.swapaxes(x.reshape(xs2), -1, -2), g2), (ys2, sb[1])).reshape(sb[0])
        return ga, gb

    saved = (a if sb is not None else None, b if sa is not None else None)
    return make("matmul", out, a._be, (a, b), rule, saved=saved)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ weight.T + bias for x of shape (..., in), weight (out, in), bias (out,); one op.

    As PyTorch, a 1-D weight (in,) gives x @ weight (no bias), and a bias may be any shape that broadcasts to y's."""
    _check_float_pair("linear", x, weight)
    if x.ndim == 0 or weight.ndim == 0:
        raise InputError(f"linear: input and weight need at least 1 dim, got shapes {x.shape} and {weight.shape}")
    if weight.ndim > 2:
        raise InputError(f"linear: weight must be 1-D or 2-D (out_features, in_features), got shape {weight.shape}")
    if x.shape[-1] != weight.shape[-1]:
        raise InputError(
            f"linear: input of shape {x.shape} needs a last dim equal to weight's in_features; "
            f"weight has shape {weight.shape}, expected (out_features, {x.shape[-1]})"
        )
    if weight.ndim == 1:
        if bias is not None:
            raise InputError(f"linear: a 1-D weight (shape {weight.shape}) takes no bias; weight must be 2-D")
        return matmul(x, weight)
    out_shape = x.shape[:-1] + (weight.shape[0],)
    if bias is not None:
        _check_float_pair("linear", x, bias)
        if bias.shape != (weight.shape[0],) and _broadcast_into(bias.shape, out_shape) is None:
            raise InputError(
                f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},) "
                f"or a shape that broadcasts to the output's {out_shape}"
            )
    xp = x._be.xp
    xd, wd = x._data, weight._data
    out = xp.matmul(xd, wd.T)
    if bias is not None:
        out += bias._data  # in place: out is fresh, no temporary
    sx, sw, sb = spec(x), spec(weight), spec(bias)

    def rule(m: Any, g: Any, xd: Any, wd: Any) -> tuple:
        n = math.prod(g.shape[:-1])  # explicit, not -1: a reshape of an empty array cannot infer it
        g2 = g.reshape((n, g.shape[-1]))  # (N, out)
        gx = None if sx is None else m.matmul(g, wd)
        gw = None if sw is None else m.matmul(g2.T, xd.reshape((n, xd.shape[-1])))
        gb = None
        if sb is not None:
            gb = m.sum(g2, 0) if sb[0] == g.shape[-1:] else m.unbroadcast(g, sb)
        return gx, gw, gb

    saved = (x if sw is not None else None, weight if sx is not None else None)
    return make("linear", out, x._be, (x, weight, bias), rule, saved=saved)


def _as_2d(shape: tuple, left: bool) -> tuple:
    """A matmul operand's shape as the product sees it: a vector is a (1, k) row on the left, a (k, 1) column on
    the right."""
    if len(shape) > 1:
        return shape
    return (1,) + shape if left else shape + (1,)


def _broadcast_into(shape: tuple, target: tuple) -> tuple | None:
    """``target`` when ``shape`` broadcasts to it without growing it, else None."""
    try:
        return target if np.broadcast_shapes(shape, target) == target else None
    except ValueError:
        return None


def mm(a: Tensor, b: Tensor) -> Tensor:
    """The product of two matrices, (n, k) @ (k, m); no broadcasting, as PyTorch."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        raise TypeError(f"mm: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim != 2 or b.ndim != 2:
        raise InputError(f"mm: both operands must be 2-D matrices, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise InputError(
            f"mm: mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})"
        )
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched matrix product, (B, n, k) @ (B, k, m); no broadcasting, as PyTorch."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        raise TypeError(f"bmm: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim != 3 or b.ndim != 3:
        raise InputError(f"bmm: both operands must be 3-D batches of matrices, got shapes {a.shape} and {b.shape}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise InputError(
            f"bmm: batch shapes {a.shape} and {b.shape} do not match: expected (B, n, k) and (B, k, m) with the "
            "same B and k"
        )
    return matmul(a, b)
