"""Creating tensors: from data, factories, random sampling and DLPack."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import backend, dtypes
from ._convert import to_array
from .backend import Device, get_backend
from .errors import InputError, InputTypeError
from .generator import Generator, default_generator, draws
from .tensor import Tensor, backend_for

__all__ = [
    "tensor", "as_tensor", "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
    "rand", "randn", "randint", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like",
    "manual_seed", "from_dlpack", "from_numpy", "randperm", "uniform_", "normal_",
    "randint_like", "empty_like", "empty_strided",
]  # fmt: skip


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _size(size: tuple, op: str) -> tuple[int, ...]:
    """Accept f(2, 3) and f((2, 3)); sizes are non-negative ints, with PyTorch's exception types."""
    if not size:
        raise TypeError(f"{op}() missing 1 required positional argument: 'size' (use {op}(()) for a 0-d tensor)")
    if len(size) == 1 and not isinstance(size[0], (numbers.Number, str)) and hasattr(size[0], "__len__"):
        size = tuple(size[0])
    for s in size:
        if not _is_int(s):
            raise TypeError(f"{op}: size must be a tuple of ints, got {size} (an element of type {type(s).__name__})")
    for s in size:
        if s < 0:
            raise RuntimeError(
                f"{op}: sizes must be non-negative: trying to create a tensor with negative dimension {s}: {list(size)}"
            )
    return tuple(int(s) for s in size)


def _sizes(shape: tuple, size: Any, op: str) -> tuple:
    """The size given positionally (``zeros(2, 3)``, ``zeros((2, 3))``) or by keyword (``zeros(size=(2, 3))``)."""
    if size is None:
        return shape
    if shape:
        raise TypeError(f"{op}() got the size both as positional arguments {shape} and as size={size!r}")
    return (size,)


def _shape_arg(size: Any, op: str) -> tuple[int, ...]:
    """A ``size`` passed as one argument: a sequence of ints (a bare int is refused, as PyTorch)."""
    if isinstance(size, (numbers.Number, str)) or not hasattr(size, "__len__"):
        raise TypeError(f"{op}: size must be a tuple of ints, not {type(size).__name__}")
    return _size((size,), op)


def _storage(shape: tuple[int, ...], dt: np.dtype, op: str) -> tuple[int, ...]:
    """Refuse a shape whose byte count overflows int64, as PyTorch (NumPy would say 'array is too big')."""
    if math.prod(shape) * dt.itemsize >= 2**63:
        raise InputError(f"{op}: storage size calculation overflowed with sizes={list(shape)}")
    return shape


def _number(value: Any, op: str, name: str) -> Any:
    """A Python number (or a 0-d tensor's), as PyTorch's Number arguments."""
    if isinstance(value, Tensor) and value.ndim == 0:
        return value.item()  # a host read, as PyTorch's (a factory argument, not the training path)
    if not isinstance(value, numbers.Number):
        raise TypeError(f"{op}: argument '{name}' must be a number, not {type(value).__name__}")
    return value


