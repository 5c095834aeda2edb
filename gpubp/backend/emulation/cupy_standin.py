"""A CPU stand-in for the slice of CuPy that gpubp's CUDA backend uses (``GPUBP_EMULATE_CUDA=1``, or ``=2`` for two
devices). It exists to make the GPU code honest on a machine without a GPU, not to be fast.

What it reproduces, because these are the mistakes a NumPy-only run cannot see:
- arrays live on a device (``cuda:0``, ``cuda:1``): an operation on an array of another device than the current one
  raises as CuPy does, and new arrays land on the current device;
- device memory is not host memory: ``np.asarray(a)`` and NumPy ufuncs on device arrays raise; ``get()``/``asnumpy``
  copy (and synchronize); ``empty`` returns poisoned memory (NaN, or 0xA5 bytes), never zeros;
- the calls that synchronize on CuPy (scalar conversion, ``item``, ``tolist``, ``get``, boolean-mask indexing,
  ``nonzero``, ``bincount``, ``unique``...) raise under ``set_sync_debug_mode("error")``;
- streams, events and the stream-ordered memory pool: a copy on a side stream into memory allocated on another stream,
  without waiting for an event recorded there after the allocation, raises (on a GPU it races);
- ``RawModule`` compiles gpubp's own kernels for the CPU and runs them (``host_kernels``), with CuPy's conversion of
  kernel arguments: a Python int as ``long long``, a float as ``double``, a bool as ``bool``, a NumPy scalar as its
  dtype, a size-1 host array by value, a larger host array a ``TypeError``, a device array as its data pointer
  (strides ignored). With ``set_race_check(True)`` each launch runs twice, the second time with warps and lanes in
  reverse order, and a difference in any memory it can reach raises.
Data sits in NumPy arrays; NumPy does the math of everything that is not a gpubp kernel.
"""

from __future__ import annotations

import collections
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import devices
from .arrays import (  # noqa: F401 - CuPy's namespace
    _Capsule,
    _fresh,
    _function,
    _Ufunc,
    _unwrap,
    array,
    asarray,
    ascontiguousarray,
    asnumpy,
    empty,
    empty_like,
    from_dlpack,
    get_array_module,
    lib,
    ndarray,
)
from .devices import (  # noqa: F401 - CuPy's namespace
    Device,
    Event,
    MemoryPointer,
    Stream,
    _check_device,
    _tls,
    get_current_stream,
    get_default_memory_pool,
    get_default_pinned_memory_pool,
    get_elapsed_time,
    launch_counts,
    set_race_check,
    set_sync_debug_mode,
)
from .raw_module import RawModule  # noqa: F401

__version__ = "14.2.0-gpubp-emulated"
_emulated = True


_cache: dict[str, Any] = {}


def __getattr__(name: str) -> Any:  # the rest of CuPy's namespace: NumPy's, under arrays._function's rules
    if name in _cache:
        return _cache[name]
    obj = getattr(np, name)
    if isinstance(obj, np.ufunc):
        obj = _Ufunc(name, obj)
    elif callable(obj) and not isinstance(obj, type):
        obj = _function(name, obj)
    _cache[name] = obj
    return obj


# ---- random -------------------------------------------------------------------------------------------
class _Generator:
    def __init__(self, seed: Any = None) -> None:
        self._g = np.random.default_rng(seed)

    def standard_normal(self, size: Any = None, dtype: Any = np.float64) -> ndarray:
        return _fresh(np.asarray(self._g.standard_normal(size, dtype=dtype)))

    def random(self, size: Any = None, dtype: Any = np.float64) -> ndarray:
        return _fresh(np.asarray(self._g.random(size, dtype=dtype)))

    def integers(self, low: int, high: int | None = None, size: Any = None, dtype: Any = np.int64) -> ndarray:
        return _fresh(np.asarray(self._g.integers(low, high, size=size, dtype=dtype)))

    def standard_exponential(self, size: Any = None, dtype: Any = np.float64) -> ndarray:
        return _fresh(np.asarray(self._g.standard_exponential(size, dtype=dtype)))

    def poisson(self, lam: Any = 1.0, size: Any = None) -> ndarray:
        # CuPy takes a device array of rates (of the current device: _unwrap checks) or a number; int64 counts
        return _fresh(np.asarray(self._g.poisson(_unwrap(lam), size=size)))


