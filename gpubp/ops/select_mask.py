"""Selection by an index vector along a dim (index_select/add/copy/fill), by a mask (masked_fill/select/scatter),
nonzero, select and unbind, and the in-place forms' common path (``inplace``)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import index as _index
from . import inplace as _inplace
from . import shape
from ._core import check_same_device, make, norm_dim, spec, write_out
from .select_gather import check_bounds, check_index

# the in-place forms write through the one in-place helper (it records when a src or value tensor requires grad)
inplace = _inplace.apply_


def _dim_vector(op: str, x: Tensor, dim: int, index: Any, kinds: str) -> tuple[int, Any]:
    """(dim, 1-D index array) of the index_* ops: a vector (or a 0-d) of int64 (or int32 where PyTorch takes it)."""
    idx = check_index(op, x, index, kinds)
    if idx.ndim > 1:
        raise InputError(f"{op}(): Index is supposed to be a vector, got shape {tuple(idx.shape)}")
    d = norm_dim(dim, max(x.ndim, 1), op)
    size = x.shape[d] if x.ndim else 1
    check_bounds(op, x._be, idx, size, where=f"dimension {d} with ")
    return d, idx.reshape(-1)


def _key(x: Tensor, d: int, idx: Any) -> tuple:
    return (slice(None),) * d + (idx,) if x.ndim else ()


def _source(op: str, x: Tensor, d: int, idx: Any, source: Any) -> Tensor:
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}(): source must be a Tensor, got {type(source).__name__}")
    check_same_device(op, x, source)
    if source.dtype != x.dtype:
        raise InputTypeError(f"{op}(): self ({x.dtype}) and source ({source.dtype}) must have the same scalar type")
    want = tuple(len(idx) if a == d else n for a, n in enumerate(x.shape))
    if source.shape != want and not (x.ndim == 0 and source._data.size == len(idx) == 1):
        raise InputError(
            f"{op}(): source of shape {source.shape} does not match self {x.shape} with dim {d} of the index's "
            f"length {len(idx)} (expected {want})"
        )
    return source


def index_select(input: Tensor, dim: int, index: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """The entries of input at ``index`` (a vector, int32 or int64) along ``dim``; the gradient is an index_add."""
    d, idx = _dim_vector("index_select", input, dim, index, "i")
    key = _key(input, d, idx)
    shp, dt = input._data.shape, input._data.dtype
    data = input._data[key] if input.ndim else input._data.reshape(1)[idx]
    if not input.ndim and not index.ndim:
        data = data.reshape(())

    def rule(m: Any, g: Any) -> tuple:
        if not shp:
            return (m.index_scatter(g.reshape(-1), (1,), dt, (idx,), True).reshape(()),)
        return (m.index_scatter(g, shp, dt, key, True),)

    return write_out(make("index_select", data, input._be, (input,), rule), out, "index_select")


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    """A copy of input with ``alpha * source`` added at ``index`` along ``dim`` (repeated indices add up)."""
    op = "index_add"
    d, idx = _dim_vector(op, input, dim, index, "i")
    src = _source(op, input, d, idx, source)
    be = input._be
    key = _key(input, d, idx)
    out = input._data.copy()
    vals = src._data if alpha == 1 else src._data * alpha
    if input.ndim:
        be.scatter_add(out, key, vals.astype(out.dtype, copy=False))
    else:
        out = out + vals.reshape(()).astype(out.dtype) * len(idx)
    ss = spec(src)

    def rule(m: Any, g: Any) -> tuple:
        if ss is None:
            return g, None
        gs = m.take(g, key) if key else g.reshape(ss[0])
        return g, gs * alpha if alpha != 1 else gs

    return make(op, out, be, (input, src), rule)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of input with the slices of ``source`` written at ``index`` (int64) along ``dim``."""
    op = "index_copy"
    if isinstance(index, Tensor) and index.dtype != np.int64:
        raise InputTypeError(f"{op}_(): Expected a long tensor for index, but got {index.dtype}")
    d, idx = _dim_vector(op, input, dim, index, "i8")
    src = _source(op, input, d, idx, source)
    key = _key(input, d, idx)
    out = input._data.copy()
    out[key] = src._data if input.ndim else src._data.reshape(())
    sx, ss = spec(input), spec(src)

    def rule(m: Any, g: Any) -> tuple:
        gx = None if sx is None else (m.zero_at(g, key) if key else g * 0)
        gs = None if ss is None else (m.take(g, key) if key else g.reshape(ss[0]))
        return gx, gs

    return make(op, out, input._be, (input, src), rule)


