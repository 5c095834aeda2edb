"""Scans (cumsum, cumprod, logcumsumexp) and the reductions kin to them (prod, any, all, nansum, aminmax, ... in
``scan_reduce``; dist, cdist, renorm in ``scan_dist``).

A scan's gradient is a scan the other way: cumsum's is a reversed cumsum of g, written with the scans themselves so
that the rule runs on arrays (first order) and on tensors (``create_graph=True``) alike.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import OUT
from ..errors import InputTypeError
from ..tensor import Tensor
from . import inplace
from ._core import make, norm_dim, spec, unbroadcast, write_out
from .reduce import _acc_dtype
from .scan_dist import cdist, dist, renorm  # noqa: F401  (registered from here)
from .scan_reduce import (  # noqa: F401, A004  (all and any shadow the builtins here, as PyTorch's names)
    all,
    aminmax,
    any,
    count_nonzero,
    nanmean,
    nansum,
    prod,
    std_mean,
    var_mean,
)

DIFFERENTIABLE: tuple[str, ...] = (
    "cumsum", "cumprod", "logcumsumexp", "prod", "std_mean", "var_mean", "nansum", "nanmean", "aminmax",
    "dist", "cdist", "renorm",
)  # fmt: skip
NON_DIFFERENTIABLE: tuple[str, ...] = ("any", "all", "count_nonzero")
METHODS: tuple[str, ...] = (
    "cumsum", "cumprod", "logcumsumexp", "prod", "any", "all", "count_nonzero", "nansum", "nanmean", "aminmax",
    "dist", "renorm", "cumsum_", "cumprod_", "renorm_",
)  # fmt: skip
TOP_LEVEL: tuple[str, ...] = DIFFERENTIABLE + NON_DIFFERENTIABLE


def _scan_axis(x: Tensor, dim: Any, op: str) -> int:
    """``dim`` as an axis; a 0-d tensor takes dims -1 and 0, as PyTorch."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    return norm_dim(dim, builtins.max(x.ndim, 1), op)


def _scan_data(x: Tensor, dtype: Any) -> Any:
    """The data a cumsum/cumprod accumulates: cast to ``dtype`` when given, else bool and integers as int64."""
    d = x._data
    if dtype is not None:
        return d.astype(dtypes.to_dtype(dtype), copy=False)
    return d if d.dtype.kind == "f" else d.astype(dtypes.int64)


def _scan(x: Tensor, d: Any, ax: int, fn: Any) -> Any:
    """``fn`` (xp.cumsum or xp.cumprod) along ``ax`` in d's dtype (NumPy would widen int32). Float16/32 accumulate
    in float64 on the CPU, as PyTorch's CPU kernels do: NumPy adds one element after another (error ~ n eps)."""
    if not x.ndim:
        return d.copy()
    acc = _acc_dtype(x, d) if d.dtype.kind == "f" else None
    if acc is None:
        return fn(d, axis=ax, dtype=d.dtype)
    return fn(d, axis=ax, dtype=acc).astype(d.dtype)


def _record(name: str, y: Any, x: Tensor, rule: Any, saved: tuple) -> Tensor:
    """A scan's result: recorded only when it is floating point (an integer result has no gradient)."""
    if y.dtype.kind != "f":
        return Tensor._wrap(y, x._be)
    return make(name, y, x._be, (x,), rule, saved=saved)


# the rules' building blocks: raw xp on arrays, the differentiable scans (and indexing) on tensors


def _cumsum_m(m: Any, v: Any, ax: int) -> Any:
    return cumsum(v, ax) if m.graph else m.xp.cumsum(v, axis=ax)


def _cumprod_m(m: Any, v: Any, ax: int) -> Any:
    return cumprod(v, ax) if m.graph else m.xp.cumprod(v, axis=ax)


def _rcumsum_m(m: Any, v: Any, ax: int) -> Any:
    """sum_{j >= k} v_j along ``ax``: cumsum's adjoint."""
    return m.flip(_cumsum_m(m, m.flip(v, ax), ax), ax)


def cumsum(x: Tensor, dim: int, *, dtype: Any = None, out: Tensor | None = None) -> Tensor:
    """Cumulative sum along ``dim``; bool and integer inputs give int64 unless ``dtype`` says otherwise."""
    ax = _scan_axis(x, dim, "cumsum")
    d = _scan_data(x, dtype)
    y = _scan(x, d, ax, x._be.xp.cumsum)  # NumPy widens int32
    sp = spec(x)

    def rule(m: Any, g: Any) -> tuple:
        return (unbroadcast(_rcumsum_m(m, g, ax) if g.ndim else g, sp),)

    return write_out(_record("cumsum", y, x, rule, ()), out, "cumsum")


def cumprod(x: Tensor, dim: int, *, dtype: Any = None, out: Tensor | None = None) -> Tensor:
    """Cumulative product along ``dim``; its gradient is exact with zeros in the input, as PyTorch's."""
    ax = _scan_axis(x, dim, "cumprod")
    d = _scan_data(x, dtype)
    y = _scan(x, d, ax, x._be.xp.cumprod)
    sp = spec(x)

    def rule(m: Any, g: Any, d: Any, y: Any) -> tuple:
        if g.ndim == 0 or g.shape[ax] <= 1:
            return (unbroadcast(g, sp),)
        if d.dtype != y.dtype:  # dtype= cast the input before the scan
            d = d.astype(y.dtype)
        gx = _cumprod_grad_graph(m, g, d, ax) if m.graph else _cumprod_grad(m.xp, g, d, y, ax)
        return (unbroadcast(gx, sp),)

    return write_out(_record("cumprod", y, x, rule, (x, OUT)), out, "cumprod")


