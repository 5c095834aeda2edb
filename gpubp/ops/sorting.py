"""Sorting and selection: sort, argsort, msort, topk, kthvalue, cummax/cummin here; the order statistics (median,
mode, quantile) in ``sorting_stats``; unique and the binary searches in ``sorting_search``.

Every sort is stable (CuPy's always is), so equal elements keep their order and the indices are deterministic.
The values' gradient goes to the selected indices (``sorting_core.pick``)."""

from __future__ import annotations

import builtins
import numbers
from typing import Any

from ..errors import InputError
from ..tensor import Tensor
from . import shape as _shape
from ._core import norm_dim, write_out
from .sorting_core import (
    CummaxResult,
    CumminResult,
    KthvalueResult,
    SortResult,
    TopkResult,
    argsort_stable,
    indices,
    pick,
    refuse_bool,
    running,
    write_pair,
)
from .sorting_search import bucketize, searchsorted, unique, unique_consecutive  # noqa: F401  (registered here)
from .sorting_stats import median, mode, nanmedian, nanquantile, quantile  # noqa: F401

DIFFERENTIABLE: tuple[str, ...] = (
    "sort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode", "quantile", "nanquantile", "cummax", "cummin",
)  # fmt: skip
NON_DIFFERENTIABLE: tuple[str, ...] = ("argsort", "unique", "unique_consecutive", "searchsorted", "bucketize")
METHODS: tuple[str, ...] = (
    "sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode", "quantile", "nanquantile",
    "unique", "unique_consecutive", "cummax", "cummin",
)  # fmt: skip


def _check_tensor(x: Any, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): input must be a Tensor, got {type(x).__name__}")


def _check_int(k: Any, op: str, what: str) -> int:
    if isinstance(k, Tensor) and k.ndim == 0 and k.dtype.kind in "iu":
        k = k.item()  # a 0-d index tensor is read back, as PyTorch reads it
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"{op}(): {what} must be an int, got {type(k).__name__}")
    return int(k)


def _sorted(x: Tensor, dim: int, descending: bool, op: str) -> tuple[Tensor, Any, int]:
    """(values, index array, axis) of ``x`` sorted along ``dim``; a 0-d tensor is sorted as one element."""
    _check_tensor(x, op)
    if x.ndim == 0:
        norm_dim(dim, 1, op)
        idx = x._be.xp.zeros((1,), dtype="int64")
        return pick(_shape.reshape(x, (1,)), idx, 0, op, out_shape=()), idx.reshape(()), 0
    ax = norm_dim(dim, x.ndim, op)
    idx = argsort_stable(x._be.xp, x._data, ax, descending)
    return pick(x, idx, ax, op), idx, ax


def sort(
    input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False, *, out: Any = None
) -> SortResult:
    """(values, indices) of ``input`` sorted along ``dim``; NaN sorts as the largest value. Always stable."""
    values, idx, _ = _sorted(input, dim, descending, "sort")
    return write_pair(SortResult(values, indices(input._be, idx)), out, "sort")


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (int64, stable); no gradient."""
    _check_tensor(input, "argsort")
    if input.ndim == 0:
        norm_dim(dim, 1, "argsort")
        return indices(input._be, input._be.xp.zeros((), dtype="int64"))
    ax = norm_dim(dim, input.ndim, "argsort")
    return indices(input._be, argsort_stable(input._be.xp, input._data, ax, descending))


def msort(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``input`` sorted along its first dim (the values of ``sort(input, 0)``)."""
    return write_out(_sorted(input, 0, False, "msort")[0], out, "msort")


