"""Checkpoints in the safetensors format: ``gpubp.save(obj, path)`` and ``gpubp.load(path)``.

Tensors go into the file as safetensors tensors; everything else in ``obj`` (nested dicts and
lists, numbers, strings: an optimizer's hyperparameters, an epoch counter) goes into the file's
metadata as JSON. A flat state dict is stored under its own names, so PyTorch's safetensors
reader loads the weights. Writing is atomic and durable (written in a staging folder beside the
target, fsync, rename, fsync of the folder); loading never executes code, and a wrong, truncated or
corrupt file raises ValueError without side effects.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DirectoryPathError
from .tensor import Tensor

_META_KEY = "gpubp"
_FORMAT = 1
_MAX_DEPTH = 100  # nesting of dicts/lists in a checkpoint: deeper is refused, well before Python's recursion limit
_TMP_TAG = ".gpubp-tmp."  # staging folders are named TARGET.gpubp-tmp.PID.RANDOM.WRITER
_STALE_S = 3600.0
# safetensors dtype codes of the dtypes gpubp tensors hold (BF16, F8_*, C64, U16... are not among them)
_ST_DTYPES = {
    "F16": "float16",
    "F32": "float32",
    "F64": "float64",
    "I8": "int8",
    "I16": "int16",
    "I32": "int32",
    "I64": "int64",
    "U8": "uint8",
    "BOOL": "bool",
}


def _as_path(op: str, path: Any) -> Path:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{op}: expected a file path (str or os.PathLike), got {type(path).__name__} {path!r}"[:300])
    return Path(path)


def _flatten(obj: Any, prefix: str, tensors: dict[str, np.ndarray], depth: int = 0) -> Any:
    """The JSON skeleton of ``obj`` with every Tensor replaced by {"__tensor__": name}."""
    if isinstance(obj, Tensor):
        name = prefix or "tensor"
        if name in tensors:
            raise ValueError(f"save: two tensors would be stored under the name '{name}'")
        tensors[name] = np.ascontiguousarray(obj.detach().cpu().numpy())
        return {"__tensor__": name}
    if isinstance(obj, (dict, list, tuple)) and depth >= _MAX_DEPTH:
        raise ValueError(
            f"save: the object nests dicts/lists deeper than {_MAX_DEPTH} levels (at '{prefix[:200]}'); "
            "a container that contains itself?"
        )
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__} at '{prefix}'")
            out[str(k)] = _flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors, depth + 1)
        return out
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, f"{prefix}.{i}" if prefix else str(i), tensors, depth + 1) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(
        f"save: cannot store a {type(obj).__name__} at '{prefix}' (tensors, dicts, lists, numbers, strings)"
    )


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


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (a state dict, or nested dicts/lists of tensors and plain values) to ``path``."""
    from safetensors.numpy import save_file

    path = _as_path("save", path)
    tensors: dict[str, np.ndarray] = {}
    skeleton = _flatten(obj, "", tensors)  # fails before anything touches the disk
    meta = {_META_KEY: json.dumps({"format": _FORMAT, "skeleton": skeleton})}
    if path.is_dir():
        raise DirectoryPathError(f"save: {path} is a directory; give a file path, e.g. {path / 'model.safetensors'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)  # first: a disk filled by leftovers of killed saves has room again
    # The file is written inside a staging folder of our own: safetensors (>= 0.5) itself writes a temporary
    # '.tmpXXXXXX' beside the file it is given, a name no cleanup could tell from anyone else's; in our
    # folder, whatever a killed save leaves is found and removed by the next save of the same target.
    folder = _staging_folder(path)
    tmp = folder / path.name
    try:
        save_file(tensors, tmp, metadata=meta)
        _fsync(tmp)  # the data is on disk before the rename makes it the checkpoint
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half of one
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _fsync(path.parent, directory=True)  # the rename itself survives a power loss


def _rebuild(node: Any, tensors: dict[str, np.ndarray], device: Any, depth: int = 0) -> Any:
    if isinstance(node, dict) and set(node) == {"__tensor__"}:
        name = node["__tensor__"]
        if not isinstance(name, str) or name not in tensors:
            raise ValueError(f"load: the checkpoint's metadata names a tensor {name!r} that it does not hold")
        return Tensor(tensors[name], device=device)
    if isinstance(node, (dict, list)) and depth >= _MAX_DEPTH:
        raise ValueError(f"load: the checkpoint's metadata nests dicts/lists deeper than {_MAX_DEPTH} levels")
    if isinstance(node, dict):
        return {k: _rebuild(v, tensors, device, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebuild(v, tensors, device, depth + 1) for v in node]
    return node


def load(path: str | os.PathLike, device: Any = None) -> Any:
    """Read a checkpoint written by ``save`` (or any safetensors file: a dict name -> Tensor)."""
    from safetensors import SafetensorError, safe_open

    path = _as_path("load", path)
    if path.is_dir():
        raise DirectoryPathError(f"load: {path} is a directory, not a checkpoint file")
    if not path.exists():
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    if not path.is_file():
        raise ValueError(f"load: {path} is not a regular file")
    with open(path, "rb"):  # a PermissionError names the file here, instead of passing for a corrupt file below
        pass
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            codes = {k: f.get_slice(k).get_dtype() for k in f.keys()}  # from the header: nothing read yet
            unsupported = {k: c for k, c in codes.items() if c not in _ST_DTYPES}
            tensors = {} if unsupported else {k: f.get_tensor(k) for k in codes}
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(
            f"load: {path} is not a valid safetensors checkpoint (wrong, truncated or corrupt file): {e}"
        ) from None
    if unsupported:
        listed = ", ".join(f"'{k}' ({c})" for k, c in list(unsupported.items())[:5])
        more = f" and {len(unsupported) - 5} more" if len(unsupported) > 5 else ""
        raise TypeError(
            f"load: {path} holds tensors of dtypes gpubp does not support: {listed}{more}; supported are "
            f"{', '.join(f'{c} ({n})' for c, n in _ST_DTYPES.items())}"
        )
    if _META_KEY not in meta:
        return {k: Tensor(v, device=device) for k, v in tensors.items()}
    try:
        info = json.loads(meta[_META_KEY])
        fmt, skeleton = info["format"], info["skeleton"]
    except (json.JSONDecodeError, KeyError, TypeError, RecursionError) as e:
        raise ValueError(f"load: {path} has corrupt gpubp metadata: {type(e).__name__}: {e}"[:500]) from None
    if type(fmt) is not int or fmt != _FORMAT:
        newer = " (written by a newer gpubp? upgrade to read it)" if type(fmt) is int and fmt > _FORMAT else ""
        raise ValueError(
            f"load: {path} is a gpubp checkpoint of format {fmt!r}; this gpubp reads format {_FORMAT}{newer}"
        )
    return _rebuild(skeleton, tensors, device)