def _fill_value(op: str, x: Tensor, value: Any) -> tuple[Tensor | None, Any]:
    """(value tensor or None, the value as x's dtype): a number or a 0-d tensor, as PyTorch."""
    if isinstance(value, Tensor):
        check_same_device(op, x, value)
        if value.ndim != 0:
            raise InputError(
                f"{op} only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s)."
            )
        return value, value._data.astype(x.dtype)
    if isinstance(value, (numbers.Real, np.bool_)):
        return None, np.asarray(value).astype(x.dtype)
    raise TypeError(f"{op}(): value must be a number or a 0-d Tensor, got {type(value).__name__}")


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:  # noqa: A002
    """A copy of input with the slices at ``index`` (int64) along ``dim`` set to ``value`` (a number or a 0-d
    tensor, which gets the gradient of every filled element)."""
    op = "index_fill"
    if isinstance(index, Tensor) and index.dtype != np.int64:
        raise InputTypeError(f"{op}_(): Expected dtype int64 for index, got {index.dtype}")
    d, idx = _dim_vector(op, input, dim, index, "i8")
    tv, v = _fill_value(op, input, value)
    xp = input._be.xp
    mask = xp.zeros(input.shape, dtype=bool)
    if input.ndim:
        mask[_key(input, d, idx)] = True
    else:
        mask[...] = idx.size > 0
    return _masked_fill(op, input, mask, tv, v)


def _masked_fill(op: str, x: Tensor, mask: Any, tv: Tensor | None, v: Any) -> Tensor:
    xp = x._be.xp
    out = xp.where(mask, xp.asarray(v), x._data)
    if out.dtype != x.dtype:
        out = out.astype(x.dtype)
    sx, sv = spec(x), spec(tv)

    def rule(m: Any, g: Any) -> tuple:
        gx = None if sx is None else m.unbroadcast(m.where(mask, 0.0, g), sx)
        gv = None if sv is None else m.sum(m.where(mask, g, 0.0), None).astype(sv[1])
        return gx, gv

    return make(op, out, x._be, (x, tv), rule)


def _mask(op: str, x: Tensor, mask: Any) -> Any:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): mask must be a bool Tensor, got {type(mask).__name__}")
    check_same_device(op, x, mask)
    if mask.dtype != dtypes.bool_:
        raise InputTypeError(f"{op} only supports boolean masks, but got mask with dtype {mask.dtype}")
    try:
        np.broadcast_shapes(x.shape, mask.shape)
    except ValueError:
        raise InputError(f"{op}: the mask's shape {mask.shape} does not broadcast with the input's {x.shape}") from None
    return mask._data


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:  # noqa: A002
    """input with ``value`` where ``mask`` (bool, broadcasting) holds; ``value`` a number or a 0-d tensor (which
    gets the sum of the gradient over the filled elements)."""
    mk = _mask("masked_fill", input, mask)
    tv, v = _fill_value("masked_fill", input, value)
    return _masked_fill("masked_fill", input, mk, tv, v)


