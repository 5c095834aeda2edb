"""Functional pooling and resampling, under ``torch.nn.functional``'s names.

The general pools work on 1-3 spatial dims from host tables of each window's taps (``ops.pool``): max pooling finds
each window's maximum index on the arrays and gathers it (the gradient is the gather's scatter-add, first maximum
on ties as PyTorch's CPU kernels); average pooling and interpolation are separable, so each spatial dim is a short sum
of ``index_select`` taps times weights. Both are compositions of differentiable ops, so gradients of gradients work.
The 4-D max_pool2d / avg_pool2d with default flags keep their fused ops.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import ops
from ..errors import InputError, InputTypeError
from ..ops import pool as _pool
from ..tensor import Tensor

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "max_pool3d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
]


# ---- arguments ------------------------------------------------------------------------------------------------------


def _ntuple(op: str, name: str, value: Any, d: int) -> tuple[int, ...]:
    """An int or a tuple of 1 or ``d`` ints, as PyTorch's pools accept."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),) * d
    if isinstance(value, (tuple, list)) and len(value) in (1, d):
        if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
            return tuple(int(v) for v in value) * (d if len(value) == 1 else 1)
    raise InputTypeError(f"{op}: {name} must be an int or a tuple of {d} ints, got {value!r}")


def _check_input(op: str, x: Any, d: int) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim not in (d + 1, d + 2):
        dims = {1: "L", 2: "H, W", 3: "D, H, W"}[d]
        raise InputError(
            f"{op}: expected input (N, C, {dims}) or unbatched (C, {dims}), i.e. {d + 1}-D or {d + 2}-D, "
            f"got shape {tuple(x.shape)}"
        )


def _float_input(op: str, x: Tensor) -> None:
    if x.dtype.kind != "f":  # PyTorch: "... not implemented for 'Long'" (a RuntimeError)
        raise InputTypeError(f"{op}: expected a floating-point input, got {x.dtype}")


