"""``gpubp.cuda``: PyTorch's ``torch.cuda`` over CuPy (devices, seeds, memory numbers), plus compiling every custom
kernel ahead of time.

Without a GPU these answer as a CPU-only PyTorch does: ``is_available()`` is False, ``device_count()`` 0, the memory
numbers 0, seeding is accepted (it applies once a GPU is used), and the calls that need a GPU raise
``CudaUnavailableError`` (PyTorch's RuntimeError, and its AssertionError "Torch not compiled with CUDA enabled").
"""

from __future__ import annotations

import collections
import dataclasses
import numbers
import os
import time
from pathlib import Path
from typing import Any

from . import backend as _be
from .backend import CudaUnavailableError, Device, cuda_available, get_backend
from .backend.kernels import FAMILIES
from .errors import InputError
from .tensor import get_sync_debug_mode, set_sync_debug_mode

__all__ = [
    "CudaDeviceProperties", "CudaUnavailableError", "current_device", "device", "device_count", "empty_cache",
    "fallback_counts", "get_device_capability", "get_device_name", "get_device_properties", "get_sync_debug_mode",
    "init", "initial_seed", "is_available", "is_bf16_supported", "is_initialized", "kernel_cache_dir", "kernel_count",
    "manual_seed", "manual_seed_all", "max_memory_allocated", "max_memory_reserved", "mem_get_info",
    "memory_allocated", "memory_reserved", "memory_stats", "reset_peak_memory_stats", "seed", "seed_all",
    "set_device", "set_sync_debug_mode", "synchronize", "warmup",
]  # fmt: skip

DeviceLike = Device | str | int | None


def is_available() -> bool:
    """True when CuPy is installed and a CUDA GPU is visible."""
    return cuda_available()


def device_count() -> int:
    """How many CUDA GPUs CuPy sees (0 without CuPy or a GPU)."""
    return _be.device_count()


def is_initialized() -> bool:
    """True once a CUDA device has been used (its backend made)."""
    return any(dev.type == "cuda" for dev in _be._backends)


def init() -> None:
    """Set up the current CUDA device now rather than at its first tensor; raises where there is no GPU."""
    _be.require_cuda("init")
    get_backend(Device("cuda"))


def _index(device: DeviceLike, what: str, optional: bool = True) -> int:
    """The GPU index ``device`` names, as PyTorch's ``_get_device_index``: an int is the index, a ``cuda`` device or
    string its index (the current device without one), None the current device."""
    if device is None:
        if not optional:
            raise InputError(f"{what}: expected a cuda device or an index, got None")
        return _be.current_cuda_index()
    if isinstance(device, numbers.Integral) and not isinstance(device, bool):
        return int(device)
    dev = _be.parse_device(device)
    if dev.type != "cuda":
        raise InputError(f"{what}: Expected a cuda device, but got: {dev}")
    return _be.current_cuda_index() if dev.index is None else dev.index


def _checked(device: DeviceLike, what: str) -> int:
    """The GPU index ``device`` names, which must exist here (PyTorch's error where there is no GPU)."""
    n = _be.require_cuda(what)
    index = _index(device, what)
    if not 0 <= index < n:
        raise InputError(f"{what}: invalid device ordinal {index}: {n} CUDA device(s) found (0 to {n - 1})")
    return index


def current_device() -> int:
    """The index of the current CUDA device: the one ``'cuda'`` means."""
    _be.require_cuda("current_device")
    return _be.current_cuda_index()


def set_device(device: DeviceLike) -> None:
    """Make ``device`` (an index, ``'cuda:N'`` or a Device) the current CUDA device: ``'cuda'`` means it from then on,
    for new tensors and ``.to('cuda')``, in every thread (PyTorch's is per thread). A negative index does nothing."""
    index = _index(device, "set_device", optional=False)
    if index >= 0:
        _be.set_current_cuda(index)


class device:  # noqa: N801 - PyTorch's name
    """``with gpubp.cuda.device(i):`` makes GPU ``i`` current inside the block (None or a negative index: no change)."""

    def __init__(self, device: DeviceLike) -> None:
        self.idx = -1 if device is None else _index(device, "device")
        self.prev_idx = -1

    def __enter__(self) -> device:
        if self.idx >= 0:
            _be.require_cuda("device")
            self.prev_idx = _be.current_cuda_index()
            _be.set_current_cuda(self.idx, "device")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.prev_idx >= 0:
            _be.set_current_cuda(self.prev_idx, "device")


