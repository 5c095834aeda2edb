"""CUDA helpers: availability, and compiling every custom kernel ahead of time."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .backend import cuda_available, device_count, get_backend
from .backend.kernels import FAMILIES
from .tensor import get_sync_debug_mode, set_sync_debug_mode

__all__ = [
    "is_available", "device_count", "warmup", "kernel_cache_dir", "kernel_count", "set_sync_debug_mode",
    "get_sync_debug_mode", "fallback_counts",
]  # fmt: skip


def is_available() -> bool:
    """True when CuPy is installed and a CUDA GPU is visible."""
    return cuda_available()


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
