"""Saving and loading as PyTorch's ``torch.save`` / ``torch.load``, safely: ``gpubp.save(obj, f)``, ``gpubp.load(f)``.

gpubp writes safetensors files: every tensor a safetensors tensor (so ``safetensors.numpy.load_file`` and
``safetensors.torch.load_file`` read them; a flat state dict under its own names), and the rest of ``obj`` (nested
dicts, lists, tuples, numbers, strings: an optimizer's state, an epoch counter) as JSON in the file's metadata. An
object JSON cannot hold (a whole Module, a custom class) is pickled into the metadata instead, its tensors still
stored as safetensors tensors; loading it needs ``weights_only=False`` or ``add_safe_globals``. Writes to a path are
atomic and durable (a staging folder beside the target, fsync, rename, fsync of the folder).

``load`` also reads PyTorch's own checkpoints (``torch.save``'s zip format) without PyTorch installed, through an
allow-list unpickler (gpubp/_torch_checkpoint.py). Under ``weights_only=True`` (the default, as PyTorch's) loading
never runs code from the file: a file asking for anything but tensors and plain values is refused, naming what it
asks for. A wrong, truncated or corrupt file raises ValueError without side effects.
"""

from __future__ import annotations

import hashlib
import io
import numbers
import os
import pickle
import re
import secrets
import shutil
import socket
import struct
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import _checkpoint_format as _fmt
from . import _torch_checkpoint
from ._safe_pickle import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals
from .backend import Device, device_count, get_backend, parse_device
from .errors import DirectoryPathError, InputError
from .tensor import Tensor

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "load", "safe_globals", "save"]

_TMP_TAG = ".gpubp-tmp."  # staging folders are named TARGET.gpubp-tmp.PID.RANDOM.WRITER
_STALE_S = 3600.0
# torch.save before PyTorch 1.6 (or with _use_new_zipfile_serialization=False): a pickle of this magic number first
_LEGACY_TORCH = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def _as_path(op: str, path: Any) -> Path:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        io_kind = "writable" if op == "save" else "readable"
        raise TypeError(
            f"{op}: expected a file path (str or os.PathLike), got {type(path).__name__} {path!r}"[:200]
            + f" (or a {io_kind} binary file object)"
        )
    return Path(path)


def _tmp_prefix(path: Path) -> str:
    """What every staging folder of ``path`` starts with (a long name is shortened to stay under NAME_MAX)."""
    name = path.name
    if len(name) > 180:
        name = name[:120] + "~" + hashlib.sha1(name.encode()).hexdigest()[:16]
    return name + _TMP_TAG


def _writer_id() -> str:
    """This host and PID namespace: a pid is only meaningful there (containers share folders, not pids)."""
    ident = socket.gethostname()
    try:
        ident += "-" + os.readlink("/proc/self/ns/pid")
    except OSError:
        pass
    return re.sub(r"[^A-Za-z0-9_-]", "_", ident)[:64] or "unknown"


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill on Windows terminates the process: never probe, trust the age rule alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def _last_write(folder: str) -> float:
    """The newest mtime in a staging folder: the file being written there advances it; the folder's own does not."""
    times = [os.stat(folder, follow_symlinks=False).st_mtime]
    with os.scandir(folder) as it:
        times += [e.stat(follow_symlinks=False).st_mtime for e in it]
    return max(times)


def _remove_stale_temps(path: Path) -> None:
    """Delete the staging folders of ``path`` left by saves that were killed midway (each as large as a checkpoint).

    One is stale when its writer, on this host and PID namespace, is no longer running (the pid in its name
    is dead), or when nothing in it has been written for an hour, whoever wrote it: a live save keeps writing
    until it renames, so an hour of silence means a dead writer on another machine of a shared filesystem (or
    one whose pid was reused). Never touched: a live writer's folder (a parallel save of the same target, in
    this process or another), other targets' folders, and names not of our pattern.
    """
    prefix, me, now = _tmp_prefix(path), _writer_id(), time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        parts = entry.name[len(prefix) :].split(".") if entry.name.startswith(prefix) else []
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if (parts[2] == me and not _pid_alive(int(parts[0]))) or now - _last_write(entry.path) > _STALE_S:
                shutil.rmtree(entry.path)
        except OSError:  # removed meanwhile by another save's cleanup, or not ours to remove
            continue


