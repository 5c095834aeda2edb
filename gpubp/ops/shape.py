"""Shape ops: views (reshape, permute, expand, ...), joins and splits, padding, copies and casts."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from .. import dtypes
from ..errors import InputError
from ..tensor import Tensor, backend_for
from ._core import _aliases, check_same_device, make, norm_dim, spec


def _shape_args(args: tuple, op: str) -> tuple[int, ...]:
    """Accept f(2, 3) and f((2, 3))."""
    if len(args) == 1 and not isinstance(args[0], numbers.Integral):
        args = tuple(args[0])
    for a in args:
        if not isinstance(a, numbers.Integral):
            raise TypeError(f"{op}: sizes must be ints, got {type(a).__name__}")
    return tuple(int(a) for a in args)


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one size may be -1); a view when possible."""
    return _reshape(x, _shape_args(shape, "reshape"), "reshape")


def view(x: Tensor, *shape: Any) -> Tensor:
    """The same memory in a new shape (one size may be -1); refuses, as PyTorch, where that needs a copy."""
    new = _shape_args(shape, "view")
    out = _reshape(x, new, "view")
    # a C-contiguous tensor always reshapes in place; otherwise NumPy/CuPy may have copied (metadata test, no sync)
    if not x._data.flags.c_contiguous and x._data.size > 1 and not _aliases(out._data, x._data, x._be):
        raise InputError(
            f"view: shape {new} is not compatible with the strides of this tensor of shape {x.shape} (a dimension "
            "spans non-contiguous memory); use .reshape(...) instead"
        )
    return out


