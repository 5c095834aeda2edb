"""Layout ops: flips, rolls, rotations, repeats and tiles, moved and swapped dims, sliding windows; the joins,
splits, grids and broadcasts live in ``layout_join`` and F.unfold/F.fold in ``layout_fold``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import shape
from ._core import check_same_device, make, norm_dim, norm_dims
from .layout_fold import nn_fold, nn_unfold
from .layout_join import (
    atleast_1d,
    atleast_2d,
    atleast_3d,
    broadcast_shapes,
    broadcast_tensors,
    column_stack,
    dsplit,
    dstack,
    hsplit,
    hstack,
    meshgrid,
    row_stack,
    tensor_split,
    vsplit,
    vstack,
)

DIFFERENTIABLE: tuple[str, ...] = (
    "repeat_interleave", "tile", "flip", "fliplr", "flipud", "roll", "rot90", "movedim", "moveaxis",
    "swapaxes", "swapdims", "unflatten", "hstack", "vstack", "row_stack", "dstack", "column_stack",
    "tensor_split", "hsplit", "vsplit", "dsplit", "atleast_1d", "atleast_2d", "atleast_3d", "meshgrid",
    "broadcast_tensors", "nn_unfold", "nn_fold",
)  # fmt: skip
NON_DIFFERENTIABLE: tuple[str, ...] = ("broadcast_shapes",)
METHODS: tuple[str, ...] = (
    "repeat", "repeat_interleave", "tile", "flip", "fliplr", "flipud", "roll", "rot90", "movedim", "moveaxis",
    "swapaxes", "swapdims", "unflatten", "view_as", "reshape_as", "expand_as", "tensor_split", "hsplit", "vsplit",
    "dsplit", "unfold",
)  # fmt: skip
TOP_LEVEL: tuple[str, ...] = tuple(n for n in DIFFERENTIABLE + NON_DIFFERENTIABLE if not n.startswith("nn_"))

__all__ = [
    "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "column_stack", "dsplit",
    "dstack", "hsplit", "hstack", "meshgrid", "nn_fold", "nn_unfold", "row_stack", "tensor_split", "vsplit",
    "vstack",
]  # fmt: skip


def _ints(args: tuple, op: str, what: str) -> tuple[int, ...]:
    """f(0, 1), f((0, 1)) and f([0, 1]) alike: a tuple of ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for a in args:
        if not isinstance(a, numbers.Integral) or isinstance(a, bool):
            raise TypeError(f"{op}: {what} must be ints, got {type(a).__name__} in {args!r}")
    return tuple(int(a) for a in args)


# ---------------------------------------------------------------- flips, rolls, rotations


def _flip(x: Tensor, axes: tuple[int, ...]) -> Tensor:
    """The flip op on normalized axes: a copy (PyTorch's flip copies too); its gradient is the same flip."""
    out = x._be.xp.flip(x._data, axis=axes).copy() if axes else x._data.copy()

    def rule(m: Any, g: Any) -> tuple:
        return (m.flip(g, axes) if axes else g,)

    return make("flip", out, x._be, (x,), rule)