def synchronize(device: DeviceLike = None) -> None:
    """Wait until every kernel queued on ``device`` (the current GPU by default) has finished. An explicit wait: the
    sync debug mode does not flag it, as PyTorch's does not."""
    index = _checked(device, "synchronize")
    cupy, _ = _be.cupy_modules()
    with cupy.cuda.Device(index):
        cupy.cuda.runtime.deviceSynchronize()
    _sample(index)


# ---- seeds --------------------------------------------------------------------------------------------------------
def _seed_value(seed: Any, what: str) -> int:
    """``int(seed)`` as PyTorch takes it; a negative seed wraps to an unsigned 64-bit one."""
    try:
        value = int(seed)
    except TypeError:
        raise TypeError(f"{what}: seed must be an int, got {type(seed).__name__}") from None
    except ValueError:
        raise InputError(f"{what}: seed must be an int, got {seed!r}") from None
    if not -(2**63) <= value < 2**64:
        raise InputError(f"{what}: seed {value} overflows a 64-bit seed")
    return value % 2**64


def manual_seed(seed: int) -> None:
    """Seed the random generator of the current GPU (kept for later without one, as PyTorch)."""
    _be.manual_seed_cuda(_seed_value(seed, "manual_seed"), _be.current_cuda_index())


def manual_seed_all(seed: int) -> None:
    """Seed the random generator of every GPU, those first used later included."""
    _be.manual_seed_cuda(_seed_value(seed, "manual_seed_all"), None)


def seed() -> None:
    """Seed the current GPU's generator with a random number (from the OS)."""
    manual_seed(int.from_bytes(os.urandom(8), "little"))


def seed_all() -> None:
    """Seed every GPU's generator with one random number (from the OS)."""
    manual_seed_all(int.from_bytes(os.urandom(8), "little"))


def initial_seed() -> int:
    """The seed of the current GPU's generator: the last one set, else the one gpubp drew from the OS."""
    index = _checked(None, "initial_seed")
    return get_backend(_be._cuda(index)).initial_seed


# ---- memory -------------------------------------------------------------------------------------------------------
# CuPy's memory pool reports bytes in use (used_bytes) and held (total_bytes) per device, but keeps no peak. Counting
# every allocation would cost every op, so a peak here is the highest value seen when one of these functions (or
# synchronize) ran since the last reset: a lower bound of the true peak, exact when sampled at the right moment.
_peaks: dict[int, list[int]] = {}  # GPU index -> [peak in use, peak held]


def _sample(index: int) -> tuple[int, int]:
    """(bytes in use, bytes held) by CuPy's pool on GPU ``index`` now; raises the peaks seen so far."""
    cupy, _ = _be.cupy_modules()
    pool = cupy.get_default_memory_pool()
    with cupy.cuda.Device(index):
        used, held = int(pool.used_bytes()), int(pool.total_bytes())
    peak = _peaks.setdefault(index, [0, 0])
    peak[0], peak[1] = max(peak[0], used), max(peak[1], held)
    return used, held


def _memory_index(device: DeviceLike, what: str) -> int | None:
    """The GPU to report on, or None where there is none (PyTorch's numbers are 0 then)."""
    if not cuda_available():
        return None
    return _checked(device, what)


def memory_allocated(device: DeviceLike = None) -> int:
    """Bytes of GPU memory in use by arrays on ``device``: CuPy's pool ``used_bytes`` (blocks rounded up to 512 bytes,
    CuPy's own temporaries included). 0 without a GPU."""
    index = _memory_index(device, "memory_allocated")
    return 0 if index is None else _sample(index)[0]


def memory_reserved(device: DeviceLike = None) -> int:
    """Bytes CuPy's pool holds on ``device``, in use or cached for reuse (``total_bytes``). 0 without a GPU."""
    index = _memory_index(device, "memory_reserved")
    return 0 if index is None else _sample(index)[1]


def max_memory_allocated(device: DeviceLike = None) -> int:
    """The peak of ``memory_allocated`` since the last reset, as seen at calls of these functions and synchronize()
    (CuPy keeps no peak; tracking every allocation would slow every op): a lower bound of the true peak."""
    index = _memory_index(device, "max_memory_allocated")
    if index is None:
        return 0
    _sample(index)
    return _peaks[index][0]


def max_memory_reserved(device: DeviceLike = None) -> int:
    """The peak of ``memory_reserved`` since the last reset, sampled as ``max_memory_allocated`` is."""
    index = _memory_index(device, "max_memory_reserved")
    if index is None:
        return 0
    _sample(index)
    return _peaks[index][1]


def reset_peak_memory_stats(device: DeviceLike = None) -> None:
    """Start the peaks of ``device`` afresh from what is in use now; raises without a GPU, as PyTorch."""
    index = _checked(device, "reset_peak_memory_stats")
    _peaks.pop(index, None)
    _sample(index)


