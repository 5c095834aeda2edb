"""``gpubp.accelerator``: PyTorch's device-neutral ``torch.accelerator``. gpubp's one accelerator is CUDA (through
CuPy), so each function here is its ``gpubp.cuda`` counterpart; without a GPU they raise as PyTorch's do ("Cannot
access accelerator device when none is available"), where ``gpubp.cuda``'s memory numbers would answer 0."""

from __future__ import annotations

import collections
import warnings

from . import backend as _be
from . import cuda as _cuda
from .backend import CudaUnavailableError, Device, cuda_available

__all__ = [
    "current_accelerator", "current_device_idx", "current_device_index", "device_count", "device_index",
    "empty_cache", "get_memory_info", "is_available", "max_memory_allocated", "max_memory_reserved",
    "memory_allocated", "memory_reserved", "memory_stats", "reset_peak_memory_stats", "set_device_idx",
    "set_device_index", "synchronize",
]  # fmt: skip

DeviceLike = Device | str | int | None


def _require(what: str) -> None:
    if not cuda_available():
        raise CudaUnavailableError(
            f"{what}: Cannot access accelerator device when none is available (gpubp's accelerator is CUDA, "
            f"through CuPy; {_be.CUDA_INSTALL_HINT})"
        )


def is_available() -> bool:
    """True when a CUDA GPU can be used."""
    return cuda_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """``device(type='cuda')`` where gpubp can drive CUDA (CuPy installed), else None; with ``check_available``, also
    None when no GPU is visible. The index is None: ``current_device_index()`` gives it."""
    if not _be._cupy_installed() or (check_available and not cuda_available()):
        return None
    return _be.parse_device("cuda")


def device_count() -> int:
    """How many GPUs the accelerator has (0 without one)."""
    return _be.device_count()


def current_device_index() -> int:
    """The index of the current GPU."""
    _require("current_device_index")
    return _be.current_cuda_index()


def current_device_idx() -> int:
    """Deprecated name of ``current_device_index``, as PyTorch's."""
    warnings.warn("Use `current_device_index` instead.", FutureWarning, stacklevel=2)
    return current_device_index()


def set_device_index(device: DeviceLike, /) -> None:
    """Make ``device`` (an index, ``'cuda:N'`` or a Device) the current GPU; a negative index does nothing."""
    _require("set_device_index")
    _cuda.set_device(device)


def set_device_idx(device: DeviceLike, /) -> None:
    """Deprecated name of ``set_device_index``, as PyTorch's."""
    warnings.warn("Use `set_device_index` instead.", FutureWarning, stacklevel=2)
    set_device_index(device)


class device_index:  # noqa: N801 - PyTorch's name
    """``with gpubp.accelerator.device_index(i):`` makes GPU ``i`` current inside the block (None: no change)."""

    def __init__(self, device: int | None, /) -> None:
        self.idx = device
        self._inner = _cuda.device(device)

    def __enter__(self) -> None:
        if self.idx is not None:
            _require("device_index")
        self._inner.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)


def synchronize(device: DeviceLike = None, /) -> None:
    """Wait until every kernel queued on ``device`` (the current GPU by default) has finished."""
    _require("synchronize")
    _cuda.synchronize(device)


def empty_cache() -> None:
    """Give cached, unused GPU memory back to the driver (``gpubp.cuda.empty_cache``)."""
    _require("empty_cache")
    _cuda.empty_cache()


def memory_allocated(device_index: DeviceLike = None, /) -> int:
    """Bytes in use on the GPU (``gpubp.cuda.memory_allocated``)."""
    _require("memory_allocated")
    return _cuda.memory_allocated(device_index)


def max_memory_allocated(device_index: DeviceLike = None, /) -> int:
    """Peak bytes in use since the last reset, as seen at calls (``gpubp.cuda.max_memory_allocated``)."""
    _require("max_memory_allocated")
    return _cuda.max_memory_allocated(device_index)


def memory_reserved(device_index: DeviceLike = None, /) -> int:
    """Bytes the memory pool holds on the GPU (``gpubp.cuda.memory_reserved``)."""
    _require("memory_reserved")
    return _cuda.memory_reserved(device_index)


def max_memory_reserved(device_index: DeviceLike = None, /) -> int:
    """Peak bytes held since the last reset, as seen at calls (``gpubp.cuda.max_memory_reserved``)."""
    _require("max_memory_reserved")
    return _cuda.max_memory_reserved(device_index)


def reset_peak_memory_stats(device_index: DeviceLike = None, /) -> None:
    """Start the peaks afresh (``gpubp.cuda.reset_peak_memory_stats``)."""
    _require("reset_peak_memory_stats")
    _cuda.reset_peak_memory_stats(device_index)


def memory_stats(device_index: DeviceLike = None, /) -> collections.OrderedDict:
    """The memory numbers under PyTorch's keys (``gpubp.cuda.memory_stats``)."""
    _require("memory_stats")
    return _cuda.memory_stats(device_index)


def get_memory_info(device_index: DeviceLike = None, /) -> tuple[int, int]:
    """``(free, total)`` bytes of the GPU's memory (``gpubp.cuda.mem_get_info``)."""
    _require("get_memory_info")
    return _cuda.mem_get_info(device_index)
