"""gpubp's checkpoint format: safetensors tensors plus the rest of the object as typed JSON (or a pickle) in the
file's metadata. ``encode`` makes a file's parts from an object; ``load_gpubp`` turns them back into one.

The JSON is plain where JSON suffices (str-keyed dicts, lists, numbers, strings) and tagged where it does not: a
one-key object {"__tuple__": [...]}, {"__dict__": [[key, value], ...]} (non-str keys, as an optimizer's state has),
{"__odict__": ...}, {"__set__": ...}, {"__complex__": ...}, {"__bytes__": ...}, {"__dtype__": ...}, {"__device__": ...},
and {"__tensor__": name}; a user's own one-key dict with a dunder key is written as a tagged "__dict__", so nothing is
misread. Each tensor's device and flags (requires_grad, Parameter, Buffer) go in a table beside the skeleton.
"""

from __future__ import annotations

import base64
import collections
import io
import json
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._safe_pickle import RestrictedUnpickler
from ._torch_checkpoint import to_backend
from .backend import Device, parse_device
from .errors import InputError
from .tensor import Tensor

_META_KEY = "gpubp"
_FORMAT = 2  # 2: typed JSON (tuples, non-str keys, ...), devices and flags of tensors, pickled objects
_MAX_DEPTH = 100  # nesting of dicts/lists in a checkpoint: deeper is refused, well before Python's recursion limit
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
_GPUBP_DTYPES = set(_ST_DTYPES.values())
# JSON nodes for what JSON lacks: {"__tag__": payload}; a user's one-key dict with a dunder key is escaped
_TAGS = ("__tensor__", "__tuple__", "__dict__", "__odict__", "__set__", "__complex__", "__bytes__", "__dtype__",
         "__device__", "__pickle__")  # fmt: skip


class _NeedsPickle(Exception):
    """Raised inside the JSON walk: ``obj`` holds something only pickle can store."""