def _finish(data: Any, be: Any, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(data, be)
    if requires_grad:
        t.requires_grad = True
    return t


def _dt(dtype: Any, default: np.dtype = dtypes.DEFAULT_FLOAT) -> np.dtype:
    return default if dtype is None else dtypes.to_dtype(dtype)


def tensor(data: Any, dtype: Any = None, device: str | Device | None = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, scalars, NumPy/CuPy arrays, tensors)."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: str | Device | None = None) -> Tensor:
    """Like ``tensor`` but returns ``data`` itself when it already is a matching Tensor."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtypes.to_dtype(dtype)):
        if device is None or data._be is backend_for(device, "as_tensor"):
            return data
    dt = None if dtype is None else dtypes.to_dtype(dtype)
    where = device if device is not None else (data.device if isinstance(data, Tensor) else None)
    be = backend_for(where, "as_tensor")
    with be.enter():
        return Tensor._wrap(to_array(data, dt, be, "as_tensor"), be)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype not in dtypes.SUPPORTED:
        raise TypeError(
            f"from_numpy: arrays of dtype {array.dtype} are not supported; "
            f"expected one of {[str(d) for d in dtypes.SUPPORTED]}"
        )
    return Tensor._wrap(array, get_backend("cpu"))


def zeros(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    be = backend_for(device, "zeros")
    dt = _dt(dtype)
    return _finish(
        be.xp.zeros(_storage(_size(_sizes(shape, size, "zeros"), "zeros"), dt, "zeros"), dtype=dt), be, requires_grad
    )


def ones(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    be = backend_for(device, "ones")
    dt = _dt(dtype)
    return _finish(
        be.xp.ones(_storage(_size(_sizes(shape, size, "ones"), "ones"), dt, "ones"), dtype=dt), be, requires_grad
    )


def empty(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialized tensor."""
    be = backend_for(device, "empty")
    dt = _dt(dtype)
    return _finish(
        be.xp.empty(_storage(_size(_sizes(shape, size, "empty"), "empty"), dt, "empty"), dtype=dt), be, requires_grad
    )


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from it when not given)."""
    shape = _shape_arg(size, "full")
    fill_value = _number(fill_value, "full", "fill_value")
    if dtype is None:
        dtype = (
            dtypes.bool_
            if isinstance(fill_value, bool)
            else (dtypes.int64 if isinstance(fill_value, numbers.Integral) else dtypes.DEFAULT_FLOAT)
        )
    be = backend_for(device, "full")
    dt = _dt(dtype)
    return _finish(be.xp.full(_storage(shape, dt, "full"), fill_value, dtype=dt), be, requires_grad)


def arange(
    start: Any, end: Any = None, step: Any = 1, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Values start, start + step, ... up to (not including) end; int64 for integer arguments."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, "arange", n) for v, n in ((start, "start"), (end, "end"), (step, "step")))
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dt = _dt(dtype, dtypes.int64 if ints else dtypes.DEFAULT_FLOAT)
    if not all(math.isfinite(v) for v in (start, end, step)):
        raise InputError(f"arange: unsupported range: {start} -> {end} (step {step})")
    if step == 0 or (dt.kind in "iub" and int(step) == 0):  # an integer dtype truncates the step, as PyTorch's
        raise InputError(f"arange: step must be nonzero (got {step} for dtype {dt})")
    if (end - start) * step < 0:
        raise InputError(f"arange: upper bound {end} and lower bound {start} inconsistent with step sign ({step})")
    be = backend_for(device, "arange")
    data = be.xp.arange(start, end, step, dtype=dt)
    return _finish(data, be, requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from start to end inclusive."""
    if not _is_int(steps):
        raise TypeError(f"linspace: steps must be an int, got {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    start, end = _number(start, "linspace", "start"), _number(end, "linspace", "end")
    be = backend_for(device, "linspace")
    return _finish(be.xp.linspace(start, end, steps, dtype=_dt(dtype)), be, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An n x m identity matrix."""
    for name, v in (("n", n), ("m", m)):
        if v is None and name == "m":
            continue
        if not _is_int(v):
            raise TypeError(f"eye: {name} must be an int, got {type(v).__name__}")
        if v < 0:
            raise RuntimeError(f"eye: {name} must be greater or equal to 0, got {v}")
    be = backend_for(device, "eye")
    return _finish(be.xp.eye(n, m, dtype=_dt(dtype)), be, requires_grad)


def rand(
    *shape: Any,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples in [0, 1), from the device's stream or ``generator``'s."""
    be = backend_for(device, "rand")
    dt = _float_dt(dtype, "rand")
    shape = _storage(_size(_sizes(shape, size, "rand"), "rand"), dt, "rand")
    return _finish(draws(generator, be, "rand").rand(shape, dt), be, requires_grad)


def randn(
    *shape: Any,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples, from the device's stream or ``generator``'s."""
    be = backend_for(device, "randn")
    dt = _float_dt(dtype, "randn")
    shape = _storage(_size(_sizes(shape, size, "randn"), "randn"), dt, "randn")
    return _finish(draws(generator, be, "randn").randn(shape, dt), be, requires_grad)


def randint(
    low: int = 0,
    high: Any = None,
    size: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform integers in [low, high) (``randint(high, size)`` starts at 0); int64 unless ``dtype`` says otherwise."""
    from .ops.sampling_inplace import check_int_range

    if isinstance(high, (tuple, list)) and size is None:
        low, high, size = 0, low, high  # randint(high, size), as PyTorch
    if size is None:
        raise TypeError("randint() missing 1 required argument: 'size' (randint(high, size), randint(low, high, size))")
    if high is None:
        low, high = 0, low
    if not _is_int(low) or not _is_int(high):
        raise TypeError(f"randint: low and high must be ints, got {type(low).__name__} and {type(high).__name__}")
    be = backend_for(device, "randint")
    dt = _dt(dtype, dtypes.int64)
    if high <= low:
        raise InputError(f"randint: high ({high}) must be greater than low ({low})")
    check_int_range(int(low), int(high), dt, "randint")
    shape = _storage(_shape_arg(size, "randint"), dt, "randint")
    src = draws(generator, be, "randint")
    # the generator's host stream draws int64 whatever the dtype (its values do not depend on it); a float or bool
    # dtype holds the same integers, as PyTorch's randint(..., dtype=torch.float32)
    drawn = dt if dt.kind in "iu" and generator is None else dtypes.int64
    return _finish(src.randint(int(low), int(high), shape, drawn).astype(dt, copy=False), be, requires_grad)


def _float_dt(dtype: Any, op: str) -> np.dtype:
    dt = _dt(dtype)
    if dt.kind != "f":
        raise InputTypeError(f"{op}: dtype must be floating point, got {dt}")
    return dt


def _like(x: Tensor, dtype: Any, device: Any, op: str) -> dict:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument 'input' must be a Tensor, not {type(x).__name__}")
    return {"dtype": x.dtype if dtype is None else dtype, "device": x.device if device is None else device}


def zeros_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with x's shape, dtype and device."""
    like = _like(x, dtype, device, "zeros_like")
    return zeros(x.shape, requires_grad=requires_grad, **like)


def ones_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with x's shape, dtype and device."""
    like = _like(x, dtype, device, "ones_like")
    return ones(x.shape, requires_grad=requires_grad, **like)


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere, with x's shape, dtype and device."""
    fill_value = _number(fill_value, "full_like", "fill_value")
    like = _like(x, dtype, device, "full_like")
    return full(x.shape, fill_value, requires_grad=requires_grad, **like)


def rand_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples with x's shape, dtype and device."""
    like = _like(x, dtype, device, "rand_like")
    return rand(x.shape, requires_grad=requires_grad, **like)


def randn_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples with x's shape, dtype and device."""
    like = _like(x, dtype, device, "randn_like")
    return randn(x.shape, requires_grad=requires_grad, **like)


def randint_like(
    x: Tensor,
    low: int = 0,
    high: int | None = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform integers in [low, high) with x's shape, dtype and device (``randint_like(x, high)`` starts at 0)."""
    like = _like(x, dtype, device, "randint_like")
    if high is None:
        low, high = 0, low
    return randint(low, high, x.shape, generator=generator, requires_grad=requires_grad, **like)


def empty_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialized tensor with x's shape, dtype and device."""
    like = _like(x, dtype, device, "empty_like")
    return empty(x.shape, requires_grad=requires_grad, **like)


def empty_strided(
    size: Any, stride: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """An uninitialized tensor of ``size`` laid out with ``stride`` (in elements) over a buffer just large enough."""
    shape = _shape_arg(size, "empty_strided")
    steps = _shape_arg(stride, "empty_strided")
    if len(steps) != len(shape):
        raise InputError(
            f"empty_strided: mismatch in length of strides and shape: size {list(shape)}, stride {list(steps)}"
        )
    be = backend_for(device, "empty_strided")
    dt = _dt(dtype)
    extent = 0 if 0 in shape else 1 + sum((n - 1) * st for n, st in zip(shape, steps))
    buffer = be.xp.empty(_storage((extent,), dt, "empty_strided"), dtype=dt)
    data = be.xp.lib.stride_tricks.as_strided(buffer, shape, tuple(st * dt.itemsize for st in steps))
    return _finish(data, be, requires_grad)


def randperm(
    n: int, *, generator: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A random permutation of 0 .. n-1 (int64 unless ``dtype`` says otherwise)."""
    if not _is_int(n):
        raise TypeError(f"randperm: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise InputError(f"randperm: n must be non-negative, got {n}")
    be = backend_for(device, "randperm")
    dt = _dt(dtype, dtypes.int64)
    if generator is not None:
        if not isinstance(generator, Generator):
            raise TypeError(f"randperm: generator must be a gpubp.Generator or None, got {type(generator).__name__}")
        order = be.from_host(generator._rng.permutation(n))  # the generator lives on the host, as a CPU one
    else:
        order = be.rand((n,), dtypes.float64).argsort()  # the device's own generator: no host round trip
    return _finish(order.astype(dt), be, requires_grad)


def uniform_(t: Tensor, from_: float = 0.0, to: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill ``t`` in place with samples from U(from_, to) (``Tensor.uniform_``; see ``gpubp.ops.sampling_inplace``)."""
    from .ops import sampling_inplace

    return sampling_inplace.uniform_(t, from_, to, generator=generator)


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill ``t`` in place with samples from N(mean, std^2) (``Tensor.normal_``; see ``gpubp.ops.sampling_inplace``)."""
    from .ops import sampling_inplace

    return sampling_inplace.normal_(t, mean, std, generator=generator)


def manual_seed(seed: int) -> Generator:
    """Seed the random generator of every device, now and of devices first used later; as PyTorch, the seed is
    ``int(seed)``, and a negative one wraps to an unsigned 64-bit seed (-1 is 2**64 - 1). Returns
    ``default_generator``, as PyTorch's returns its default generator."""
    try:
        value = int(seed)
    except TypeError:
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}") from None
    except ValueError:
        raise InputError(f"manual_seed: seed must be an int, got {seed!r}") from None
    if not -(2**63) <= value < 2**64:
        raise InputError(f"manual_seed: seed {value} overflows a 64-bit seed")
    backend.manual_seed(value % 2**64)
    return default_generator.manual_seed(value % 2**64)  # samplers and random_split draw from it, as from torch's


def from_dlpack(obj: Any) -> Tensor:
    """A tensor sharing memory with any DLPack producer (PyTorch, JAX, NumPy, CuPy)."""
    if not hasattr(obj, "__dlpack_device__"):
        raise InputTypeError(f"from_dlpack: expected an array or tensor with __dlpack__, got {type(obj).__name__}")
    kind, index = obj.__dlpack_device__()
    if kind == 1:  # kDLCPU
        be = get_backend("cpu")
        return Tensor._wrap(np.from_dlpack(obj), be)
    if kind == 2:  # kDLCUDA
        be = get_backend(f"cuda:{index}")
        return Tensor._wrap(be.xp.from_dlpack(obj), be)
    raise ValueError(f"from_dlpack: unsupported DLPack device type {kind} (expected CPU or CUDA)")


def _enter_devices() -> None:
    """Factories allocate on the current device: each runs with its ``device=`` (or its tensor's) device current."""
    from .ops._core import on_device

    for name in (
        "zeros", "ones", "empty", "full", "arange", "linspace", "eye", "rand", "randn", "randint", "randperm",
        "empty_strided",
    ):  # fmt: skip
        globals()[name] = on_device(globals()[name])


_enter_devices()
