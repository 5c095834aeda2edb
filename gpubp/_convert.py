"""Turning what users pass to ``tensor()`` (nested lists, scalars, NumPy/CuPy arrays, tensors) into one backend's
array, with PyTorch's checks: rectangular nesting, values that fit the dtype, no tensors of several elements inside
lists."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import dtypes
from .backend import Backend
from .errors import InputError, InputTypeError
from .tensor import Tensor


def to_array(data: Any, dtype: np.dtype | None, be: Backend, op: str = "tensor") -> Any:
    """Convert user data (nested lists, scalars, NumPy/CuPy arrays, Tensors) to ``be``'s array."""
    if isinstance(data, Tensor):
        arr = data._data if data._be is be else be.asarray(data._be.to_numpy(data._data))
        return be.xp.array(arr, dtype=dtype, copy=True)
    if hasattr(data, "__cuda_array_interface__") and be.device.type == "cpu":
        data = data.get()  # a CuPy array coming to the CPU
    if isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
        src = data
    else:
        src = _from_python(data, op)
        if dtype is not None and dtype.kind in "iu" and src.dtype.kind in "iuf" and src.size:
            _check_fits(src, dtype, op)
        if src.dtype == np.float64 and dtype is None:
            src = src.astype(dtypes.DEFAULT_FLOAT)  # Python floats become float32, as PyTorch
    if src.dtype not in dtypes.SUPPORTED and dtype is None:
        raise InputTypeError(f"{op}: data of dtype {src.dtype} is not supported")
    return be.xp.array(src, dtype=dtype, copy=True)


def _from_python(data: Any, op: str) -> np.ndarray:
    """Python data (numbers, nested sequences, one-element tensors) as a NumPy array, or PyTorch's error."""
    if isinstance(data, (str, bytes)):
        raise InputTypeError(f"{op}: invalid data type '{type(data).__name__}'; expected numbers or sequences of them")
    if isinstance(data, (list, tuple)) and isinstance(_first_leaf(data), Tensor):
        data = _unpack_tensors(data, op)
    try:
        src = np.asarray(data)
    except ValueError:
        check_nested(data, op)  # raises PyTorch's error for ragged nesting
        raise InputError(f"{op}: could not convert the data to a tensor (mixed or ragged nesting)") from None
    except TypeError:  # a GPU tensor inside a list has no __array__: unpack tensors, then convert
        src = np.asarray(_unpack_tensors(data, op))
    if src.dtype.kind in "OUSV" or (src.dtype == np.uint64 and src.size):
        _bad_leaf(data, op)
    return src


def _first_leaf(data: Any) -> Any:
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return data


def _unpack_tensors(data: Any, op: str) -> Any:
    """Nested sequences with their tensors replaced by 0-d host arrays; only one-element tensors are numbers."""
    if isinstance(data, Tensor):
        if data._data.size != 1:
            raise InputError(
                f"{op}: only one-element tensors can be converted to Python scalars, got a tensor of shape {data.shape}"
            )
        return np.asarray(data._be.to_numpy(data._data.reshape(())))
    if isinstance(data, (list, tuple)):
        return [_unpack_tensors(v, op) for v in data]
    return data


def _bad_leaf(data: Any, op: str) -> None:
    """Raise PyTorch's error for the element NumPy could not make a number of: a string where the first element is
    one reads as a further dimension (ValueError), an int beyond int64 overflows (ValueError), anything else has no
    dtype (TypeError for a string elsewhere, RuntimeError 'could not infer dtype' otherwise)."""
    if isinstance(_first_leaf(data), str):
        raise InputError(f"{op}: too many dimensions 'str' (strings cannot be tensor data)")
    stack = [data]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(reversed(v))
        elif isinstance(v, (str, bytes)):
            raise InputTypeError(f"{op}: invalid data type '{type(v).__name__}'; expected numbers")
        elif isinstance(v, int) and not -(2**63) <= v < 2**63:
            raise InputError(f"{op}: overflow: the int {v} does not fit in int64")
        elif not isinstance(v, (numbers.Number, np.generic, np.ndarray)):
            raise InputTypeError(f"{op}: could not infer dtype of {type(v).__name__}")
    raise InputTypeError(f"{op}: could not convert the data to a tensor of numbers")


def _check_fits(src: np.ndarray, dtype: np.dtype, op: str) -> None:
    """PyTorch refuses Python numbers that overflow an integer dtype (host data: no device read). Ints may wrap into
    an unsigned dtype from as far below zero as its maximum, as PyTorch allows; floats must lie in the range."""
    info = np.iinfo(dtype)
    lo = -info.max if src.dtype.kind in "iu" and dtype.kind == "u" else info.min
    if src.dtype.kind == "f":
        ok = bool(np.isfinite(src).all()) and src.min() >= lo and src.max() <= info.max
    else:
        ok = int(src.min()) >= lo and int(src.max()) <= info.max
    if not ok:
        raise InputError(f"{op}: value cannot be converted to type {dtype} without overflow")


def check_nested(data: Any, op: str = "tensor") -> None:
    """Raise, as PyTorch, where nested lists are ragged: ValueError for a length that differs from its first
    sibling's, TypeError where a number and a sequence meet at the same depth."""
    level = [data]
    dim = 0
    while level:
        seqs = [isinstance(v, (list, tuple)) for v in level]
        if any(seqs) and not all(seqs):
            kind = type(level[seqs.index(False) if seqs[0] else seqs.index(True)]).__name__
            want = "a sequence" if seqs[0] else "a number"
            raise TypeError(f"{op}: expected {want} at dim {dim}, like the first element there, got {kind}")
        if not seqs[0]:
            return
        length = len(level[0])
        for v in level:
            if len(v) != length:
                raise ValueError(f"{op}: expected sequence of length {length} at dim {dim} (got {len(v)})")
        level = [u for v in level for u in v]
        dim += 1
