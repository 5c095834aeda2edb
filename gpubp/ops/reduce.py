"""Reductions over ``dim`` (None, an int or a tuple) with ``keepdim``."""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

from .. import dtypes
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


def sum(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dims when None); bool and integer sums are int64."""
    xp, shape = x._be.xp, x.data.shape
    dims = norm_dims(dim, x.ndim, "sum")
    d = x.data if x.data.dtype.kind == "f" else x.data.astype(dtypes.int64)
    out = d.sum(axis=dims, keepdims=keepdim)
    return make("sum", xp.asarray(out), x._be, (x,), lambda g: (_expand(g, dims, keepdim, shape, xp),))


def _acc_dtype(x: Tensor, d: Any) -> Any:
    """The dtype to accumulate a float reduction in: float64 on the CPU for float16/float32, because NumPy sums
    along a strided axis one element after another (error ~ n * eps: 2e-5 over 1e5 rows in float32) while CuPy's
    tree reductions stay accurate in the input's dtype, so the GPU path keeps it (None: the dtype as it is)."""
    return dtypes.float64 if x._be.device.type == "cpu" and d.dtype.itemsize < 8 else None


def mean(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (all dims when None)."""
    xp, shape, d = x._be.xp, x.data.shape, float_data(x)
    dims = norm_dims(dim, x.ndim, "mean")
    out = d.mean(axis=dims, keepdims=keepdim, dtype=_acc_dtype(x, d)).astype(d.dtype, copy=False)
    n = _count(shape, dims)
    return make("mean", xp.asarray(out), x._be, (x,), lambda g: (_expand(g / n, dims, keepdim, shape, xp),))


def var(x: Tensor, dim: Any = None, correction: int = 1, keepdim: bool = False) -> Tensor:
    """Variance over ``dim``, dividing by N - correction (1: unbiased, as PyTorch's default)."""
    return _var(x, dim, correction, keepdim, "var")


def _var(x: Tensor, dim: Any, correction: int, keepdim: bool, op: str) -> Tensor:
    xp, shape, d = x._be.xp, x.data.shape, float_data(x)
    dims = norm_dims(dim, x.ndim, op)
    denom = builtins.max(_count(shape, dims) - correction, 0)
    acc = _acc_dtype(x, d)
    # two passes (mean, then squared deviations): stable for data with a large mean, unlike E[x^2] - E[x]^2
    mu = d.mean(axis=dims, keepdims=True, dtype=acc)
    dev = d - mu if acc is None else d.astype(acc) - mu
    out = (
        (dev * dev).sum(axis=dims, keepdims=keepdim) / denom
        if denom
        else xp.full(_reduced_shape(shape, dims, keepdim), xp.nan, d.dtype)
    )
    mu = mu.astype(d.dtype, copy=False)

    def vjp(g: Any) -> tuple:
        return (_expand(g, dims, keepdim, shape, xp) * (2.0 / denom if denom else xp.nan) * (d - mu),)

    return make("var", xp.asarray(out, dtype=d.dtype), x._be, (x,), vjp, save=(x,))


def std(x: Tensor, dim: Any = None, correction: int = 1, keepdim: bool = False) -> Tensor:
    """Standard deviation: sqrt(var); its gradient is 0 where std is 0, as PyTorch."""
    v = _var(x, dim, correction, keepdim, "std")
    xp = x._be.xp
    s = xp.sqrt(v.data)
    safe = xp.where(s > 0, s, 1)
    return make("std", s, x._be, (v,), lambda g: (g * (s > 0) / (2 * safe),), save_out=True)


def _reduced_shape(shape: tuple, dims: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return tuple(1 if i in dims else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in dims)


def logsumexp(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed stably (shifted by the max)."""
    xp, shape, d = x._be.xp, x.data.shape, float_data(x)
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


def _extreme(x: Tensor, dim: Any, keepdim: bool, op: str) -> Tensor:
    if x.data.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {x.shape}")
    xp, shape, d = x._be.xp, x.data.shape, x.data
    dims = norm_dims(dim, x.ndim, op)
    ext = d.max(axis=dims, keepdims=True) if op == "amax" else d.min(axis=dims, keepdims=True)
    out = ext if keepdim else ext.reshape(_reduced_shape(shape, dims, False))

    def vjp(g: Any) -> tuple:
        hit = d == ext
        share = hit / hit.sum(axis=dims, keepdims=True)
        return (_expand(g, dims, keepdim, shape, xp) * share.astype(d.dtype, copy=False),)

    return make(op, out, x._be, (x,), vjp, save=(x,))


def _indexed_extreme(x: Tensor, dim: int, keepdim: bool, op: str) -> MinMax:
    """(values, indices) along one dim; the gradient goes to the returned index."""
    xp, shape = x._be.xp, x.data.shape
    ax = norm_dim(dim, builtins.max(x.ndim, 1), op)
    if x.ndim == 0:
        idx = xp.zeros((), dtype=dtypes.int64)
        return MinMax(make(op, x.data.copy(), x._be, (x,), lambda g: (g,)), Tensor._wrap(idx, x._be))
    if shape[ax] == 0:
        raise ValueError(f"{op}: cannot reduce dim {dim} of size 0 (shape {x.shape})")
    idx = (x.data.argmax if op == "max" else x.data.argmin)(axis=ax, keepdims=True)
    vals = xp.take_along_axis(x.data, idx, axis=ax)

    def vjp(g: Any) -> tuple:
        gx = xp.zeros(shape, dtype=g.dtype)
        xp.put_along_axis(gx, idx, g if keepdim else xp.expand_dims(g, ax), axis=ax)
        return (gx,)

    if not keepdim:
        vals, out_idx = vals.squeeze(ax), idx.squeeze(ax)
    else:
        out_idx = idx
    return MinMax(make(op, vals, x._be, (x,), vjp), Tensor._wrap(out_idx.astype(dtypes.int64), x._be))


def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """max(x): the largest element; max(x, dim): (values, indices); max(x, other): elementwise."""
    if isinstance(dim, Tensor):
        from .arith import maximum

        return maximum(x, dim)
    if dim is None:
        return amax(x)
    return _indexed_extreme(x, dim, keepdim, "max")


def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """min(x): the smallest element; min(x, dim): (values, indices); min(x, other): elementwise."""
    if isinstance(dim, Tensor):
        from .arith import minimum

        return minimum(x, dim)
    if dim is None:
        return amin(x)
    return _indexed_extreme(x, dim, keepdim, "min")


def _arg(x: Tensor, dim: int | None, keepdim: bool, op: str) -> Tensor:
    xp = x._be.xp
    if x.data.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {x.shape}")
    fn = x.data.argmax if op == "argmax" else x.data.argmin
    if dim is None:
        out = fn()
        if keepdim:
            out = xp.reshape(out, (1,) * x.ndim)
    else:
        ax = norm_dim(dim, builtins.max(x.ndim, 1), op)  # a 0-d tensor takes dims -1 and 0, as PyTorch
        out = fn(axis=ax if x.ndim else None, keepdims=keepdim)
    return Tensor._wrap(xp.asarray(out, dtype=dtypes.int64), x._be)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (over the flattened tensor when dim is None); no gradient."""
    return _arg(x, dim, keepdim, "argmax")


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (over the flattened tensor when dim is None); no gradient."""
    return _arg(x, dim, keepdim, "argmin")


def norm(x: Tensor, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Vector p-norm over ``dim`` (all elements when None): p in 1, 2, 'fro', inf, -inf or any p > 0.

    The 2-norm's gradient x / ||x|| is taken as 0 where the norm is 0, as PyTorch.
    """
    xp, shape, d = x._be.xp, x.data.shape, float_data(x)
    dims = norm_dims(dim, x.ndim, "norm")
    if p == "fro":
        p = 2
    if not isinstance(p, (int, float)) or (p <= 0 and p != -math.inf):
        raise ValueError(f"norm: p must be 'fro', inf, -inf or a number > 0, got {p!r}")
    a = xp.abs(d)
    if p == math.inf or p == -math.inf:
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
        out = ((a**p).sum(axis=dims, keepdims=True)) ** (1.0 / p)

        def vjp(g: Any) -> tuple:
            safe = xp.where(out > 0, out, 1)
            return (_expand(g, dims, keepdim, shape, xp) * xp.sign(d) * (a / safe) ** (p - 1) * (out > 0),)

    result = out if keepdim else out.reshape(_reduced_shape(shape, dims, False))
    return make("norm", result, x._be, (x,), vjp, save=(x,))