class _Names:
    """Names of the tensors in a file: the path to each (``model.0.weight``), one name per tensor object."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.keep: list[Tensor] = []  # the tensors named, so no id is reused while saving

    def add(self, t: Tensor, path: str) -> str:
        if id(t) in self.by_id:
            return self.by_id[id(t)]  # the same tensor twice: stored once
        name, k = path or "tensor", 1
        while name in self.arrays or name == "__metadata__":
            k += 1
            name = f"{path or 'tensor'}~{k}"
        self.by_id[id(t)] = name
        self.keep.append(t)
        host = np.asarray(t._be.to_numpy(t._data))  # a GPU tensor waits here: saving is I/O
        self.arrays[name] = host if host.flags.c_contiguous else host.copy(order="C")  # (ascontiguousarray: >= 1-D)
        info: dict[str, Any] = {"device": str(t.device)}
        if t.requires_grad:
            info["requires_grad"] = True
        kind = type(t).__name__
        if kind in ("Parameter", "Buffer") and type(t).__module__.startswith("gpubp."):
            info["kind"] = kind
            if kind == "Buffer" and not getattr(t, "persistent", True):
                info["persistent"] = False
        self.info[name] = info
        return name


def _key_path(prefix: str, k: Any) -> str:
    return f"{prefix}.{k}" if prefix else str(k)


def _flatten(obj: Any, prefix: str, names: _Names, depth: int = 0) -> Any:
    """The JSON skeleton of ``obj``, every Tensor replaced by {"__tensor__": name}; _NeedsPickle if JSON cannot."""
    if isinstance(obj, Tensor):
        return {"__tensor__": names.add(obj, prefix)}
    if isinstance(obj, (dict, list, tuple, set)) and depth >= _MAX_DEPTH:
        raise ValueError(
            f"save: the object nests dicts/lists deeper than {_MAX_DEPTH} levels (at '{prefix[:200]}'); "
            "a container that contains itself?"
        )
    kind = type(obj)
    if kind in (dict, collections.OrderedDict):
        keys = list(obj)
        plain = kind is dict and all(type(k) is str for k in keys)
        if plain and not (len(keys) == 1 and keys[0].startswith("__") and keys[0].endswith("__")):
            return {k: _flatten(v, _key_path(prefix, k), names, depth + 1) for k, v in obj.items()}
        pairs = [[_flatten(k, prefix, names, depth + 1), _flatten(v, _key_path(prefix, k), names, depth + 1)]
                 for k, v in obj.items()]  # fmt: skip
        return {"__odict__" if kind is collections.OrderedDict else "__dict__": pairs}
    if kind is list:
        return [_flatten(v, _key_path(prefix, i), names, depth + 1) for i, v in enumerate(obj)]
    if kind is tuple:
        return {"__tuple__": [_flatten(v, _key_path(prefix, i), names, depth + 1) for i, v in enumerate(obj)]}
    if kind is set:
        return {"__set__": [_flatten(v, prefix, names, depth + 1) for v in obj]}
    if obj is None or kind in (bool, int, float, str):
        return obj
    if kind is complex:
        return {"__complex__": [obj.real, obj.imag]}
    if kind is bytes:
        return {"__bytes__": base64.b64encode(obj).decode("ascii")}
    if isinstance(obj, np.dtype) and obj.name in _GPUBP_DTYPES:
        return {"__dtype__": obj.name}
    if kind is Device:
        return {"__device__": str(obj)}
    if isinstance(obj, (np.bool_, np.integer, np.floating)):
        return obj.item()
    raise _NeedsPickle


def _name_reachable(obj: Any, prefix: str, names: _Names, depth: int, seen: set) -> None:
    """Name the tensors reachable through plain containers by their paths (the rest are named as pickle meets them)."""
    if isinstance(obj, Tensor):
        names.add(obj, prefix)
    elif depth < _MAX_DEPTH and isinstance(obj, (dict, list, tuple)) and id(obj) not in seen:
        seen.add(id(obj))
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for k, v in items:
            _name_reachable(v, _key_path(prefix, k), names, depth + 1, seen)


def _rebuild_dtype(name: str) -> np.dtype:
    """Unpickle a gpubp dtype (pickled by name: no NumPy internals in the file)."""
    if name not in _GPUBP_DTYPES:
        raise pickle.UnpicklingError(f"load: a pickled dtype {name!r} is not one of gpubp's")
    return np.dtype(name)


def _rebuild_device(name: str) -> Device:
    """Unpickle a gpubp Device."""
    return parse_device(name)


# gpubp's own reconstructors, allowed in gpubp pickles by the dotted names pickle records for them
_PICKLE_GLOBALS = {f"{fn.__module__}.{fn.__qualname__}": fn for fn in (_rebuild_dtype, _rebuild_device)}


class _Pickler(pickle.Pickler):
    """Pickles tensors by name (their data goes into the safetensors part), dtypes and devices by name."""

    def __init__(self, file: Any, names: _Names) -> None:
        super().__init__(file, protocol=pickle.DEFAULT_PROTOCOL)
        self._names = names
        self._counter = 0

    def persistent_id(self, obj: Any) -> str | None:
        if not isinstance(obj, Tensor):
            return None
        if id(obj) not in self._names.by_id:
            self._counter += 1
            return self._names.add(obj, f"pickled.{self._counter}")
        return self._names.by_id[id(obj)]

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, np.dtype) and obj.name in _GPUBP_DTYPES:
            return _rebuild_dtype, (obj.name,)
        if type(obj) is Device:
            return _rebuild_device, (str(obj),)
        return NotImplemented


def _find_unpicklable(obj: Any, prefix: str, depth: int = 0) -> tuple[str, Any] | None:
    """The path and object of the first thing in ``obj`` that pickle cannot store (for the error message)."""
    if depth < _MAX_DEPTH and type(obj) in (dict, collections.OrderedDict, list, tuple):
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for k, v in items:
            found = _find_unpicklable(v, _key_path(prefix, k), depth + 1)
            if found:
                return found
        return None
    if isinstance(obj, Tensor):
        return None
    try:
        _Pickler(io.BytesIO(), _Names()).dump(obj)
    except Exception:
        return prefix or "<root>", obj
    return None


def encode(obj: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and the metadata of the file ``save`` writes for ``obj``; fails before anything is written."""
    names = _Names()
    info: dict[str, Any] = {"format": _FORMAT}
    try:
        info["skeleton"] = _flatten(obj, "", names)
    except _NeedsPickle:
        names = _Names()
        _name_reachable(obj, "", names, 0, set())
        buf = io.BytesIO()
        try:
            _Pickler(buf, names).dump(obj)
        except Exception as e:  # PicklingError, or the TypeError/AttributeError of an object that refuses
            where, bad = _find_unpicklable(obj, "") or ("<root>", obj)
            raise TypeError(
                f"save: cannot store a {type(bad).__name__} at '{where}': it cannot be pickled "
                f"({type(e).__name__}: {e})"[:500]
            ) from None
        info["pickle"] = base64.b64encode(buf.getvalue()).decode("ascii")
    info["tensors"] = names.info
    return names.arrays, {_META_KEY: json.dumps(info)}