def masked_select(input: Tensor, mask: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """The elements of input (broadcast with ``mask``) where mask holds, as a 1-D tensor. Synchronizes on a GPU:
    the result's size is the number of True elements, read back."""
    mk = _mask("masked_select", input, mask)
    if input.ndim == 0 and mask.ndim == 0:
        return write_out(masked_select(shape.reshape(input, 1), shape.reshape(mask, 1)), out, "masked_select")
    xp = input._be.xp
    bshape = np.broadcast_shapes(input.shape, mask.shape)
    positions = xp.nonzero(xp.broadcast_to(mk, bshape))  # synchronizes on a GPU
    data = xp.broadcast_to(input._data, bshape)[positions]
    sx, dt = spec(input), input._data.dtype

    def rule(m: Any, g: Any) -> tuple:
        return (m.unbroadcast(m.index_scatter(g, bshape, dt, positions, False), sx),)

    return write_out(make("masked_select", data, input._be, (input,), rule), out, "masked_select")


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """input (broadcast with ``mask``) with the first elements of ``source``, in order, where mask holds.
    Synchronizes on a GPU (the number of True elements is read back to check source is large enough)."""
    op = "masked_scatter"
    mk = _mask(op, input, mask)
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}(): source must be a Tensor, got {type(source).__name__}")
    check_same_device(op, input, source)
    if source.dtype != input.dtype:
        raise InputTypeError(
            f"{op}: expected self and source to have same dtypes but got {input.dtype} and {source.dtype}"
        )
    xp = input._be.xp
    bshape = np.broadcast_shapes(input.shape, mask.shape)
    mb = xp.broadcast_to(mk, bshape).reshape(-1)
    positions = xp.nonzero(mb)  # synchronizes on a GPU
    count = int(positions[0].shape[0])
    if count > source._data.size:
        raise InputError(f"{op}: Number of elements of source < number of ones in mask ({source._data.size} < {count})")
    out = xp.broadcast_to(input._data, bshape).reshape(-1).copy()
    out[positions] = source._data.reshape(-1)[:count]
    out = out.reshape(bshape)
    sx, ss, dt, n_src = spec(input), spec(source), input._data.dtype, source._data.size
    mfull = mb.reshape(bshape)

    def rule(m: Any, g: Any) -> tuple:
        gx = None if sx is None else m.unbroadcast(m.where(mfull, 0.0, g), sx)
        gs = None
        if ss is not None:
            taken = m.take(g.reshape((-1,)), positions)
            gs = m.index_scatter(taken, (n_src,), dt, (slice(0, count),), False).reshape(ss[0])
        return gx, gs

    return make(op, out, input._be, (input, source), rule)


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:  # noqa: A002
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, or with ``as_tuple`` one 1-D tensor per dim.
    Synchronizes on a GPU: the number of nonzero elements is read back."""
    if not isinstance(input, Tensor):
        raise TypeError(f"nonzero(): input must be a Tensor, got {type(input).__name__}")
    xp, be = input._be.xp, input._be
    d = input._data
    found = xp.nonzero(d.reshape(1) if d.ndim == 0 else d)  # synchronizes on a GPU
    if as_tuple:
        return tuple(Tensor._wrap(f.astype(np.int64, copy=False), be) for f in found)
    n = found[0].shape[0]
    if d.ndim == 0:
        return Tensor._wrap(xp.zeros((n, 0), dtype=np.int64), be)
    return Tensor._wrap(xp.stack(found, axis=1).astype(np.int64, copy=False), be)


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    """nonzero(input): the (n, ndim) indices of the nonzero elements. Synchronizes on a GPU."""
    return nonzero(input)


def select_index(input: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    """The slice of input at ``index`` along ``dim``, that dim removed (a view; ``Tensor.select``, ``gpubp.select``)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"select(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim == 0:
        raise InputError("select() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, input.ndim, "select")
    if isinstance(index, Tensor):
        index = index.item()  # PyTorch takes a 0-d integer tensor here too; reading it waits for the GPU
    if not isinstance(index, numbers.Integral) or isinstance(index, bool):
        raise TypeError(f"select(): index must be an int, got {type(index).__name__}")
    size = input.shape[d]
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(input.shape)} at dimension {d}"
        )
    return _index.getitem(input, (slice(None),) * d + (int(index),))


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """The slices of input along ``dim``, that dim removed, as a tuple of views."""
    if not isinstance(input, Tensor):
        raise TypeError(f"unbind(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim == 0:
        raise InputError("unbind(): Dimension specified as 0 but tensor has no dimensions")
    d = norm_dim(dim, input.ndim, "unbind")
    return tuple(select_index(input, d, i) for i in range(input.shape[d]))


def where_nonzero(condition: Tensor) -> tuple[Tensor, ...]:
    """where(condition) with one argument: nonzero(condition, as_tuple=True). Synchronizes on a GPU."""
    return nonzero(condition, as_tuple=True)