def _reshape(x: Tensor, new: tuple[int, ...], op: str) -> Tensor:
    n = x._data.size
    known = math.prod(s for s in new if s != -1)
    if new.count(-1) > 1 or any(s < -1 for s in new):
        bad = True
    elif -1 in new:
        bad = known == 0 or n % known != 0
    else:
        bad = known != n
    if bad:
        raise InputError(f"{op}: cannot reshape a tensor of shape {x.shape} ({n} elements) into {new}")
    old = x._data.shape
    return make("reshape", x._data.reshape(new), x._be, (x,), lambda m, g: (g.reshape(old),), view_of=x)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one."""
    if x.ndim == 0:
        norm_dim(start_dim, 1, "flatten")  # a 0-d tensor takes dims -1 and 0, as PyTorch
        norm_dim(end_dim, 1, "flatten")
        return reshape(x, 1)
    s = norm_dim(start_dim, x.ndim, "flatten")
    e = norm_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise InputError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape
    return reshape(x, shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder the dims (a view)."""
    if not dims:
        raise TypeError("permute() missing 1 required positional argument: 'dims'")
    order = _shape_args(dims, "permute")
    if len(order) != x.ndim:
        raise InputError(f"permute: got {len(order)} dims {order} for a tensor with {x.ndim} dims")
    order = tuple(norm_dim(d, x.ndim, "permute") for d in order)
    if len(set(order)) != len(order):
        raise InputError(f"permute: dims {order} repeat a dimension")
    xp = x._be.xp
    inverse = tuple(sorted(range(len(order)), key=order.__getitem__))
    out = xp.transpose(x._data, order)
    return make("permute", out, x._be, (x,), lambda m, g: (m.transpose(g, inverse),), view_of=x)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view)."""
    a, b = norm_dim(dim0, max(x.ndim, 1), "transpose"), norm_dim(dim1, max(x.ndim, 1), "transpose")
    if x.ndim == 0:
        return x
    order = list(range(x.ndim))
    order[a], order[b] = order[b], order[a]
    return permute(x, tuple(order))


def t(x: Tensor) -> Tensor:
    """The transpose of a matrix (a view); 0-D and 1-D tensors come back as they are, as PyTorch."""
    if x.ndim > 2:
        raise InputError(f"t: expects a tensor with <= 2 dimensions, but self is {x.ndim}D (shape {x.shape})")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def narrow(x: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """Elements ``start`` to ``start + length`` of dimension ``dim`` (a view); a negative start counts from the end."""
    if x.ndim == 0:
        raise InputError("narrow: cannot be applied to a 0-dim tensor")
    d = norm_dim(dim, x.ndim, "narrow")
    size = x.shape[d]
    if isinstance(start, Tensor):
        start = start.item()  # PyTorch takes a 0-d integer tensor here too; reading it waits for the GPU
    for name, v in (("start", start), ("length", length)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"narrow: {name} must be an int, got {type(v).__name__}")
    if not -size <= start <= size:
        raise IndexError(f"narrow: start ({start}) out of range for dimension {d} of size {size} (shape {x.shape})")
    begin = start + size if start < 0 else start
    if length < 0 or begin + length > size:
        raise InputError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size}) of dimension {d} "
            f"(shape {x.shape})"
        )
    key = (slice(None),) * d + (slice(begin, begin + length),)
    return x[key]


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """A read-only view of x broadcast to ``shape`` (-1 keeps a dim's size); the gradient sums over broadcast dims."""
    return _expand(x, _shape_args((shape,), "broadcast_to"), "broadcast_to")


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes``; -1 keeps a dim's size."""
    return _expand(x, _shape_args(sizes, "expand"), "expand")


def _expand(x: Tensor, sizes: tuple[int, ...], op: str) -> Tensor:
    if len(sizes) < x.ndim:
        raise InputError(f"{op}: {len(sizes)} sizes {sizes} for a tensor with {x.ndim} dims {x.shape}")
    lead = len(sizes) - x.ndim
    for i, s in enumerate(sizes):
        if s < -1 or (s == -1 and i < lead):
            where = "a new leading dim" if s == -1 else "any dim"
            raise InputError(f"{op}: size {s} at dim {i} of {sizes} is not allowed for {where}")
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    for i, n in enumerate(x.shape):
        if n != 1 and n != shape[i + lead]:
            raise InputError(
                f"{op}: cannot broadcast shape {x.shape} to {shape}: the expanded size {shape[i + lead]} must match "
                f"the existing size {n} at non-singleton dim {i + lead}"
            )
    out = x._be.xp.broadcast_to(x._data, shape)
    sx = spec(x)
    return make("expand", out, x._be, (x,), lambda m, g: (m.unbroadcast(g, sx),), view_of=x)


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Drop size-1 dims (all of them, or those in ``dim`` that have size 1)."""
    if dim is None:
        dims = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        dims = tuple(norm_dim(d, max(x.ndim, 1), "squeeze") for d in dims)
        dims = tuple(d for d in dims if x.ndim and x.shape[d] == 1)
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in dims))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``."""
    d = norm_dim(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def _join_inputs(tensors: Sequence[Tensor], op: str) -> tuple[list[Tensor], Any]:
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: argument 'tensors' must be a list or tuple of Tensors, not {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise InputError(f"{op}: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: element {i} is a {type(t).__name__}, expected a Tensor")
        check_same_device(op, tensors[0], t)
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = dtypes.promote(dt, t.dtype)
    return tensors, dt


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; the gradient is split back."""
    tensors, dt = _join_inputs(tensors, "cat")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated; use stack")
    # PyTorch's legacy rule: a 1-d empty tensor joins anything and adds nothing (it still takes part in the dtype)
    keep = [i for i, t in enumerate(tensors) if t.shape != (0,)] or list(range(len(tensors)))
    ref = tensors[keep[0]]
    ax = norm_dim(dim, ref.ndim, "cat")
    for i in keep:
        t = tensors[i]
        if t.ndim != ref.ndim:
            raise InputError(f"cat: tensors must have the same number of dims: {ref.ndim} and {t.ndim} (tensor {i})")
        if t.shape[:ax] + t.shape[ax + 1 :] != ref.shape[:ax] + ref.shape[ax + 1 :]:
            raise InputError(
                f"cat: tensor {i} has shape {t.shape}, but every tensor must match {ref.shape} except in dim {dim}"
            )
    xp = ref._be.xp
    out = xp.concatenate([tensors[i]._data.astype(dt, copy=False) for i in keep], axis=ax)
    kept = set(keep)
    bounds = [0]
    for i, t in enumerate(tensors):
        bounds.append(bounds[-1] + (t.shape[ax] if i in kept else 0))
    specs = [spec(t) for t in tensors]

    def rule(m: Any, g: Any) -> tuple:
        grads = []
        for i, (s, lo, hi) in enumerate(zip(specs, bounds, bounds[1:])):
            if s is None:
                grads.append(None)
            elif i not in kept:
                grads.append(m.zeros(s[0], s[1], g))  # a skipped empty tensor: an empty gradient
            else:
                grads.append(m.unbroadcast(g[(slice(None),) * ax + (slice(lo, hi),)], s))
        return tuple(grads)

    return make("cat", out, ref._be, tensors, rule)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equally shaped tensors along a new dim."""
    tensors, _ = _join_inputs(tensors, "stack")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise InputError(f"stack: tensor {i} has shape {t.shape}, expected {tensors[0].shape} like tensor 0")
    d = norm_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def _slice(x: Tensor, ax: int, lo: int, hi: int) -> Tensor:
    key = (slice(None),) * ax + (slice(lo, hi),)
    shape, dt = x._data.shape, x._data.dtype

    def rule(m: Any, g: Any) -> tuple:
        return (m.index_scatter(g, shape, dt, key, False),)

    return make("split", x._data[key], x._be, (x,), rule, view_of=x)


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of size ``split_size`` (the last may be smaller), or of the given sizes."""
    if x.ndim == 0:
        raise RuntimeError("split: expects at least a 1-dimensional tensor, got a 0-d tensor")
    ax = norm_dim(dim, x.ndim, "split")
    n = x.shape[ax]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n != 0):
            raise RuntimeError(
                f"split: split_size must be positive (0 only for a dim of size 0), got {size} for dim {dim} of size {n}"
            )
        if n == 0:
            sizes = [0]  # an empty dim still gives one (empty) piece, as PyTorch
        else:
            sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = list(split_size_or_sections)
        if not all(isinstance(s, numbers.Integral) for s in sizes):
            raise TypeError(f"split: sizes must be ints, got {sizes}")
        sizes = [int(s) for s in sizes]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise InputError(f"split: sizes {sizes} must be non-negative and add up to {n}, the size of dim {dim}")
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    return tuple(_slice(x, ax, lo, hi) for lo, hi in zip(bounds, bounds[1:]))


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer if n is small; ``chunks`` empty ones if n is 0)."""
    if not isinstance(chunks, numbers.Integral):
        raise TypeError(f"chunk: chunks must be an int, got {type(chunks).__name__}")
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be greater than 0, got {chunks}")
    if x.ndim == 0:
        raise RuntimeError("chunk: expects at least a 1-dimensional tensor, got a 0-d tensor")
    ax = norm_dim(dim, x.ndim, "chunk")
    n = x.shape[ax]
    if n == 0:
        return split(x, [0] * int(chunks), ax)
    return split(x, -(-n // chunks), ax)


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)//2 dims; ``pad`` = (last_left, last_right, 2nd_last_left, ...), as PyTorch.

    Modes: constant, reflect, replicate, circular.
    """
    for i, p in enumerate(pad):
        if not isinstance(p, numbers.Integral) or isinstance(p, bool):
            raise TypeError(f"pad: pad must be a tuple of ints, but found an element of type {type(p).__name__} at {i}")
    if value is None:
        value = 0.0
    elif isinstance(value, Tensor) and value.ndim == 0:
        value = value.item()  # a host read, as PyTorch's Scalar argument
    elif not isinstance(value, numbers.Number):
        raise TypeError(f"pad: argument 'value' must be a number, not {type(value).__name__}")
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise InputError(f"pad: expected an even number of pads for at most {input.ndim} dims, got {pad}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {pad} is not supported; slice the tensor instead")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "reflect" and any(max(ws) >= input.shape[i] for i, ws in enumerate(widths) if max(ws) > 0):
        raise InputError(f"pad: reflect padding {pad} must be smaller than the padded dims of shape {input.shape}")
    xp, shape = input._be.xp, input._data.shape
    if mode == "constant":
        out = xp.pad(input._data, widths, mode="constant", constant_values=value)
        key = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, shape))
        return make("pad", out, input._be, (input,), lambda m, g: (g[key],))
    out = xp.pad(input._data, widths, mode=_PAD_MODES[mode])
    # where each output element came from, as flat input indices: the gradient scatters back
    source = xp.pad(xp.arange(input._data.size).reshape(shape), widths, mode=_PAD_MODES[mode]).reshape(-1)

    n = math.prod(shape)

    def rule(m: Any, g: Any, source: Any) -> tuple:
        # a scatter-add, no host sync (bincount would read its length back on a GPU)
        return (m.index_scatter(g.reshape(-1), (n,), g.dtype, (source,), True).reshape(shape),)

    return make("pad", out, input._be, (input,), rule, saved=(source,))


def contiguous(x: Tensor) -> Tensor:
    """A C-contiguous tensor with the same values (x itself when it already is one)."""
    if x._data.flags.c_contiguous:
        return x
    return make("contiguous", x._be.xp.ascontiguousarray(x._data), x._be, (x,), lambda m, g: (g,))


def clone(x: Tensor) -> Tensor:
    """A copy that stays in the graph."""
    return make("clone", x._data.copy(), x._be, (x,), lambda m, g: (g,))


def astype(x: Tensor, dtype: Any) -> Tensor:
    """Cast to ``dtype``; the gradient is cast back (none flows into integer results)."""
    dt = dtypes.to_dtype(dtype)
    if dt == x._data.dtype:
        return x
    src = x._data.dtype
    out = x._data.astype(dt)
    if dt.kind != "f":
        return Tensor._wrap(out, x._be)
    return make("astype", out, x._be, (x,), lambda m, g: (m.astype(g, src),))


def to_device(x: Tensor, device: Any) -> Tensor:
    """Copy to ``device``; the gradient is copied back."""
    be = backend_for(device, "to")
    if be is x._be:
        return x
    src = x._be
    out = be.asarray(src.to_numpy(x._data)) if src.device.type != "cpu" else be.asarray(x._data)
    # the gradient travels back through the host: a synchronization, taken only when x needs it
    return make("to", out, be, (x,), lambda m, g: (m.to_backend(g, src),))
