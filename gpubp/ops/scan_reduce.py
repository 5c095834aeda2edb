"""Reductions kin to the scans: prod (its gradient from exclusive cumulative products), any, all, count_nonzero,
nansum, nanmean, var_mean, std_mean and aminmax. The plain reductions (sum, mean, var, amax, ...) live in
``reduce``; these reuse them where they can."""

from __future__ import annotations

import builtins
import math
import numbers
from collections import namedtuple
from typing import Any

from .. import dtypes
from ..errors import InputTypeError
from ..tensor import Tensor
from . import reduce
from ._core import make, norm_dim, norm_dims, spec, unbroadcast, write_out

AMinMax = namedtuple("aminmax", ["min", "max"])  # torch.return_types.aminmax


def _tensor(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    return x


def _reduced(shape: tuple, dims: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return tuple(1 if i in dims else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in dims)


def _exclusive_prod_m(m: Any, v: Any, ax: int) -> Any:
    """prod_{i != k} v_i along ``ax`` as (prod_{i<k} v_i) (prod_{i>k} v_i): exact with any number of zeros, no
    division, and built of differentiable scans on tensors, so its own derivative is exact too."""
    from .scan import _cumprod_m

    n = v.shape[ax]
    head = (slice(None),) * ax
    ones = m.const(m.xp.ones(v.shape[:ax] + (1,) + v.shape[ax + 1 :], dtype=v.dtype))
    left = m.concatenate([ones, _cumprod_m(m, v, ax)[head + (slice(0, n - 1),)]], ax)
    rev = m.flip(v, ax)
    right = m.flip(m.concatenate([ones, _cumprod_m(m, rev, ax)[head + (slice(0, n - 1),)]], ax), ax)
    return left * right


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None, out: Any = None) -> Tensor:
    """Product of all elements, or along one ``dim``; bool and integers give int64. The gradient is exact with
    zeros (one zero: only it gets a gradient; two or more: none), as PyTorch."""
    x = _tensor(x, "prod")
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, numbers.Integral)):
        raise TypeError(f"prod: dim must be an int (one dim) or None, got {dim!r}")
    d = x._data
    if dtype is not None:
        d = d.astype(dtypes.to_dtype(dtype), copy=False)
    elif d.dtype.kind != "f":
        d = d.astype(dtypes.int64)
    shape = d.shape
    if dim is None:
        dims = tuple(range(x.ndim))
        y = d.prod(keepdims=keepdim, dtype=d.dtype)  # NumPy would widen int32
    else:
        dims = (norm_dim(dim, builtins.max(x.ndim, 1), "prod"),) if x.ndim else ()
        y = d.prod(axis=dims, keepdims=keepdim, dtype=d.dtype)
    y = x._be.xp.asarray(y)
    if y.dtype.kind != "f":
        return write_out(Tensor._wrap(y, x._be), out, "prod")
    sp, size = spec(x), math.prod(shape)

    def rule(m: Any, g: Any, d: Any) -> tuple:
        if d.dtype != g.dtype:
            d = d.astype(g.dtype)
        if dim is None:  # every element: one axis of the flattened input
            excl = _exclusive_prod_m(m, d.reshape((size,)), 0).reshape(shape)
        elif not dims:
            excl = m.const(m.xp.ones((), dtype=g.dtype))
        else:
            excl = _exclusive_prod_m(m, d, dims[0])
        return (unbroadcast(m.expand(g, dims, keepdim, shape) * excl, sp),)

    return write_out(make("prod", y, x._be, (x,), rule, saved=(x,)), out, "prod")


def _logical(x: Tensor, dim: Any, keepdim: bool, out: Any, op: str) -> Tensor:
    x = _tensor(x, op)
    dims = norm_dims(dim, x.ndim, op)
    fn = x._be.xp.any if op == "any" else x._be.xp.all
    r = x._be.xp.asarray(fn(x._data, axis=dims, keepdims=keepdim))
    if x._data.dtype == dtypes.uint8:  # PyTorch keeps uint8 for uint8 input
        r = r.astype(dtypes.uint8)
    return write_out(Tensor._wrap(r, x._be), out, op)


def any(x: Tensor, dim: Any = None, keepdim: bool = False, *, out: Tensor | None = None) -> Tensor:  # noqa: A001
    """Whether any element is non-zero over ``dim`` (None, an int or a tuple); bool (uint8 for uint8 input)."""
    return _logical(x, dim, keepdim, out, "any")


def all(x: Tensor, dim: Any = None, keepdim: bool = False, *, out: Tensor | None = None) -> Tensor:  # noqa: A001
    """Whether every element is non-zero over ``dim`` (None, an int or a tuple); bool (uint8 for uint8 input)."""
    return _logical(x, dim, keepdim, out, "all")


