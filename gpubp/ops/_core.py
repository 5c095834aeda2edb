"""What every op shares: recording a result on the tape, undoing broadcasting, operand checks."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import CONSTANT, OUT, Node, _mode
from ..autograd.graph import RECORD_HOOK as _hooks
from ..backend import SWITCHING, get_backend
from ..errors import InputError
from ..tensor import Tensor


def _first_backend(args: Sequence, kwargs: dict) -> Any:
    for a in (*args, *kwargs.values()):
        if isinstance(a, Tensor):
            return a._be
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], Tensor):
            return a[0]._be
    return None


def on_device(fn: Callable) -> Callable:
    """Run op ``fn`` with the device of its first tensor argument current.

    CuPy runs every kernel, allocation and array method on the *current* device, so an op on ``cuda:1`` tensors
    must enter ``cuda:1``: this wrapper, put on every public op by ``gpubp.ops`` (and the engine, around every
    VJP), is the one place that does it. With one GPU (or none) there is nothing to switch, and it only calls."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not SWITCHING[0]:
            return fn(*args, **kwargs)
        be = _first_backend(args, kwargs)
        with (be if be is not None else get_backend(kwargs.get("device"))).enter():
            return fn(*args, **kwargs)

    return run


def make(
    name: str,
    data: Any,
    be: Any,
    inputs: Sequence[Tensor | None],
    rule: Callable[..., tuple],
    saved: Sequence[Any] = (),
    view_of: Tensor | None = None,
) -> Tensor:
    """Wrap ``data`` as the output of op ``name``; record a Node when an input needs a gradient.

    ``rule(m, g, *values)`` returns one gradient (or None) per entry of ``inputs``; it is written once, over the
    math namespace ``m``, and runs on arrays (first-order backward) or on tensors (``create_graph=True``).
    ``saved`` lists what it reads, in order: input tensors, ``OUT`` (the output), or constants (arrays of indices
    or masks, numbers, None), which it gets as they are. Saved tensors' versions are checked at backward.
    ``view_of``: the output may alias that tensor's memory; when it does, it shares its version counter and records
    the tensor it is a view of (``_base``), so in-place ops can refuse to write through a view of a leaf that
    requires grad.
    """
    if view_of is not None and _aliases(data, view_of._data, be):
        out = Tensor._wrap(data, be, view_of._vc)
        out._base = view_of if view_of._base is None else view_of._base
    else:
        out = Tensor._wrap(data, be)
    if not _mode.enabled:
        return out
    for t in inputs:
        if t is not None and t._requires_grad:
            break
    else:
        return out
    entries = tuple(
        None if t is None else (t._node if t._node is not None else (t if t._requires_grad else None)) for t in inputs
    )
    vals = []
    srcs = []
    versions = []
    for s in saved:
        if s is OUT:
            vals.append(data)
            srcs.append(OUT)
            versions.append((out._vc, out._vc[0]))
        elif isinstance(s, Tensor):
            vals.append(s._data)
            srcs.append(s._node if s._node is not None else (s if s._requires_grad else CONSTANT))
            versions.append((s._vc, s._vc[0]))
        else:
            vals.append(s)
            srcs.append(None)
    node = Node(name, rule, entries, tuple(versions), be, tuple(vals), tuple(srcs))
    if _hooks[0] is not None:
        _hooks[0](node)  # anomaly mode's call stack, saved_tensors_hooks' packing
    out._node = node
    out._requires_grad = True
    return out


def _aliases(data: Any, src: Any, be: Any) -> bool:
    """Whether ``data`` shares memory with ``src``: a bounds check on the arrays' metadata, no device work.

    ``data.base`` alone is not enough: NumPy's reshape of a non-contiguous array and advanced indexing return
    arrays with a base that is a fresh copy."""
    return data.base is not None and bool(be.xp.may_share_memory(data, src))


def spec(t: Tensor | None) -> tuple | None:
    """What a VJP needs to shape a gradient for input ``t``; None when ``t`` needs none."""
    if t is None or not t._requires_grad:
        return None
    return (t._data.shape, t._data.dtype)


def unbroadcast(g: Any, sp: tuple | None) -> Any:
    """Sum ``g`` over the dimensions broadcasting added, and cast it to the input's dtype. Written with what arrays
    and tensors share (``sum(dims)``, ``reshape``, ``astype``), so both of a rule's namespaces use it."""
    if sp is None or g is None:
        return None
    shape, dtype = sp
    if g.shape != shape:
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
        if axes:
            g = g.sum(axes)
        g = g.reshape(shape)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def check_same_device(op: str, a: Tensor, b: Tensor) -> None:
    if a._be is not b._be:
        raise InputError(f"{op}: tensors are on different devices ({a.device} and {b.device}); move one with .to()")


def as_tensor_like(x: Any, like: Tensor, op: str) -> Tensor:
    """A non-tensor array operand (a NumPy array), converted to a constant on ``like``'s device.

    Lists and tuples are refused, as PyTorch's operators refuse them: ``x + [1, 2]`` is a TypeError there."""
    if isinstance(x, (list, tuple, str, bytes, dict, set)) or x is None:
        raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}; expected a Tensor or a number")
    try:
        return Tensor(x, device=like.device)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{op}: cannot use an operand of type {type(x).__name__}: {e}") from None


_INT_SCALAR_RANGE = (-(2**63), 2**64)  # what PyTorch's Scalar holds (int64 or uint64): beyond it, OverflowError


