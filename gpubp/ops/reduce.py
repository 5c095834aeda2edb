"""Reductions over ``dim`` (None, an int or a tuple) with ``keepdim``."""

from __future__ import annotations

import builtins
import math
import numbers
from collections import namedtuple
from typing import Any

from .. import dtypes
from ..errors import InputError, InputIndexError, InputTypeError
from ..tensor import Tensor
from ._core import float_data, make, norm_dim, norm_dims

MinMax = namedtuple("MinMax", ["values", "indices"])


def _expand(g: Any, dims: tuple, keepdim: bool, shape: tuple, xp: Any) -> Any:
    """Broadcast a reduced gradient back over the reduced dims (a read-only view)."""
    if not keepdim and dims:
        g = xp.expand_dims(g, dims)
    return xp.broadcast_to(g, shape)


def _count(shape: tuple, dims: tuple) -> int:
    return math.prod(shape[d] for d in dims)


def _need_float(x: Tensor, op: str, what: str) -> None:
    """PyTorch's mean, var, std and norm refuse integer and bool tensors (a dtype check: no data is read)."""
    if x._data.dtype.kind != "f":
        raise InputTypeError(f"{op}: {what}, got dtype {x._data.dtype}; convert with .float()")


def _need_nonempty(x: Tensor, dims: tuple, dim: Any, op: str) -> None:
    """A max/min-like reduction has no value over an empty dim: IndexError (and RuntimeError), as PyTorch."""
    if x._data.size:
        return
    if dim is None:
        raise InputIndexError(
            f"{op}(): expected reduction dim to be specified for an empty input (shape {x.shape}); "
            "pass dim= to reduce over a dim of non-zero size"
        )
    for d in dims:
        if x._data.shape[d] == 0:
            raise InputIndexError(f"{op}(): expected reduction dim {d} to have non-zero size (shape {x.shape})")


def sum(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dims when None); bool and integer sums are int64."""
    xp, shape = x._be.xp, x._data.shape
    dims = norm_dims(dim, x.ndim, "sum")
    d = x._data if x._data.dtype.kind == "f" else x._data.astype(dtypes.int64)
    out = d.sum(axis=dims, keepdims=keepdim)
    return make("sum", xp.asarray(out), x._be, (x,), lambda g: (_expand(g, dims, keepdim, shape, xp),))


def _acc_dtype(x: Tensor, d: Any) -> Any:
    """The dtype to accumulate a float reduction in: float64 on the CPU for float16/float32, because NumPy sums
    along a strided axis one element after another (error ~ n * eps: 2e-5 over 1e5 rows in float32) while CuPy's
    tree reductions stay accurate in the input's dtype, so the GPU path keeps it (None: the dtype as it is)."""
    return dtypes.float64 if x._be.device.type == "cpu" and d.dtype.itemsize < 8 else None