def flip(input: Tensor, *args: Any, dims: Any = None) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy): ``flip(x, (0, 1))``, ``x.flip(0, 1)``."""
    if dims is None:
        if not args:
            raise TypeError("flip() missing 1 required positional argument: 'dims'")
        dims = args
    elif args:
        raise TypeError("flip() got dims both positionally and as a keyword")
    dims = _ints(dims if isinstance(dims, tuple) else (dims,), "flip", "dims")
    return _flip(input, norm_dims(dims, input.ndim, "flip"))


def fliplr(input: Tensor) -> Tensor:
    """Flip dim 1 (left and right); needs at least 2 dims."""
    if input.ndim < 2:
        raise InputError(f"fliplr: input must be >= 2-d, got a tensor of shape {input.shape}")
    return _flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    """Flip dim 0 (up and down); needs at least 1 dim."""
    if input.ndim < 1:
        raise InputError("flipud: input must be >= 1-d, got a 0-d tensor")
    return _flip(input, (0,))


def _roll(x: Tensor, shifts: tuple[int, ...], axes: tuple[int, ...] | None) -> Tensor:
    """The roll op (axes None: over the flattened tensor, shape kept); its gradient rolls back."""
    xp = x._be.xp
    out = xp.roll(x._data, shifts if axes is not None else shifts[0], axis=axes)
    back = tuple(-s for s in shifts)

    def rule(m: Any, g: Any) -> tuple:
        if m.graph:
            return (_roll(g, back, axes),)
        return (m.xp.roll(g, back if axes is not None else back[0], axis=axes),)

    return make("roll", out, x._be, (x,), rule)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements along ``dims`` circularly, by ``shifts`` (ints or tuples); ``dims=None`` rolls the flattened
    tensor and keeps its shape."""
    shifts = _ints((shifts,), "roll", "shifts")
    if dims is None:
        if len(shifts) != 1:
            raise InputError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return _roll(input, shifts, None)
    dims = _ints((dims,), "roll", "dims")
    if len(shifts) != len(dims):
        raise InputError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    if not dims:
        raise InputError("roll: expected at least one dim")
    axes = tuple(norm_dim(d, max(input.ndim, 1), "roll") for d in dims)
    if input.ndim == 0:
        return _roll(input, shifts[:1], None)
    return _roll(input, shifts, axes)


