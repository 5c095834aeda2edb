"""Layout ops that join, split, grid or broadcast several tensors: hstack/vstack/dstack/column_stack,
tensor_split/hsplit/vsplit/dsplit, atleast_1d/2d/3d, meshgrid, broadcast_tensors and broadcast_shapes."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

from ..errors import InputError
from ..tensor import Tensor
from . import shape
from ._core import check_same_device, norm_dim, write_out


def _tensors(args: tuple, op: str) -> tuple[list[Tensor], bool]:
    """f(a, b) and f([a, b]) alike: (the tensors, whether they came as one sequence)."""
    packed = len(args) == 1 and isinstance(args[0], (list, tuple))
    ts = list(args[0]) if packed else list(args)
    for i, t in enumerate(ts):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: argument {i} is a {type(t).__name__}, expected a Tensor")
    return ts, packed


def _atleast(args: tuple, nd: int, op: str) -> Any:
    ts, packed = _tensors(args, op)
    out = []
    for t in ts:
        if t.ndim >= nd:
            out.append(t)
        elif nd == 3 and t.ndim == 2:
            out.append(shape.reshape(t, t.shape + (1,)))  # (m, n) -> (m, n, 1), as NumPy and PyTorch
        elif nd == 3 and t.ndim == 1:
            out.append(shape.reshape(t, (1,) + t.shape + (1,)))  # (n,) -> (1, n, 1)
        else:
            out.append(shape.reshape(t, (1,) * (nd - t.ndim) + t.shape))
    return out[0] if len(out) == 1 and not packed else tuple(out)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (0-d ones become shape (1,)); one tensor in, one out, else a tuple."""
    return _atleast(tensors, 1, "atleast_1d")


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims: () -> (1, 1), (n,) -> (1, n)."""
    return _atleast(tensors, 2, "atleast_2d")


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _atleast(tensors, 3, "atleast_3d")


def _seq(tensors: Any, op: str) -> list[Tensor]:
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: argument 'tensors' must be a list or tuple of Tensors, not {type(tensors).__name__}")
    if not tensors:
        raise InputError(f"{op}: expects a non-empty TensorList")
    return _tensors((list(tensors),), op)[0]


def hstack(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """Join column-wise: along dim 1, or dim 0 for 1-D tensors (after atleast_1d)."""
    ts = list(atleast_1d(_seq(tensors, "hstack")))
    return write_out(shape.cat(ts, 0 if ts[0].ndim == 1 else 1), out, "hstack")


def vstack(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """Join row-wise: along dim 0, after atleast_2d."""
    return write_out(shape.cat(list(atleast_2d(_seq(tensors, "vstack"))), 0), out, "vstack")


def row_stack(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """Another name for vstack."""
    return write_out(shape.cat(list(atleast_2d(_seq(tensors, "row_stack"))), 0), out, "row_stack")


def dstack(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """Join depth-wise: along dim 2, after atleast_3d."""
    return write_out(shape.cat(list(atleast_3d(_seq(tensors, "dstack"))), 2), out, "dstack")


def column_stack(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """Join along dim 1, 0-d and 1-D tensors first made columns (n, 1)."""
    ts = [shape.reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in _seq(tensors, "column_stack")]
    return write_out(shape.cat(ts, 1), out, "column_stack")


def _split_points(indices_or_sections: Any, op: str) -> tuple[int | None, list[int] | None]:
    """(sections, None) or (None, indices); a tensor (0-d: sections, 1-D: indices) is read back to the host."""
    v = indices_or_sections
    if isinstance(v, Tensor):
        if v.dtype.kind not in "iu" or v.ndim > 1:
            raise InputError(
                f"{op}: indices_or_sections must be a 0-d or 1-D integer tensor, got {v.dtype} of shape {v.shape}"
            )
        v = v.tolist()  # a host read, as PyTorch (which requires it on the CPU)
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return int(v), None
    if isinstance(v, (list, tuple)) and all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in v):
        return None, [int(i) for i in v]
    raise TypeError(f"{op}: indices_or_sections must be an int, a sequence of ints or a tensor, got {v!r}")


def _tensor_split(x: Tensor, indices_or_sections: Any, dim: int, op: str) -> tuple[Tensor, ...]:
    if x.ndim == 0:
        raise InputError(f"{op}: expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    ax = norm_dim(dim, x.ndim, op)
    n = x.shape[ax]
    sections, indices = _split_points(indices_or_sections, op)
    if sections is not None:
        if sections <= 0:
            raise InputError(f"{op}: number of sections must be larger than 0, got {sections}")
        small, extra = divmod(n, sections)
        bounds = [0]
        for i in range(sections):
            bounds.append(bounds[-1] + small + (1 if i < extra else 0))
        starts, ends = bounds[:-1], bounds[1:]
    else:
        starts = [0] + indices
        ends = indices + [n]
    # each piece is x[start:end] along ax with Python's slice rules (negatives wrap, out of range clamps), as PyTorch
    lead = (slice(None),) * ax
    return tuple(x[lead + (slice(s, e),)] for s, e in zip(starts, ends))


def tensor_split(input: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Views of ``input`` along ``dim``: ``sections`` nearly equal pieces (the first ``n % sections`` one longer), or
    the pieces between the given ``indices``."""
    return _tensor_split(input, indices_or_sections, dim, "tensor_split")


