"""Checkpoints in the safetensors format: ``gpubp.save(obj, path)`` and ``gpubp.load(path)``.

Tensors go into the file as safetensors tensors; everything else in ``obj`` (nested dicts and
lists, numbers, strings: an optimizer's hyperparameters, an epoch counter) goes into the file's
metadata as JSON. A flat state dict is stored under its own names, so PyTorch's safetensors
reader loads the weights. Writing is atomic (temporary file, then rename); loading never
executes code, and a wrong, truncated or corrupt file raises ValueError without side effects.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .tensor import Tensor

_META_KEY = "gpubp"
_FORMAT = 1


def _flatten(obj: Any, prefix: str, tensors: dict[str, np.ndarray]) -> Any:
    """The JSON skeleton of ``obj`` with every Tensor replaced by {"__tensor__": name}."""
    if isinstance(obj, Tensor):
        name = prefix or "tensor"
        if name in tensors:
            raise ValueError(f"save: two tensors would be stored under the name '{name}'")
        tensors[name] = np.ascontiguousarray(obj.cpu().numpy())
        return {"__tensor__": name}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__} at '{prefix}'")
            out[str(k)] = _flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors)
        return out
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, f"{prefix}.{i}" if prefix else str(i), tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(
        f"save: cannot store a {type(obj).__name__} at '{prefix}' (tensors, dicts, lists, numbers, strings)"
    )


def save(obj: Any, path: str | Path) -> None:
    """Write ``obj`` (a state dict, or nested dicts/lists of tensors and plain values) to ``path``."""
    from safetensors.numpy import save_file

    tensors: dict[str, np.ndarray] = {}
    skeleton = _flatten(obj, "", tensors)  # fails before anything touches the disk
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={_META_KEY: json.dumps({"format": _FORMAT, "skeleton": skeleton})})
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half of one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rebuild(node: Any, tensors: dict[str, np.ndarray], device: Any) -> Any:
    if isinstance(node, dict):
        if set(node) == {"__tensor__"}:
            name = node["__tensor__"]
            if name not in tensors:
                raise ValueError(f"load: the checkpoint's metadata names a tensor '{name}' that it does not hold")
            return Tensor(tensors[name], device=device)
        return {k: _rebuild(v, tensors, device) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebuild(v, tensors, device) for v in node]
    return node


def load(path: str | Path, device: Any = None) -> Any:
    """Read a checkpoint written by ``save`` (or any safetensors file: a dict name -> Tensor)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(
            f"load: {path} is not a valid safetensors checkpoint (wrong, truncated or corrupt file): {e}"
        ) from None
    if _META_KEY not in meta:
        return {k: Tensor(v, device=device) for k, v in tensors.items()}
    try:
        info = json.loads(meta[_META_KEY])
        skeleton = info["skeleton"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"load: {path} has corrupt gpubp metadata: {e}") from None
    return _rebuild(skeleton, tensors, device)