def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first dim toward the second."""
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"rot90: k must be an int, got {type(k).__name__}")
    dims = _ints((dims,), "rot90", "dims")
    if len(dims) != 2:
        raise InputError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise InputError(f"rot90: expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = norm_dim(dims[0], input.ndim, "rot90"), norm_dim(dims[1], input.ndim, "rot90")
    if d0 == d1:
        raise InputError(f"rot90: expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k = int(k) % 4
    if k == 1:
        return shape.transpose(_flip(input, (d1,)), d0, d1)
    if k == 2:
        return _flip(input, tuple(sorted((d0, d1))))
    if k == 3:
        return shape.transpose(_flip(input, (d0,)), d0, d1)
    return shape.clone(input)


# ---------------------------------------------------------------- repeats


def _repeat(x: Tensor, sizes: tuple[int, ...], op: str) -> Tensor:
    if len(sizes) < x.ndim:
        raise InputError(
            f"{op}: Number of dimensions of repeat dims ({len(sizes)}, {sizes}) can not be smaller than number of "
            f"dimensions of tensor ({x.ndim}, shape {x.shape})"
        )
    if any(s < 0 for s in sizes):
        raise InputError(f"{op}: repeats must be non-negative, got {sizes}")
    old = x.shape
    padded = (1,) * (len(sizes) - x.ndim) + old
    out = x._be.xp.tile(x._data.reshape(padded), sizes)
    # the gradient sums the copies: g viewed as (s0, n0, s1, n1, ...) summed over the s axes
    interleaved = tuple(v for pair in zip(sizes, padded) for v in pair)
    copies = tuple(range(0, 2 * len(sizes), 2))

    def rule(m: Any, g: Any) -> tuple:
        if not sizes:
            return (g,)
        return (g.reshape(interleaved).sum(copies).reshape(old),)

    return make(op, out, x._be, (x,), rule)


def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """Tensor.repeat: tile the tensor ``sizes[i]`` times along dim i (new leading dims when sizes is longer)."""
    if not sizes:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    return _repeat(input, _ints(sizes, "repeat", "sizes"), "repeat")


def tile(input: Tensor, *dims: Any) -> Tensor:
    """Repeat the tensor ``dims[i]`` times along dim i; fewer dims than the tensor has are padded with ones."""
    if not dims:
        raise TypeError("tile() missing 1 required positional argument: 'dims'")
    reps = _ints(dims, "tile", "dims")
    return _repeat(input, (1,) * (input.ndim - len(reps)) + reps, "tile")


def repeat_interleave(
    input: Tensor, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None
) -> Tensor:
    """Repeat each element ``repeats`` times (an int, or a 1-D tensor of one count per element) along ``dim``
    (None: of the flattened tensor). ``repeat_interleave(counts)`` repeats ``arange(len(counts))``. A tensor of
    repeats without ``output_size`` synchronizes on a GPU: the result's length is their sum."""
    if not isinstance(input, Tensor):
        raise TypeError(f"repeat_interleave: input must be a Tensor, got {type(input).__name__}")
    if repeats is None:
        if input.ndim > 1:
            raise InputError("repeat_interleave: repeats must be given, or input must be a 1-D tensor of counts")
        counts = input.reshape(-1)
        idx = Tensor._wrap(input._be.xp.arange(counts.shape[0], dtype=counts.dtype), input._be)
        return repeat_interleave(idx, counts, 0, output_size=output_size)
    x = input if dim is not None else shape.reshape(input, -1)
    ax = norm_dim(dim, max(x.ndim, 1), "repeat_interleave") if dim is not None else 0
    if x.ndim == 0:
        x = shape.reshape(x, 1)
    n = x.shape[ax]
    xp = x._be.xp
    if isinstance(repeats, Tensor):
        check_same_device("repeat_interleave", x, repeats)
        if repeats.dtype.kind not in "iu":
            raise InputTypeError(f"repeat_interleave: repeats must be an integer tensor, got {repeats.dtype}")
        if repeats.ndim > 1 or (repeats.ndim == 1 and repeats.shape[0] not in (1, n)):
            raise InputError(
                f"repeat_interleave: repeats must be 0-d or 1-d with one count per element (or one count), got "
                f"shape {repeats.shape} for dim {ax} of size {n}"
            )
        counts = xp.broadcast_to(repeats._data.reshape(-1), (n,))
        ends = xp.cumsum(counts)
        if output_size is None:
            # the result's length is the counts' sum: read back from the GPU, as PyTorch does
            if n and bool((counts < 0).any()):
                raise InputError("repeat_interleave: repeats must be non-negative")
            total = int(ends[-1]) if n else 0
        else:
            total = int(output_size)
        idx = xp.searchsorted(ends, xp.arange(total, dtype=ends.dtype), side="right")
    elif isinstance(repeats, numbers.Integral) and not isinstance(repeats, bool):
        r = int(repeats)
        if r < 0:
            raise InputError(f"repeat_interleave: repeats must be non-negative, got {r}")
        idx = xp.arange(n * r) // max(r, 1)
    else:
        raise TypeError(f"repeat_interleave: repeats must be an int or a Tensor, got {type(repeats).__name__}")
    if output_size is not None and idx.shape[0] != output_size:
        raise InputError(f"repeat_interleave: output_size {output_size} does not match the repeats' sum")
    out = xp.take(x._data, idx, axis=ax)
    key = (slice(None),) * ax + (idx,)
    old, dt = x.shape, x.dtype
    return make("repeat_interleave", out, x._be, (x,), lambda m, g: (m.index_scatter(g, old, dt, key, True),))


# ---------------------------------------------------------------- dims moved, swapped, split; views like another


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Move the dims ``source`` to the positions ``destination`` (ints or tuples); the others keep their order."""
    return _movedim(input, source, destination, "movedim")


def moveaxis(input: Tensor, source: Any, destination: Any) -> Tensor:
    """NumPy's name for movedim."""
    return _movedim(input, source, destination, "moveaxis")


