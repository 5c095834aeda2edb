"""Indexing: x[key] with ints, slices, None, Ellipsis, integer arrays and boolean masks."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import check_same_device, make, spec


def _key(x: Tensor, key: Any) -> tuple[Any, bool]:
    """Translate a key to the backend's arrays; also say whether it holds integer arrays
    (advanced indexing, where an index may repeat and gradients must accumulate).

    A boolean mask becomes the integer indices of its True elements, once, here: finding them waits for the GPU
    (the output's size depends on the data, in PyTorch too), and backward then scatters without waiting."""
    parts = key if isinstance(key, tuple) else (key,)
    if sum(p is Ellipsis for p in parts) > 1:  # PyTorch reads further ellipses as empty ones
        first = next(i for i, p in enumerate(parts) if p is Ellipsis)
        parts = parts[: first + 1] + tuple(p for p in parts[first + 1 :] if p is not Ellipsis)
    xp = x._be.xp
    out = []
    gather = False
    for pos, k in enumerate(parts):
        if isinstance(k, Tensor):
            check_same_device("index", x, k)
            if k.dtype.kind not in "iub":
                raise IndexError(f"index: tensors used as indices must be long, int, byte or bool, got {k.dtype}")
            k = k._data
        elif isinstance(k, (list, tuple)):
            k = xp.asarray(k)
            if k.dtype.kind == "f":
                k = k.astype(np.int64)  # a list of Python floats indexes by their integer parts, as PyTorch
        elif hasattr(k, "dtype") and hasattr(k, "shape"):
            k = xp.asarray(k)
        elif isinstance(k, slice) and k.step is not None and isinstance(k.step, numbers.Integral) and k.step <= 0:
            raise ValueError(f"index: slice step must be greater than zero, got {k.step} (use flip to reverse)")
        if hasattr(k, "dtype") and k.dtype.kind not in "iub":
            raise IndexError(f"index: arrays used as indices must be integer or bool, got {k.dtype}")
        if hasattr(k, "dtype") and k.dtype.kind == "b" and k.ndim > 0:
            _check_mask(x, parts, pos, k)
            out.extend(k.nonzero())  # synchronizes on a GPU: the number of True elements is read back
            gather = True
            continue
        if hasattr(k, "dtype") and k.dtype.kind in "iu" and k.ndim > 0:
            gather = True
        out.append(k)
    return tuple(out), gather


def _check_mask(x: Tensor, parts: tuple, pos: int, mask: Any) -> None:
    """A boolean mask must match the shape of the dims it indexes (its indices alone could fit a smaller mask)."""

    def width(p: Any) -> int:
        if p is None:
            return 0
        if isinstance(p, Tensor):
            p = p._data
        if hasattr(p, "dtype") and p.dtype.kind == "b":
            return p.ndim  # a mask spans its own dims (a 0-d bool none)
        return 1

    if not any(p is Ellipsis for p in parts[:pos]):
        start = sum(width(p) for p in parts[:pos])
    else:  # after the ellipsis: count from the last dim
        start = x.ndim - sum(width(p) for p in parts[pos:])
    dims = x.shape[start : start + mask.ndim]
    if start < 0 or dims != tuple(mask.shape):
        raise IndexError(
            f"index: the shape of the mask {tuple(mask.shape)} at index {pos} does not match the shape "
            f"{dims} of the indexed tensor's dims from {start} (tensor shape {x.shape})"
        )


def check_value(value: Any, op: str) -> None:
    """What ``x[key] = value`` takes, as PyTorch: a Tensor or a real number (no lists, strings, arrays)."""
    if isinstance(value, (Tensor, numbers.Real, np.bool_)):
        return
    if isinstance(value, numbers.Number):
        raise InputTypeError(f"{op}: can't assign a {type(value).__name__} to a real tensor")
    raise TypeError(f"{op}: can't assign a {type(value).__name__} to a tensor; expected a number or a Tensor")


def getitem(x: Tensor, key: Any) -> Tensor:
    """x[key], PyTorch/NumPy semantics; the gradient scatters back and repeated indices add up."""
    k, gather = _key(x, key)
    xp = x._be.xp
    if not gather and not any(p is Ellipsis for p in k):
        k = (*k, Ellipsis)  # basic indexing down to one element: NumPy then returns a 0-d view, not a scalar copy
    try:
        out = x._data[k]
    except IndexError as e:
        raise IndexError(f"index: {e} (tensor shape {x.shape})") from None
    shape, dt = x._data.shape, x._data.dtype

    def rule(m: Any, g: Any) -> tuple:
        return (m.index_scatter(g, shape, dt, k, gather),)  # repeated indices add up

    # basic indexing gives a view (in PyTorch too); integer arrays and masks give a copy
    return make("index", xp.asarray(out), x._be, (x,), rule, view_of=None if gather else x)


def index_put(x: Tensor, key: Any, value: Any) -> Tensor:
    """A copy of x with x[key] = value (the out-of-place form of ``x[key] = value``)."""
    check_value(value, "index_put")
    k, _ = _key(x, key)
    tv = value if isinstance(value, Tensor) else None
    if tv is not None:
        check_same_device("index_put", x, tv)
        v = tv._data
    else:
        v = value
    out = x._data.copy()
    try:
        out[k] = v
    except IndexError as e:
        raise IndexError(f"index_put: {e} (tensor shape {x.shape}, key {_show(key)})") from None
    except ValueError as e:
        vshape = tuple(getattr(v, "shape", ()))
        raise InputError(
            f"index_put: cannot assign a value of shape {vshape} to x{_show(key)} of a tensor of shape {x.shape}: {e}"
        ) from None
    sv = spec(tv)

    def rule(m: Any, g: Any) -> tuple:
        gv = None if sv is None else m.unbroadcast(m.take(g, k), sv)
        return m.zero_at(g, k), gv

    return make("index_put", out, x._be, (x, tv), rule)


def _show(key: Any) -> str:
    return f"[{key!r}]" if not isinstance(key, tuple) else "[" + ", ".join(map(repr, key)) + "]"
