"""Triangles and diagonals: tril, triu, tril_indices, triu_indices, diag, diagonal, diag_embed, trace.

diagonal and diag_embed are written from permute and indexing (differentiable ops), so their gradients (a scatter
into the diagonal, a read of it) are exact to any order."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import dtypes
from ..backend import get_backend
from ..errors import InputError
from ..tensor import Tensor
from . import index as _index
from . import reduce, shape
from ._core import make, norm_dim, write_out


def _tri(op: str, x: Tensor, diagonal: int, lower: bool) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): input must be a Tensor, got {type(x).__name__}")
    if x.ndim < 2:
        raise InputError(f"{op}: input tensor must have at least 2 dimensions, got shape {x.shape}")
    if not isinstance(diagonal, numbers.Integral) or isinstance(diagonal, bool):
        raise TypeError(f"{op}(): diagonal must be an int, got {type(diagonal).__name__}")
    xp = x._be.xp
    rows, cols = x.shape[-2:]
    keep = xp.tri(rows, cols, int(diagonal), dtype=bool)  # (rows, cols): j - i <= diagonal
    if not lower:
        keep = ~xp.tri(rows, cols, int(diagonal) - 1, dtype=bool)
    out = xp.where(keep, x._data, xp.zeros((), dtype=x._data.dtype))

    def rule(m: Any, g: Any) -> tuple:
        return (m.where(keep, g, 0.0),)

    return make(op, out, x._be, (x,), rule)


def tril(input: Tensor, diagonal: int = 0, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """The lower triangle of the last two dims (elements with j - i <= diagonal), the rest 0."""
    return write_out(_tri("tril", input, diagonal, True), out, "tril")


def triu(input: Tensor, diagonal: int = 0, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """The upper triangle of the last two dims (elements with j - i >= diagonal), the rest 0."""
    return write_out(_tri("triu", input, diagonal, False), out, "triu")


def _tri_indices(op: str, row: int, col: int, offset: int, dtype: Any, device: Any, lower: bool) -> Tensor:
    for name, v in (("row", row), ("col", col), ("offset", offset)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{op}(): {name} must be an int, got {type(v).__name__}")
    if row < 0 or col < 0:
        raise InputError(f"{op}(): row and col must be non-negative, got {row} and {col}")
    dt = dtypes.to_dtype(dtype) if dtype is not None else np.dtype(np.int64)
    if dt.kind not in "iu":
        raise InputError(f"{op}(): dtype must be an integer type, got {dt}")
    # built on the host: its size depends only on the arguments, so the device gets one copy and no sync
    mask = np.tri(row, col, offset, dtype=bool) if lower else ~np.tri(row, col, offset - 1, dtype=bool)
    host = np.stack(np.nonzero(mask)).astype(dt)
    be = get_backend(device)
    return Tensor._wrap(be.from_host(host), be)


def tril_indices(
    row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None, layout: Any = None
) -> Tensor:
    """The (2, n) coordinates of the lower triangle of a row x col matrix (j - i <= offset), row by row."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device, True)


def triu_indices(
    row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None, layout: Any = None
) -> Tensor:
    """The (2, n) coordinates of the upper triangle of a row x col matrix (j - i >= offset), row by row."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device, False)


def _diag_coords(xp: Any, n1: int, n2: int, offset: int) -> tuple[Any, Any]:
    """Row and column indices of diagonal ``offset`` of an n1 x n2 matrix."""
    r0, c0 = max(-offset, 0), max(offset, 0)
    length = max(min(n1 - r0, n2 - c0), 0)
    ar = xp.arange(length)
    return ar + r0, ar + c0


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The diagonal ``offset`` of the (dim1, dim2) matrices, as the last dim. A copy (PyTorch returns a view: writing
    into the result does not change input here); the gradient is exact."""
    op = "diagonal"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise InputError(f"{op}(): input must have at least 2 dimensions, got shape {input.shape}")
    a, b = norm_dim(dim1, input.ndim, op), norm_dim(dim2, input.ndim, op)
    if a == b:
        raise InputError(f"{op}(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    if not isinstance(offset, numbers.Integral) or isinstance(offset, bool):
        raise TypeError(f"{op}(): offset must be an int, got {type(offset).__name__}")
    order = tuple(i for i in range(input.ndim) if i not in (a, b)) + (a, b)
    moved = input if order == tuple(range(input.ndim)) else shape.permute(input, order)
    rows, cols = _diag_coords(input._be.xp, input.shape[a], input.shape[b], int(offset))
    return _index.getitem(moved, (Ellipsis, rows, cols))


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """Matrices in dims (dim1, dim2) of the result whose diagonal ``offset`` holds input's last dim, the rest 0."""
    op = "diag_embed"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): input must be a Tensor, got {type(input).__name__}")
    if not isinstance(offset, numbers.Integral) or isinstance(offset, bool):
        raise TypeError(f"{op}(): offset must be an int, got {type(offset).__name__}")
    nd = input.ndim + 1
    a, b = norm_dim(dim1, nd, op), norm_dim(dim2, nd, op)
    if a == b:
        raise InputError(f"{op}(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = input if input.ndim else shape.reshape(input, 1)
    n = x.shape[-1] + abs(int(offset))
    xp = x._be.xp
    rows, cols = _diag_coords(xp, n, n, int(offset))
    base = Tensor._wrap(xp.zeros(x.shape[:-1] + (n, n), dtype=x._data.dtype), x._be)
    square = _index.index_put(base, (Ellipsis, rows, cols), x)  # (..., n, n)
    rest = iter(range(nd - 2))
    order = tuple(nd - 2 if i == a else nd - 1 if i == b else next(rest) for i in range(nd))
    return square if order == tuple(range(nd)) else shape.permute(square, order)


def diag(input: Tensor, diagonal: int = 0, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """A 1-D input as the diagonal ``diagonal`` of a square matrix; the diagonal of a 2-D input as a vector."""
    if not isinstance(input, Tensor):
        raise TypeError(f"diag(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim == 1:
        return write_out(diag_embed(input, diagonal, 0, 1), out, "diag")
    if input.ndim == 2:
        # the argument ``diagonal`` (PyTorch's name) hides the function of that name here
        return write_out(globals()["diagonal"](input, diagonal, 0, 1), out, "diag")
    raise InputError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def trace(input: Tensor) -> Tensor:  # noqa: A002
    """The sum of a matrix's main diagonal (integers sum to int64)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"trace(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim != 2:
        raise InputError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return reduce.sum(diagonal(input))
