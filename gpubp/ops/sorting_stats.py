"""Order statistics: median, nanmedian, mode, quantile, nanquantile (PyTorch's semantics, on a stable sort)."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .. import dtypes
from ..autograd import OUT
from ..errors import InputError, InputIndexError, InputTypeError
from ..tensor import Tensor
from . import shape as _shape
from ._core import make, norm_dim, write_out
from .sorting_core import (
    MedianResult,
    ModeResult,
    NanmedianResult,
    argsort_stable,
    indices,
    pick,
    refuse_bool,
    running,
    take_key,
    write_pair,
)


def _check_tensor(x: Any, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): input must be a Tensor, got {type(x).__name__}")


def _need_size(x: Tensor, ax: int, op: str) -> None:
    if x.shape[ax] == 0:
        raise InputIndexError(f"{op}(): Expected reduction dim {ax} to have non-zero size (shape {x.shape})")


def _median_pos(xp: Any, d: Any, ax: int, ignore_nan: bool) -> Any:
    """The sorted position of the lower median along ``ax`` (keepdims): with NaNs (sorted last) median takes the
    first NaN, nanmedian the lower median of the rest (position 0, a NaN, when all are NaN)."""
    n = d.shape[ax]
    if d.dtype.kind != "f":
        return xp.full(d.shape[:ax] + (1,) + d.shape[ax + 1 :], (n - 1) // 2, dtype=dtypes.int64)
    nans = xp.isnan(d).sum(axis=ax, keepdims=True).astype(dtypes.int64)
    if ignore_nan:
        return xp.maximum((n - nans - 1) // 2, 0)
    return xp.where(nans > 0, n - nans, (n - 1) // 2)


def _median_all(x: Tensor, ignore_nan: bool, op: str) -> Tensor:
    """The lower median of every element (0-d); the gradient is shared evenly by the elements equal to it, as
    PyTorch's (evenly_distribute_backward)."""
    xp = x._be.xp
    flat = x._data.reshape(-1)
    if flat.size == 0:
        dt = x._data.dtype if x._data.dtype.kind == "f" else dtypes.DEFAULT_FLOAT
        return make(op, xp.full((), math.nan, dtype=dt), x._be, (x,), lambda m, g: (None,))
    pos = _median_pos(xp, flat, 0, ignore_nan)
    value = xp.sort(flat)[pos].reshape(())
    shape, dims = x._data.shape, tuple(range(x.ndim))

    def rule(m: Any, g: Any, d: Any, v: Any) -> tuple:
        d, v = m.raw(d), m.raw(v)
        hit = (d == v) | (xp.isnan(d) & xp.isnan(v))
        share = (hit / hit.sum()).astype(d.dtype, copy=False)
        return (m.expand(g, dims, False, shape) * m.const(share),)

    return make(op, value, x._be, (x,), rule, saved=(x, OUT))


def _median(input: Tensor, dim: Any, keepdim: bool, out: Any, ignore_nan: bool) -> Any:
    op = "nanmedian" if ignore_nan else "median"
    _check_tensor(input, op)
    refuse_bool(input, op)
    if dim is None:
        return write_out(_median_all(input, ignore_nan, op), out, op)
    x = input if input.ndim else _shape.reshape(input, (1,))
    ax = norm_dim(dim, x.ndim, op)
    _need_size(x, ax, op)
    xp = x._be.xp
    pos = _median_pos(xp, x._data, ax, ignore_nan)
    idx = xp.take_along_axis(argsort_stable(xp, x._data, ax), pos, axis=ax)
    shp = () if input.ndim == 0 else (idx.shape if keepdim else idx.shape[:ax] + idx.shape[ax + 1 :])
    kind = NanmedianResult if ignore_nan else MedianResult
    res = kind(pick(x, idx, ax, op, out_shape=shp), indices(x._be, idx.reshape(shp)))
    return write_pair(res, out, op)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False, *, out: Any = None) -> Any:
    """median(input): the lower median of all elements (0-d; NaN if any is NaN). median(input, dim): (values,
    indices) of the lower median along ``dim``; the index of the first of equal elements."""
    return _median(input, dim, keepdim, out, False)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False, *, out: Any = None) -> Any:
    """``median`` ignoring NaNs (NaN only where every element is NaN)."""
    return _median(input, dim, keepdim, out, True)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False, *, out: Any = None) -> ModeResult:
    """(values, indices) of the most frequent value along ``dim``: the smallest on ties, and the last index of it,
    as PyTorch on the CPU. Each NaN counts as a value of its own."""
    _check_tensor(input, "mode")
    x = input if input.ndim else _shape.reshape(input, (1,))
    ax = norm_dim(dim, x.ndim, "mode")
    _need_size(x, ax, "mode")
    xp, d = x._be.xp, x._data
    order = argsort_stable(xp, d, ax)
    s = xp.take_along_axis(d, order, axis=ax)
    n = d.shape[ax]
    lead = [slice(None)] * d.ndim
    lead[ax] = slice(0, 1)
    ahead, behind = list(lead), list(lead)
    ahead[ax], behind[ax] = slice(1, None), slice(None, n - 1)
    first = xp.ones(s[tuple(lead)].shape, dtype=bool)
    starts = xp.concatenate([first, s[tuple(ahead)] != s[tuple(behind)]], axis=ax)  # where a run of equals begins
    pos = xp.arange(n).reshape((1,) * ax + (-1,) + (1,) * (d.ndim - ax - 1))
    count = pos - running(xp, xp.where(starts, pos, 0), ax, True)  # (count so far in its run) - 1
    best = xp.argmax(count, axis=ax, keepdims=True)  # the first longest run ends here: the smallest value
    idx = xp.take_along_axis(order, best, axis=ax)  # a stable sort puts the last index at a run's end
    shp = () if input.ndim == 0 else (idx.shape if keepdim else idx.shape[:ax] + idx.shape[ax + 1 :])
    res = ModeResult(pick(x, idx, ax, "mode", out_shape=shp), indices(x._be, idx.reshape(shp)))
    return write_pair(res, out, "mode")


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _q_array(x: Tensor, q: Any, op: str) -> tuple[Any, bool]:
    """``q`` as a 1-D array of ``x``'s dtype, and whether it was a scalar; its range is checked (for a tensor ``q``
    that reads it back, a synchronization on a GPU, as in PyTorch)."""
    xp, dt = x._be.xp, x._data.dtype
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise InputError(f"{op}() q must be a scalar or 1D tensor, got shape {q.shape}")
        if q.dtype != dt:
            raise InputTypeError(f"{op}() q tensor must be same dtype as the input tensor ({q.dtype} vs {dt})")
        if q._be is not x._be:
            raise InputError(f"{op}() q is on {q.device}, but the input is on {x.device}")
        qa, scalar = q._data.reshape(-1), q.ndim == 0
        bad = bool(((qa < 0) | (qa > 1) | xp.isnan(qa)).any())  # synchronizes on a GPU
        if bad:
            raise InputError(f"{op}() q values must be in the range [0, 1]")
        return qa, scalar
    if isinstance(q, numbers.Real) and not isinstance(q, bool):
        if not 0 <= q <= 1:
            raise InputError(f"{op}() q must be in the range [0, 1] but got {q}")
        return xp.asarray([float(q)], dtype=dt), True
    raise TypeError(f"{op}(): q must be a float or a Tensor, got {type(q).__name__}")


