"""The CPU backend: NumPy. Its fused primitives are the references in ``base.Backend``."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys
from typing import Any

import numpy as np

from .base import Backend

try:  # SciPy's erf and expit are exact ufuncs; NumPy has neither
    from scipy.special import erf as _erf
    from scipy.special import expit as _expit
except ImportError:  # pragma: no cover - exercised only where SciPy is absent
    _erf = np.vectorize(math.erf, otypes=[np.float64])
    _expit = None


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the OS.

    A training step frees and reallocates the same large buffers (activations, gradients)
    every iteration; by default glibc unmaps blocks of 128 KiB and more at once, so every step
    page-faults its buffers back in, which made an MLP step ~1.6x slower than it needs to be.
    This is the CPU analogue of a GPU caching allocator. Cost: the process keeps its peak heap.
    Linux/glibc only; set GPUBP_MALLOC_TUNING=0 to leave malloc alone.
    """
    if not sys.platform.startswith("linux") or os.environ.get("GPUBP_MALLOC_TUNING", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: nothing to tune
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # glibc's largest: heap-allocate up to 32 MiB
    return bool(ok and mallopt(_M_TRIM_THRESHOLD, 1 << 30))


class NumpyBackend(Backend):
    """Arrays in host memory, computed by NumPy."""

    xp = np

    def __init__(self) -> None:
        from . import Device

        self.device = Device("cpu")
        self._rng = np.random.default_rng()
        self.malloc_tuned = _keep_freed_memory()

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.asarray(a)

    def erf(self, x: Any) -> Any:
        return _erf(x).astype(x.dtype, copy=False)

    def _sigmoid(self, x: Any) -> Any:
        # expit is one pass; the reference's two-branch form costs ~10x more in NumPy. expit has no float16 loop
        # (it computes float16 in float32 and returns float32): cast back, so the dtype is the input's
        if _expit is None or not isinstance(x, np.ndarray):
            return super()._sigmoid(x)
        y = _expit(x)
        return y if y.dtype == x.dtype else y.astype(x.dtype)

    def manual_seed(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def randn(self, shape: tuple, dtype: Any) -> np.ndarray:
        if dtype in (np.float32, np.float64):
            return self._rng.standard_normal(shape, dtype=dtype)
        return self._rng.standard_normal(shape).astype(dtype)

    def rand(self, shape: tuple, dtype: Any) -> np.ndarray:
        if dtype in (np.float32, np.float64):
            return self._rng.random(shape, dtype=dtype)
        # float16: a double just below 1 rounds to 1.0; clamp, so that samples stay in [0, 1)
        return np.minimum(self._rng.random(shape), float(np.nextafter(np.float16(1), np.float16(0)))).astype(dtype)

    def randint(self, low: int, high: int, shape: tuple, dtype: Any) -> np.ndarray:
        return self._rng.integers(low, high, size=shape, dtype=dtype)

    def exponential(self, shape: tuple, dtype: Any) -> np.ndarray:
        if dtype in (np.float32, np.float64):
            return self._rng.standard_exponential(shape, dtype=dtype)
        return self._rng.standard_exponential(shape).astype(dtype)

    def poisson(self, lam: Any) -> np.ndarray:
        return np.asarray(self._rng.poisson(lam)).astype(lam.dtype, copy=False)  # a 0-d rate gives a Python int