def _movedim(x: Tensor, source: Any, destination: Any, op: str) -> Tensor:
    src = _ints((source,), op, "source")
    dst = _ints((destination,), op, "destination")
    if len(src) != len(dst):
        raise InputError(
            f"{op}: Invalid source or destination dims: source ({list(src)} dims) should contain the same number of "
            f"dims as destination ({list(dst)} dims)"
        )
    nd = max(x.ndim, 1)
    src = tuple(norm_dim(d, nd, op) for d in src)
    dst = tuple(norm_dim(d, nd, op) for d in dst)
    for name, ds in (("source", src), ("destination", dst)):
        if len(set(ds)) != len(ds):
            raise InputError(f"{op}: repeated dim in `{name}` ({list(ds)})")
    if x.ndim == 0:
        return x
    order: list[int | None] = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(x.ndim) if i not in src)
    return shape.permute(x, tuple(o if o is not None else next(rest) for o in order))


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """NumPy's name for transpose: swap two dims (a view)."""
    return shape.transpose(input, axis0, axis1)


def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Another name for transpose: swap two dims (a view)."""
    return shape.transpose(input, dim0, dim1)


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dim ``dim`` into the dims ``sizes`` (one may be -1); a view when possible."""
    sizes = _ints((sizes,), "unflatten", "sizes")
    if not sizes:
        raise InputError("unflatten: sizes must be non-empty")
    d = norm_dim(dim, max(input.ndim, 1), "unflatten")
    n = input.shape[d] if input.ndim else 1
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
        raise InputError(f"unflatten: sizes {list(sizes)} may hold at most one -1 and no other negative size")
    if (-1 in sizes and (known == 0 or n % known)) or (-1 not in sizes and known != n):
        raise InputError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} ({n}) in the input "
            f"tensor of shape {input.shape}"
        )
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return shape.reshape(input, input.shape[:d] + sizes + input.shape[d + 1 :])


def _other_shape(other: Any, op: str) -> tuple[int, ...]:
    if not isinstance(other, Tensor):
        raise TypeError(f"{op}: other must be a Tensor, got {type(other).__name__}")
    return other.shape


def view_as(input: Tensor, other: Tensor) -> Tensor:
    """Tensor.view_as: ``input.view(other.shape)``."""
    return shape.view(input, _other_shape(other, "view_as"))


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """Tensor.reshape_as: ``input.reshape(other.shape)``."""
    return shape.reshape(input, _other_shape(other, "reshape_as"))


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """Tensor.expand_as: ``input.expand(other.shape)`` (a read-only view)."""
    return shape.expand(input, _other_shape(other, "expand_as"))


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Tensor.unfold: the windows of ``size`` elements every ``step`` along ``dimension``, as a new last dim (a view;
    the gradient adds up where windows overlap)."""
    for name, v in (("dimension", dimension), ("size", size), ("step", step)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"unfold: {name} must be an int, got {type(v).__name__}")
    x = input
    if x.ndim == 0:
        norm_dim(dimension, 1, "unfold")
        x = shape.reshape(x, 1)
        d = 0
    else:
        d = norm_dim(dimension, x.ndim, "unfold")
    n = x.shape[d]
    if size < 0 or size > n:
        raise InputError(f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise InputError(f"unfold: step is {step} but must be > 0")
    xp = x._be.xp
    nw = (n - size) // step + 1
    st = x._data.strides
    out_shape = x.shape[:d] + (nw,) + x.shape[d + 1 :] + (size,)
    out = xp.lib.stride_tricks.as_strided(x._data, out_shape, st[:d] + (st[d] * step,) + st[d + 1 :] + (st[d],))
    if input.ndim == 0:
        out = out.reshape(size)
    idx = xp.arange(nw)[:, None] * step + xp.arange(size)[None, :]  # (windows, size): the input index of each
    key = (slice(None),) * d + (idx,)
    old, dt = x.shape, x.dtype
    last = len(out_shape) - 1
    order = tuple(range(d + 1)) + (last,) + tuple(range(d + 1, last))

    def rule(m: Any, g: Any) -> tuple:
        if input.ndim == 0:
            return (g.reshape(()) if size else m.zeros((), dt, g),)
        gx = m.index_scatter(m.transpose(g, order), old, dt, key, True)
        return (gx,)

    return make("unfold", out, x._be, (input,), rule, view_of=input)
