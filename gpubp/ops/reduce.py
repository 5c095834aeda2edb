"""Reductions over ``dim`` (None, an int or a tuple) with ``keepdim``."""

from __future__ import annotations

import builtins
import math
import numbers
from collections import namedtuple
from typing import Any

from .. import dtypes
from ..autograd import OUT
from ..errors import InputError, InputIndexError, InputTypeError
from ..tensor import Tensor
from ._core import float_data, make, norm_dim, norm_dims

MinMax = namedtuple("MinMax", ["values", "indices"])


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
    return make("sum", xp.asarray(out), x._be, (x,), lambda m, g: (m.expand(g, dims, keepdim, shape),))


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
    return make("mean", xp.asarray(out), x._be, (x,), lambda m, g: (m.expand(g / n, dims, keepdim, shape),))


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

    def rule(m: Any, g: Any, d: Any, mu: Any) -> tuple:
        mu = m.cached(mu, lambda: m.mean(d, dims, True))  # the mean of forward; recomputed, in the graph, for graphs
        return (m.expand(g, dims, keepdim, shape) * (2.0 / denom if denom else math.nan) * (d - mu),)

    return make("var", xp.asarray(out, dtype=d.dtype), x._be, (x,), rule, saved=(x, mu))


def std(x: Tensor, dim: Any = None, correction: int = 1, keepdim: bool = False) -> Tensor:
    """Standard deviation: sqrt(var); its gradient is 0 where std is 0, as PyTorch."""
    v = _var(x, dim, correction, keepdim, "std")
    xp = x._be.xp
    s = xp.sqrt(v._data)

    def rule(m: Any, g: Any, s: Any) -> tuple:
        pos = m.raw(s) > 0
        return (g * m.const(pos) / (2 * m.where(pos, s, 1.0)),)

    return make("std", s, x._be, (v,), rule, saved=(OUT,))


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
    top = d.max(axis=dims, keepdims=True) if d.size else xp.zeros(_reduced_shape(shape, dims, True), d.dtype)
    top = xp.where(xp.isfinite(top), top, 0)  # all -inf rows: avoid inf - inf
    lse = xp.log(xp.exp(d - top).sum(axis=dims, keepdims=True)) + top
    out = lse if keepdim else lse.reshape(_reduced_shape(shape, dims, False))
    kept = lse.shape

    def rule(m: Any, g: Any, d: Any, out: Any) -> tuple:
        return (m.expand(g, dims, keepdim, shape) * m.exp(d - out.reshape(kept)),)

    return make("logsumexp", out, x._be, (x,), rule, saved=(x, OUT))


def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Max over ``dim``; tied maxima share the gradient evenly, as PyTorch."""
    return _extreme(x, dim, keepdim, "amax")


def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Min over ``dim``; tied minima share the gradient evenly, as PyTorch."""
    return _extreme(x, dim, keepdim, "amin")


def _extreme(x: Tensor, dim: Any, keepdim: bool, op: str, name: str | None = None) -> Tensor:
    shape, d = x._data.shape, x._data
    dims = norm_dims(dim, x.ndim, op)
    _need_nonempty(x, dims, dim, name or op)
    ext = d.max(axis=dims, keepdims=True) if op == "amax" else d.min(axis=dims, keepdims=True)
    out = ext if keepdim else ext.reshape(_reduced_shape(shape, dims, False))

    def rule(m: Any, g: Any, d: Any, ext: Any) -> tuple:
        hit = m.raw(d) == ext
        share = (hit / hit.sum(axis=dims, keepdims=True)).astype(ext.dtype, copy=False)  # ties share evenly
        return (m.expand(g, dims, keepdim, shape) * m.const(share),)

    return make(op, out, x._be, (x,), rule, saved=(x, ext))


def _indexed_extreme(x: Tensor, dim: int, keepdim: bool, op: str) -> MinMax:
    """(values, indices) along one dim; the gradient goes to the returned index."""
    xp, shape = x._be.xp, x._data.shape
    ax = norm_dim(dim, builtins.max(x.ndim, 1), op)
    if x.ndim == 0:
        idx = xp.zeros((), dtype=dtypes.int64)
        return MinMax(make(op, x._data.copy(), x._be, (x,), lambda m, g: (g,)), Tensor._wrap(idx, x._be))
    _need_nonempty(x, (ax,), dim, op)
    idx = (x._data.argmax if op == "max" else x._data.argmin)(axis=ax, keepdims=True)
    vals = xp.take_along_axis(x._data, idx, axis=ax)

    kept = idx.shape

    def rule(m: Any, g: Any, idx: Any) -> tuple:
        return (m.put_along_axis(shape, idx, g.reshape(kept), ax),)

    if not keepdim:
        vals, out_idx = vals.squeeze(ax), idx.squeeze(ax)
    else:
        out_idx = idx
    return MinMax(make(op, vals, x._be, (x,), rule, saved=(idx,)), Tensor._wrap(out_idx.astype(dtypes.int64), x._be))


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
    kept = _reduced_shape(shape, dims, True)
    saved: tuple = (x,)
    if p == 0:
        # the number of non-zero elements: piecewise constant, so its gradient is 0
        out = (d != 0).sum(axis=dims, keepdims=True).astype(d.dtype)

        def rule(m: Any, g: Any, d: Any) -> tuple:
            return (m.zeros(shape, d.dtype, g),)
    elif p == math.inf or p == -math.inf:
        ext = a.max(axis=dims, keepdims=True) if p > 0 else a.min(axis=dims, keepdims=True)
        saved = (x, ext)

        def rule(m: Any, g: Any, d: Any, ext: Any) -> tuple:
            raw = m.raw(d)
            hit = xp.abs(raw) == ext
            share = (xp.sign(raw) * (hit / hit.sum(axis=dims, keepdims=True))).astype(raw.dtype, copy=False)
            return (m.expand(g, dims, keepdim, shape) * m.const(share),)

        out = ext
    elif p == 1:
        out = a.sum(axis=dims, keepdims=True)

        def rule(m: Any, g: Any, d: Any) -> tuple:
            return (m.expand(g, dims, keepdim, shape) * m.const(xp.sign(m.raw(d))),)
    else:
        p = float(p)
        if p == 2:
            out = xp.sqrt((d * d).sum(axis=dims, keepdims=True))
        else:
            out = ((a**p).sum(axis=dims, keepdims=True)) ** (1.0 / p)  # p < 0: a zero makes a**p inf, the norm 0
        saved = (x, OUT)

        def rule(m: Any, g: Any, d: Any, n: Any) -> tuple:
            n = n.reshape(kept)
            pos = m.raw(n) > 0
            safe = m.where(pos, n, 1.0)  # the gradient is 0 where the norm is 0, as PyTorch
            if p == 2:
                return (m.expand(g, dims, keepdim, shape) * (d / safe) * m.const(pos),)
            sign = m.const(xp.sign(m.raw(d)))
            # a zero element gets gradient 0, as PyTorch (for p < 1, 0 ** (p - 1) would be inf, times its sign 0 NaN)
            ratio = m.where(m.raw(d) != 0, m.abs(d) / safe, 1.0)
            return (m.expand(g, dims, keepdim, shape) * sign * ratio ** (p - 1) * m.const(pos),)

    result = out if keepdim else out.reshape(_reduced_shape(shape, dims, False))
    return make("norm", result, x._be, (x,), rule, saved=saved)