def mean(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (all dims when None); floating-point tensors only, as PyTorch."""
    _need_float(x, "mean", "could not infer output dtype; the input must be floating point")
    xp, shape, d = x._be.xp, x._data.shape, x._data
    dims = norm_dims(dim, x.ndim, "mean")
    out = d.mean(axis=dims, keepdims=keepdim, dtype=_acc_dtype(x, d)).astype(d.dtype, copy=False)
    n = _count(shape, dims)
    return make("mean", xp.asarray(out), x._be, (x,), lambda g: (_expand(g / n, dims, keepdim, shape, xp),))


def var(x: Tensor, dim: Any = None, correction: int = 1, keepdim: bool = False) -> Tensor:
    """Variance over ``dim``, dividing by N - correction (1: unbiased, as PyTorch's default)."""
    return _var(x, dim, correction, keepdim, "var")


def _var(x: Tensor, dim: Any, correction: int, keepdim: bool, op: str) -> Tensor:
    _need_float(x, op, "std and var only support floating-point tensors")
    xp, shape, d = x._be.xp, x._data.shape, x._data
    dims = norm_dims(dim, x.ndim, op)
    denom = builtins.max(_count(shape, dims) - correction, 0)
    acc = _acc_dtype(x, d)
    # two passes (mean, then squared deviations): stable for data with a large mean, unlike E[x^2] - E[x]^2
    # the deviations stay in the input's dtype (no float64 copy of the data); only the sums accumulate in ``acc``
    mu = d.mean(axis=dims, keepdims=True, dtype=acc).astype(d.dtype, copy=False)
    dev = d - mu
    ss = (dev * dev).sum(axis=dims, keepdims=keepdim, dtype=acc)
    # N - correction <= 0 divides by 0, as PyTorch: inf, or nan where every deviation is 0 (no sync, no warning)
    out = ss / denom if denom else xp.where(ss > 0, xp.inf, xp.nan)

    def vjp(g: Any) -> tuple:
        return (_expand(g, dims, keepdim, shape, xp) * (2.0 / denom if denom else xp.nan) * (d - mu),)

    return make("var", xp.asarray(out, dtype=d.dtype), x._be, (x,), vjp, save=(x,))


def std(x: Tensor, dim: Any = None, correction: int = 1, keepdim: bool = False) -> Tensor:
    """Standard deviation: sqrt(var); its gradient is 0 where std is 0, as PyTorch."""
    v = _var(x, dim, correction, keepdim, "std")
    xp = x._be.xp
    s = xp.sqrt(v._data)
    safe = xp.where(s > 0, s, 1)
    return make("std", s, x._be, (v,), lambda g: (g * (s > 0) / (2 * safe),), save_out=True)


def _reduced_shape(shape: tuple, dims: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return tuple(1 if i in dims else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in dims)


def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim`` (required, as PyTorch), computed stably (shifted by the max)."""
    if dim is None:
        raise TypeError("logsumexp: dim must be an int or a tuple of ints, got None")
    xp, shape, d = x._be.xp, x._data.shape, float_data(x)
    dims = norm_dims(dim, x.ndim, "logsumexp")
    m = d.max(axis=dims, keepdims=True) if d.size else xp.zeros(_reduced_shape(shape, dims, True), d.dtype)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf rows: avoid inf - inf
    lse = xp.log(xp.exp(d - m).sum(axis=dims, keepdims=True)) + m
    out = lse if keepdim else lse.reshape(_reduced_shape(shape, dims, False))
    return make(
        "logsumexp", out, x._be, (x,), lambda g: (_expand(g, dims, keepdim, shape, xp) * xp.exp(d - lse),), save=(x,)
    )


def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Max over ``dim``; tied maxima share the gradient evenly, as PyTorch."""
    return _extreme(x, dim, keepdim, "amax")


def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Min over ``dim``; tied minima share the gradient evenly, as PyTorch."""
    return _extreme(x, dim, keepdim, "amin")


def _extreme(x: Tensor, dim: Any, keepdim: bool, op: str, name: str | None = None) -> Tensor:
    xp, shape, d = x._be.xp, x._data.shape, x._data
    dims = norm_dims(dim, x.ndim, op)
    _need_nonempty(x, dims, dim, name or op)
    ext = d.max(axis=dims, keepdims=True) if op == "amax" else d.min(axis=dims, keepdims=True)
    out = ext if keepdim else ext.reshape(_reduced_shape(shape, dims, False))

    def vjp(g: Any) -> tuple:
        hit = d == ext
        share = hit / hit.sum(axis=dims, keepdims=True)
        return (_expand(g, dims, keepdim, shape, xp) * share.astype(d.dtype, copy=False),)

    return make(op, out, x._be, (x,), vjp, save=(x,))


def _indexed_extreme(x: Tensor, dim: int, keepdim: bool, op: str) -> MinMax:
    """(values, indices) along one dim; the gradient goes to the returned index."""
    xp, shape = x._be.xp, x._data.shape
    ax = norm_dim(dim, builtins.max(x.ndim, 1), op)
    if x.ndim == 0:
        idx = xp.zeros((), dtype=dtypes.int64)
        return MinMax(make(op, x._data.copy(), x._be, (x,), lambda g: (g,)), Tensor._wrap(idx, x._be))
    _need_nonempty(x, (ax,), dim, op)
    idx = (x._data.argmax if op == "max" else x._data.argmin)(axis=ax, keepdims=True)
    vals = xp.take_along_axis(x._data, idx, axis=ax)

    def vjp(g: Any) -> tuple:
        gx = xp.zeros(shape, dtype=g.dtype)
        xp.put_along_axis(gx, idx, g if keepdim else xp.expand_dims(g, ax), axis=ax)
        return (gx,)

    if not keepdim:
        vals, out_idx = vals.squeeze(ax), idx.squeeze(ax)
    else:
        out_idx = idx
    return MinMax(make(op, vals, x._be, (x,), vjp), Tensor._wrap(out_idx.astype(dtypes.int64), x._be))


class _AllDims:
    """The default of max/min's ``dim``: reduce everything. Unlike None, which PyTorch refuses there."""

    def __repr__(self) -> str:
        return "<all dims>"


_ALL = _AllDims()


def max(x: Tensor, dim: Any = _ALL, keepdim: bool = False) -> Any:  # noqa: A001
    """max(x): the largest element; max(x, dim): (values, indices); max(x, other): elementwise."""
    if isinstance(dim, Tensor):
        from .arith import maximum

        return maximum(x, dim)
    if dim is _ALL:
        return _extreme(x, None, False, "amax", "max")
    if dim is None:
        raise TypeError("max: dim must be an int (or omitted to reduce every dim), got None")
    return _indexed_extreme(x, dim, keepdim, "max")


def min(x: Tensor, dim: Any = _ALL, keepdim: bool = False) -> Any:  # noqa: A001
    """min(x): the smallest element; min(x, dim): (values, indices); min(x, other): elementwise."""
    if isinstance(dim, Tensor):
        from .arith import minimum

        return minimum(x, dim)
    if dim is _ALL:
        return _extreme(x, None, False, "amin", "min")
    if dim is None:
        raise TypeError("min: dim must be an int (or omitted to reduce every dim), got None")
    return _indexed_extreme(x, dim, keepdim, "min")


def _arg(x: Tensor, dim: int | None, keepdim: bool, op: str) -> Tensor:
    xp = x._be.xp
    if x._data.dtype == dtypes.bool_:
        raise InputTypeError(f"{op}(): does not support bool input; convert it with .int() or .float()")
    fn = x._data.argmax if op == "argmax" else x._data.argmin
    if dim is None:
        _need_nonempty(x, (), None, op)
        out = fn()
        if keepdim:
            out = xp.reshape(out, (1,) * x.ndim)
    else:
        ax = norm_dim(dim, builtins.max(x.ndim, 1), op)  # a 0-d tensor takes dims -1 and 0, as PyTorch
        _need_nonempty(x, (ax,) if x.ndim else (), dim, op)
        out = fn(axis=ax if x.ndim else None, keepdims=keepdim)
    return Tensor._wrap(xp.asarray(out, dtype=dtypes.int64), x._be)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (over the flattened tensor when dim is None); no gradient."""
    return _arg(x, dim, keepdim, "argmax")


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (over the flattened tensor when dim is None); no gradient."""
    return _arg(x, dim, keepdim, "argmin")


def norm(x: Tensor, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Vector p-norm over ``dim`` (all elements when None): p a number (0 counts non-zeros), inf, -inf or 'fro'.

    The 2-norm's gradient x / ||x|| is taken as 0 where the norm is 0, as PyTorch.
    """
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise InputError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r}")
    _need_float(x, "norm", "expected a floating-point tensor as input")
    xp, shape, d = x._be.xp, x._data.shape, x._data
    dims = norm_dims(dim, x.ndim, "norm")
    a = xp.abs(d)
    if p == 0:
        # the number of non-zero elements: piecewise constant, so its gradient is 0
        out = (d != 0).sum(axis=dims, keepdims=True).astype(d.dtype)

        def vjp(g: Any) -> tuple:
            return (xp.zeros(shape, d.dtype),)
    elif p == math.inf or p == -math.inf:
        ext = a.max(axis=dims, keepdims=True) if p > 0 else a.min(axis=dims, keepdims=True)

        def vjp(g: Any) -> tuple:
            hit = a == ext
            share = hit / hit.sum(axis=dims, keepdims=True)
            return (_expand(g, dims, keepdim, shape, xp) * xp.sign(d) * share.astype(d.dtype, copy=False),)

        out = ext
    elif p == 1:
        out = a.sum(axis=dims, keepdims=True)

        def vjp(g: Any) -> tuple:
            return (_expand(g, dims, keepdim, shape, xp) * xp.sign(d),)
    elif p == 2:
        out = xp.sqrt((d * d).sum(axis=dims, keepdims=True))

        def vjp(g: Any) -> tuple:
            safe = xp.where(out > 0, out, 1)
            return (_expand(g, dims, keepdim, shape, xp) * (d / safe) * (out > 0),)
    else:
        p = float(p)
        out = ((a**p).sum(axis=dims, keepdims=True)) ** (1.0 / p)  # p < 0: a zero makes a**p inf, the norm 0

        def vjp(g: Any) -> tuple:
            safe = xp.where(out > 0, out, 1)
            return (_expand(g, dims, keepdim, shape, xp) * xp.sign(d) * (a / safe) ** (p - 1) * (out > 0),)

    result = out if keepdim else out.reshape(_reduced_shape(shape, dims, False))
    return make("norm", result, x._be, (x,), vjp, save=(x,))
