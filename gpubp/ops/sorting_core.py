"""What the sorting family's ops share: a stable argsort on every backend, running max/min, picking elements along
a dim with a gradient that scatters back, PyTorch's named-tuple results and ``out=(values, indices)``."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import InputTypeError
from ..tensor import Tensor
from ._core import make, write_out

# torch.return_types.*: (values, indices)
SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])
MedianResult = namedtuple("median", ["values", "indices"])
NanmedianResult = namedtuple("nanmedian", ["values", "indices"])
ModeResult = namedtuple("mode", ["values", "indices"])
CummaxResult = namedtuple("cummax", ["values", "indices"])
CumminResult = namedtuple("cummin", ["values", "indices"])


def argsort_stable(xp: Any, a: Any, axis: int, descending: bool = False) -> Any:
    """Stable argsort along ``axis``, NaN last ascending and first descending (as PyTorch).

    NumPy needs ``kind='stable'``; CuPy's sort is always stable (a radix sort) and accepts only ``kind=None`` or
    ``'stable'`` (CuPy >= 13 documents it so). Descending keeps equal elements in their original order: sort the
    reversed array ascending, reverse, and map positions."""
    if descending:
        n = a.shape[axis]
        rev = xp.flip(argsort_stable(xp, xp.flip(a, axis), axis), axis)
        return (n - 1) - rev
    return xp.argsort(a, axis=axis, kind="stable")


def running(xp: Any, a: Any, axis: int, largest: bool) -> Any:
    """The running max (or min) along ``axis``; NaN propagates. CuPy's ufuncs have no ``maximum.accumulate``, so
    off NumPy it is a doubling scan: log2(n) vectorized steps, each combining every element with the one 2^k back."""
    op = xp.maximum if largest else xp.minimum
    if xp is np:
        return op.accumulate(a, axis=axis)
    n = a.shape[axis]
    out = a
    shift = 1
    while shift < n:
        head = _slice(out, axis, None, shift)
        tail = op(_slice(out, axis, shift, None), _slice(out, axis, None, n - shift))
        out = xp.concatenate([head, tail], axis=axis)
        shift *= 2
    return out


def _slice(a: Any, axis: int, start: int | None, stop: int | None) -> Any:
    key = [slice(None)] * a.ndim
    key[axis] = slice(start, stop)
    return a[tuple(key)]


def along_key(xp: Any, idx: Any, axis: int) -> tuple:
    """The advanced-indexing key that reads ``idx`` along ``axis`` and every other dim in place:
    ``a[along_key(xp, idx, axis)]`` is ``take_along_axis(a, idx, axis)``, and as a key it also scatters back."""
    nd = idx.ndim
    key = []
    for d in range(nd):
        if d == axis:
            key.append(idx)
        else:
            key.append(xp.arange(idx.shape[d]).reshape((1,) * d + (-1,) + (1,) * (nd - d - 1)))
    return tuple(key)


def pick(x: Tensor, idx: Any, axis: int, name: str, out_shape: tuple | None = None, repeats: bool = False) -> Tensor:
    """The elements of ``x`` at positions ``idx`` along ``axis`` (a differentiable gather), shaped ``out_shape``."""
    return take_key(x, along_key(x._be.xp, idx, axis), name, out_shape, repeats)


def take_key(x: Tensor, key: tuple, name: str, out_shape: tuple | None = None, repeats: bool = False) -> Tensor:
    """``x[key]`` for a key of integer arrays, shaped ``out_shape``: the gradient scatters back to those positions
    (adding up where ``repeats``: a position may be read twice); in a graph the scatter's own gradient is this
    gather again, so every order is exact."""
    vals = x._data[key]
    kept = vals.shape
    if out_shape is not None:
        vals = vals.reshape(out_shape)
    shape, dt = x._data.shape, x._data.dtype

    def rule(m: Any, g: Any) -> tuple:
        return (m.index_scatter(g.reshape(kept), shape, dt, key, repeats),)

    return make(name, vals, x._be, (x,), rule)


def indices(be: Any, idx: Any) -> Tensor:
    return Tensor._wrap(idx.astype(dtypes.int64, copy=False), be)


def refuse_bool(x: Tensor, op: str) -> None:
    """The ops PyTorch does not implement for bool tensors (topk, kthvalue, median, quantile's kin)."""
    if x._data.dtype == dtypes.bool_:
        raise InputTypeError(f"{op}(): not implemented for bool tensors; convert with .int() or .float()")


def write_pair(result: tuple, out: Any, op: str) -> tuple:
    """PyTorch's ``out=(values, indices)`` for the ops that return both."""
    if out is None:
        return result
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"{op}: out must be a tuple of two tensors (values, indices), got {type(out).__name__}")
    values = write_out(result[0], out[0], op)
    idx = write_out(result[1], out[1], op)
    return type(result)(values, idx)
