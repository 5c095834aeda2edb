"""Gather and scatter along a dim: gather, scatter, scatter_add, scatter_reduce, take, take_along_dim.

Each op turns ``(dim, index)`` into one advanced-indexing key (``index`` along ``dim``, broadcast aranges along the
other dims), so forward is ``x[key]`` or a scatter into ``key`` and every gradient is a take of ``g[key]`` or a
scatter-add into ``key`` (``m.take`` / ``m.index_scatter``: differentiable ops in a graph, so any order works).

Out-of-range indices raise an IndexError on the CPU (one min/max over the index); the CUDA path does not check them,
since reading the check back would synchronize (PyTorch's CUDA kernels assert asynchronously).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import OUT
from ..errors import InputError, InputIndexError, InputTypeError
from ..tensor import Tensor
from . import shape
from ._core import check_same_device, make, norm_dim, spec, write_out


def check_index(op: str, x: Tensor, index: Any, kinds: str = "i8") -> Any:
    """``index``'s array: a Tensor on x's device of an accepted dtype ('i8': int64 only, 'i': int32 or int64)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): index must be a Tensor, got {type(index).__name__}")
    check_same_device(op, x, index)
    dt = index._data.dtype
    if kinds == "i8" and dt != np.int64:
        raise InputTypeError(f"{op}(): Expected dtype int64 for index, got {dt}")
    if kinds == "i" and dt not in (np.int64, np.int32):
        raise InputTypeError(f"{op}(): Expected dtype int32 or int64 for index, got {dt}")
    return index._data


def check_bounds(op: str, be: Any, idx: Any, size: int, negative: bool = False, where: str = "") -> None:
    """Raise IndexError for an index outside [0, size) ([-size, size) with ``negative``): on the CPU only, where the
    min/max costs one pass; a GPU would have to synchronize to read it (CUDA kernels assert instead)."""
    if be.device.type != "cpu" or idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    low = -size if negative else 0
    if lo < low or hi >= size:
        bad = lo if lo < low else hi
        raise InputIndexError(f"{op}(): index {bad} is out of bounds for {where}size {size}")


def dim_key(xp: Any, idx: Any, d: int) -> tuple:
    """The advanced-indexing key of ``(dim=d, index=idx)``: ``idx`` along ``d``, aranges along the others."""
    nd = idx.ndim
    key = []
    for a in range(nd):
        if a == d:
            key.append(idx)
        else:
            shp = [1] * nd
            shp[a] = idx.shape[a]
            key.append(xp.arange(idx.shape[a]).reshape(shp))
    return tuple(key)


def _lead(shp: tuple) -> tuple:
    return tuple(slice(0, n) for n in shp)


def _check_dim_index(op: str, x: Tensor, dim: int, index: Any, src: Tensor | None = None) -> tuple[int, Any]:
    """(dim, index array) of gather/scatter, validated as PyTorch."""
    idx = check_index(op, x, index)
    d = norm_dim(dim, max(x.ndim, 1), op)
    if idx.ndim != x.ndim and idx.size:
        raise InputError(
            f"{op}(): Index tensor must have the same number of dimensions as input tensor "
            f"(index shape {tuple(idx.shape)}, input shape {x.shape})"
        )
    if src is not None and src.ndim != x.ndim and idx.size:
        raise InputError(
            f"{op}(): Index tensor must have the same number of dimensions as src tensor "
            f"(index shape {tuple(idx.shape)}, src shape {src.shape})"
        )
    if idx.size:
        for a in range(x.ndim):
            if a != d and idx.shape[a] > x.shape[a]:
                raise InputError(
                    f"{op}(): Size does not match at dimension {a}: expected index {tuple(idx.shape)} to be no larger "
                    f"than self {x.shape} apart from dimension {d}"
                )
            if src is not None and idx.shape[a] > src.shape[a]:
                raise InputError(
                    f"{op}(): Expected index {tuple(idx.shape)} to be no larger than src {src.shape} at dimension {a}"
                )
        check_bounds(op, x._be, idx, x.shape[d] if x.ndim else 1, where=f"dimension {d} with ")
    return d, idx


def _pad_to(m: Any, g: Any, shp: tuple, dt: Any) -> Any:
    """``g`` placed at the start of zeros of shape ``shp`` (the part of src that an index smaller than it reads)."""
    if tuple(g.shape) == tuple(shp):
        return g
    return m.index_scatter(g, shp, dt, _lead(g.shape), False)


