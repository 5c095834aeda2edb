"""unique, unique_consecutive (their sizes depend on the data: they synchronize on a GPU, as in PyTorch) and the
binary searches searchsorted and bucketize (no synchronization: a vectorized bisection of log2(n) steps)."""

from __future__ import annotations

import numbers
from typing import Any

from .. import dtypes
from ..errors import InputError
from ..tensor import Tensor
from ._core import check_same_device, norm_dim, write_out
from .sorting_core import argsort_stable


def _check_tensor(x: Any, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): input must be a Tensor, got {type(x).__name__}")


def _wrap(be: Any, a: Any) -> Tensor:
    return Tensor._wrap(a, be)


def _results(be: Any, values: Any, inverse: Any, counts: Any, return_inverse: bool, return_counts: bool) -> Any:
    out = [_wrap(be, values)]
    if return_inverse:
        out.append(_wrap(be, inverse.astype(dtypes.int64, copy=False)))
    if return_counts:
        out.append(_wrap(be, counts.astype(dtypes.int64, copy=False)))
    return out[0] if len(out) == 1 else tuple(out)


def _rows(x: Tensor, dim: int | None, op: str) -> tuple[Any, int | None]:
    """The data as (N, rest) rows along ``dim`` (moved first), or flattened when ``dim`` is None."""
    d = x._data
    if dim is None:
        return d.reshape(-1), None
    ax = norm_dim(dim, max(x.ndim, 1), op)
    if x.ndim == 0:
        return d.reshape(1), None
    moved = x._be.xp.moveaxis(d, ax, 0)
    return moved.reshape(moved.shape[0], -1), ax


def _unflatten(x: Tensor, rows: Any, ax: int | None) -> Any:
    if ax is None:
        return rows
    xp = x._be.xp
    rest = x.shape[:ax] + x.shape[ax + 1 :]
    return xp.moveaxis(rows.reshape((rows.shape[0],) + rest), 0, ax)


def _runs(xp: Any, rows: Any) -> Any:
    """Where a run of equal rows (or elements) begins: True at 0 and wherever a row differs from the one before."""
    if rows.shape[0] == 0:
        return xp.zeros((0,), dtype=bool)
    diff = rows[1:] != rows[:-1]
    if diff.ndim > 1:
        diff = diff.any(axis=tuple(range(1, diff.ndim)))
    return xp.concatenate([xp.ones((1,), dtype=bool), diff])


def _collapse(x: Tensor, rows: Any, ax: int | None, starts: Any, order: Any, return_inverse: bool) -> tuple:
    """(values, inverse, counts) of runs that begin at ``starts`` in ``rows`` (rows in sorted order ``order``, or
    None when they are in place). Reading the number of runs synchronizes on a GPU."""
    xp = x._be.xp
    n = rows.shape[0]
    first = xp.nonzero(starts)[0]  # synchronizes on a GPU: the number of distinct values is read back
    values = _unflatten(x, rows[first], ax)
    counts = xp.diff(xp.concatenate([first, xp.asarray([n], dtype=first.dtype)]))
    inverse = None
    if return_inverse:
        run = xp.cumsum(starts) - 1
        if order is None:
            inverse = run
        else:
            inverse = xp.empty((n,), dtype=run.dtype)
            inverse[order] = run
        if ax is None:
            inverse = inverse.reshape(x.shape)
    return values, inverse, counts


