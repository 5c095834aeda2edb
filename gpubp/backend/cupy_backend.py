"""The CUDA backend: CuPy, imported only when a ``cuda`` device is first used.

Until the custom kernels of ``kernels/`` land, every fused primitive runs the ``xp``
reference of ``base.Backend`` on CuPy arrays, which keeps the data on the device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend


class CupyBackend(Backend):
    """Arrays in one GPU's memory, computed by CuPy."""

    def __init__(self, index: int) -> None:
        import cupy
        import cupyx.scipy.special

        from . import Device

        self.xp = cupy
        self.device = Device("cuda", index)
        self.index = index
        self._cuda_device = cupy.cuda.Device(index)
        self._erf = cupyx.scipy.special.erf
        with self._cuda_device:
            self._rng = cupy.random.default_rng()

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        with self._cuda_device:
            return self.xp.asarray(data, dtype=dtype)

    def to_numpy(self, a: Any) -> np.ndarray:
        return self.xp.asnumpy(a)  # device-to-host copy: synchronizes

    def scatter_add(self, target: Any, key: Any, values: Any) -> None:
        import cupyx

        cupyx.scatter_add(target, key, values)

    def erf(self, x: Any) -> Any:
        return self._erf(x)

    def manual_seed(self, seed: int) -> None:
        with self._cuda_device:
            self._rng = self.xp.random.default_rng(seed)

    def randn(self, shape: tuple, dtype: Any) -> Any:
        with self._cuda_device:
            return self._rng.standard_normal(shape, dtype=np.dtype(dtype))

    def rand(self, shape: tuple, dtype: Any) -> Any:
        with self._cuda_device:
            return self._rng.random(shape, dtype=np.dtype(dtype))

    def randint(self, low: int, high: int, shape: tuple, dtype: Any) -> Any:
        with self._cuda_device:
            return self._rng.integers(low, high, size=shape, dtype=np.dtype(dtype))