def _as_1d(fn: Any, x: Tensor, dim: int, index: Tensor, *rest: Any, **kw: Any) -> Tensor:
    """A 0-d op run as on one element (PyTorch takes 0-d input and index, with dim 0 or -1)."""
    norm_dim(dim, 1, fn.__name__)
    rest = tuple(shape.reshape(r, 1) if isinstance(r, Tensor) and r.ndim == 0 else r for r in rest)
    out = fn(shape.reshape(x, 1), 0, shape.reshape(index, 1) if index.ndim == 0 else index, *rest, **kw)
    return shape.reshape(out, ())


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """out[i][j] = input[i][index[i][j]] (dim=1); int64 index of input's ndim, no larger outside ``dim``.
    The gradient is a scatter-add (repeated indices add up)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"gather(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim == 0 and isinstance(index, Tensor) and index.ndim <= 1:
        return write_out(_as_1d(gather, input, dim, index), out, "gather")
    d, idx = _check_dim_index("gather", input, dim, index)
    key = dim_key(input._be.xp, idx, d)
    shp, dt = input._data.shape, input._data.dtype

    def rule(m: Any, g: Any) -> tuple:
        return (m.index_scatter(g, shp, dt, key, True),)

    return write_out(make("gather", input._data[key], input._be, (input,), rule), out, "gather")


def _src_or_value(op: str, x: Tensor, src: Any, value: Any) -> tuple[Tensor | None, Any]:
    if src is not None and value is not None:
        raise TypeError(f"{op}(): give src or value, not both")
    if src is None:
        src = value
    if isinstance(src, Tensor):
        check_same_device(op, x, src)
        if src.dtype != x.dtype:
            raise InputTypeError(f"{op}(): Expected self.dtype to be equal to src.dtype ({x.dtype} and {src.dtype})")
        return src, None
    if isinstance(src, numbers.Number) and not isinstance(src, complex):
        return None, src
    raise TypeError(f"{op}(): src must be a Tensor or a number, got {type(src).__name__}")


def _no_grad_rule(op: str) -> Any:
    def rule(m: Any, g: Any) -> tuple:
        raise RuntimeError(f"{op}: the derivative of scatter with reduce= is not implemented (as in PyTorch); "
                           "use scatter_reduce")  # fmt: skip

    return rule


def scatter(
    input: Tensor,  # noqa: A002
    dim: int,
    index: Tensor,
    src: Any = None,
    *,
    value: Any = None,
    reduce: str | None = None,
) -> Tensor:
    """A copy of input with input[i][index[i][j]] = src[i][j] (dim=1); src a tensor or a number (value).
    ``reduce`` 'add' or 'multiply' combines instead (no gradient, as PyTorch). Duplicate indices: one write wins."""
    if input.ndim == 0 and isinstance(index, Tensor) and index.ndim <= 1:
        return _as_1d(scatter, input, dim, index, src, value=value, reduce=reduce)
    op = "scatter"
    ts, v = _src_or_value(op, input, src, value)
    if reduce not in (None, "add", "multiply"):
        raise InputError(f"{op}(): reduce argument must be either add or multiply, got {reduce!r}")
    d, idx = _check_dim_index(op, input, dim, index, ts)
    be = input._be
    key = dim_key(be.xp, idx, d)
    vals = ts._data[_lead(idx.shape)] if ts is not None else v
    out = input._data.copy()
    if reduce is None:
        out[key] = vals
    elif reduce == "add":
        be.scatter_add(out, key, be.xp.broadcast_to(be.xp.asarray(vals, dtype=out.dtype), idx.shape))
    else:
        scatter_mul(be, out, key, be.xp.broadcast_to(be.xp.asarray(vals, dtype=out.dtype), idx.shape))
    if reduce is not None:
        return make(op, out, be, (input, ts), _no_grad_rule(op))
    sx, ss = spec(input), spec(ts)

    def rule(m: Any, g: Any) -> tuple:
        gx = None if sx is None else m.zero_at(g, key)
        gs = None if ss is None else _pad_to(m, m.take(g, key), ss[0], ss[1])
        return gx, gs

    return make(op, out, be, (input, ts), rule)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """A copy of input with src added at input[i][index[i][j]] (dim=1); repeated indices add up.
    The gradient of src is a gather of the gradient."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): src must be a Tensor, got {type(src).__name__}")
    if input.ndim == 0 and isinstance(index, Tensor) and index.ndim <= 1:
        return _as_1d(scatter_add, input, dim, index, src)
    op = "scatter_add"
    ts, _ = _src_or_value(op, input, src, None)
    d, idx = _check_dim_index(op, input, dim, index, ts)
    be = input._be
    key = dim_key(be.xp, idx, d)
    out = input._data.copy()
    be.scatter_add(out, key, ts._data[_lead(idx.shape)])
    ss = spec(ts)

    def rule(m: Any, g: Any) -> tuple:
        return g, None if ss is None else _pad_to(m, m.take(g, key), ss[0], ss[1])

    return make(op, out, be, (input, ts), rule)


