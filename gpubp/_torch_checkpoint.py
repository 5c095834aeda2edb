"""Reading PyTorch's own checkpoints (``torch.save``'s zip format, the default since PyTorch 1.6) without PyTorch.

The zip holds ``<name>/data.pkl``, a pickle of the saved object in which every tensor is a call of
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``, and one record
``<name>/data/<key>`` of raw little-endian bytes per storage, which the pickle names by a persistent id
``('storage', torch.FloatStorage, key, location, numel)``. Here the names ``torch.*`` a checkpoint uses map onto
gpubp stand-ins, so the same pickle rebuilds gpubp tensors: each a strided view of its storage (``as_strided``, after a
bounds check), copied unless it is the whole storage. Storages shared by several tensors are read once.

Tensors of dtypes gpubp lacks (bfloat16, complex, float8, uint16-64, quantized) are refused, naming each one and its
dtype, rather than converted behind the user's back: convert them in PyTorch first (``{k: v.float() ...}``).
"""

from __future__ import annotations

import collections
import io
import pickle
import warnings
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from ._safe_pickle import RestrictedUnpickler
from .backend import Device, parse_device
from .errors import InputError
from .tensor import Tensor

# The storage classes and dtypes a checkpoint names, by PyTorch's names: NumPy's dtype where gpubp has one
_STORAGE_DTYPES = {
    "Double": "float64", "Float": "float32", "Half": "float16", "Long": "int64", "Int": "int32", "Short": "int16",
    "Char": "int8", "Byte": "uint8", "Bool": "bool", "BFloat16": None, "ComplexDouble": None, "ComplexFloat": None,
    "QInt8": None, "QInt32": None, "QUInt8": None, "QUInt4x2": None, "QUInt2x4": None,
}  # fmt: skip
_TORCH_NAMES = {"ComplexDouble": "complex128", "ComplexFloat": "complex64"}  # the others: the name, lower-cased
_TORCH_DTYPES = {
    "float64": "float64", "float32": "float32", "float16": "float16", "int64": "int64", "int32": "int32",
    "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
}  # fmt: skip
_UNSUPPORTED_DTYPES = [
    "bfloat16", "complex32", "complex64", "complex128", "uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2",
    "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2", "qint8", "qint32", "quint8",
    "quint4x2", "quint2x4", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
]  # fmt: skip


class TorchDtype:
    """A PyTorch dtype gpubp does not have, as a checkpoint may name it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name} (no gpubp dtype)"


class _StorageType:
    """``torch.FloatStorage`` & co. in a persistent id: which dtype the storage's bytes hold."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: np.dtype | TorchDtype) -> None:
        self.name = name
        self.dtype = dtype


class _Storage:
    """One storage of the file: its elements on the host and the backend its tensors go to."""

    __slots__ = ("key", "host", "be", "dtype")

    def __init__(self, key: str, host: np.ndarray | None, be: Any, dtype: np.dtype | TorchDtype) -> None:
        self.key, self.host, self.be, self.dtype = key, host, be, dtype


class Unsupported:
    """A tensor of a dtype gpubp lacks: a placeholder, so the error can name where in the checkpoint it sits."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype: str, shape: tuple) -> None:
        self.dtype, self.shape = dtype, shape


class _Marker:
    """``torch.Tensor`` / ``torch.nn.Parameter`` as the *type* argument of ``_rebuild_from_type_v2``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_TENSOR, _PARAMETER = _Marker("torch.Tensor"), _Marker("torch.nn.parameter.Parameter")


def to_backend(host: np.ndarray, be: Any) -> Tensor:
    """A Tensor on backend ``be`` with the values of the host array (0-d arrays travel as 1-element ones: the
    CUDA stand-in cannot poison a 0-d integer allocation)."""
    with be.enter():
        data = be.from_host(host.reshape(1)).reshape(()) if host.ndim == 0 else be.from_host(host)
    return Tensor._wrap(data, be)


