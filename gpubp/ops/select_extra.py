"""The scatter forms of the selection views and a few kin: put, index_reduce, diagflat, diagonal_scatter,
select_scatter, slice_scatter. Each is written from differentiable ops of the family (index_put, index_copy,
index_add, scatter_reduce, diag), so its gradients are exact to any order."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import InputError, InputIndexError
from ..tensor import Tensor
from . import index as _index
from . import shape
from ._core import check_same_device, norm_dim
from .select_gather import check_bounds, check_index, scatter_reduce
from .select_mask import _dim_vector, index_add, index_copy
from .select_tri import _diag_coords, diag


def _check_src(op: str, x: Tensor, src: Any) -> Tensor:
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}(): src must be a Tensor, got {type(src).__name__}")
    check_same_device(op, x, src)
    return src if src.dtype == x.dtype else shape.astype(src, x.dtype)


def _put_into(op: str, x: Tensor, key: tuple, src: Tensor, want: tuple) -> Tensor:
    if src.shape != want:
        raise InputError(
            f"{op}(): expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
            f"slice size = {list(want)}"
        )
    return _index.index_put(x, key, src)


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:  # noqa: A002
    """A copy of input, read as 1-D, with ``source`` written at ``index`` (int64; negative counts from the end), or
    added there with ``accumulate`` (repeated indices then add up)."""
    op = "put"
    idx = check_index(op, input, index)
    src = _check_src(op, input, source)
    if src._data.size != idx.size:
        raise InputIndexError(
            f"{op}_(): Expected source and index to have the same number of elements, but got source.numel() = "
            f"{src._data.size}, index.numel() = {idx.size}"
        )
    n = input._data.size
    check_bounds(op, input._be, idx, n, negative=True, where="a tensor of ")
    xp = input._be.xp
    flat_idx = Tensor._wrap(xp.where(idx < 0, idx + n, idx).reshape(-1), input._be)
    flat = shape.reshape(input, -1)
    fill = index_add if accumulate else index_copy
    return shape.reshape(fill(flat, 0, flat_idx, shape.reshape(src, -1)), input.shape)


def index_reduce(
    input: Tensor,  # noqa: A002
    dim: int,
    index: Tensor,
    source: Tensor,
    reduce: str,
    *,
    include_self: bool = True,
) -> Tensor:
    """A copy of input with the slices of ``source`` reduced into the slices at ``index`` along ``dim`` by
    ``reduce``: 'prod', 'mean', 'amax' or 'amin' (scatter_reduce with the index spread over source's shape)."""
    op = "index_reduce"
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise InputError(f"{op}(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    d, idx = _dim_vector(op, input, dim, index, "i")
    src = _check_src(op, input, source)
    want = tuple(len(idx) if a == d else n for a, n in enumerate(input.shape))
    if src.shape != want:
        raise InputError(f"{op}(): source of shape {src.shape} does not match self {input.shape} (expected {want})")
    xp = input._be.xp
    lay = [1] * max(input.ndim, 1)
    lay[d] = len(idx)
    spread = xp.broadcast_to(idx.astype(np.int64).reshape(lay), want if input.ndim else (len(idx),))
    return scatter_reduce(input, d, Tensor._wrap(xp.ascontiguousarray(spread), input._be), src, reduce,
                          include_self=include_self)  # fmt: skip


def diagflat(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002
    """input flattened, as the diagonal ``offset`` of a square matrix."""
    if not isinstance(input, Tensor):
        raise TypeError(f"diagflat(): input must be a Tensor, got {type(input).__name__}")
    return diag(shape.reshape(input, -1), offset)


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """A copy of input with its diagonal ``offset`` of dims (dim1, dim2) replaced by ``src`` (whose last dim runs
    along the diagonal, as ``diagonal`` returns it)."""
    op = "diagonal_scatter"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise InputError(f"{op}(): input must have at least 2 dimensions, got shape {input.shape}")
    if not isinstance(offset, numbers.Integral) or isinstance(offset, bool):
        raise TypeError(f"{op}(): offset must be an int, got {type(offset).__name__}")
    a, b = norm_dim(dim1, input.ndim, op), norm_dim(dim2, input.ndim, op)
    if a == b:
        raise InputError(f"{op}(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    s = _check_src(op, input, src)
    order = tuple(i for i in range(input.ndim) if i not in (a, b)) + (a, b)
    inverse = tuple(sorted(range(input.ndim), key=order.__getitem__))
    moved = shape.permute(input, order)
    rows, cols = _diag_coords(input._be.xp, input.shape[a], input.shape[b], int(offset))
    want = moved.shape[:-2] + (len(rows),)
    return shape.permute(_put_into(op, moved, (Ellipsis, rows, cols), s, want), inverse)


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    """A copy of input with its slice at ``index`` along ``dim`` (``select(input, dim, index)``) replaced by src."""
    op = "select_scatter"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim == 0:
        raise InputError(f"{op}() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, input.ndim, op)
    if not isinstance(index, numbers.Integral) or isinstance(index, bool):
        raise TypeError(f"{op}(): index must be an int, got {type(index).__name__}")
    size = input.shape[d]
    if not -size <= index < size:
        raise IndexError(f"{op}(): index {index} out of range for tensor of size {list(input.shape)} at dimension {d}")
    s = _check_src(op, input, src)
    want = input.shape[:d] + input.shape[d + 1 :]
    return _put_into(op, input, (slice(None),) * d + (int(index),), s, want)


def slice_scatter(
    input: Tensor,  # noqa: A002
    src: Tensor,
    dim: int = 0,
    start: int | None = None,
    end: int | None = None,
    step: int = 1,
) -> Tensor:
    """A copy of input with the slice ``start:end:step`` of dim ``dim`` replaced by src."""
    op = "slice_scatter"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): input must be a Tensor, got {type(input).__name__}")
    d = norm_dim(dim, max(input.ndim, 1), op)
    if not isinstance(step, numbers.Integral) or step <= 0:
        raise InputError(f"{op}(): slice step must be positive, got {step}")
    s = _check_src(op, input, src)
    sl = slice(start, end, step)
    want = tuple(len(range(*sl.indices(n))) if i == d else n for i, n in enumerate(input.shape))
    return _put_into(op, input, (slice(None),) * d + (sl,), s, want)