def _geometry(
    op: str, x: Tensor, d: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> tuple:
    """Validated (kernel, stride, padding, dilation, output sizes) of a d-dim pool, as PyTorch checks them."""
    _check_input(op, x, d)
    k = _ntuple(op, "kernel_size", kernel_size, d)
    s = (
        k
        if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
        else _ntuple(op, "stride", stride, d)
    )
    p = _ntuple(op, "padding", padding, d)
    dl = _ntuple(op, "dilation", dilation, d)
    if min(k) < 1:
        raise InputError(f"{op}: kernel_size must be greater than zero, got {k}")
    if min(s) < 1:
        raise InputError(f"{op}: stride should not be zero or negative, got {s}")
    if min(dl) < 1:
        raise InputError(f"{op}: dilation must be greater than zero, got {dl}")
    if min(p) < 0 or any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise InputError(
            f"{op}: pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} and "
            f"dilation={dl}"
        )
    sizes = tuple(x.shape[-d:])
    outs = tuple(_pool.pool_out_len(*a, bool(ceil_mode)) for a in zip(sizes, k, s, p, dl))
    if min(outs) < 1:
        raise InputError(
            f"{op}: kernel {k} is larger than the input {sizes}: calculated output size {outs} is too small"
        )
    return k, s, p, dl, outs


def _const(arr: np.ndarray, like: Tensor, dtype: Any = None) -> Tensor:
    """A host table as a tensor on ``like``'s device (a host-to-device copy, no read back)."""
    with like._be.enter():
        return Tensor._wrap(like._be.xp.asarray(arr if dtype is None else arr.astype(dtype)), like._be)


def _batched(x: Tensor, d: int) -> tuple[Tensor, bool]:
    return (x.unsqueeze(0), True) if x.ndim == d + 1 else (x, False)


# ---- max pooling --------------------------------------------------------------------------------------------------


def _max_by_tables(x: Tensor, tables: list) -> tuple[Tensor, Tensor]:
    """(values, int64 flat indices) of each window's maximum, the values a gather of x (gradient to the winner)."""
    d = len(tables)
    with x._be.enter():
        idx = Tensor._wrap(_pool.max_pool_indices(x._be.xp, x._data, tables), x._be)
    flat = x.flatten(x.ndim - d) if d > 1 else x
    out = ops.gather(flat, -1, idx.flatten(idx.ndim - d) if d > 1 else idx)
    return out.reshape(idx.shape), idx


def _max_pool(
    op: str, x: Tensor, d: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> tuple[Tensor, Tensor]:
    k, s, p, dl, outs = _geometry(op, x, d, kernel_size, stride, padding, dilation, ceil_mode)
    if x.dtype.kind not in "fiu":  # integers pool too (PyTorch's max_pool2d takes int64)
        _float_input(op, x)
    sizes = x.shape[-d:]
    tables = [_pool.window_table(*a) for a in zip(sizes, k, s, p, dl, outs)]
    return _max_by_tables(x, tables)


def max_pool1d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    """max_pool1d's values and int64 indices (flat within each input plane, for max_unpool1d)."""
    return _max_pool("max_pool1d", input, 1, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    """max_pool2d's values and int64 indices (h * W + w within each input plane, for max_unpool2d)."""
    return _max_pool("max_pool2d", input, 2, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool3d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    """max_pool3d's values and int64 indices (flat within each input volume, for max_unpool3d)."""
    return _max_pool("max_pool3d", input, 3, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max over each (dilated) window of (N, C, L) or (C, L); with return_indices also the flat argmax indices."""
    out, idx = _max_pool("max_pool1d", input, 1, kernel_size, stride, padding, dilation, ceil_mode)
    return (out, idx) if return_indices else out


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max over each (dilated) window of (N, C, H, W) or (C, H, W); the gradient goes to the first maximum."""
    if input.ndim == 4 and not return_indices and not ceil_mode and dilation in (1, (1, 1), [1, 1]):
        return ops.max_pool2d(input, kernel_size, stride if stride != () else None, padding)  # the fused op
    out, idx = _max_pool("max_pool2d", input, 2, kernel_size, stride, padding, dilation, ceil_mode)
    return (out, idx) if return_indices else out


def max_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max over each (dilated) window of (N, C, D, H, W) or (C, D, H, W)."""
    out, idx = _max_pool("max_pool3d", input, 3, kernel_size, stride, padding, dilation, ceil_mode)
    return (out, idx) if return_indices else out


# ---- average pooling ------------------------------------------------------------------------------------------------


def _separable(x: Tensor, taps: list) -> Tensor:
    """Apply per-dim taps (idx, w, valid), each (O, T), to the last len(taps) dims: y[o] = sum_t w[o,t] x[idx[o,t]]
    (taps outside the input, valid False, add nothing)."""
    d = len(taps)
    y = x
    for i, (idx, w, valid) in enumerate(taps):
        axis = x.ndim - d + i
        view = [1] * x.ndim
        view[axis] = -1
        acc = None
        for t in range(idx.shape[1]):
            term = ops.index_select(y, axis, _const(np.ascontiguousarray(idx[:, t]), x))
            if valid is not None and not valid[:, t].all():
                term = ops.where(_const(valid[:, t], x).reshape(view), term, 0.0)
            if not np.all(w[:, t] == 1.0):
                term = term * _const(np.ascontiguousarray(w[:, t]), x, x.dtype).reshape(view)
            acc = term if acc is None else acc + term
        y = acc
    return y


def _avg_pool(
    op: str,
    x: Tensor,
    d: int,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Any,
) -> Tensor:
    k, s, p, _, outs = _geometry(op, x, d, kernel_size, stride, padding, 1, ceil_mode)
    _float_input(op, x)
    if divisor_override is not None and (
        not isinstance(divisor_override, numbers.Integral)
        or isinstance(divisor_override, bool)
        or divisor_override == 0
    ):
        raise InputError(f"{op}: divisor must be not zero (a nonzero int), got divisor_override={divisor_override!r}")
    taps = []
    for size, ki, si, pi, oi in zip(x.shape[-d:], k, s, p, outs):
        tables = _pool.window_table(size, ki, si, pi, 1, oi)
        if divisor_override is not None:
            div = np.ones(oi)
        elif count_include_pad:  # the window clipped to the padded input, as PyTorch: (hend - hstart)
            start = np.arange(oi) * si - pi
            div = np.minimum(start + ki, size + pi) - start
        else:
            div = tables[1].sum(1)
        taps.append(_pool.avg_taps(tables, size, div.astype(np.float64)))
    out = _separable(x, taps)
    return out / divisor_override if divisor_override is not None else out


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over each window of (N, C, L) or (C, L); count_include_pad counts the zero padding in the divisor."""
    return _avg_pool("avg_pool1d", input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over each window of (N, C, H, W) or (C, H, W); divisor_override replaces the window size."""
    if input.ndim == 4 and not ceil_mode and count_include_pad and divisor_override is None:
        return ops.avg_pool2d(input, kernel_size, stride if stride != () else None, padding)  # the fused op
    return _avg_pool(
        "avg_pool2d", input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over each window of (N, C, D, H, W) or (C, D, H, W)."""
    return _avg_pool(
        "avg_pool3d", input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


# ---- adaptive pooling -----------------------------------------------------------------------------------------------


def _adaptive_sizes(op: str, x: Any, d: int, output_size: Any) -> tuple[int, ...]:
    _check_input(op, x, d)
    if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
        output_size = (output_size,) * d
    if not isinstance(output_size, (tuple, list)) or len(output_size) not in (1, d):
        raise InputTypeError(f"{op}: output_size must be an int or a tuple of {d} ints (or None), got {output_size!r}")
    if len(output_size) == 1:
        output_size = tuple(output_size) * d
    sizes = tuple(x.shape[-d:])
    outs = tuple(s if o is None else o for o, s in zip(output_size, sizes))
    if any(not isinstance(o, numbers.Integral) or o < 0 for o in outs):
        raise InputError(f"{op}: output_size must be non-negative ints, got {output_size!r}")
    if any(s == 0 for s in sizes):
        raise InputError(f"{op}: expected non-empty spatial dims, got input of shape {tuple(x.shape)}")
    return tuple(int(o) for o in outs)


def _adaptive_avg(op: str, x: Tensor, d: int, output_size: Any) -> Tensor:
    outs = _adaptive_sizes(op, x, d, output_size)
    _float_input(op, x)
    sizes = tuple(x.shape[-d:])
    if all(o == 1 for o in outs):
        return x.mean(tuple(range(x.ndim - d, x.ndim)), keepdim=True)
    taps = []
    for size, o in zip(sizes, outs):
        pos, valid = _pool.adaptive_table(size, o)
        taps.append(_pool.avg_taps((pos, valid), size, valid.sum(1).astype(np.float64)))
    return _separable(x, taps)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of (N, C, L) or (C, L) to output_size, over PyTorch's bins [floor(i L/O), ceil((i+1) L/O))."""
    return _adaptive_avg("adaptive_avg_pool1d", input, 1, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of (N, C, H, W) or (C, H, W) to output_size (None keeps that dim's size)."""
    return _adaptive_avg("adaptive_avg_pool2d", input, 2, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of (N, C, D, H, W) or (C, D, H, W) to output_size."""
    return _adaptive_avg("adaptive_avg_pool3d", input, 3, output_size)


def _adaptive_max(op: str, x: Tensor, d: int, output_size: Any) -> tuple[Tensor, Tensor]:
    outs = _adaptive_sizes(op, x, d, output_size)
    _float_input(op, x)
    tables = [_pool.adaptive_table(size, o) for size, o in zip(x.shape[-d:], outs)]
    return _max_by_tables(x, tables)


def adaptive_max_pool1d_with_indices(
    input: Tensor, output_size: Any, return_indices: bool = False
) -> tuple[Tensor, Tensor]:
    """adaptive_max_pool1d's values and int64 flat indices."""
    return _adaptive_max("adaptive_max_pool1d", input, 1, output_size)


def adaptive_max_pool2d_with_indices(
    input: Tensor, output_size: Any, return_indices: bool = False
) -> tuple[Tensor, Tensor]:
    """adaptive_max_pool2d's values and int64 flat indices."""
    return _adaptive_max("adaptive_max_pool2d", input, 2, output_size)


def adaptive_max_pool3d_with_indices(
    input: Tensor, output_size: Any, return_indices: bool = False
) -> tuple[Tensor, Tensor]:
    """adaptive_max_pool3d's values and int64 flat indices."""
    return _adaptive_max("adaptive_max_pool3d", input, 3, output_size)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling of (N, C, L) or (C, L) to output_size over PyTorch's adaptive bins."""
    out, idx = _adaptive_max("adaptive_max_pool1d", input, 1, output_size)
    return (out, idx) if return_indices else out


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling of (N, C, H, W) or (C, H, W) to output_size over PyTorch's adaptive bins."""
    out, idx = _adaptive_max("adaptive_max_pool2d", input, 2, output_size)
    return (out, idx) if return_indices else out


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling of (N, C, D, H, W) or (C, D, H, W) to output_size over PyTorch's adaptive bins."""
    out, idx = _adaptive_max("adaptive_max_pool3d", input, 3, output_size)
    return (out, idx) if return_indices else out