def scatter_mul(be: Any, out: Any, key: tuple, vals: Any) -> None:
    """out[key] *= vals with repeated indices multiplying: NumPy's multiply.at on the CPU; on a GPU (no atomic
    multiply in CuPy) the product of each position's values, |v| as exp(sum log|v|) with its sign and zeros counted
    by scatter-adds (integers rounded back: exact while the products fit in float64's 53 bits)."""
    xp = be.xp
    if be.device.type == "cpu":
        np.multiply.at(out, key, vals)
        return
    work = dtypes.float64 if out.dtype.kind != "f" else out.dtype
    v = vals.astype(work)
    logs = xp.zeros(out.shape, dtype=work)
    negs = xp.zeros(out.shape, dtype=xp.int64)
    zeros = xp.zeros(out.shape, dtype=xp.int64)
    be.scatter_add(logs, key, xp.log(xp.where(v == 0, 1, xp.abs(v))))
    be.scatter_add(negs, key, (v < 0).astype(xp.int64))
    be.scatter_add(zeros, key, (v == 0).astype(xp.int64))
    touched = xp.zeros(out.shape, dtype=bool)
    touched[key] = True
    prod = xp.exp(logs) * xp.where(negs % 2 == 1, -1, 1) * (zeros == 0)
    if out.dtype.kind != "f":
        prod = xp.rint(prod)
    res = xp.where(touched, out * prod.astype(out.dtype), out)
    out[...] = res


def scatter_extreme(be: Any, out: Any, key: tuple, vals: Any, largest: bool) -> None:
    """out[key] = max(out[key], vals) (min when not ``largest``), repeated indices reducing together, with one
    stable sort and a scatter-add (works alike on NumPy and CuPy, which has no maximum.at): sort the values by
    target position then value, and add each position's extreme value once."""
    xp = be.xp
    n = out.size
    strides = [int(np.prod(out.shape[a + 1 :], dtype=np.int64)) for a in range(out.ndim)]
    flat = sum(xp.broadcast_to(k, vals.shape).astype(xp.int64) * s for k, s in zip(key, strides)).reshape(-1)
    v = vals.reshape(-1)
    if v.size == 0:
        return
    by_val = xp.argsort(v, kind="stable")
    order = by_val[xp.argsort(flat[by_val], kind="stable")]
    fs, vs = flat[order], v[order]
    one = xp.ones(1, dtype=bool)
    # values ascend within each position's run: its max is the run's last, its min the first
    last = xp.concatenate([fs[1:] != fs[:-1], one] if largest else [one, fs[1:] != fs[:-1]])
    best = xp.zeros(n, dtype=out.dtype)
    be.scatter_add(best, (fs,), xp.where(last, vs, 0).astype(out.dtype))
    touched = xp.zeros(n, dtype=bool)
    touched[fs] = True
    pick = xp.maximum if largest else xp.minimum
    res = xp.where(touched, pick(out.reshape(-1), best), out.reshape(-1))
    out[...] = res.reshape(out.shape)


_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _identity(dt: Any, reduce: str) -> Any:
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    info = np.finfo(dt) if dt.kind == "f" else np.iinfo(dt) if dt.kind in "iu" else None
    if info is None:
        return reduce == "amin"
    if dt.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    return info.min if reduce == "amax" else info.max


