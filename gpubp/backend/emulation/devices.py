"""Devices, streams, events and the memory pool of the CuPy stand-in, and its two switches: the sync debug mode
and the race check. State is per thread where CuPy's is (the current device, the current stream)."""

from __future__ import annotations

import collections
import os
import threading
import time
import warnings
import weakref
from typing import Any

import numpy as np

N_DEVICES = max(1, int(os.environ.get("GPUBP_EMULATE_CUDA", "1") or 1))
SM_COUNT = int(os.environ.get("GPUBP_EMULATE_SMS", "2"))  # few SMs: small grids, so grid-stride loops wrap


class _State(threading.local):
    def __init__(self) -> None:
        self.device = 0
        self.streams: dict[int, list] = {}  # device -> stack of current streams


_tls = _State()
_config = {"sync": "default", "race_check": False}
launch_counts: collections.Counter = collections.Counter()  # kernel name -> launches, for tests


# ---- synchronization points ---------------------------------------------------------------------
def set_sync_debug_mode(mode: str) -> None:
    """``"default"``, ``"warn"`` or ``"error"``: what a synchronizing call does (PyTorch's modes)."""
    _config["sync"] = mode


def set_race_check(enabled: bool) -> None:
    """Run every kernel launch a second time in reverse thread order and compare (a difference is a race)."""
    _config["race_check"] = bool(enabled)


def _sync(what: str) -> None:
    mode = _config["sync"]
    if mode == "default":
        return
    msg = f"{what}: synchronizes the (emulated) GPU with the host, and the sync debug mode is '{mode}'"
    if mode == "error":
        raise RuntimeError(msg)
    warnings.warn(msg, stacklevel=3)


def _check_device(a: Any) -> None:
    if a._dev != _tls.device:
        raise ValueError(
            f"Array device must be same as the current device: array device = {a._dev} while current = {_tls.device}"
        )


# ---- devices, streams, events ---------------------------------------------------------------------
class Device:
    """A device context: ``with Device(1):`` makes device 1 current, as CuPy's."""

    def __init__(self, device: int | None = None) -> None:
        self.id = _tls.device if device is None else int(device)
        if not 0 <= self.id < N_DEVICES:
            raise RuntimeError(f"CUDARuntimeError: cudaErrorInvalidDevice: invalid device ordinal {self.id}")
        self._prev: list[int] = []
        self.attributes = {"MultiProcessorCount": SM_COUNT, "MaxThreadsPerBlock": 1024, "WarpSize": 32}
        self.compute_capability = "90"

    def __enter__(self) -> Device:
        self._prev.append(_tls.device)
        _tls.device = self.id
        return self

    def __exit__(self, *exc: object) -> None:
        _tls.device = self._prev.pop()

    def use(self) -> None:
        _tls.device = self.id

    def synchronize(self) -> None:
        _sync("Device.synchronize()")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


class Event:
    """Marks a point in a stream's work. Work here is done at once, so ``done`` is always True."""

    def __init__(self, block: bool = False, disable_timing: bool = False, interprocess: bool = False) -> None:
        self._stream: Stream | None = None
        self._seq = -1
        self._time = 0.0

    def record(self, stream: Stream | None = None) -> None:
        stream = stream or get_current_stream()
        self._stream, self._seq, self._time = stream, stream._seq, time.perf_counter()

    @property
    def done(self) -> bool:
        return True  # asks without waiting: not a synchronization

    def synchronize(self) -> None:
        _sync("Event.synchronize()")


class Stream:
    """A queue of work on one device. Each launch, allocation and copy advances its ``_seq``; ``_waited`` keeps,
    per other stream, the latest point of that stream this one was ordered after (by ``wait_event``)."""

    null: Stream

    def __init__(
        self, null: bool = False, non_blocking: bool = False, ptr: int | None = None, device: int = -1
    ) -> None:
        self.device_id = _tls.device if device < 0 else device
        self._seq = 0
        self._waited: dict[Stream, int] = {}
        self.ptr = 0 if null else id(self)

    def record(self, event: Event | None = None) -> Event:
        event = event or Event()
        event.record(self)
        return event

    def wait_event(self, event: Event) -> None:
        if event._stream is not None and event._stream is not self:
            self._waited[event._stream] = max(self._waited.get(event._stream, -1), event._seq)

    @property
    def done(self) -> bool:
        return True

    def synchronize(self) -> None:
        _sync("Stream.synchronize()")

    def __enter__(self) -> Stream:
        _tls.streams.setdefault(self.device_id, []).append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _tls.streams[self.device_id].pop()

    def use(self) -> Stream:
        _tls.streams[self.device_id] = [self]
        return self


_null_streams: dict[int, Stream] = {}


def get_current_stream(device_id: int | None = None) -> Stream:
    dev = _tls.device if device_id is None else device_id
    stack = _tls.streams.get(dev)
    if stack:
        return stack[-1]
    if dev not in _null_streams:
        _null_streams[dev] = Stream(null=True, device=dev)
    return _null_streams[dev]


def get_elapsed_time(start: Event, end: Event) -> float:
    return (end._time - start._time) * 1e3


# ---- the memory pool ----------------------------------------------------------------------------------
class MemoryPool:
    """Bytes in use per device, and the live allocations by address (for the race check's snapshots)."""

    def __init__(self) -> None:
        self._used: dict[int, int] = collections.defaultdict(int)
        self._live: dict[int, tuple[int, weakref.ref]] = {}  # start address -> (nbytes, numpy array)

    def _register(self, a: np.ndarray, dev: int) -> None:
        start, n = a.ctypes.data, a.nbytes
        self._used[dev] += n
        self._live[start] = (n, weakref.ref(a))
        weakref.finalize(a, self._release, start, n, dev)

    def _release(self, start: int, n: int, dev: int) -> None:
        self._used[dev] -= n
        entry = self._live.get(start)
        if entry is not None and entry[1]() is None:
            del self._live[start]

    def _find(self, ptr: int) -> np.ndarray | None:
        """The live allocation holding address ``ptr``, if any."""
        for start, (n, ref) in list(self._live.items()):
            if start <= ptr < start + max(n, 1):
                arr = ref()
                if arr is not None:
                    return arr
        return None

    def used_bytes(self) -> int:
        return self._used[_tls.device]

    def total_bytes(self) -> int:
        return self._used[_tls.device]

    def free_all_blocks(self) -> None:
        pass

    def n_free_blocks(self) -> int:
        return 0


_pool = MemoryPool()


def get_default_memory_pool() -> MemoryPool:
    return _pool


def get_default_pinned_memory_pool() -> MemoryPool:
    return _pool


class MemoryPointer:
    """``a.data``: the address of an array's first element, on its device."""

    def __init__(self, ptr: int, dev: int) -> None:
        self.ptr = ptr
        self.device_id = dev
        self.device = Device(dev)