def topk(
    input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *, out: Any = None
) -> TopkResult:
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices, largest first (smallest first with
    ``largest=False``); NaN counts as the largest. Equal elements keep their order (PyTorch leaves it unspecified)."""
    _check_tensor(input, "topk")
    k = _check_int(k, "topk", "k")
    refuse_bool(input, "topk")
    x = input if input.ndim else _shape.reshape(input, (1,))
    ax = norm_dim(dim, x.ndim, "topk")
    n = x.shape[ax]
    if not 0 <= k <= n:
        raise InputError(f"topk: selected index k out of range (k={k}, dim {dim} of shape {input.shape} has size {n})")
    full = argsort_stable(x._be.xp, x._data, ax, descending=largest)
    sel = [builtins.slice(None)] * x.ndim
    sel[ax] = builtins.slice(0, k if input.ndim else 1)  # a 0-d input gives its element even for k=0, as PyTorch
    idx = full[tuple(sel)]
    shape_out = () if input.ndim == 0 else None
    values = pick(x, idx, ax, "topk", out_shape=shape_out)
    return write_pair(TopkResult(values, indices(x._be, idx.reshape(values.shape))), out, "topk")


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False, *, out: Any = None) -> KthvalueResult:
    """The ``k``-th smallest element along ``dim`` (k from 1) and its index. Among equal elements the index is that
    of the k-th in a stable sort (PyTorch's CPU quickselect may return another of them)."""
    _check_tensor(input, "kthvalue")
    k = _check_int(k, "kthvalue", "k")
    refuse_bool(input, "kthvalue")
    x = input if input.ndim else _shape.reshape(input, (1,))
    ax = norm_dim(dim, x.ndim, "kthvalue")
    n = x.shape[ax]
    if not 1 <= k <= n:
        raise InputError(
            f"kthvalue(): selected number k out of range for dimension {ax} (k={k}, shape {input.shape}: "
            f"expected 1 <= k <= {n})"
        )
    sel = [builtins.slice(None)] * x.ndim
    sel[ax] = builtins.slice(k - 1, k)
    idx = argsort_stable(x._be.xp, x._data, ax)[tuple(sel)]
    return write_pair(_reduced(KthvalueResult, input, x, idx, ax, keepdim, "kthvalue"), out, "kthvalue")


def _reduced(kind: type, input: Tensor, x: Tensor, idx: Any, ax: int, keepdim: bool, op: str) -> tuple:
    """(values, indices) of a reduction that picked ``idx`` (size 1 along ``ax``), squeezed unless ``keepdim``."""
    if input.ndim == 0:
        shp = ()
    elif keepdim:
        shp = idx.shape
    else:
        shp = idx.shape[:ax] + idx.shape[ax + 1 :]
    return kind(pick(x, idx, ax, op, out_shape=shp), indices(x._be, idx.reshape(shp)))


def _cumulative(input: Tensor, dim: int, largest: bool, op: str, out: Any) -> tuple:
    _check_tensor(input, op)
    x = input if input.ndim else _shape.reshape(input, (1,))
    ax = norm_dim(dim, x.ndim, op)
    xp, d = x._be.xp, x._data
    best = running(xp, d, ax, largest)
    hit = d == best
    if d.dtype.kind in "fc":
        hit = hit | xp.isnan(d)  # NaN takes over, and each later NaN moves the index on, as PyTorch
    n = d.shape[ax]
    pos = xp.arange(n).reshape((1,) * ax + (-1,) + (1,) * (d.ndim - ax - 1))
    idx = running(xp, xp.where(hit, pos, 0), ax, True)  # the last position that set the running extreme
    shp = () if input.ndim == 0 else None
    kind = CummaxResult if largest else CumminResult
    res = kind(pick(x, idx, ax, op, out_shape=shp, repeats=True), indices(x._be, idx.reshape(input.shape)))
    return write_pair(res, out, op)


def cummax(input: Tensor, dim: int, *, out: Any = None) -> CummaxResult:
    """(values, indices) of the running maximum along ``dim``; on ties the later index, as PyTorch."""
    return _cumulative(input, dim, True, "cummax", out)


def cummin(input: Tensor, dim: int, *, out: Any = None) -> CumminResult:
    """(values, indices) of the running minimum along ``dim``; on ties the later index, as PyTorch."""
    return _cumulative(input, dim, False, "cummin", out)


def attach(cls: type) -> None:
    """Bind the methods to the device-entering wrappers ``gpubp.ops`` holds: ``_enter_devices`` replaces a function
    only in the module that defines it, so the names re-exported here from ``sorting_stats``/``sorting_search``
    would otherwise become unwrapped methods."""
    import sys

    ops = sys.modules[__name__.rpartition(".")[0]]
    for name in METHODS:
        setattr(cls, name, getattr(ops, name))