def _scatter_reduce_data(be: Any, x: Any, key: tuple, s: Any, reduce: str, include_self: bool) -> Any:
    xp = be.xp
    out = x.copy()
    if not include_self:
        out[key] = _identity(out.dtype, reduce)
    if reduce in ("sum", "mean"):
        be.scatter_add(out, key, s)
    elif reduce == "prod":
        scatter_mul(be, out, key, s)
    else:
        scatter_extreme(be, out, key, s, reduce == "amax")
    if reduce == "mean":
        count = _counts(be, x.shape, key, include_self, out.dtype)
        safe = xp.maximum(count, 1)
        div = out / safe if out.dtype.kind == "f" else xp.floor_divide(out, safe)
        out = xp.where(count > 0, div, out).astype(x.dtype)
    return out


def _counts(be: Any, shp: tuple, key: tuple, include_self: bool, dt: Any) -> Any:
    """How many values each position of a scatter-mean averages."""
    xp = be.xp
    count = xp.full(shp, 1 if include_self else 0, dtype=dt)
    be.scatter_add(count, key, xp.ones(np.broadcast_shapes(*(k.shape for k in key)), dtype=dt))
    return count


def scatter_reduce(
    input: Tensor,  # noqa: A002
    dim: int,
    index: Tensor,
    src: Tensor,
    reduce: str,
    *,
    include_self: bool = True,
) -> Tensor:
    """A copy of input with src reduced into input[i][index[i][j]] (dim=1) by ``reduce``: 'sum', 'prod', 'mean',
    'amax' or 'amin' (with input's own values unless ``include_self=False``). Differentiable as PyTorch (ties of
    amax/amin share the gradient evenly; prod's gradient handles zeros)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): src must be a Tensor, got {type(src).__name__}")
    if input.ndim == 0 and isinstance(index, Tensor) and index.ndim <= 1:
        return _as_1d(scatter_reduce, input, dim, index, src, reduce, include_self=include_self)
    op = "scatter_reduce"
    if reduce not in _REDUCES:
        raise InputError(f"{op}(): reduce argument must be one of {', '.join(_REDUCES)}, got {reduce!r}")
    ts, _ = _src_or_value(op, input, src, None)
    d, idx = _check_dim_index(op, input, dim, index, ts)
    be = input._be
    xp = be.xp
    key = dim_key(xp, idx, d)
    lead = _lead(idx.shape)
    out = _scatter_reduce_data(be, input._data, key, ts._data[lead], reduce, include_self)
    sx, ss = spec(input), spec(ts)
    rule = _reduce_rule(be, reduce, include_self, key, lead, sx, ss, dim)
    saved = (input, ts, OUT) if reduce in ("prod", "amax", "amin") else ()
    return make(op, out, be, (input, ts), rule, saved=saved)


def _reduce_rule(be: Any, reduce: str, include_self: bool, key: tuple, lead: tuple, sx: Any, ss: Any, dim: int) -> Any:
    xp = be.xp

    def finish(m: Any, gx: Any, gs: Any) -> tuple:
        if gx is not None and not include_self:
            gx = m.zero_at(gx, key)
        if gs is not None:
            gs = _pad_to(m, gs, ss[0], ss[1])
        return (None if sx is None else gx), (None if ss is None else gs)

    if reduce in ("sum", "mean"):

        def linear(m: Any, g: Any) -> tuple:
            if reduce == "mean":
                shp = g.shape
                count = _counts(be, shp, key, include_self, m.raw(g).dtype)
                g = g * m.const(1 / xp.maximum(count, 1))
            return finish(m, g, None if ss is None else m.take(g, key))

        return linear

    if reduce in ("amax", "amin"):

        def extreme(m: Any, g: Any, xv: Any, sv: Any, out: Any) -> tuple:
            xr, sr, outr = m.raw(xv), m.raw(sv)[lead], m.raw(out)
            self_hit = (xr == outr).astype(outr.dtype)
            src_hit = (sr == outr[key]).astype(outr.dtype)
            n = self_hit.copy()
            be.scatter_add(n, key, src_hit)
            share = g * m.const(1 / n)
            gx = None if sx is None else share * m.const(self_hit)
            gs = None if ss is None else m.take(share, key) * m.const(src_hit)
            return finish(m, gx, gs)

        return extreme

    def prod(m: Any, g: Any, xv: Any, sv: Any, out: Any) -> tuple:
        # PyTorch's formula: each value's gradient is g times the product of the others, computed without dividing
        # by a zero (a lone zero in a position gets the product of the rest; two zeros give zero)
        xr, sr = m.raw(xv), m.raw(sv)
        gx = gs = None
        if sx is not None:
            masked_self = m.where(xr == 0, 1.0, xv)
            rest = _reduce_again(m, masked_self, sv, dim, key, include_self)
            gx = g * rest / masked_self
        if ss is not None:
            s_lead = sv[lead]
            zero = sr[lead] == 0
            nz = xp.zeros(xr.shape, dtype=xp.int64)
            be.scatter_add(nz, key, zero.astype(xp.int64))
            single = zero & (nz[key] == 1)
            masked_src = m.where(single, 1.0, s_lead)
            rest = _reduce_again(m, xv, masked_src, dim, key, include_self)
            gs = m.where(single, m.take(g * rest, key), m.take(g * out, key) / m.where(zero, 1.0, s_lead))
        return finish(m, gx, gs)

    return prod


def _reduce_again(m: Any, x: Any, s: Any, dim: int, key: tuple, include_self: bool) -> Any:
    """scatter_reduce(x, dim, index, s, 'prod') inside a rule: on arrays, or as the op itself in a graph."""
    if m.graph:
        return scatter_reduce(x, dim, m.const(key[dim]), s, "prod", include_self=include_self)
    return _scatter_reduce_data(m.be, x, key, s[_lead(key[dim].shape)], "prod", include_self)


def take(input: Tensor, index: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """input read as 1-D at ``index`` (int64; negative counts from the end); the result has index's shape."""
    if not isinstance(input, Tensor):
        raise TypeError(f"take(): input must be a Tensor, got {type(input).__name__}")
    idx = check_index("take", input, index)
    n = input._data.size
    check_bounds("take", input._be, idx, n, negative=True, where="a tensor of ")
    xp = input._be.xp
    flat_idx = xp.where(idx < 0, idx + n, idx)
    shp, dt = input._data.shape, input._data.dtype
    res = xp.asarray(input._data.reshape(-1)[flat_idx])

    def rule(m: Any, g: Any) -> tuple:
        return (m.index_scatter(g, (n,), dt, (flat_idx,), True).reshape(shp),)

    return write_out(make("take", res, input._be, (input,), rule), out, "take")


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """Values of input at ``indices`` (int64) along ``dim``, input and indices broadcast over the other dims and
    negative indices counting from the end; ``dim=None`` reads both flattened."""
    op = "take_along_dim"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): input must be a Tensor, got {type(input).__name__}")
    if not isinstance(indices, Tensor):
        raise TypeError(f"{op}(): indices must be a Tensor, got {type(indices).__name__}")
    if indices.dtype != np.int64:
        raise InputTypeError(f"torch.{op}(): dtype of indices should be Long but got {indices.dtype}")
    if dim is None:
        # flattened, PyTorch gathers: negative indices are refused here (with a dim they count from the end)
        return write_out(gather(shape.reshape(input, -1), 0, shape.reshape(indices, -1)), out, op)
    if input.ndim != indices.ndim:
        raise InputError(
            f"torch.{op}(): input and indices should have the same number of dimensions, but got {input.ndim} "
            f"dimensions for input, and {indices.ndim} dimensions for indices"
        )
    d = norm_dim(dim, max(input.ndim, 1), op)
    if input.ndim == 0:
        return write_out(take(input, indices), out, op)
    try:
        rest = np.broadcast_shapes(
            tuple(1 if a == d else n for a, n in enumerate(input.shape)),
            tuple(1 if a == d else n for a, n in enumerate(indices.shape)),
        )
    except ValueError:
        raise InputError(
            f"{op}(): input {input.shape} and indices {indices.shape} do not broadcast outside dim {d}"
        ) from None
    size = input.shape[d]
    idx = indices._data
    check_bounds(op, input._be, idx, size, negative=True, where=f"dimension {d} with ")
    xp = input._be.xp
    idx = xp.where(idx < 0, idx + size, idx)
    xs = tuple(size if a == d else n for a, n in enumerate(rest))
    ishape = tuple(idx.shape[d] if a == d else n for a, n in enumerate(rest))
    xb = input if input.shape == xs else shape.broadcast_to(input, xs)
    ib = xp.broadcast_to(idx, ishape)
    return write_out(gather(xb, d, Tensor._wrap(ib, input._be)), out, op)