def _staging_folder(path: Path) -> Path:
    """A new folder beside ``path`` (same filesystem, so the final rename is atomic) named by our pattern."""
    for _ in range(100):
        folder = path.with_name(f"{_tmp_prefix(path)}{os.getpid()}.{secrets.token_hex(4)}.{_writer_id()}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"save: could not create a staging folder beside {path}")


def _fsync(path: Path, directory: bool = False) -> None:
    if directory and os.name == "nt":  # Windows cannot open a folder; NTFS journals the rename itself
        return
    fd = os.open(path, (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if directory else os.O_RDWR)
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
        # some filesystems (network mounts) refuse fsync on a folder; the file's own data is on disk already
    finally:
        os.close(fd)


# ---- save ------------------------------------------------------------------------------------------------------


def save(obj: Any, f: str | os.PathLike | Any) -> None:
    """Write ``obj`` (a state dict, a checkpoint dict, any object) to the path or writable binary file ``f``."""
    import safetensors.numpy as stnp

    if hasattr(f, "write") and not isinstance(f, (str, bytes, os.PathLike)):
        tensors, meta = _fmt.encode(obj)
        f.write(stnp.save(tensors, metadata=meta))  # a file object is written directly (no atomic rename)
        return
    path = _as_path("save", f)
    if path.is_dir():
        raise DirectoryPathError(f"save: {path} is a directory; give a file path, e.g. {path / 'model.safetensors'}")
    tensors, meta = _fmt.encode(obj)  # fails before anything touches the disk
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)  # first: a disk filled by leftovers of killed saves has room again
    # The file is written inside a staging folder of our own: safetensors (>= 0.5) itself writes a temporary
    # '.tmpXXXXXX' beside the file it is given, a name no cleanup could tell from anyone else's; in our
    # folder, whatever a killed save leaves is found and removed by the next save of the same target.
    folder = _staging_folder(path)
    tmp = folder / path.name
    try:
        stnp.save_file(tensors, tmp, metadata=meta)
        _fsync(tmp)  # the data is on disk before the rename makes it the checkpoint
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half of one
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _fsync(path.parent, directory=True)  # the rename itself survives a power loss


# ---- where loaded tensors go: map_location ---------------------------------------------------------------------


def _restore(location: str) -> Any:
    """The backend for a saved location when no map_location says otherwise (PyTorch's rules and messages)."""
    try:
        dev = parse_device(location)
    except Exception:  # InputError: not a device name at all
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise RuntimeError(
            f"load: don't know how to restore data location '{location}' (gpubp has 'cpu' and 'cuda:N'); "
            "pass map_location='cpu' or a map_location dict"
        )
    if dev.type == "cuda":
        n = device_count()
        if n == 0:
            raise RuntimeError(
                "load: attempting to deserialize object on a CUDA device but gpubp.cuda.is_available() is False. "
                "If you are running on a CPU-only machine, use gpubp.load with map_location='cpu' to map your "
                "storages to the CPU."
            )
        if (dev.index or 0) >= n:  # a bare "cuda" means the current device, which exists when any does
            raise RuntimeError(
                f"load: attempting to deserialize object on CUDA device {dev.index} but gpubp.cuda.device_count() "
                f"is {n}. Use gpubp.load with map_location to map your storages to an existing device."
            )
    return get_backend(dev)


def _target(op: str, value: Any) -> Any:
    """The backend of an explicit map_location target (a device name, Device or GPU index)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = f"cuda:{int(value)}"
    if not isinstance(value, (str, Device)):
        raise TypeError(
            f"{op}: map_location must be a device (str, gpubp.device or int), a dict of locations or a callable, "
            f"got {type(value).__name__}"
        )
    try:
        return get_backend(value)
    except (ValueError, RuntimeError) as e:
        raise type(e)(f"{op}: map_location={str(value)!r}: {e}") from None


def _location_key(location: Any) -> str:
    """A location as a dict key: 'cuda' and 'cuda:0' are one device (PyTorch matches the saved string exactly)."""
    try:
        dev = parse_device(location)
    except Exception:  # not a device name: matched as it is
        return str(location)
    return f"cuda:{dev.index or 0}" if dev.type == "cuda" else str(dev)


class _Placement:
    """``map_location`` resolved: ``place(host, location)`` -> (host array, backend) for one storage.

    A callable is called as ``fn(storage, location)`` with the storage as a 1-D CPU gpubp Tensor (PyTorch passes a
    storage: ``storage.cuda()``, ``storage`` and ``None`` work alike); it returns a Tensor, whose device and values
    are used, or None for the default placement.
    """

    def __init__(self, map_location: Any) -> None:
        self.fixed = None
        self.mapping: dict[str, Any] = {}
        self.fn: Callable | None = None
        self.cache: dict[str, Any] = {}
        if map_location is None:
            return
        if isinstance(map_location, dict):
            for k, v in map_location.items():
                if not isinstance(k, (str, Device)):
                    raise TypeError(f"load: map_location's keys must be locations such as 'cuda:0', got {k!r}"[:200])
                self.mapping[_location_key(k)] = _target("load", v)
        elif isinstance(map_location, (str, Device, numbers.Integral)) and not isinstance(map_location, bool):
            self.fixed = _target("load", map_location)
        elif callable(map_location):
            self.fn = map_location
        else:
            _target("load", map_location)  # raises the TypeError naming what is accepted

    def backend(self, location: str) -> Any:
        if self.fixed is not None:
            return self.fixed
        key = _location_key(location)
        if key in self.mapping:
            return self.mapping[key]
        if location not in self.cache:
            self.cache[location] = _restore(location)
        return self.cache[location]

    def __call__(self, host: np.ndarray, location: str) -> tuple[np.ndarray, Any]:
        if self.fn is None:
            return host, self.backend(location)
        cpu = get_backend("cpu")
        out = self.fn(Tensor._wrap(host, cpu), location)
        if out is None:
            return host, self.backend(location)
        if not isinstance(out, Tensor):
            raise TypeError(f"load: map_location's callable must return a Tensor or None, got {type(out).__name__}")
        values = host if out._data is host else np.asarray(out._be.to_numpy(out._data))
        if values.shape != host.shape or values.dtype != host.dtype:
            raise InputError(
                f"load: map_location's callable returned a tensor of shape {values.shape} and dtype {values.dtype} "
                f"for a storage of shape {host.shape} and dtype {host.dtype}"
            )
        return values, out._be


# ---- load ------------------------------------------------------------------------------------------------------


def _read_all(f: Any, where: str) -> bytes:
    try:
        data = f.read()
    except (OSError, ValueError) as e:  # closed, or opened for writing only
        raise InputError(f"load: cannot read {where}: {type(e).__name__}: {e}") from None
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load: {where} must be opened in binary mode ('rb'), its read() gave {type(data).__name__}")
    return bytes(data)


def load(
    f: str | os.PathLike | Any,
    map_location: Any = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    device: Any = None,
) -> Any:
    """Read what ``save`` (or PyTorch's ``torch.save``, or any safetensors writer) wrote to the path or binary file
    ``f``; ``map_location`` as PyTorch's; ``weights_only`` (default True) refuses files that would run code.
    ``mmap`` is accepted for PyTorch's sake (safetensors files are always read memory-mapped); ``device`` is
    gpubp's older name for ``map_location``."""
    if weights_only is None:
        weights_only = True
    if not isinstance(weights_only, bool):
        raise TypeError(f"load: weights_only must be True or False, got {weights_only!r}"[:200])
    if pickle_module is not None and pickle_module is not pickle:
        raise TypeError("load: pickle_module must be None or the pickle module (gpubp unpickles with its own)")
    if mmap is not None and not isinstance(mmap, bool):
        raise TypeError(f"load: mmap must be True, False or None, got {type(mmap).__name__}")
    if device is not None:
        if map_location is not None:
            raise TypeError("load: give map_location or device (its older name), not both")
        map_location = device
    place = _Placement(map_location)
    if hasattr(f, "read") and not isinstance(f, (str, bytes, os.PathLike)):
        if mmap:
            raise ValueError("load: f must be a file path in order to use the mmap argument")
        where = f"file object {getattr(f, 'name', type(f).__name__)}"
        data = _read_all(f, where)
        if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            return _load_zip(io.BytesIO(data), where, place, weights_only)
        _check_legacy(data, where)
        return _fmt.load_gpubp(*_fmt.safetensors_from_bytes(data, where), where, place, weights_only)
    path = _as_path("load", f)
    if path.is_dir():
        raise DirectoryPathError(f"load: {path} is a directory, not a checkpoint file")
    if not path.exists():
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    if not path.is_file():
        raise InputError(f"load: {path} is not a regular file")
    with open(path, "rb") as fh:  # a PermissionError names the file here, instead of passing for a corrupt file below
        head = fh.read(len(_LEGACY_TORCH))
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _load_zip(path, path, place, weights_only)
    _check_legacy(head, path)
    return _fmt.load_gpubp(*_fmt.safetensors_from_path(path), path, place, weights_only)


def _check_legacy(head: bytes, where: Any) -> None:
    if head.startswith(_LEGACY_TORCH):
        raise InputError(
            f"load: {where} is a legacy PyTorch checkpoint (torch.save before PyTorch 1.6, or with "
            "_use_new_zipfile_serialization=False), which gpubp does not read; re-save it with a recent PyTorch: "
            "torch.save(torch.load(path, weights_only=True), path)"
        )


def _load_zip(src: Any, where: Any, place: _Placement, weights_only: bool) -> Any:
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise _fmt.bad_file(where, f"a broken zip file: {e}") from None
    with zf:
        try:
            return _torch_checkpoint.load_zip(zf, str(where), place, weights_only)
        except (pickle.UnpicklingError, InputError, TypeError, RuntimeError):
            raise
        except (zipfile.BadZipFile, EOFError, KeyError, IndexError, ValueError, struct.error, OverflowError) as e:
            if not weights_only:
                raise
            raise InputError(f"load: {where} is a corrupt PyTorch checkpoint: {type(e).__name__}: {e}"[:500]) from None