def _scalar_value(s: Any, op: str) -> Any:
    if isinstance(s, bool):
        return s
    if isinstance(s, numbers.Integral):
        s = int(s)
        if not _INT_SCALAR_RANGE[0] <= s < _INT_SCALAR_RANGE[1]:
            raise OverflowError(f"{op}: the int {s} is too big to convert to a tensor scalar (64 bits)")
        return s
    if isinstance(s, numbers.Real):
        return float(s)  # a Python float is 'weak': it never promotes float32 to float64
    raise TypeError(f"{op}: unsupported scalar operand of type {type(s).__name__}")


# Ops that take two Python numbers and return a 0-d tensor, as torch.add(2, 3) does (torch.pow(2, 3) refuses).
_NUMBER_PAIR_OPS = frozenset({"add", "sub", "mul", "div"})


def operands(a: Any, b: Any, op: str) -> tuple[Tensor | None, Tensor | None, Any, Any, Any]:
    """Operands of a binary op: (tensor or None, tensor or None, value_a, value_b, backend).

    Python scalars stay scalars (None in the tensor slots); tensors are promoted to one dtype
    with PyTorch's rules; NumPy arrays become constants on the tensor's device.
    """
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._be is not b._be:
                check_same_device(op, a, b)
            da, db = a._data.dtype, b._data.dtype
            if da == db:
                return a, b, a._data, b._data, a._be
            dt = dtypes.promote(da, db)
            return a, b, a._data.astype(dt, copy=False), b._data.astype(dt, copy=False), a._be
        if isinstance(b, numbers.Number):
            s = _scalar_value(b, op)
            x = _cast_for_scalar(a, s)
            return a, None, x, _fit_int(x.dtype, s), a._be
        return operands(a, as_tensor_like(b, a, op), op)
    if isinstance(b, Tensor):
        if isinstance(a, numbers.Number):
            s = _scalar_value(a, op)
            y = _cast_for_scalar(b, s)
            return None, b, _fit_int(y.dtype, s), y, b._be
        return operands(as_tensor_like(a, b, op), b, op)
    if op in _NUMBER_PAIR_OPS and isinstance(a, numbers.Number) and isinstance(b, numbers.Number):
        return operands(Tensor(_scalar_value(a, op)), b, op)
    raise TypeError(f"{op}: expected at least one Tensor operand, got {type(a).__name__} and {type(b).__name__}")


_INT_INFO: dict = {}  # integer dtype -> (min, max, bits), filled on first use


def _fit_int(dt: Any, s: Any) -> Any:
    """An int scalar that does not fit the integer dtype ``dt``, wrapped around into it, as PyTorch does
    (uint8 + 300 adds 44); NumPy would raise OverflowError instead. Other scalars pass unchanged."""
    if type(s) is not int or dt.kind not in "iu":
        return s
    info = _INT_INFO.get(dt)
    if info is None:
        info = _INT_INFO[dt] = (int(np.iinfo(dt).min), int(np.iinfo(dt).max), 8 * dt.itemsize)
    lo, hi, bits = info
    if lo <= s <= hi:
        return s
    s %= 1 << bits
    return s - (1 << bits) if s > hi else s


def _cast_for_scalar(t: Tensor, s: Any) -> Any:
    dt = dtypes.scalar_dtype(t._data.dtype, s)
    return t._data if dt == t._data.dtype else t._data.astype(dt)


def float_data(t: Tensor) -> Any:
    """``t``'s data as floating point (integers become float32, as PyTorch's math ops do)."""
    d = t._data
    return d if d.dtype.kind == "f" else d.astype(dtypes.DEFAULT_FLOAT)


def norm_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``dim`` (None, int or tuple) as a sorted tuple of non-negative axes; a 0-d tensor takes dims -1 and 0."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, numbers.Integral) and not isinstance(dim, bool):
        dims = (dim,)
    elif isinstance(dim, (tuple, list)) and all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dim
    ):
        dims = tuple(dim)
    else:
        raise TypeError(f"{op}: dim must be None, an int or a tuple of ints, got {dim!r}")
    positions = max(ndim, 1)
    out = []
    for d in dims:
        d = int(d)
        if not -positions <= d < positions:
            raise IndexError(
                f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions "
                f"(expected to be in range of [{-positions}, {positions - 1}])"
            )
        out.append(d % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise InputError(f"{op}: dim {dim} repeats a dimension (each dim may appear once)")
    return tuple(sorted(out)) if ndim else ()


def norm_dim(dim: int, ndim: int, op: str) -> int:
    """One dim as a non-negative axis (``ndim`` counts the positions it may take)."""
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"{op}: Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})"
        )
    return int(dim) % ndim


def write_out(result: Tensor, out: Tensor | None, op: str) -> Tensor:
    """``result``, or, with PyTorch's ``out=``, ``result`` written into ``out`` (resized when its shape differs, as
    PyTorch does, only if ``out`` is empty or the same size) and ``out`` returned. ``out`` takes no gradient: PyTorch
    refuses ``out=`` when an input requires grad while autograd records, and so does gpubp."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: out must be a Tensor, got {type(out).__name__}")
    if out._be is not result._be:
        raise InputError(f"{op}: out is on {out.device}, but the result is on {result.device}")
    if result._requires_grad and _mode.enabled:
        raise RuntimeError(
            f"{op}(): functions with out=... arguments don't support automatic differentiation, but one of the "
            "arguments requires grad"
        )
    if dtypes._CATEGORY[result.dtype.kind] > dtypes._CATEGORY[out.dtype.kind]:
        raise RuntimeError(f"{op}: result type {result.dtype} can't be cast to the desired output type {out.dtype}")
    if out.shape != result.shape:
        out._data = result._data.astype(out.dtype, copy=True)  # PyTorch resizes out to the result's shape
    else:
        out._data[...] = result._data
    out._vc[0] += 1
    return out