def _quantile(input: Tensor, q: Any, dim: Any, keepdim: bool, interpolation: str, out: Any, ignore_nan: bool) -> Any:
    op = "nanquantile" if ignore_nan else "quantile"
    _check_tensor(input, op)
    if input._data.dtype.kind != "f":
        raise InputTypeError(f"{op}() input tensor must be either float or double dtype, got {input.dtype}")
    if interpolation not in _INTERPOLATIONS:
        raise InputError(
            f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest, but got {interpolation}"
        )
    if input._data.size == 0:
        raise InputError(f"{op}() input tensor must be non-empty (shape {input.shape})")
    qa, scalar = _q_array(input, q, op)
    if dim is None or input.ndim == 0:
        if dim is not None:
            norm_dim(dim, 1, op)
        x, ax = _shape.reshape(input, (-1,)), 0
        final = (1,) * input.ndim if keepdim else ()
    else:
        x, ax = input, norm_dim(dim, input.ndim, op)
        final = tuple(1 if i == ax else n for i, n in enumerate(input.shape)) if keepdim else None
    xp, d = x._be.xp, x._data
    dt, n, nd = d.dtype, d.shape[ax], d.ndim
    if final is None:
        final = d.shape[:ax] + d.shape[ax + 1 :]
    nq = qa.shape[0]
    nans = xp.isnan(d).sum(axis=ax, keepdims=True)
    qb = qa.reshape((nq,) + (1,) * nd)
    if ignore_nan:
        ranks = qb * (n - 1 - nans).astype(dt)
        ranks = xp.where(ranks < 0, 0, ranks).astype(dt)  # all NaN: position 0, a NaN
    else:
        ranks = xp.where(nans > 0, dt.type(n - 1), qb * dt.type(n - 1)).astype(dt)  # a NaN: the last, a NaN
    below = xp.floor(ranks)
    if interpolation == "lower":
        positions, weights = [below], None
    elif interpolation == "higher":
        positions, weights = [xp.ceil(ranks)], None
    elif interpolation == "nearest":
        positions, weights = [xp.round(ranks)], None  # half to even, as torch.round
    else:
        positions = [below, xp.ceil(ranks)]
        weights = ranks - below if interpolation == "linear" else xp.full(ranks.shape, 0.5, dtype=dt)
    order = xp.broadcast_to(argsort_stable(xp, d, ax), (nq,) + d.shape)
    where = xp.concatenate([xp.take_along_axis(order, p.astype(dtypes.int64), axis=ax + 1) for p in positions])
    key = tuple(
        where if i == ax else xp.arange(n_i).reshape((1,) * (i + 1) + (-1,) + (1,) * (nd - i - 1))
        for i, n_i in enumerate(d.shape)
    )  # reads (len(positions) * nq, kept shape) elements of d; a position may be read twice
    picked = take_key(x, key, op, repeats=True)
    if weights is None:
        res = picked
    else:
        lo, hi = picked[:nq], picked[nq:]
        res = lo + (hi - lo) * Tensor._wrap(weights, x._be)
    res = _shape.reshape(res, final if scalar else (nq,) + final)
    return write_out(res, out, op)


def quantile(
    input: Tensor,
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
    out: Tensor | None = None,
) -> Tensor:
    """The ``q``-th quantiles (q a float or a 1-D tensor, in [0, 1]; a leading dim per q) along ``dim`` (all
    elements when None), interpolating as ``interpolation`` says; NaN where a NaN is present."""
    return _quantile(input, q, dim, keepdim, interpolation, out, False)


def nanquantile(
    input: Tensor,
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
    out: Tensor | None = None,
) -> Tensor:
    """``quantile`` ignoring NaNs (NaN only where every element is NaN)."""
    return _quantile(input, q, dim, keepdim, interpolation, out, True)
