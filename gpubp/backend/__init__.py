"""Devices and backends: which array library holds a tensor's data.

A backend is a thin object: its array namespace ``xp`` (NumPy or CuPy share one API),
array creation and transfer, a random generator, and the few fused primitives that get
custom CUDA kernels. Everything else (every gradient rule) is written once on ``xp``.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from typing import Any

from ..errors import InputError
from .base import Backend

__all__ = [
    "Backend",
    "Device",
    "get_backend",
    "default_device",
    "set_default_device",
    "cuda_available",
    "device_count",
]

# PyTorch computes log(0) = -inf, x / 0 = inf and overflows silently, as IEEE 754 says; NumPy warns. Silence NumPy's
# floating-point warnings only where gpubp's own code raised them (the module pattern), so a user's NumPy code warns
# as before. Non-finite values are caught where they matter: `fit` stops at the first non-finite loss.
warnings.filterwarnings(
    "ignore",
    message=r"(overflow|divide by zero|invalid value|underflow) encountered",
    category=RuntimeWarning,
    module=r"gpubp(\.|$)",
)

CUDA_INSTALL_HINT = "install the CUDA extra matching your driver: pip install 'gpubp[cuda12]' or 'gpubp[cuda13]'"


class Device:
    """A device name: ``cpu`` or ``cuda:N``. Compares equal to its string form."""

    __slots__ = ("type", "index")

    def __init__(self, type: str, index: int | None = None) -> None:
        self.type = type
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = parse_device(other)
            except ValueError:
                return False
        if not isinstance(other, Device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))


def parse_device(device: str | Device) -> Device:
    """Turn ``'cpu'``, ``'cuda'``, ``'cuda:1'`` or a Device into a Device (``cuda`` means ``cuda:0``)."""
    if isinstance(device, Device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {type(device).__name__}")
    name, _, idx = device.strip().lower().partition(":")
    if name == "cpu" and not idx:
        return Device("cpu")
    if name == "cuda":
        if not idx:
            return Device("cuda", 0)
        if idx.isdigit():
            return Device("cuda", int(idx))
    raise InputError(f"unknown device '{device}': expected 'cpu', 'cuda' or 'cuda:N'")


_backends: dict[Device, Backend] = {}
# True once a GPU other than cuda:0 is in use: from then on every op enters its tensors' device (ops._core.on_device);
# with one GPU the current device is always cuda:0 and nothing needs switching.
SWITCHING = [False]
_default: Device | None = None
_seed: int | None = None


def manual_seed(seed: int) -> None:
    """Reseed every backend created so far, and every one created later."""
    global _seed
    _seed = seed
    for be in _backends.values():
        be.manual_seed(seed)


def emulated() -> bool:
    """True when ``GPUBP_EMULATE_CUDA`` asks for the CPU stand-in of CuPy (``1``: one device, ``2``: two)."""
    return os.environ.get("GPUBP_EMULATE_CUDA", "0") not in ("", "0")


def cupy_modules() -> tuple[Any, Any]:
    """``(cupy, cupyx)``, or their CPU stand-in under ``GPUBP_EMULATE_CUDA``: the one place that chooses.
    The CUDA backend uses what this returns and never asks which it got."""
    if emulated():
        from .emulation import cupy_standin

        return cupy_standin, cupy_standin.cupyx
    import cupy
    import cupyx
    import cupyx.scipy.special  # noqa: F401 - erf

    return cupy, cupyx


def _cupy_installed() -> bool:
    return emulated() or importlib.util.find_spec("cupy") is not None


def device_count() -> int:
    """Number of CUDA GPUs CuPy can see (0 without CuPy or without a GPU)."""
    if not _cupy_installed():
        return 0
    try:
        cupy, _ = cupy_modules()
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, no GPU: CuPy raises its own runtime errors
        return 0


def cuda_available() -> bool:
    """True when CuPy is installed and at least one CUDA GPU is visible."""
    return device_count() > 0


def get_backend(device: str | Device | None = None) -> Backend:
    """The backend for ``device`` (the default device when None), created on first use."""
    dev = default_device() if device is None else parse_device(device)
    be = _backends.get(dev)
    if be is not None:
        return be
    if dev.type == "cpu":
        from .numpy_backend import NumpyBackend

        be = NumpyBackend()
    else:
        if not _cupy_installed():
            raise RuntimeError(f"device '{dev}' needs CuPy, which is not installed: {CUDA_INSTALL_HINT}")
        n = device_count()
        if n == 0:
            raise RuntimeError(f"device '{dev}': CuPy is installed but no CUDA GPU is visible")
        if dev.index >= n:
            raise InputError(f"device '{dev}': only {n} CUDA device(s) found (cuda:0 to cuda:{n - 1})")
        from .cupy_backend import CupyBackend

        be = CupyBackend(dev.index)
        if dev.index != 0:
            SWITCHING[0] = True
    if _seed is not None:
        be.manual_seed(_seed)
    _backends[dev] = be
    return be


def default_device() -> Device:
    """The device new tensors go to: GPUBP_DEVICE if set, else cuda when available, else cpu."""
    global _default
    if _default is None:
        env = os.environ.get("GPUBP_DEVICE")
        if env:
            _default = parse_device(env)
            get_backend(_default)  # fail now, with the reason, if it cannot be used
        else:
            _default = Device("cuda", 0) if cuda_available() else Device("cpu")
    return _default


def set_default_device(device: str | Device) -> None:
    """Make ``device`` the default for new tensors; raises if it cannot be used here."""
    global _default
    dev = parse_device(device)
    get_backend(dev)
    _default = dev
