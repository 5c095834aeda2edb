"""The CPU backend: NumPy. Its fused primitives are the references in ``base.Backend``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Backend

try:  # SciPy's erf is exact and vectorized; NumPy has no erf of its own
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - exercised only where SciPy is absent
    _erf = np.vectorize(math.erf, otypes=[np.float64])


class NumpyBackend(Backend):
    """Arrays in host memory, computed by NumPy."""

    xp = np

    def __init__(self) -> None:
        from . import Device

        self.device = Device("cpu")
        self._rng = np.random.default_rng()

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.asarray(a)

    def erf(self, x: Any) -> Any:
        return _erf(x).astype(x.dtype, copy=False)

    def manual_seed(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def randn(self, shape: tuple, dtype: Any) -> np.ndarray:
        if dtype in (np.float32, np.float64):
            return self._rng.standard_normal(shape, dtype=dtype)
        return self._rng.standard_normal(shape).astype(dtype)

    def rand(self, shape: tuple, dtype: Any) -> np.ndarray:
        if dtype in (np.float32, np.float64):
            return self._rng.random(shape, dtype=dtype)
        return self._rng.random(shape).astype(dtype)

    def randint(self, low: int, high: int, shape: tuple, dtype: Any) -> np.ndarray:
        return self._rng.integers(low, high, size=shape, dtype=dtype)