def bad_file(where: str, why: Any) -> InputError:
    return InputError(
        f"load: {where} is not a valid safetensors checkpoint nor a PyTorch one (wrong, truncated or corrupt "
        f"file): {why}"[:600]
    )


def safetensors_from_bytes(data: bytes, where: str) -> tuple[dict, dict, Callable[[], dict]]:
    """(metadata, dtype codes, read the tensors) of safetensors bytes (safe_open needs a path)."""
    import safetensors.numpy as stnp

    if len(data) < 8:
        raise bad_file(where, f"{len(data)} bytes")
    (n,) = struct.unpack("<Q", data[:8])
    try:
        if n > len(data) - 8:
            raise ValueError(f"the header claims {n} bytes of {len(data) - 8}")
        header = json.loads(data[8 : 8 + n])
        meta = header.pop("__metadata__", None) or {}
        codes = {k: v["dtype"] for k, v in header.items()}
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise bad_file(where, e) from None

    def read() -> dict:
        try:
            return stnp.load(data)
        except Exception as e:  # safetensors' own SafetensorError and friends
            raise bad_file(where, e) from None

    return meta, codes, read


def safetensors_from_path(path: Path) -> tuple[dict, dict, Callable[[], dict]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            codes = {k: f.get_slice(k).get_dtype() for k in f.keys()}  # from the header: nothing read yet
    except (SafetensorError, OSError, ValueError) as e:
        raise bad_file(path, e) from None

    def read() -> dict:
        try:
            with safe_open(str(path), framework="numpy") as f:
                return {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as e:
            raise bad_file(path, e) from None

    return meta, codes, read


def _decode(node: Any, tensor: Callable[[str], Tensor], fmt: int, depth: int = 0) -> Any:
    """The object a JSON skeleton stands for."""
    if isinstance(node, dict) and len(node) == 1 and "__tensor__" in node:  # a leaf: no deeper
        return tensor(node["__tensor__"])
    if isinstance(node, (dict, list)) and depth >= _MAX_DEPTH:
        raise InputError(f"load: the checkpoint's metadata nests dicts/lists deeper than {_MAX_DEPTH} levels")
    if isinstance(node, list):
        return [_decode(v, tensor, fmt, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1 and fmt >= 2:
        ((tag, payload),) = node.items()
        if tag.startswith("__") and tag.endswith("__"):
            return _decode_tag(tag, payload, tensor, fmt, depth)
    return {k: _decode(v, tensor, fmt, depth + 1) for k, v in node.items()}


def _decode_tag(tag: str, payload: Any, tensor: Callable, fmt: int, depth: int) -> Any:
    def bad(why: Any) -> InputError:
        return InputError(f"load: the checkpoint's metadata has a bad {tag} entry: {why}"[:300])

    if tag in ("__tuple__", "__set__", "__dict__", "__odict__"):
        if not isinstance(payload, list):
            raise bad(f"expected a list, got {type(payload).__name__}")
        if tag in ("__dict__", "__odict__"):
            if not all(isinstance(p, list) and len(p) == 2 for p in payload):
                raise bad("expected [key, value] pairs")
            pairs = [(_decode(k, tensor, fmt, depth + 1), _decode(v, tensor, fmt, depth + 1)) for k, v in payload]
            try:
                return dict(pairs) if tag == "__dict__" else collections.OrderedDict(pairs)
            except TypeError as e:  # an unhashable key
                raise bad(e) from None
        items = [_decode(v, tensor, fmt, depth + 1) for v in payload]
        try:
            return tuple(items) if tag == "__tuple__" else set(items)
        except TypeError as e:
            raise bad(e) from None
    decoders = {
        "__complex__": lambda p: complex(*p),
        "__bytes__": lambda p: base64.b64decode(p, validate=True),
        "__dtype__": _rebuild_dtype,
        "__device__": parse_device,
    }
    if tag not in decoders:
        raise InputError(
            f"load: the checkpoint's metadata has an entry {tag} this gpubp does not know (a newer gpubp?)"
        )
    try:
        return decoders[tag](payload)
    except (TypeError, ValueError, pickle.UnpicklingError) as e:
        raise bad(e) from None


def load_gpubp(meta: dict, codes: dict, read: Callable, where: str, place: Callable, weights_only: bool) -> Any:
    unsupported = {k: c for k, c in codes.items() if c not in _ST_DTYPES}
    if unsupported:
        listed = ", ".join(f"'{k}' ({c})" for k, c in list(unsupported.items())[:5])
        more = f" and {len(unsupported) - 5} more" if len(unsupported) > 5 else ""
        raise TypeError(
            f"load: {where} holds tensors of dtypes gpubp does not support: {listed}{more}; supported are "
            f"{', '.join(f'{c} ({n})' for c, n in _ST_DTYPES.items())}"
        )
    info: dict = {}
    fmt = None
    if _META_KEY in meta:
        try:
            info = json.loads(meta[_META_KEY])
            fmt = info["format"]
            if type(fmt) is int and fmt in (1, 2):
                body = info["pickle"] if "pickle" in info else info["skeleton"]
                tinfo = info.get("tensors", {})
        except (json.JSONDecodeError, KeyError, TypeError, RecursionError) as e:
            raise InputError(f"load: {where} has corrupt gpubp metadata: {type(e).__name__}: {e}"[:500]) from None
        if type(fmt) is not int or fmt not in (1, 2):
            newer = " (written by a newer gpubp? upgrade to read it)" if type(fmt) is int and fmt > _FORMAT else ""
            raise InputError(
                f"load: {where} is a gpubp checkpoint of format {fmt!r}; this gpubp reads format 1 or 2{newer}"
            )
    arrays = read()
    loaded: dict[str, Tensor] = {}

    def tensor(name: Any) -> Tensor:
        if not isinstance(name, str) or name not in arrays:
            raise InputError(f"load: {where}'s metadata names a tensor {name!r} that it does not hold"[:300])
        if name not in loaded:
            loaded[name] = _make_tensor(arrays[name], tinfo.get(name) or {}, place)
        return loaded[name]

    if fmt is None:  # a plain safetensors file (from safetensors.torch, say): its tensors by name, from the CPU
        tinfo = {}
        return {k: tensor(k) for k in arrays}
    if "pickle" not in info:
        return _decode(body, tensor, fmt)
    try:
        raw = base64.b64decode(body)
    except (TypeError, ValueError) as e:
        raise InputError(f"load: {where} has corrupt gpubp metadata: {e}") from None
    if not weights_only:
        up = pickle.Unpickler(io.BytesIO(raw))
        up.persistent_load = tensor
        return up.load()
    try:
        return RestrictedUnpickler(io.BytesIO(raw), str(where), _PICKLE_GLOBALS, tensor).load()
    except (pickle.UnpicklingError, InputError):
        raise
    except Exception as e:  # a corrupt pickle: EOF, a bad memo index, a call with wrong arguments
        raise InputError(f"load: {where} has a corrupt pickled part: {type(e).__name__}: {e}"[:500]) from None


def _make_tensor(host: np.ndarray, info: dict, place: Callable) -> Tensor:
    """A tensor from a safetensors array and the device and flags ``save`` recorded for it."""
    if not host.flags.writeable:
        host = host.copy()
    location = info.get("device", "cpu")
    host, be = place(host, str(location))
    t = to_backend(host, be)
    rg = info.get("requires_grad") is True and t.dtype.kind == "f"
    kind = info.get("kind")
    if kind in ("Parameter", "Buffer"):
        from .nn import parameter

        if kind == "Parameter":
            return parameter.Parameter(t, requires_grad=rg)
        t = parameter.Buffer(t, persistent=info.get("persistent", True) is not False)
    if rg:
        t.requires_grad = True
    return t
