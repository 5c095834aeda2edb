"""The CuPy stand-in's ``RawModule``: gpubp's kernel sources compiled for the CPU (``host_kernels``) and launched with
CuPy's conversion of kernel arguments, optionally twice (forward and reverse thread order) to catch races."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .arrays import _root, ndarray
from .devices import _config, _pool, _tls, get_current_stream, launch_counts


# ---- kernels ----------------------------------------------------------------------------------------------
def _kernel_arg(a: Any, name: str, i: int) -> tuple[bytes, Any]:
    """One kernel argument as CuPy converts it: (its bytes, the array it points to or None)."""
    if isinstance(a, ndarray):
        if a._dev != _tls.device:
            raise ValueError(f"{name}: argument {i} is on device {a._dev}, the kernel runs on device {_tls.device}")
        return np.uint64(a._a.ctypes.data).tobytes(), a._a
    if isinstance(a, bool):
        return np.bool_(a).tobytes(), None
    if isinstance(a, int):
        return np.int64(a).tobytes(), None
    if isinstance(a, float):
        return np.float64(a).tobytes(), None
    if isinstance(a, complex):
        return np.complex128(a).tobytes(), None
    if isinstance(a, np.generic):
        return a.tobytes(), None
    if isinstance(a, np.ndarray):
        if a.size != 1:
            raise TypeError(f"{name}: argument {i}: Unsupported type {type(a)} (a host array of size {a.size})")
        return a.tobytes(), None
    raise TypeError(f"{name}: argument {i}: Unsupported type {type(a)}")


class _Function:
    """A compiled kernel: ``fn(grid, block, args)`` launches it on the current device and stream."""

    def __init__(self, host: Any, name: str) -> None:
        self._host = host
        self.name = name

    def __call__(self, grid: Any, block: Any, args: Sequence, *, shared_mem: int = 0, stream: Any = None) -> None:
        grid3 = tuple(grid) + (1,) * (3 - len(grid)) if isinstance(grid, tuple) else (int(grid), 1, 1)
        block3 = tuple(block) + (1,) * (3 - len(block)) if isinstance(block, tuple) else (int(block), 1, 1)
        converted = [_kernel_arg(a, self.name, i) for i, a in enumerate(args)]
        raw = [c[0] for c in converted]
        (stream or get_current_stream())._seq += 1
        launch_counts[self.name] += 1
        if not _config["race_check"]:
            self._host.launch(grid3, block3, raw, "forward")
            return
        reach = self._reachable(converted)
        before = [m.copy() for m in reach]
        self._host.launch(grid3, block3, raw, "forward")
        first = [m.copy() for m in reach]
        for m, b in zip(reach, before):
            m[...] = b
        self._host.launch(grid3, block3, raw, "reverse")
        for k, (m, f) in enumerate(zip(reach, first)):
            if m.tobytes() != f.tobytes():
                raise RuntimeError(
                    f"race in kernel {self.name}: memory block {k} it writes differs between a run with threads in "
                    "forward order and one in reverse order (a missing __syncthreads, or threads sharing an output)"
                )

    @staticmethod
    def _reachable(converted: list) -> list[np.ndarray]:
        """Byte views of every allocation a launch can touch: its array arguments, and the arrays whose addresses
        sit inside by-value structs (gpubp's tensor tables)."""
        seen: dict[int, np.ndarray] = {}
        for raw, arr in converted:
            if arr is not None:
                root = _root(arr)
                seen[id(root)] = root
            elif len(raw) > 8:
                for ptr in np.frombuffer(raw[: len(raw) // 8 * 8], dtype=np.uint64):
                    if ptr:
                        found = _pool._find(int(ptr))
                        if found is not None:
                            seen[id(found)] = found
        return [r.reshape(-1).view(np.uint8) for r in seen.values() if r.size]


class RawModule:
    """CuPy's RawModule: ``code`` compiled (for the CPU, here) with ``name_expressions``."""

    def __init__(
        self, code: str, options: Sequence[str] = (), name_expressions: Sequence[str] = (), **kwargs: Any
    ) -> None:
        from . import host_kernels

        self._host = _compiled(host_kernels, code, tuple(name_expressions), tuple(options))

    def get_function(self, name: str) -> _Function:
        return _Function(self._host.get_function(name), name)


@functools.cache
def _compiled(host_kernels: Any, code: str, names: tuple, options: tuple) -> Any:
    return host_kernels.HostModule(code, names, options)
