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
from .special import erf32

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


def _segment_scatter_add(target: Any, key: Any, values: Any) -> bool:
    """target[key] += values for a key of integer arrays selecting leading dims of a C-contiguous float target (the
    VJP of embedding, index_select, gather, ...): the flat row numbers sorted (stable), each row's values summed in
    float64 in index order by np.add.reduceat, added with one rounding. False (nothing done) for any other key, or
    an index out of range, so that np.add.at handles it (and raises its IndexError)."""
    key = key if isinstance(key, tuple) else (key,)
    k = len(key)
    if not (isinstance(target, np.ndarray) and target.dtype.kind == "f" and 1 <= k <= target.ndim):
        return False
    if not target.flags.c_contiguous or not all(isinstance(a, np.ndarray) and a.dtype.kind in "iu" for a in key):
        return False
    vals = np.asarray(values)
    if vals.dtype.kind not in "fiub":
        return False
    try:
        idx = np.broadcast_arrays(*key)
        vals = np.broadcast_to(vals, idx[0].shape + target.shape[k:])
    except ValueError:
        return False
    if vals.size == 0:
        return False
    flat = None
    for a, n in zip(idx, target.shape[:k], strict=True):  # row-major flat number over the indexed dims
        a = a.reshape(-1).astype(np.int64, copy=False)
        if a.min() < -n or a.max() >= n:
            return False
        a = np.where(a < 0, a + n, a)
        flat = a if flat is None else flat * n + a
    width = math.prod(target.shape[k:])
    rows = target.reshape(-1, width)  # a view: the target is C-contiguous
    unique, sums = _segment_sums(flat, vals.reshape(-1, width))
    rows[unique] += sums  # in float64, one rounding to the target's dtype
    return True


_SHALLOW = 16  # rows of a repeated index summed by vectorized passes; the rest of a longer run by one np.sum


def _segment_sums(flat: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``flat`` (K,) and, for each, the float64 sum of its rows of ``vals`` (K, W), in a fixed
    order. Pass j adds every run's j-th row at once (runs sorted longest first, so the runs still going are a
    prefix): ~K row copies in all, where np.add.reduceat along rows costs 3-6 ns an element and np.add.at 10."""
    order = np.argsort(flat, kind="stable")
    ranked = flat[order]
    starts = np.flatnonzero(np.concatenate(([True], ranked[1:] != ranked[:-1])))
    counts = np.diff(np.append(starts, ranked.size))
    longest = np.argsort(-counts, kind="stable")
    starts, counts = starts[longest], counts[longest]
    sorted_vals = vals[order]
    acc = sorted_vals[starts].astype(np.float64)  # (U, W): each run's first row
    going = np.searchsorted(-counts, -np.arange(2, _SHALLOW + 1), side="right")  # runs with more than j rows
    for j, m in enumerate(going, start=1):
        if m == 0:
            break
        acc[:m] += sorted_vals[starts[:m] + j]
    for i in range(int(np.searchsorted(-counts, -(_SHALLOW + 1), side="right"))):  # the few longer runs
        acc[i] += sorted_vals[starts[i] + _SHALLOW : starts[i] + counts[i]].sum(axis=0, dtype=np.float64)
    return ranked[starts], acc


_CACHE_CHUNK = 32768  # elements a chunked elementwise pass works on at once (float64 temporaries: 256 KiB)


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
        # float32 / float16: a NumPy polynomial in float32, 3.5x faster than SciPy's scalar loop and within 3 ulp of
        # float32; float64 keeps SciPy's (exact to ~1e-16)
        if x.dtype in (np.float32, np.float16):
            return erf32(x)
        return _erf(x).astype(x.dtype, copy=False)

    def act_forward_keep(self, name: str, x: Any, param: float = 0.0) -> tuple[Any, Any]:
        # the GELUs keep act'(x): their backward is then one multiply, not a second erf (11x PyTorch's time for the
        # layer). Costs one more array of x's size while the graph lives; the others recompute cheaply from x or y
        if name not in ("gelu", "gelu_tanh"):
            return self.act_forward(name, x, param), None
        if x.size <= 2 * _CACHE_CHUNK or not x.flags.c_contiguous:
            return self.act_derivative(name, x)
        # in chunks that stay in the cache: erf's ~35 passes then read and write L2, not memory (1.6x faster)
        flat = x.reshape(-1)
        y, d = np.empty_like(flat), np.empty_like(flat)
        for start in range(0, flat.size, _CACHE_CHUNK):
            part = slice(start, start + _CACHE_CHUNK)
            y[part], d[part] = self.act_derivative(name, flat[part])
        return y.reshape(x.shape), d.reshape(x.shape)

    def scatter_add(self, target: Any, key: Any, values: Any) -> None:
        # np.add.at is an unbuffered loop (7x PyTorch in Embedding's backward); integer keys go by segment sums
        if not _segment_scatter_add(target, key, values):
            np.add.at(target, key, values)

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