def memory_stats(device: DeviceLike = None) -> collections.OrderedDict:
    """The memory numbers above under PyTorch's keys (``allocated_bytes.all.current``, ``.peak``, and the same for
    ``reserved_bytes``); empty without a GPU."""
    index = _memory_index(device, "memory_stats")
    if index is None:
        return collections.OrderedDict()
    used, held = _sample(index)
    peak = _peaks[index]
    return collections.OrderedDict(
        [
            ("allocated_bytes.all.current", used),
            ("allocated_bytes.all.peak", peak[0]),
            ("reserved_bytes.all.current", held),
            ("reserved_bytes.all.peak", peak[1]),
        ]
    )


def empty_cache() -> None:
    """Give the GPU memory CuPy's pools cache (but no array uses) back to the driver, on every GPU gpubp has used."""
    if not cuda_available():
        return
    cupy, _ = _be.cupy_modules()
    pool = cupy.get_default_memory_pool()
    for dev in list(_be._backends):
        if dev.type == "cuda":
            with cupy.cuda.Device(dev.index):
                pool.free_all_blocks()
    cupy.get_default_pinned_memory_pool().free_all_blocks()


def mem_get_info(device: DeviceLike = None) -> tuple[int, int]:
    """``(free, total)`` bytes of ``device``'s memory as the driver reports them (cudaMemGetInfo)."""
    index = _checked(device, "mem_get_info")
    cupy, _ = _be.cupy_modules()
    with cupy.cuda.Device(index):
        free, total = cupy.cuda.runtime.memGetInfo()
    return int(free), int(total)


# ---- properties ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CudaDeviceProperties:
    """What ``get_device_properties`` returns: PyTorch's ``_CudaDeviceProperties`` fields that programs read."""

    name: str
    major: int
    minor: int
    total_memory: int
    multi_processor_count: int

    def __repr__(self) -> str:
        return (
            f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
            f"total_memory={self.total_memory // (1 << 20)}MB, multi_processor_count={self.multi_processor_count})"
        )


def get_device_properties(device: DeviceLike = None) -> CudaDeviceProperties:
    """Name, compute capability, memory and SM count of ``device`` (the current GPU by default)."""
    return _properties(device, "get_device_properties")


def _properties(device: DeviceLike, what: str) -> CudaDeviceProperties:
    index = _checked(device, what)
    cupy, _ = _be.cupy_modules()
    props = cupy.cuda.runtime.getDeviceProperties(index)
    name = props["name"]
    return CudaDeviceProperties(
        name=name.decode() if isinstance(name, bytes) else str(name),
        major=int(props["major"]),
        minor=int(props["minor"]),
        total_memory=int(props["totalGlobalMem"]),
        multi_processor_count=int(props["multiProcessorCount"]),
    )


def get_device_name(device: DeviceLike = None) -> str:
    """The name of ``device`` (the current GPU by default), e.g. ``'NVIDIA H100 80GB HBM3'``."""
    return _properties(device, "get_device_name").name


def get_device_capability(device: DeviceLike = None) -> tuple[int, int]:
    """The compute capability ``(major, minor)`` of ``device`` (the current GPU by default)."""
    props = _properties(device, "get_device_capability")
    return props.major, props.minor


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: gpubp has no bfloat16 dtype yet, so no bfloat16 tensor can be made on any GPU."""
    return False


# ---- gpubp's own: kernels ----------------------------------------------------------------------------------------
def kernel_count() -> int:
    """How many kernel instantiations gpubp compiles (every family, dtype and variant)."""
    return sum(len(names) for _, names in FAMILIES.values())


def warmup(device: str = "cuda") -> float:
    """Compile every gpubp kernel for ``device`` now (first run: NVRTC; later: CuPy's disk
    cache), so no training step pays for a compile. Returns the seconds it took."""
    start = time.perf_counter()
    be = get_backend(device)
    if be.device.type != "cuda":
        raise ValueError(f"warmup: expected a CUDA device, got {be.device}")
    be.warmup()
    return time.perf_counter() - start


def kernel_cache_dir() -> Path:
    """Where CuPy keeps compiled kernels (CUPY_CACHE_DIR, default ~/.cupy/kernel_cache)."""
    return Path(os.environ.get("CUPY_CACHE_DIR", Path.home() / ".cupy" / "kernel_cache"))


def fallback_counts(device: str = "cuda") -> dict:
    """How often each fused primitive of ``device`` took its slower reference path, by (primitive, reason)."""
    return dict(get_backend(device).fallbacks)
