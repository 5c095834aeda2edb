"""Creating tensors: from data, factories, random sampling and DLPack."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import backend, dtypes
from .backend import Device, get_backend
from .tensor import Tensor

__all__ = [
    "tensor", "as_tensor", "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
    "rand", "randn", "randint", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like",
    "manual_seed", "from_dlpack", "from_numpy",
]  # fmt: skip


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _size(size: tuple, op: str) -> tuple[int, ...]:
    """Accept f(2, 3) and f((2, 3)); sizes are non-negative ints, with PyTorch's exception types."""
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


def _shape_arg(size: Any, op: str) -> tuple[int, ...]:
    """A ``size`` passed as one argument: an int or a sequence of ints."""
    return _size((size,), op)


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
        if device is None or data.device == device:
            return data
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtypes.to_dtype(array.dtype)
    return Tensor._wrap(array, get_backend("cpu"))


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    be = get_backend(device)
    return _finish(be.xp.zeros(_size(size, "zeros"), dtype=_dt(dtype)), be, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    be = get_backend(device)
    return _finish(be.xp.ones(_size(size, "ones"), dtype=_dt(dtype)), be, requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialized tensor."""
    be = get_backend(device)
    return _finish(be.xp.empty(_size(size, "empty"), dtype=_dt(dtype)), be, requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from it when not given)."""
    if dtype is None:
        dtype = (
            dtypes.bool_
            if isinstance(fill_value, bool)
            else (dtypes.int64 if isinstance(fill_value, numbers.Integral) else dtypes.DEFAULT_FLOAT)
        )
    be = get_backend(device)
    shape = _shape_arg(size, "full")
    return _finish(be.xp.full(shape, fill_value, dtype=_dt(dtype)), be, requires_grad)


def arange(
    start: Any, end: Any = None, step: Any = 1, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Values start, start + step, ... up to (not including) end; int64 for integer arguments."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound {end} and lower bound {start} inconsistent with step sign ({step})")
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    be = get_backend(device)
    data = be.xp.arange(start, end, step, dtype=_dt(dtype, dtypes.int64 if ints else dtypes.DEFAULT_FLOAT))
    return _finish(data, be, requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from start to end inclusive."""
    if not _is_int(steps):
        raise TypeError(f"linspace: steps must be an int, got {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    be = get_backend(device)
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
    be = get_backend(device)
    return _finish(be.xp.eye(n, m, dtype=_dt(dtype)), be, requires_grad)


def rand(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    be = get_backend(device)
    return _finish(be.rand(_size(size, "rand"), _float_dt(dtype, "rand")), be, requires_grad)


def randn(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    be = get_backend(device)
    return _finish(be.randn(_size(size, "randn"), _float_dt(dtype, "randn")), be, requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None, device: Any = None) -> Tensor:
    """Uniform integers in [low, high) (``randint(high, size)`` starts at 0)."""
    if isinstance(high, (tuple, list)) and size == ():
        low, high, size = 0, low, high  # randint(high, size), as PyTorch
    if high is None:
        low, high = 0, low
    if not _is_int(low) or not _is_int(high):
        raise TypeError(f"randint: low and high must be ints, got {type(low).__name__} and {type(high).__name__}")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    be = get_backend(device)
    dt = _dt(dtype, dtypes.int64)
    if dt.kind not in "iu":
        raise TypeError(f"randint: dtype must be an integer type, got {dt}")
    shape = _shape_arg(size, "randint")
    return Tensor._wrap(be.randint(low, high, shape, dt), be)


def _float_dt(dtype: Any, op: str) -> np.dtype:
    dt = _dt(dtype)
    if dt.kind != "f":
        raise TypeError(f"{op}: dtype must be floating point, got {dt}")
    return dt


def _like(x: Tensor, dtype: Any, device: Any) -> dict:
    return {"dtype": x.dtype if dtype is None else dtype, "device": x.device if device is None else device}


def zeros_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with x's shape, dtype and device."""
    return zeros(x.shape, requires_grad=requires_grad, **_like(x, dtype, device))


def ones_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with x's shape, dtype and device."""
    return ones(x.shape, requires_grad=requires_grad, **_like(x, dtype, device))


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere, with x's shape, dtype and device."""
    return full(x.shape, fill_value, requires_grad=requires_grad, **_like(x, dtype, device))


def rand_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples with x's shape, dtype and device."""
    return rand(x.shape, requires_grad=requires_grad, **_like(x, dtype, device))


def randn_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples with x's shape, dtype and device."""
    return randn(x.shape, requires_grad=requires_grad, **_like(x, dtype, device))


def manual_seed(seed: int) -> None:
    """Seed the random generator of every device, now and of devices first used later."""
    if not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    backend.manual_seed(int(seed))


def from_dlpack(obj: Any) -> Tensor:
    """A tensor sharing memory with any DLPack producer (PyTorch, JAX, NumPy, CuPy)."""
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

    for name in ("zeros", "ones", "empty", "full", "arange", "linspace", "eye", "rand", "randn", "randint"):
        globals()[name] = on_device(globals()[name])


_enter_devices()