def _ints(where: str, what: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(type(v) is int for v in value):
        raise InputError(f"load: {where} is corrupt: a tensor's {what} is {value!r}, expected a tuple of ints"[:300])
    return tuple(value)


class _Reader:
    """Rebuilds one checkpoint's tensors from its zip records."""

    def __init__(self, zf: zipfile.ZipFile, prefix: str, where: str, place: Callable, big_endian: bool) -> None:
        self.zf, self.prefix, self.where, self.place, self.big = zf, prefix, where, place, big_endian
        self.raw: dict[str, np.ndarray] = {}
        self.storages: dict[tuple, _Storage] = {}
        self.unsupported = 0

    def bytes_of(self, key: str) -> np.ndarray:
        if key not in self.raw:
            name = f"{self.prefix}data/{key}"
            try:
                info = self.zf.getinfo(name)
            except KeyError:
                raise InputError(f"load: {self.where} is corrupt: it has no record {name} for a storage") from None
            buf = np.empty(info.file_size, np.uint8)  # read into our own buffer: writable, no second copy
            with self.zf.open(info) as f:
                got = f.readinto(memoryview(buf))
            if got != info.file_size:
                raise InputError(f"load: {self.where} is corrupt: record {name} is truncated")
            self.raw[key] = buf
        return self.raw[key]

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] in ("storage", b"storage")):
            raise pickle.UnpicklingError(
                f"load: {self.where} names a persistent object {pid!r} that is no storage"[:300]
            )
        _, stype, key, location, _numel = pid
        if not isinstance(stype, _StorageType) or not isinstance(key, str) or not isinstance(location, str):
            raise InputError(f"load: {self.where} is corrupt: bad storage id {pid!r}"[:300])
        cache = (key, stype.name)
        if cache in self.storages:
            return self.storages[cache]
        dtype = stype.dtype
        if isinstance(dtype, TorchDtype):
            storage = _Storage(key, None, None, dtype)
        else:
            raw = self.bytes_of(key)
            if raw.size % dtype.itemsize:
                raise InputError(
                    f"load: {self.where} is corrupt: storage {key} has {raw.size} bytes, not whole {dtype}"
                )
            host = (
                raw.view(dtype.newbyteorder(">")).astype(dtype) if self.big and dtype.itemsize > 1 else raw.view(dtype)
            )
            host, be = self.place(host, location)
            storage = _Storage(key, host, be, dtype)
        self.storages[cache] = storage
        return storage

    def tensor(self, storage: Any, offset: Any, size: Any, stride: Any, dtype: Any = None) -> Tensor | Unsupported:
        """The tensor ``size``/``stride`` elements from ``offset`` of ``storage`` (``dtype`` reinterprets bytes)."""
        if not isinstance(storage, _Storage) or type(offset) is not int:
            raise InputError(f"load: {self.where} is corrupt: a tensor is built from {type(storage).__name__}")
        size, stride = _ints(self.where, "size", size), _ints(self.where, "stride", stride)
        dtype = storage.dtype if dtype is None else dtype
        if isinstance(dtype, TorchDtype) or storage.host is None:
            self.unsupported += 1
            return Unsupported(getattr(dtype, "name", str(dtype)), size)
        host = storage.host if dtype == storage.host.dtype else storage.host.view(np.uint8).view(dtype)
        if len(size) != len(stride) or offset < 0 or min(size + stride, default=0) < 0:
            raise InputError(f"load: {self.where} is corrupt: tensor size {size}, stride {stride}, offset {offset}")
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if 0 not in size and last >= host.size:
            raise InputError(
                f"load: {self.where} is corrupt: a tensor of size {size}, stride {stride} from offset {offset} "
                f"reads past its storage {storage.key} of {host.size} elements"
            )
        if 0 in size:
            arr = np.empty(size, host.dtype)
        else:
            isz = host.itemsize
            view = np.lib.stride_tricks.as_strided(host[offset:], size, tuple(s * isz for s in stride), writeable=False)
            whole = offset == 0 and view.size == host.size and view.flags.c_contiguous
            arr = host.reshape(size) if whole else np.ascontiguousarray(view)  # the whole storage: shared, as torch
        return to_backend(arr, storage.be)

    # ---- the functions a checkpoint calls, by PyTorch's names ----------------------------------------------------
    def rebuild_v2(self, storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any, hooks: Any,
                   metadata: Any = None) -> Any:  # fmt: skip
        t = self.tensor(storage, offset, size, stride)
        if isinstance(t, Tensor) and requires_grad is True and t.dtype.kind == "f":
            t.requires_grad = True
        return t

    def rebuild_v3(self, storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any, hooks: Any,
                   dtype: Any, metadata: Any = None) -> Any:  # fmt: skip
        if not isinstance(dtype, (np.dtype, TorchDtype)):
            raise InputError(f"load: {self.where} is corrupt: a tensor's dtype is {dtype!r}"[:300])
        t = self.tensor(storage, offset, size, stride, dtype)
        if isinstance(t, Tensor) and requires_grad is True and t.dtype.kind == "f":
            t.requires_grad = True
        return t

    def rebuild_v1(self, storage: Any, offset: Any, size: Any, stride: Any) -> Any:
        return self.tensor(storage, offset, size, stride)

    def rebuild_parameter(self, data: Any, requires_grad: Any, hooks: Any, state: Any = None) -> Any:
        from .nn.parameter import Parameter

        if isinstance(data, Unsupported):
            return data
        if not isinstance(data, Tensor):
            raise InputError(f"load: {self.where} is corrupt: a Parameter of {type(data).__name__}")
        if state:
            warnings.warn(f"load: {self.where}: Python attributes of a Parameter are dropped", stacklevel=4)
        return Parameter(data, requires_grad=requires_grad is True and data.dtype.kind == "f")

    def rebuild_from_type(self, func: Any, new_type: Any, args: Any, state: Any) -> Any:
        if func not in (self.rebuild_v1, self.rebuild_v2, self.rebuild_v3, self.rebuild_parameter):
            raise pickle.UnpicklingError(f"load: {self.where} rebuilds a tensor with {func!r}, which is not allowed")
        if new_type not in (_TENSOR, _PARAMETER):
            raise pickle.UnpicklingError(f"load: {self.where} holds a tensor subclass, which gpubp cannot load")
        out = func(*args)
        if new_type is _PARAMETER and isinstance(out, Tensor):
            out = self.rebuild_parameter(out, out.requires_grad, None)
        if state:
            warnings.warn(f"load: {self.where}: Python attributes of a tensor are dropped", stacklevel=4)
        return out

    def globals(self) -> dict[str, Any]:
        """PyTorch's names, as a checkpoint asks for them, mapped onto gpubp's stand-ins."""
        out: dict[str, Any] = {
            "torch._utils._rebuild_tensor_v2": self.rebuild_v2,
            "torch._utils._rebuild_tensor_v3": self.rebuild_v3,
            "torch._utils._rebuild_tensor": self.rebuild_v1,
            "torch._utils._rebuild_parameter": self.rebuild_parameter,
            "torch._utils._rebuild_parameter_with_state": self.rebuild_parameter,
            "torch._tensor._rebuild_from_type_v2": self.rebuild_from_type,
            "torch.Tensor": _TENSOR,
            "torch.nn.parameter.Parameter": _PARAMETER,
            "torch.Size": _size,
            "torch.device": _device,
            "torch.storage.UntypedStorage": _StorageType("UntypedStorage", np.dtype(np.uint8)),
        }
        for name, np_name in _STORAGE_DTYPES.items():
            dt = np.dtype(np_name) if np_name else TorchDtype(_TORCH_NAMES.get(name, name.lower()))
            for module in ("torch", "torch.cuda"):
                out[f"{module}.{name}Storage"] = _StorageType(f"{name}Storage", dt)
        for name, np_name in _TORCH_DTYPES.items():
            out[f"torch.{name}"] = np.dtype(np_name)
        for name in _UNSUPPORTED_DTYPES:
            out[f"torch.{name}"] = TorchDtype(name)
        return out


