"""The select family: indexing and selection ops (gather/scatter, index_*, masked_*, nonzero, triangles, diagonals).

The functions live in ``select_gather`` (along a dim by an index tensor), ``select_mask`` (index vectors, masks,
nonzero, select/unbind), ``select_tri`` (triangles and diagonals) and ``select_extra`` (put, index_reduce
and the *_scatter forms of the views); this module lists them for ``gpubp.ops`` and
adds the in-place forms PyTorch has as Tensor methods.

Index tensors are checked against their dim's size on the CPU (one min/max, an IndexError as PyTorch); the CUDA
path does not check them, because reading the check back would synchronize (PyTorch's CUDA kernels assert
asynchronously instead): there an out-of-range index reads or writes an unspecified element.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .select_extra import diagflat, diagonal_scatter, index_reduce, put, select_scatter, slice_scatter
from .select_gather import gather, scatter, scatter_add, scatter_reduce, take, take_along_dim
from .select_mask import (
    argwhere,
    index_add,
    index_copy,
    index_fill,
    index_select,
    inplace,
    masked_fill,
    masked_scatter,
    masked_select,
    nonzero,
    select_index,
    unbind,
    where_nonzero,
)
from .select_tri import diag, diag_embed, diagonal, trace, tril, tril_indices, triu, triu_indices

__all__ = [
    "argwhere", "diag", "diag_embed", "diagonal", "gather", "index_add", "index_copy", "index_fill", "index_select",
    "masked_fill", "masked_scatter", "masked_select", "nonzero", "scatter", "scatter_add", "scatter_reduce",
    "select_index", "take", "take_along_dim", "trace", "tril", "tril_indices", "triu", "triu_indices", "unbind",
    "where_nonzero", "put", "index_reduce", "diagflat", "diagonal_scatter", "select_scatter", "slice_scatter",
]  # fmt: skip

# gpubp.ops.select is this module, so the op ``select`` registers as ``select_index`` and is exported as
# gpubp.select and Tensor.select under its PyTorch name
select = select_index


def scatter_(
    t: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None, reduce: str | None = None
) -> Tensor:
    """In-place scatter (``reduce`` 'add' or 'multiply' combines)."""
    return inplace(t, scatter, "scatter_", dim, index, src, value=value, reduce=reduce)


def scatter_add_(t: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """In-place scatter_add."""
    return inplace(t, scatter_add, "scatter_add_", dim, index, src)


def scatter_reduce_(
    t: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """In-place scatter_reduce."""
    return inplace(t, scatter_reduce, "scatter_reduce_", dim, index, src, reduce, include_self=include_self)


def index_add_(t: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """In-place index_add."""
    return inplace(t, index_add, "index_add_", dim, index, source, alpha=alpha)


def index_copy_(t: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """In-place index_copy."""
    return inplace(t, index_copy, "index_copy_", dim, index, source)


def index_fill_(t: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """In-place index_fill."""
    return inplace(t, index_fill, "index_fill_", dim, index, value)


def masked_fill_(t: Tensor, mask: Tensor, value: Any) -> Tensor:
    """In-place masked_fill (the mask must broadcast to t's shape)."""
    return inplace(t, masked_fill, "masked_fill_", mask, value)


def masked_scatter_(t: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """In-place masked_scatter. Synchronizes on a GPU."""
    return inplace(t, masked_scatter, "masked_scatter_", mask, source)


def index_reduce_(
    t: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """In-place index_reduce."""
    return inplace(t, index_reduce, "index_reduce_", dim, index, source, reduce, include_self=include_self)


def put_(t: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """In-place put."""
    return inplace(t, put, "put_", index, source, accumulate)


def tril_(t: Tensor, diagonal: int = 0) -> Tensor:
    """In-place tril."""
    return inplace(t, tril, "tril_", diagonal)


def triu_(t: Tensor, diagonal: int = 0) -> Tensor:
    """In-place triu."""
    return inplace(t, triu, "triu_", diagonal)


DIFFERENTIABLE: tuple[str, ...] = (
    "gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add", "index_copy", "index_fill",
    "take", "take_along_dim", "masked_fill", "masked_select", "masked_scatter", "select_index", "unbind",
    "tril", "triu", "diag", "diagonal", "diag_embed", "trace",
    "put", "index_reduce", "diagflat", "diagonal_scatter", "select_scatter", "slice_scatter",
)  # fmt: skip
NON_DIFFERENTIABLE: tuple[str, ...] = ("nonzero", "argwhere", "tril_indices", "triu_indices", "where_nonzero")
METHODS: tuple[str, ...] = (
    "gather", "scatter", "scatter_", "scatter_add", "scatter_add_", "scatter_reduce", "scatter_reduce_",
    "index_select", "index_add", "index_add_", "index_copy", "index_copy_", "index_fill", "index_fill_",
    "take", "take_along_dim", "masked_fill", "masked_fill_", "masked_select", "masked_scatter", "masked_scatter_",
    "nonzero", "argwhere", "select", "unbind", "tril", "triu", "tril_", "triu_", "diag", "diagonal", "diag_embed",
    "trace", "put", "put_", "index_reduce", "index_reduce_", "diagflat", "diagonal_scatter", "select_scatter",
    "slice_scatter",
)  # fmt: skip
TOP_LEVEL: dict[str, str] = {
    **{n: n for n in DIFFERENTIABLE + NON_DIFFERENTIABLE if n not in ("select_index", "where_nonzero")},
    "select": "select_index",
}


def attach(cls: type) -> None:
    """Point the methods of registered ops at ``gpubp.ops``' device-entering wrappers: this module imported them
    from their homes before ``gpubp.ops`` wrapped them there, and ``Tensor.select`` is the op ``select_index``."""
    from .. import ops

    for name in METHODS:
        op = "select_index" if name == "select" else name
        if op in DIFFERENTIABLE or op in NON_DIFFERENTIABLE:
            setattr(cls, name, getattr(ops, op))