def count_nonzero(x: Tensor, dim: Any = None) -> Tensor:
    """The number of non-zero elements over ``dim`` (None, an int or a tuple; () counts all), as int64."""
    x = _tensor(x, "count_nonzero")
    dims = norm_dims(dim, x.ndim, "count_nonzero") if dim != () else tuple(range(x.ndim))
    r = (x._data != 0).sum(axis=dims, dtype=dtypes.int64)
    return Tensor._wrap(x._be.xp.asarray(r, dtype=dtypes.int64), x._be)


def nansum(
    x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, out: Tensor | None = None
) -> Tensor:
    """Sum over ``dim`` treating NaN as 0 (their gradient is 0); bool and integers give int64."""
    x = _tensor(x, "nansum")
    xp, d = x._be.xp, x._data
    if dtype is not None:
        d = d.astype(dtypes.to_dtype(dtype), copy=False)
    elif d.dtype.kind != "f":
        d = d.astype(dtypes.int64)
    dims = norm_dims(dim, x.ndim, "nansum")
    if d.dtype.kind != "f":
        return write_out(
            Tensor._wrap(xp.asarray(d.sum(axis=dims, keepdims=keepdim, dtype=d.dtype)), x._be), out, "nansum"
        )
    keep = ~xp.isnan(d)
    y = xp.asarray(xp.where(keep, d, 0).sum(axis=dims, keepdims=keepdim), dtype=d.dtype)
    shape, sp = d.shape, spec(x)

    def rule(m: Any, g: Any, keep: Any) -> tuple:
        return (unbroadcast(m.where(keep, m.expand(g, dims, keepdim, shape), 0.0), sp),)

    return write_out(make("nansum", y, x._be, (x,), rule, saved=(keep,)), out, "nansum")


def nanmean(
    x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, out: Tensor | None = None
) -> Tensor:
    """Mean over ``dim`` of the non-NaN elements (NaN where there are none); floating point only, as PyTorch.

    NaN elements get a 0 gradient, also in an all-NaN slice (PyTorch's gradient is NaN there: g / 0 * 0)."""
    x = _tensor(x, "nanmean")
    xp, d = x._be.xp, x._data
    if dtype is not None:
        d = d.astype(dtypes.to_dtype(dtype), copy=False)
    if d.dtype.kind != "f":
        raise InputTypeError(f"nanmean(): expected input to have floating point dtype but got {d.dtype}")
    dims = norm_dims(dim, x.ndim, "nanmean")
    keep = ~xp.isnan(d)
    count = keep.sum(axis=dims, keepdims=True)
    total = xp.where(keep, d, 0).sum(axis=dims, keepdims=True)
    inv = (1.0 / xp.maximum(count, 1)).astype(d.dtype)  # 1 / count (the count-0 slices get no gradient)
    y = xp.where(count > 0, total * inv, xp.nan).astype(d.dtype, copy=False)  # all NaN: NaN (0 / 0, no warning)
    if not keepdim:
        y = y.reshape(_reduced(d.shape, dims, False))
    shape, sp = d.shape, spec(x)

    def rule(m: Any, g: Any, keep: Any, inv: Any) -> tuple:
        return (unbroadcast(m.where(keep, m.expand(g, dims, keepdim, shape) * m.const(inv), 0.0), sp),)

    return write_out(make("nanmean", xp.asarray(y), x._be, (x,), rule, saved=(keep, inv)), out, "nanmean")


def _correction(correction: Any, unbiased: Any, dim: Any, op: str) -> tuple[Any, Any]:
    """(dim, correction) from PyTorch's overloads: var_mean(x, unbiased) (a bool in dim's place), ``unbiased=``."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if unbiased is not None:
        if correction is not None:
            raise TypeError(f"{op}: pass either correction= or unbiased=, not both")
        return dim, int(bool(unbiased))
    return dim, 1 if correction is None else correction


def var_mean(
    x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None
) -> tuple[Tensor, Tensor]:
    """(var, mean) over ``dim`` as a tuple, var dividing by N - correction; both differentiable."""
    x = _tensor(x, "var_mean")
    dim, c = _correction(correction, unbiased, dim, "var_mean")
    return reduce.var(x, dim, c, keepdim), reduce.mean(x, dim, keepdim)


def std_mean(
    x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None
) -> tuple[Tensor, Tensor]:
    """(std, mean) over ``dim`` as a tuple, std dividing by N - correction; both differentiable."""
    x = _tensor(x, "std_mean")
    dim, c = _correction(correction, unbiased, dim, "std_mean")
    return reduce.std(x, dim, c, keepdim), reduce.mean(x, dim, keepdim)


def aminmax(x: Tensor, *, dim: int | None = None, keepdim: bool = False) -> AMinMax:
    """(min, max) over ``dim`` (one int, or all dims when None) as a named tuple; ties share the gradient."""
    x = _tensor(x, "aminmax")
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, numbers.Integral)):
        raise TypeError(f"aminmax: dim must be an int or None, got {dim!r}")
    if dim is not None and x.ndim:
        norm_dim(dim, x.ndim, "aminmax")
    return AMinMax(
        reduce._extreme(x, dim, keepdim, "amin", "aminmax"), reduce._extreme(x, dim, keepdim, "amax", "aminmax")
    )