random = types.SimpleNamespace(default_rng=_Generator)


# ---- runtime, cuda, cupyx -------------------------------------------------------------------------------
_TOTAL_MEMORY = 8 << 30  # what each emulated device reports having


def _properties(i: int) -> dict:
    Device(i)  # validates the ordinal
    return {
        "name": f"Emulated CUDA device {i} (CPU)".encode(),
        "totalGlobalMem": _TOTAL_MEMORY,
        "multiProcessorCount": devices.SM_COUNT,
        "clockRate": 1_000_000,
        "major": 9,
        "minor": 0,
    }


def _mem_get_info() -> tuple[int, int]:
    """(free, total) bytes of the current device, as cudaMemGetInfo: total less what the pool holds."""
    return _TOTAL_MEMORY - devices.get_default_memory_pool().total_bytes(), _TOTAL_MEMORY


runtime = types.SimpleNamespace(
    getDeviceCount=lambda: devices.N_DEVICES,
    # work runs at once, so there is nothing to wait for; an explicit device-wide wait is not one of the implicit
    # syncs the debug mode flags (PyTorch's torch.cuda.synchronize is not flagged either)
    deviceSynchronize=lambda: None,
    memGetInfo=_mem_get_info,
    getDevice=lambda: _tls.device,
    getDeviceProperties=_properties,
    runtimeGetVersion=lambda: 13000,
    driverGetVersion=lambda: 13000,
    is_hip=False,
)

cuda = types.SimpleNamespace(
    Device=Device,
    Stream=Stream,
    Event=Event,
    MemoryPointer=MemoryPointer,
    get_current_stream=get_current_stream,
    get_elapsed_time=get_elapsed_time,
    runtime=runtime,
    is_available=lambda: True,
)
Stream.null = get_current_stream(0)


def _special_function(name: str) -> Any:
    """cupyx.scipy.special.<name>: SciPy's function on the device array's data (SciPy is a test dependency)."""

    def call(*args: Any) -> ndarray:
        import scipy.special

        arrays = [a for a in args if isinstance(a, ndarray)]
        for a in arrays:
            _check_device(a)
        # CuPy's special functions have loops e->d, f->f, d->d: float16 input gives float64, which this reproduces
        vals = [
            a._a.astype(np.float64) if isinstance(a, ndarray) and a.dtype == np.float16 else _unwrap(a) for a in args
        ]
        return _fresh(np.asarray(getattr(scipy.special, name)(*vals)))

    call.__name__ = name
    return call


class _Special(types.SimpleNamespace):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        fn = _special_function(name)
        setattr(self, name, fn)
        return fn


def _scatter_add(target: ndarray, key: Any, values: Any) -> None:
    _check_device(target)
    np.add.at(target._a, target._key(key, "scatter_add"), _unwrap(values))


class _Linalg(types.SimpleNamespace):
    """cupy.linalg: NumPy's linalg functions under the stand-in's device rules."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        obj = getattr(np.linalg, name)
        if callable(obj) and not isinstance(obj, type):
            obj = _function(f"linalg.{name}", obj)
        setattr(self, name, obj)
        return obj


linalg = _Linalg()


cupyx = types.SimpleNamespace(
    empty_pinned=lambda shape, dtype=float, order="C": np.empty(shape, dtype=dtype, order=order),
    zeros_pinned=lambda shape, dtype=float, order="C": np.zeros(shape, dtype=dtype, order=order),
    scatter_add=_scatter_add,
    scipy=types.SimpleNamespace(special=_Special()),
)


@contextmanager
def counting_launches() -> Iterator[collections.Counter]:
    """Counts the kernel launches made inside the block, by kernel name."""
    start = collections.Counter(launch_counts)
    counts: collections.Counter = collections.Counter()
    try:
        yield counts
    finally:
        counts.update({k: v - start.get(k, 0) for k, v in launch_counts.items() if v - start.get(k, 0)})