def _cumprod_grad(xp: Any, g: Any, x: Any, y: Any, ax: int) -> Any:
    """dL/dx_k = sum_{j>=k} g_j prod_{i<=j, i!=k} x_i in O(n), with no host sync, for any zeros (PyTorch's cases).

    Before a slice's first zero it is rcumsum(g y)_k / x_k; at the first zero z it is rcumsum(g cumprod(x'))_z with
    x' = x with x_z set to 1 (the products that skip x_z); after it every term holds x_z = 0."""
    is_zero = x == 0
    zeros_so_far = xp.cumsum(is_zero, axis=ax, dtype=np.int64)
    before = zeros_so_far == 0
    first = is_zero & (zeros_so_far == 1)
    r = xp.flip(xp.cumsum(xp.flip(g * y, ax), axis=ax), ax)
    head = r / xp.where(before, x, 1)
    skip = xp.cumprod(xp.where(first, 1, x), axis=ax)
    at_zero = xp.flip(xp.cumsum(xp.flip(g * skip, ax), axis=ax), ax)
    return xp.where(before, head, xp.where(first, at_zero, 0))


def _cumprod_grad_graph(m: Any, g: Tensor, x: Tensor, ax: int) -> Tensor:
    """The same gradient as differentiable ops, for double backward: the O(n) form's masks hide how the terms after
    a zero depend on that zero, so, as PyTorch, this builds every prod_{i<=j, i!=k} x_i (O(n^2) along ``dim``)."""
    xp, n = x._be.xp, x.shape[ax]
    last = x.ndim - 1
    xt = m.swapaxes(x, ax, last)  # (..., n)
    gt = m.swapaxes(g, ax, last)
    rows = xt.reshape(xt.shape[:-1] + (1, n))  # (..., 1, n_j)
    skip_k = m.where(xp.eye(n, dtype=bool), 1.0, rows)  # (..., n_k, n_j): x with x_k set to 1
    terms = gt.reshape(rows.shape) * cumprod(skip_k, -1) * m.const(xp.triu(xp.ones((n, n), dtype=x.dtype)))
    return m.swapaxes(m.sum(terms, (terms.ndim - 1,)), ax, last)


def logcumsumexp(x: Tensor, dim: int, *, out: Tensor | None = None) -> Tensor:
    """log(cumsum(exp(x))) along ``dim``, computed stably (a log-step scan of logaddexp); floating point only."""
    ax = _scan_axis(x, dim, "logcumsumexp")
    if x._data.dtype.kind != "f":
        raise InputTypeError(f"logcumsumexp: expected a floating-point tensor, got dtype {x.dtype}")
    y = _logcumsumexp_array(x._be.xp, x._data, ax) if x.ndim else x._data.copy()

    def rule(m: Any, g: Any, d: Any, y: Any) -> tuple:
        if g.ndim == 0:
            return (g,)
        return (_logcumsumexp_grad(m, g, d, y, ax),)

    return write_out(make("logcumsumexp", y, x._be, (x,), rule, saved=(x, OUT)), out, "logcumsumexp")


def _logcumsumexp_array(xp: Any, d: Any, ax: int) -> Any:
    """Hillis-Steele scan: log2(n) passes of y[k:] = logaddexp(y[k:], y[:-k]); exact for any range of values
    (a single shift by the max underflows where a prefix lies far below it). O(N log n) work, no sync."""
    y = xp.moveaxis(d, ax, -1).copy()
    n = y.shape[-1]
    k = 1
    with np.errstate(invalid="ignore"):  # NaN inputs give NaN, silently, as PyTorch (NumPy would warn)
        while k < n:
            y[..., k:] = xp.logaddexp(y[..., k:], y[..., :-k])  # the right side is a new array: no aliasing
            k *= 2
    return xp.moveaxis(y, -1, ax)


def _logcumsumexp_grad(m: Any, g: Any, d: Any, y: Any, ax: int) -> Any:
    """dL/dx_k = sum_{j>=k} g_j exp(x_k - y_j), in log space with g split by sign (PyTorch's stable formula)."""
    gr = m.raw(g)
    lowest = float(np.finfo(gr.dtype).min) / 4  # log(0) stand-in: finite, and lowest - y + x cannot overflow
    log_abs = m.log(m.where(gr != 0, m.abs(g), 1.0))
    pos = m.where(gr > 0, log_abs, lowest)
    neg = m.where(gr < 0, log_abs, lowest)
    return m.exp(_rlogcumsumexp_m(m, pos - y, ax) + d) - m.exp(_rlogcumsumexp_m(m, neg - y, ax) + d)


def _rlogcumsumexp_m(m: Any, v: Any, ax: int) -> Any:
    if m.graph:
        return m.flip(logcumsumexp(m.flip(v, ax), ax), ax)
    xp = m.xp
    return xp.flip(_logcumsumexp_array(xp, xp.flip(v, ax), ax), ax)


def cumsum_(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """In-place cumsum along ``dim`` (the tensor keeps its dtype)."""
    return inplace.apply_(x, lambda s: cumsum(s, dim, dtype=dtype if dtype is not None else s.dtype), "cumsum_")


def cumprod_(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """In-place cumprod along ``dim`` (the tensor keeps its dtype)."""
    return inplace.apply_(x, lambda s: cumprod(s, dim, dtype=dtype if dtype is not None else s.dtype), "cumprod_")


def renorm_(x: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """In-place renorm: each slice along ``dim`` whose p-norm exceeds ``maxnorm`` is scaled down to it."""
    return inplace.apply_(x, renorm, "renorm_", p, dim, maxnorm)
