"""Devices and backends: which array library holds a tensor's data.

A backend is a thin object: its array namespace ``xp`` (NumPy or CuPy share one API),
array creation and transfer, a random generator, and the few fused primitives that get
custom CUDA kernels. Everything else (every gradient rule) is written once on ``xp``.

``Device`` is PyTorch's ``torch.device``; ``parse_device`` is the one place that turns what users pass as a device
(a Device, a string, an int) into one, and ``get_backend`` the one place that turns a device into its backend.
"""

from __future__ import annotations

import importlib.util
import numbers
import os
import re
import warnings
from typing import Any

from ..errors import InputError
from .base import Backend

__all__ = [
    "Backend",
    "CudaUnavailableError",
    "Device",
    "get_backend",
    "default_device",
    "get_default_device",
    "set_default_device",
    "parse_device",
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

# The device types torch.device knows, in its order: all parse, only cpu and cuda hold gpubp tensors.
DEVICE_TYPES = (
    "cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia", "xla", "lazy",
    "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone",
)  # fmt: skip
_DEVICE_STRING = re.compile(r"([a-zA-Z_]+)(?::(0|[1-9][0-9]*))?")
_MAX_INDEX = 127  # PyTorch's DeviceIndex is an int8
_NO_INDEX: Any = (
    object()
)  # index not given (PyTorch's default -1): distinguishes device("cuda:1") from ("cuda:1", None)


class CudaUnavailableError(RuntimeError, AssertionError):
    """CUDA was asked for where there is none: PyTorch's RuntimeError (a CUDA build without a GPU) and its
    AssertionError ("Torch not compiled with CUDA enabled"), so code written for either catches it."""


def _no_accelerator() -> CudaUnavailableError:
    return CudaUnavailableError(f"Cannot access accelerator device when none is available. ({CUDA_INSTALL_HINT})")


class Device:
    """PyTorch's ``torch.device``: ``Device("cuda")``, ``Device("cuda:1")``, ``Device("cuda", 1)``, ``Device(1)``
    (``cuda:1``) or a copy of a Device. ``cuda`` without an index means the current CUDA device. Immutable, hashable,
    picklable; ``with Device(...):`` makes it the default device for new tensors inside the block."""

    __slots__ = ("type", "index", "_hash")

    def __init__(self, type: str | Device | int, index: int | None = _NO_INDEX) -> None:  # noqa: A002
        kind, idx = _parse(type, index)
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "index", idx)
        object.__setattr__(self, "_hash", hash((kind, idx)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'gpubp.device' objects is not writable")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other: object) -> bool:
        # as PyTorch: type and index both match; device("cuda") != device("cuda:0"), and a string is never equal
        if not isinstance(other, Device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple:
        return (Device, (self.type, self.index))

    def __enter__(self) -> Device:
        """Make this the default device for new tensors until the block ends (PyTorch 2's device context; gpubp's
        default is process-wide, where PyTorch's is per thread)."""
        global _default
        _context.append(_default)
        _default = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _default
        _default = _context.pop()


_context: list[Device | None] = []  # the defaults that `with Device(...)` blocks replaced, innermost last


def _parse(type: Any, index: Any) -> tuple[str, int | None]:  # noqa: A002
    """``(type, index)`` from Device's arguments, with PyTorch's rules and the gist of its errors."""
    if isinstance(type, Device):
        if index is not _NO_INDEX:
            raise TypeError(f"device(): argument 'type' (position 1) must be str, not {_name(type)}")
        return type.type, type.index
    if isinstance(type, numbers.Integral) and not isinstance(type, bool):
        if index is not _NO_INDEX:
            raise TypeError(f"device(): argument 'type' (position 1) must be str, not {_name(type)}")
        return "cuda", _cuda_ordinal(type)
    if not isinstance(type, str):
        raise TypeError(
            f"device() received an invalid combination of arguments - got ({_name(type)}), but expected one of: "
            "(gpubp.device device), (str type, int index = -1), (int index)"
        )
    if not type:
        raise InputError("Device string must not be empty")
    m = _DEVICE_STRING.fullmatch(type)
    if m is None:
        raise InputError(
            f"unknown device '{type}': Invalid device string: '{type}' (expected 'cpu', 'cuda' or 'cuda:N', N >= 0 "
            "with no leading zeros or spaces)"
        )
    kind, digits = m.group(1), m.group(2)
    if kind not in DEVICE_TYPES:
        raise InputError(
            f"unknown device '{type}': Expected one of {', '.join(DEVICE_TYPES)} device type at start of device "
            f"string: {type} (gpubp holds tensors on 'cpu' and 'cuda')"
        )
    if index is _NO_INDEX:
        return kind, None if digits is None else _checked_index(int(digits))
    if digits is not None:
        raise InputError(f"type (string) must not include an index because index was passed explicitly: {type}")
    if index is None:
        return kind, None
    if not isinstance(index, numbers.Integral) or isinstance(index, bool):
        raise TypeError(f"device(): argument 'index' (position 2) must be int, not {_name(index)}")
    return kind, _checked_index(int(index))


def _name(x: Any) -> str:
    return x.__class__.__name__


def _checked_index(index: int) -> int:
    if index < 0:
        raise InputError(f"Device index must not be negative, got {index}")
    if index > _MAX_INDEX:
        raise InputError(f"Device index {index} is out of range (at most {_MAX_INDEX})")
    return index


def _cuda_ordinal(index: int) -> int:
    """A bare int as a device: the accelerator's device ``index`` (cuda:N), as PyTorch; an error without CUDA."""
    index = _checked_index(int(index))
    if not _cupy_installed():
        raise _no_accelerator()
    return index


_parsed: dict[str, Device] = {}  # device string -> its Device: each string is parsed once


def parse_device(device: str | Device | int) -> Device:
    """A Device from a Device, a string (``'cpu'``, ``'cuda'``, ``'cuda:1'``) or an int (``cuda:N``). ``'cuda'`` keeps
    index None: ``get_backend`` reads it as the current CUDA device (``gpubp.cuda.set_device``)."""
    if device.__class__ is Device:
        return device
    if isinstance(device, str):
        dev = _parsed.get(device)
        if dev is None:
            dev = _parsed[device] = Device(device)
        return dev
    if isinstance(device, Device):
        return device
    if isinstance(device, numbers.Integral) and not isinstance(device, bool):
        return _cuda(_cuda_ordinal(device))
    raise TypeError(f"device: expected a gpubp.device, a string such as 'cuda:0', or an int, got {_name(device)}")


CPU = Device("cpu")
_cuda_devices: dict[int, Device] = {}


def _cuda(index: int) -> Device:
    dev = _cuda_devices.get(index)
    if dev is None:
        dev = _cuda_devices[index] = Device("cuda", index)
    return dev


_backends: dict[Device, Backend] = {}
# True once a GPU other than cuda:0 is in use: from then on every op enters its tensors' device (ops._core.on_device);
# with one GPU the current device is always cuda:0 and nothing needs switching.
SWITCHING = [False]


def _env_names_another_gpu() -> bool:
    """GPUBP_DEVICE=cuda:N with N > 0 switches devices from the start: the default device is chosen lazily, and may
    first be chosen inside an op that has no tensor argument to enter (``gpubp.add(2, 3)``), after its check."""
    env = os.environ.get("GPUBP_DEVICE", "").strip().lower()
    return env.startswith("cuda:") and env[5:].isdigit() and int(env[5:]) > 0


SWITCHING[0] = _env_names_another_gpu()
# What set_default_device, GPUBP_DEVICE or a `with Device(...)` block chose; None until first asked (default_device)
_default: Device | None = None
_current_cuda = [0]  # the GPU that "cuda" without an index means: gpubp.cuda.set_device (process-wide)
_seed: int | None = None  # gpubp.manual_seed: every backend, and those created later
_cuda_seed: int | None = None  # gpubp.cuda.manual_seed_all: CUDA backends created later
_pending_seeds: dict[Device, int] = {}  # gpubp.cuda.manual_seed for a GPU whose backend does not exist yet


def manual_seed(seed: int) -> None:
    """Reseed every backend created so far, and every one created later."""
    global _seed, _cuda_seed
    _seed, _cuda_seed = seed, None
    _pending_seeds.clear()
    for be in _backends.values():
        be.manual_seed(seed)


def manual_seed_cuda(seed: int, index: int | None) -> None:
    """Reseed CUDA device ``index``, or every CUDA device (now and those used later) when ``index`` is None."""
    global _cuda_seed
    if index is None:
        _cuda_seed = seed
        _pending_seeds.clear()
        targets = [be for dev, be in _backends.items() if dev.type == "cuda"]
    else:
        dev = _cuda(index)
        be = _backends.get(dev)
        if be is None:
            _pending_seeds[dev] = seed
        targets = [] if be is None else [be]
    for be in targets:
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


def require_cuda(what: str) -> int:
    """The number of GPUs, or PyTorch's error for ``what`` (a CUDA call) where there is none."""
    if not _cupy_installed():
        raise CudaUnavailableError(f"{what}: gpubp has no CUDA here (CuPy is not installed): {CUDA_INSTALL_HINT}")
    n = device_count()
    if n == 0:
        raise CudaUnavailableError(f"{what}: CuPy is installed but no CUDA GPU is visible (No CUDA GPUs are available)")
    return n


def current_cuda_index() -> int:
    """The index of the current CUDA device: the one ``'cuda'`` means."""
    return _current_cuda[0]


def set_current_cuda(index: int, what: str = "set_device") -> None:
    """Make GPU ``index`` current: ``'cuda'`` means it from now on, and CuPy allocates there."""
    n = require_cuda(what)
    if not 0 <= index < n:
        raise InputError(f"{what}: invalid device ordinal {index}: {n} CUDA device(s) found (0 to {n - 1})")
    if index != 0:
        SWITCHING[0] = True  # CuPy's current device is no longer cuda:0: every op must enter its own
    cupy, _ = cupy_modules()
    cupy.cuda.Device(index).use()
    _current_cuda[0] = index


def get_backend(device: str | Device | int | None = None) -> Backend:
    """The backend for ``device`` (the default device when None), created on first use. Called for every op: the
    common cases (None, a Device in use) are a few attribute reads and one dict lookup."""
    if device is None:
        dev = _default if _default is not None else _choose_default()
    elif device.__class__ is Device:
        dev = device
    else:
        dev = parse_device(device)
    if dev.index is None and dev.type == "cuda":
        dev = _cuda(_current_cuda[0])
    be = _backends.get(dev)
    if be is not None:
        return be
    return _new_backend(dev)


def _new_backend(dev: Device) -> Backend:
    if dev.type == "cpu":
        if dev.index is not None:  # cpu:N is the CPU, as PyTorch's tensors on it say
            return get_backend(CPU)
        from .numpy_backend import NumpyBackend

        be = NumpyBackend()
    elif dev.type == "cuda":
        if not _cupy_installed():
            raise CudaUnavailableError(f"device '{dev}' needs CuPy, which is not installed: {CUDA_INSTALL_HINT}")
        n = device_count()
        if n == 0:
            raise CudaUnavailableError(f"device '{dev}': CuPy is installed but no CUDA GPU is visible")
        if dev.index >= n:
            raise InputError(f"device '{dev}': only {n} CUDA device(s) found (cuda:0 to cuda:{n - 1})")
        from .cupy_backend import CupyBackend

        be = CupyBackend(dev.index)
        if dev.index != 0:
            SWITCHING[0] = True
    else:
        raise NotImplementedError(f"device '{dev}': gpubp holds tensors on 'cpu' and 'cuda' only, not on '{dev.type}'")
    seed = _pending_seeds.pop(dev, None)
    if seed is None and dev.type == "cuda":
        seed = _cuda_seed
    if seed is None:
        seed = _seed
    if seed is not None:
        be.manual_seed(seed)
    be.device = dev  # the very object get_backend looks up: dict hits by identity
    _backends[dev] = be
    return be


def _choose_default() -> Device:
    """The first default: GPUBP_DEVICE if set, else the CPU, as PyTorch's: a program puts its model and batches on
    the GPU with ``.to(device)``, and tensors it makes without a device (``from_numpy``, a fresh layer) must meet
    on the same device, the CPU, whether or not a GPU is present."""
    global _default
    env = os.environ.get("GPUBP_DEVICE")
    if env:
        dev = parse_device(env)
        get_backend(dev)  # fail now, with the reason, if it cannot be used
    else:
        dev = CPU
    _default = dev
    return dev


def default_device() -> Device:
    """The device new tensors go to, with its index: ``cuda`` without one is the current CUDA device."""
    dev = _default if _default is not None else _choose_default()
    if dev.index is None and dev.type == "cuda":
        return _cuda(_current_cuda[0])
    return dev


def get_default_device() -> Device:
    """PyTorch's ``torch.get_default_device``: the device new tensors go to (cuda with its index)."""
    return default_device()


def set_default_device(device: str | Device | int | None) -> None:
    """Make ``device`` the default for new tensors (``'cuda'``: whichever GPU is current when one is made); raises if
    it cannot be used here. None goes back to gpubp's own choice (GPUBP_DEVICE, else a GPU if any, else the CPU)."""
    global _default
    if device is None:
        _default = None
        return
    dev = parse_device(device)
    get_backend(dev)
    _default = dev