def _size(dims: Any = ()) -> tuple:
    """``torch.Size``: a tuple."""
    return tuple(dims)


def _device(kind: Any, index: Any = None) -> Device | str:
    """``torch.device``: gpubp's Device, or the name itself for a kind gpubp has not ('mps', 'meta')."""
    name = kind if index is None else f"{kind}:{index}"
    try:
        return parse_device(str(name))
    except Exception:  # a device kind gpubp does not have
        return str(name)


def find_unsupported(
    obj: Any, path: str = "", depth: int = 0, seen: set | None = None
) -> list[tuple[str, Unsupported]]:
    """Where the placeholders of unsupported tensors sit in a loaded object (dicts, lists, tuples, sets)."""
    seen = set() if seen is None else seen
    if isinstance(obj, Unsupported):
        return [(path or "<root>", obj)]
    if depth > 200 or id(obj) in seen:
        return []
    if isinstance(obj, dict):
        seen.add(id(obj))
        return [
            f for k, v in obj.items() for f in find_unsupported(v, f"{path}.{k}" if path else str(k), depth + 1, seen)
        ]
    if isinstance(obj, (list, tuple)):
        seen.add(id(obj))
        return [
            f
            for i, v in enumerate(obj)
            for f in find_unsupported(v, f"{path}.{i}" if path else str(i), depth + 1, seen)
        ]
    return []