def _even_split(x: Tensor, indices_or_sections: Any, dim: int, need: int, op: str) -> tuple[Tensor, ...]:
    if x.ndim < need:
        raise InputError(
            f"{op}: torch.{op} requires a tensor with at least {need} dimension{'s' if need > 1 else ''}, but got a "
            f"tensor with {x.ndim} dimensions!"
        )
    sections, _ = _split_points(indices_or_sections, op)
    if sections is not None and (sections == 0 or x.shape[dim] % sections):
        raise InputError(
            f"{op}: torch.{op} attempted to split along dimension {dim}, but the size of the dimension "
            f"{x.shape[dim]} is not divisible by the split_size {sections}!"
        )
    return _tensor_split(x, indices_or_sections, dim, op)


def hsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """tensor_split along dim 1 (dim 0 for a 1-D tensor); sections must divide the dim evenly."""
    return _even_split(input, indices_or_sections, 1 if input.ndim > 1 else 0, 1, "hsplit")


def vsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """tensor_split along dim 0 of a tensor with at least 2 dims; sections must divide the dim evenly."""
    return _even_split(input, indices_or_sections, 0, 2, "vsplit")


def dsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """tensor_split along dim 2 of a tensor with at least 3 dims; sections must divide the dim evenly."""
    return _even_split(input, indices_or_sections, 2, 3, "dsplit")


_MESHGRID_WARNED = [False]


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Grids from 0-d or 1-D tensors: output i varies along dim i ('ij', the default) or with the first two dims
    swapped ('xy'). Without ``indexing`` it warns once, as PyTorch. The grids are read-only expanded views."""
    if indexing is None:
        if not _MESHGRID_WARNED[0]:
            _MESHGRID_WARNED[0] = True
            warnings.warn(
                "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                UserWarning,
                stacklevel=2,
            )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise InputError(f'meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    ts, _ = _tensors(tensors, "meshgrid")
    if not ts:
        raise InputError("meshgrid: expects a non-empty TensorList")
    for t in ts:
        if t.ndim > 1:
            raise InputError(f"meshgrid: Expected 0D or 1D tensors in the tensor list, but got one of shape {t.shape}")
        if t.dtype != ts[0].dtype:
            raise InputError(f"meshgrid: expects all tensors to have the same dtype, got {ts[0].dtype} and {t.dtype}")
        check_same_device("meshgrid", ts[0], t)
    pos = list(range(len(ts)))
    if indexing == "xy" and len(ts) >= 2:
        pos[0], pos[1] = 1, 0
    full = [0] * len(ts)
    for i, t in enumerate(ts):
        full[pos[i]] = t.numel()
    out = []
    for i, t in enumerate(ts):
        one = [1] * len(ts)
        one[pos[i]] = t.numel()
        out.append(shape.broadcast_to(shape.reshape(t, tuple(one)), tuple(full)))
    return tuple(out)


def broadcast_shapes(*shapes: Any) -> tuple[int, ...]:
    """The shape that tensors of these shapes (ints or sequences of ints) broadcast to, as a tuple."""
    result: list[int] = []
    norm = []
    for s in shapes:
        if isinstance(s, numbers.Integral) and not isinstance(s, bool):
            s = (int(s),)
        if not isinstance(s, (tuple, list)) or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in s
        ):
            raise TypeError(f"broadcast_shapes: expected shapes as ints or sequences of ints, got {s!r}")
        if any(v < 0 for v in s):
            raise InputError(f"broadcast_shapes: Trying to create tensor with negative dimension: {tuple(s)}")
        norm.append(tuple(int(v) for v in s))
    for s in norm:
        if len(s) > len(result):
            result = [1] * (len(s) - len(result)) + result
        for i, v in enumerate(s):
            j = len(result) - len(s) + i
            if result[j] == 1:
                result[j] = v
            elif v != 1 and v != result[j]:
                raise InputError(
                    f"broadcast_shapes: Shape mismatch: objects cannot be broadcast to a single shape: {norm}"
                )
    return tuple(result)


def broadcast_tensors(*tensors: Any) -> tuple[Tensor, ...]:
    """The tensors broadcast to one shape (read-only views); the gradients sum back over the broadcast dims."""
    ts, _ = _tensors(tensors, "broadcast_tensors")
    for t in ts[1:]:
        check_same_device("broadcast_tensors", ts[0], t)
    try:
        full = broadcast_shapes(*(t.shape for t in ts))
    except InputError:
        raise InputError(
            f"broadcast_tensors: shapes {[t.shape for t in ts]} cannot be broadcast to a single shape"
        ) from None
    return tuple(shape.broadcast_to(t, full) for t in ts)  # new views even where a shape already matches