def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct elements of ``input`` (or distinct slices along ``dim``), sorted, with optionally the inverse
    indices and the counts; no gradient. Synchronizes on a GPU (the output size depends on the data)."""
    _check_tensor(input, "unique")
    xp = input._be.xp
    rows, ax = _rows(input, dim, "unique")
    if rows.ndim == 1:
        order = argsort_stable(xp, rows, 0)
    else:  # lexicographic order of the rows: stable sorts by the last column first, then each column before it
        order = xp.arange(rows.shape[0])
        for c in range(rows.shape[1] - 1, -1, -1):
            order = order[argsort_stable(xp, rows[order, c], 0)]
    ranked = rows[order]
    starts = _runs(xp, ranked)
    values, inverse, counts = _collapse(input, ranked, ax, starts, order, return_inverse)
    return _results(input._be, values, inverse, counts, return_inverse, return_counts)


def unique_consecutive(
    input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim: int | None = None
) -> Any:
    """``input`` with each run of equal consecutive elements (or slices along ``dim``) collapsed to one, with
    optionally the inverse indices and the run lengths; no gradient. Synchronizes on a GPU."""
    _check_tensor(input, "unique_consecutive")
    rows, ax = _rows(input, dim, "unique_consecutive")
    starts = _runs(input._be.xp, rows)
    values, inverse, counts = _collapse(input, rows, ax, starts, None, return_inverse)
    return _results(input._be, values, inverse, counts, return_inverse, return_counts)


def _bisect(xp: Any, seq: Any, v: Any, right: bool, sorter: Any) -> Any:
    """For each value, the number of elements of ``seq``'s last dim before which it goes (``seq`` (M,) or
    (*B, M), ``v`` (*B, K) or anything against a 1-D ``seq``), as PyTorch's lower/upper bound, in
    ``M.bit_length()`` vectorized steps. NaN values go last; NaNs sorted at the end of ``seq`` stay after all."""
    m = seq.shape[-1]
    lo = xp.zeros(v.shape, dtype=dtypes.int64)
    hi = xp.full(v.shape, m, dtype=dtypes.int64)
    for _ in range(m.bit_length()):
        mid = (lo + hi) // 2
        at = xp.minimum(mid, m - 1)
        if seq.ndim == 1:
            if sorter is not None:
                at = sorter[at]
            val = seq[at]
        else:
            if sorter is not None:
                at = xp.take_along_axis(sorter, at, axis=-1)
            val = xp.take_along_axis(seq, at, axis=-1)
        go_right = ~(val > v) if right else ~(val >= v)  # PyTorch's comparisons: a NaN value goes right
        active = lo < hi
        lo = xp.where(active & go_right, mid + 1, lo)
        hi = xp.where(active & ~go_right, mid, hi)
    return lo


def searchsorted(
    sorted_sequence: Tensor,
    values: Any,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Tensor | None = None,
    out: Tensor | None = None,
) -> Tensor:
    """Indices where ``values`` would be inserted into ``sorted_sequence``'s last dim to keep it sorted (a 1-D
    sequence, or one per leading index: ``(*B, M)`` against ``(*B, K)``); ``right``/``side='right'`` takes the
    upper bound. int64 (int32 with ``out_int32``); no gradient."""
    op = "searchsorted"
    _check_tensor(sorted_sequence, op)
    seq = sorted_sequence
    if side is not None:
        if side not in ("left", "right"):
            raise InputError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side!r}")
        if right and side == "left":
            raise InputError("torch.searchsorted(): side and right can't be set to opposites, got side of left")
        right = side == "right"
    if seq.ndim == 0:
        raise InputError("torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 dimension")
    xp = seq._be.xp
    if isinstance(values, Tensor):
        check_same_device(op, seq, values)
        v = values._data
        if seq.ndim > 1 and (v.ndim != seq.ndim or v.shape[:-1] != seq.shape[:-1]):
            raise InputError(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                f"boundaries tensor and input value tensor must match, but we got boundaries tensor {seq.shape} "
                f"and input value tensor {values.shape}"
            )
    elif isinstance(values, numbers.Real):
        if seq.ndim != 1:
            raise InputError(
                "torch.searchsorted(): input value can be a scalar only when boundaries tensor dimension is 1, but "
                f"we got boundaries tensor dim({seq.ndim}) and input value's dim(0) numel(1)"
            )
        v = xp.asarray(values)
    else:
        raise TypeError(f"{op}(): values must be a Tensor or a number, got {type(values).__name__}")
    srt = None
    if sorter is not None:
        _check_tensor(sorter, op)
        check_same_device(op, seq, sorter)
        if sorter.shape != seq.shape or sorter.dtype.kind not in "iu":
            raise InputError(
                f"torch.searchsorted(): sorter must be an integer tensor of the boundaries' shape {seq.shape}, "
                f"got {sorter.dtype} of shape {sorter.shape}"
            )
        srt = sorter._data
    res = _bisect(xp, seq._data, v, right, srt)
    res = res.astype(dtypes.int32 if out_int32 else dtypes.int64)
    return write_out(Tensor._wrap(res, seq._be), out, op)


def bucketize(
    input: Any, boundaries: Tensor, *, out_int32: bool = False, right: bool = False, out: Tensor | None = None
) -> Tensor:
    """The bucket of each element of ``input`` among the 1-D ``boundaries``: i with boundaries[i-1] < x <=
    boundaries[i] (with ``right``: boundaries[i-1] <= x < boundaries[i]); no gradient."""
    _check_tensor(boundaries, "bucketize")
    if boundaries.ndim != 1:
        raise InputError(f"bucketize: boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)