def unsupported_error(where: str, found: list[tuple[str, Unsupported]], count: int) -> TypeError:
    """The error naming the tensors of dtypes gpubp lacks, and how to convert them."""
    listed = ", ".join(f"'{p}' ({u.dtype}, shape {list(u.shape)})" for p, u in found[:5])
    more = f" and {count - min(len(found), 5)} more" if count > min(len(found), 5) else ""
    return TypeError(
        f"load: {where} holds tensors of dtypes gpubp does not support: {listed or f'{count} tensors'}{more}; gpubp "
        "has float16/32/64, int8-64, uint8 and bool: convert them in PyTorch first, e.g. "
        "torch.save({k: v.float() for k, v in sd.items()}, path)"
    )


def is_torchscript(zf: zipfile.ZipFile) -> bool:
    """A TorchScript archive (torch.jit.save): code and constants, which gpubp cannot run."""
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in zf.namelist())


def load_zip(zf: zipfile.ZipFile, where: str, place: Callable, weights_only: bool) -> Any:
    """The object a ``torch.save`` zip holds, its tensors as gpubp tensors placed by ``place(host, location)``."""
    pkls = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
    if is_torchscript(zf):
        raise InputError(
            f"load: {where} is a TorchScript archive (torch.jit.save): gpubp cannot run TorchScript code; save "
            "the model's state_dict() with torch.save instead"
        )
    if len(pkls) != 1:
        raise InputError(f"load: {where} is a zip file but not a PyTorch checkpoint (it has no <name>/data.pkl)")
    prefix = pkls[0][: -len("data.pkl")]
    order = b"little"
    if f"{prefix}byteorder" in zf.namelist():
        order = zf.read(f"{prefix}byteorder").strip()
    if order not in (b"little", b"big"):
        raise InputError(f"load: {where} is corrupt: its byteorder record says {order[:20]!r}")
    reader = _Reader(zf, prefix, where, place, order == b"big")
    data = io.BytesIO(zf.read(pkls[0]))
    if weights_only:
        obj = RestrictedUnpickler(data, where, reader.globals(), reader.persistent_load).load()
    else:
        obj = _FullUnpickler(data, reader).load()
    if reader.unsupported:
        raise unsupported_error(where, find_unsupported(obj), reader.unsupported)
    return obj


class _FullUnpickler(pickle.Unpickler):
    """weights_only=False: PyTorch's names map onto gpubp's stand-ins; any other global is imported and may run."""

    def __init__(self, file: Any, reader: _Reader) -> None:
        super().__init__(file)
        self._reader = reader
        self._globals = {**reader.globals(), "collections.OrderedDict": collections.OrderedDict}

    def persistent_load(self, pid: Any) -> Any:
        return self._reader.persistent_load(pid)

    def find_class(self, module: str, name: str) -> Any:
        full = f"{module}.{name}"
        if full in self._globals:
            return self._globals[full]
        return super().find_class(module, name)
