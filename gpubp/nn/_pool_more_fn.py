"""Fractional max pooling, max unpooling and Lp pooling, under ``torch.nn.functional``'s names (the pools' table
machinery is ``_pool_fn``'s)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..errors import InputError, InputTypeError
from ..ops import pool as _pool
from ..tensor import Tensor
from ._pool_fn import (
    _batched,
    _check_input,
    _float_input,
    _ntuple,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
)

__all__ = [
    "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d_with_indices",
    "fractional_max_pool2d",
    "fractional_max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
]


# ---- fractional max pooling (Graham 2014) ---------------------------------------------------------------------------


def _fractional(
    op: str, x: Tensor, d: int, kernel_size: Any, output_size: Any, output_ratio: Any, samples: Any
) -> tuple[Tensor, Tensor]:
    _check_input(op, x, d)
    _float_input(op, x)
    k = _ntuple(op, "kernel_size", kernel_size, d)
    sizes = tuple(x.shape[-d:])
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        ratio = tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * d
        if len(ratio) != d:
            raise ValueError(f"{op} requires output_ratio to either be a single Int or tuple of Ints.")
        outs = tuple(int(s * r) for s, r in zip(sizes, ratio))
    else:
        outs = _ntuple(op, "output_size", output_size, d)
    for name, s, kk, o in zip(("depth", "height", "width")[3 - d :], sizes, k, outs):
        if o + kk - 1 > s:
            raise InputError(f"{op}(): pool {name} {kk} too large relative to input {name} {s} (output size {o})")
    xb, unbatched = _batched(x, d)
    n, c = xb.shape[0], xb.shape[1]
    be = x._be
    with be.enter():
        if samples is None:
            u = be.rand((n, c, d), x.dtype)
        else:
            if not isinstance(samples, Tensor) or tuple(samples.shape) != (n, c, d):
                got = tuple(samples.shape) if isinstance(samples, Tensor) else type(samples).__name__
                raise InputError(f"{op}(): expect _random_samples of shape ({n}, {c}, {d}), got {got}")
            u = samples._data.astype(x.dtype, copy=False)
        idx = Tensor._wrap(_pool.fractional_max_indices(be.xp, xb._data, u, k, outs), be)
    out = ops.gather(xb.flatten(2), -1, idx.flatten(2)).reshape(idx.shape)
    return (out.squeeze(0), idx.squeeze(0)) if unbatched else (out, idx)


def fractional_max_pool2d_with_indices(
    input: Tensor,
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """fractional_max_pool2d's values and int64 flat indices."""
    return _fractional("fractional_max_pool2d", input, 2, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool3d_with_indices(
    input: Tensor,
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """fractional_max_pool3d's values and int64 flat indices."""
    return _fractional("fractional_max_pool3d", input, 3, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool2d(
    input: Tensor,
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> Any:
    """Max over pseudo-random overlapping windows of (N, C, H, W) or (C, H, W), as PyTorch's (same windows for the
    same ``_random_samples`` (N, C, 2) in [0, 1); fresh ones from gpubp's generator otherwise)."""
    out, idx = _fractional("fractional_max_pool2d", input, 2, kernel_size, output_size, output_ratio, _random_samples)
    return (out, idx) if return_indices else out


def fractional_max_pool3d(
    input: Tensor,
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> Any:
    """Max over pseudo-random overlapping windows of (N, C, T, H, W) or (C, T, H, W)."""
    out, idx = _fractional("fractional_max_pool3d", input, 3, kernel_size, output_size, output_ratio, _random_samples)
    return (out, idx) if return_indices else out


# ---- unpooling and Lp pooling ---------------------------------------------------------------------------------------


def _max_unpool(
    op: str, x: Tensor, indices: Tensor, d: int, kernel_size: Any, stride: Any, padding: Any, output_size: Any
) -> Tensor:
    _check_input(op, x, d)
    if not isinstance(indices, Tensor) or indices.dtype != np.int64:
        got = indices.dtype if isinstance(indices, Tensor) else type(indices).__name__
        raise InputTypeError(f"{op}: indices must be an int64 tensor, got {got}")
    if tuple(indices.shape) != tuple(x.shape):
        raise InputError(f"{op}: indices shape {tuple(indices.shape)} must match the input shape {tuple(x.shape)}")
    k = _ntuple(op, "kernel_size", kernel_size, d)
    s = k if stride is None else _ntuple(op, "stride", stride, d)
    p = _ntuple(op, "padding", padding, d)
    sizes = tuple(x.shape[-d:])
    default = [(sz - 1) * si - 2 * pi + ki for sz, si, pi, ki in zip(sizes, s, p, k)]
    if output_size is None:
        outs = default
    else:
        given = list(output_size)
        if len(given) == d + 2:
            given = given[2:]
        if len(given) != d:
            raise ValueError(
                f"output_size should be a sequence containing {d} or {d + 2} elements, but it has a length of "
                f"'{len(given)}'"
            )
        for i in range(d):
            lo, hi = default[i] - s[i], default[i] + s[i]
            if not lo < given[i] < hi:
                raise ValueError(f'invalid output_size "{tuple(given)}" (dim {i} must be between {lo} and {hi})')
        outs = [int(g) for g in given]
    lead = tuple(x.shape[:-d])
    with x._be.enter():
        base = Tensor._wrap(x._be.xp.zeros(lead + (math.prod(outs),), dtype=x.dtype), x._be)
    flat_x = x.flatten(x.ndim - d) if d > 1 else x
    flat_i = indices.flatten(indices.ndim - d) if d > 1 else indices
    return ops.scatter(base, -1, flat_i, flat_x).reshape(lead + tuple(outs))


def max_unpool1d(
    input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, output_size: Any = None
) -> Tensor:
    """The inverse of max_pool1d: each value put back at its index, zeros elsewhere."""
    return _max_unpool("max_unpool1d", input, indices, 1, kernel_size, stride, padding, output_size)


def max_unpool2d(
    input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, output_size: Any = None
) -> Tensor:
    """The inverse of max_pool2d: each value put back at its flat index, zeros elsewhere."""
    return _max_unpool("max_unpool2d", input, indices, 2, kernel_size, stride, padding, output_size)


def max_unpool3d(
    input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, output_size: Any = None
) -> Tensor:
    """The inverse of max_pool3d: each value put back at its flat index, zeros elsewhere."""
    return _max_unpool("max_unpool3d", input, indices, 3, kernel_size, stride, padding, output_size)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> Tensor:
    """(sum over each window of x^p)^(1/p), as PyTorch: from avg_pool1d of x^p times the window size."""
    (k,) = _ntuple("lp_pool1d", "kernel_size", kernel_size, 1)
    out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (ops.sign(out) * ops.relu(ops.abs(out))).mul(k).pow(1.0 / norm_type)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> Tensor:
    """(sum over each window of x^p)^(1/p), as PyTorch: from avg_pool2d of x^p times the window size."""
    kh, kw = _ntuple("lp_pool2d", "kernel_size", kernel_size, 2)
    out = avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (ops.sign(out) * ops.relu(ops.abs(out))).mul(kh * kw).pow(1.0 / norm_type)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> Tensor:
    """(sum over each window of x^p)^(1/p), as PyTorch: from avg_pool3d of x^p times the window size."""
    kd, kh, kw = _ntuple("lp_pool3d", "kernel_size", kernel_size, 3)
    out = avg_pool3d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (ops.sign(out) * ops.relu(ops.abs(out))).mul(kd * kh * kw).pow(1.0 / norm_type)
