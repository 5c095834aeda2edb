"""The CuPy stand-in's ``ndarray``: a NumPy array tagged with its device, with CuPy's rules (no implicit host
conversion, the current device checked, synchronizing calls flagged), and NumPy's functions called under those rules."""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .devices import Device, MemoryPointer, Stream, _check_device, _pool, _sync, _tls, get_current_stream, launch_counts


# ---- arrays ---------------------------------------------------------------------------------------------
def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _poison(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "fc":
        a.fill(np.nan)
    elif a.size:
        a.reshape(-1).view(np.uint8).fill(0xA5)  # reshape first: a 0-d array cannot change its itemsize
    return a


class ndarray:  # noqa: N801 - CuPy's name
    """An array in (emulated) device memory: a NumPy array tagged with its device."""

    __slots__ = ("_a", "_dev", "_alloc", "__weakref__")
    __array_priority__ = 100.0
    __array_ufunc__ = None  # NumPy ufuncs refuse device arrays, as with CuPy

    def __init__(self, shape: Any, dtype: Any = float, memptr: Any = None, strides: Any = None, order: str = "C"):
        self._a = _poison(np.empty(shape, dtype=dtype, order=order))
        self._dev = _tls.device
        self._new_allocation()

    @classmethod
    def _wrap(cls, a: np.ndarray, dev: int, fresh: bool) -> ndarray:
        out = object.__new__(cls)
        out._a = a
        out._dev = dev
        out._alloc = None
        if fresh:
            out._new_allocation()
        return out

    def _new_allocation(self) -> None:
        stream = get_current_stream(self._dev)
        stream._seq += 1
        self._alloc = (stream, stream._seq)
        _pool._register(_root(self._a), self._dev)

    # -- host conversion: explicit only, and it synchronizes
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array "
            "explicitly."
        )

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return NotImplemented  # np.concatenate([device array]) and friends: TypeError

    def get(self, stream: Stream | None = None, order: str = "C", out: np.ndarray | None = None) -> np.ndarray:
        _sync("ndarray.get() (device-to-host copy)")
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr: np.ndarray, stream: Stream | None = None) -> None:
        """Copy host ``arr`` into this array on ``stream`` (the current one by default)."""
        if not isinstance(arr, np.ndarray) or arr.shape != self._a.shape or arr.dtype != self._a.dtype:
            raise ValueError(f"set: expected a numpy array of shape {self.shape} and dtype {self.dtype}")
        stream = stream or get_current_stream(self._dev)
        if self._alloc is not None:
            alloc_stream, alloc_seq = self._alloc
            if stream is not alloc_stream and stream._waited.get(alloc_stream, -1) < alloc_seq:
                raise RuntimeError(
                    "set: a copy on one stream writes memory allocated on another stream without waiting for that "
                    "stream's pending work (record an event on it after the allocation and wait for that event on "
                    "the copy stream): on a GPU the copy races with kernels still reading the memory's old contents"
                )
        stream._seq += 1
        self._a[...] = arr

    def item(self, *args: Any) -> Any:
        _sync("ndarray.item()")
        return self._a.item(*args)

    def tolist(self) -> Any:
        _sync("ndarray.tolist()")
        return self._a.tolist()

    def _scalar(self, conv: Callable, what: str) -> Any:
        _sync(f"{what} of a device array")
        return conv(self._a)

    def __bool__(self) -> bool:
        return self._scalar(bool, "bool()")

    def __float__(self) -> float:
        return self._scalar(float, "float()")

    def __int__(self) -> int:
        return self._scalar(int, "int()")

    def __complex__(self) -> complex:
        return self._scalar(complex, "complex()")

    def __repr__(self) -> str:
        _sync("repr()")
        return repr(self._a).replace("array(", "array(", 1)

    def __str__(self) -> str:
        _sync("str()")
        return str(self._a)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Iterator[ndarray]:
        return (self[i] for i in range(len(self._a)))

    # -- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    device = property(lambda self: Device(self._dev))
    data = property(lambda self: MemoryPointer(self._a.ctypes.data, self._dev))
    T = property(lambda self: ndarray._wrap(self._a.T, self._dev, False))
    mT = property(lambda self: ndarray._wrap(np.swapaxes(self._a, -1, -2), self._dev, False))

    @property
    def base(self) -> ndarray | None:
        return None if self._a.base is None else ndarray._wrap(_root(self._a), self._dev, False)

    @property
    def __cuda_array_interface__(self) -> dict:
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self._a.ctypes.data, False),
            "strides": None if self._a.flags.c_contiguous else self.strides,
            "version": 3,
        }

    def __dlpack_device__(self) -> tuple[int, int]:
        return (2, self._dev)  # kDLCUDA

    def __dlpack__(self, stream: Any = None, **kwargs: Any) -> _Capsule:
        return _Capsule(self)

    # -- views: no kernel, no device check
    def reshape(self, *shape: Any, order: str = "C") -> ndarray:
        return ndarray._wrap(self._a.reshape(*shape, order=order), self._dev, False)

    def view(self, *args: Any, **kwargs: Any) -> ndarray:
        return ndarray._wrap(self._a.view(*args, **kwargs), self._dev, False)

    def transpose(self, *axes: Any) -> ndarray:
        return ndarray._wrap(self._a.transpose(*axes), self._dev, False)

    def swapaxes(self, a: int, b: int) -> ndarray:
        return ndarray._wrap(self._a.swapaxes(a, b), self._dev, False)

    def squeeze(self, axis: Any = None) -> ndarray:
        return ndarray._wrap(self._a.squeeze(axis), self._dev, False)

    # -- indexing
    def _key(self, key: Any, what: str) -> Any:
        if isinstance(key, tuple):
            return tuple(self._key(k, what) for k in key)
        if isinstance(key, ndarray):
            _check_device(key)
            if key.dtype == np.bool_:
                _sync(f"{what} with a boolean mask")
            return key._a
        if isinstance(key, (list, np.ndarray)) and np.asarray(key).dtype == np.bool_:
            _sync(f"{what} with a boolean mask")
        return key

    def __getitem__(self, key: Any) -> ndarray:
        k = self._key(key, "indexing")
        out = self._a[k]
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)  # a 0-d array, as CuPy returns
        fresh = out.base is None or _root(out) is not _root(self._a)
        if fresh:
            _check_device(self)
        return ndarray._wrap(out, self._dev, fresh)

    def __setitem__(self, key: Any, value: Any) -> None:
        _check_device(self)
        self._a[self._key(key, "index assignment")] = _unwrap(value)

    # -- everything else: NumPy's method, with CuPy's device rules
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # NumPy's protocols (__array_interface__...) would hand host memory out
            raise AttributeError(name)
        attr = getattr(self._a, name)  # AttributeError for names NumPy lacks too
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def method(*args: Any, **kwargs: Any) -> Any:
            _check_device(self)
            return _call(attr, args, kwargs, {id(self._a): self})

        return method

    def __reduce__(self) -> Any:
        raise TypeError("emulated device arrays cannot be pickled; call .get() first")


def _binary(name: str) -> Callable:
    def op(self: ndarray, other: Any) -> Any:
        if isinstance(other, np.ndarray) and other.ndim:
            raise TypeError(f"Unsupported type {type(other)}")
        if not isinstance(other, (ndarray, np.ndarray, np.generic, int, float, complex, bool)):
            return NotImplemented
        _check_device(self)
        fn = getattr(self._a, name)
        return _call(fn, (other,), {}, {id(self._a): self})

    op.__name__ = name
    return op


for _name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lshift", "rshift",
):  # fmt: skip
    for _form in ("__{}__", "__r{}__", "__i{}__"):
        setattr(ndarray, _form.format(_name), _binary(_form.format(_name)))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", lambda self, _n=_name: _call(getattr(self._a, f"__{_n}__"), (), {}, {}))
ndarray.__hash__ = None  # type: ignore[assignment]


class _Capsule:
    """What ``__dlpack__`` of an emulated array hands out: only this stand-in's ``from_dlpack`` can read it."""

    def __init__(self, array: ndarray) -> None:
        self.array = array


# ---- calling NumPy with CuPy's rules ---------------------------------------------------------------------
def _unwrap(x: Any) -> Any:
    if isinstance(x, ndarray):
        _check_device(x)
        return x._a
    if isinstance(x, (list, tuple)) and any(isinstance(v, ndarray) for v in x):
        return type(x)(_unwrap(v) for v in x)
    return x


def _wrap_result(r: Any, inputs: dict[int, ndarray]) -> Any:
    if isinstance(r, np.ndarray):
        same = inputs.get(id(r))
        if same is not None:
            return same  # NumPy gave the input back (asarray, astype(copy=False)...): so does CuPy
        roots = {id(_root(w._a)) for w in inputs.values()}
        return ndarray._wrap(r, _tls.device, id(_root(r)) not in roots)
    if isinstance(r, np.generic):
        return ndarray._wrap(np.asarray(r), _tls.device, True)  # CuPy reductions return 0-d device arrays
    if isinstance(r, tuple):
        return tuple(_wrap_result(v, inputs) for v in r)
    if isinstance(r, list):
        return [_wrap_result(v, inputs) for v in r]
    return r


def _call(fn: Callable, args: Sequence, kwargs: dict, inputs: dict[int, ndarray]) -> Any:
    for x in list(args) + list(kwargs.values()):
        if isinstance(x, ndarray):
            inputs[id(x._a)] = x
        elif isinstance(x, (list, tuple)):
            inputs.update((id(v._a), v) for v in x if isinstance(v, ndarray))
    get_current_stream()._seq += 1
    result = _wrap_result(fn(*[_unwrap(a) for a in args], **{k: _unwrap(v) for k, v in kwargs.items()}), inputs)
    outs = result if isinstance(result, (tuple, list)) else (result,)
    name = getattr(fn, "__name__", "?")
    fresh = any(isinstance(r, ndarray) and r._alloc is not None and inputs.get(id(r._a)) is not r for r in outs)
    if fresh or "out" in kwargs or name.startswith("__i"):
        launch_counts[f"cupy.{name}"] += 1  # CuPy would launch a kernel here (a no-op view or cast launches none)
    return result


_SYNCING = {"nonzero", "flatnonzero", "argwhere", "bincount", "unique", "compress", "extract"}


def _function(name: str, fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if name in _SYNCING:
            _sync(f"cupy.{name}")
        for x in list(args) + list(kwargs.values()):
            if isinstance(x, np.ndarray) and not isinstance(x, np.generic) and x.ndim:
                raise TypeError(f"cupy.{name}: Unsupported type {type(x)} (a host array; move it with cupy.asarray)")
        return _call(fn, args, kwargs, {})

    return wrapper


class _Ufunc:
    """A NumPy ufunc with CuPy's device rules, methods (``at``, ``reduce``...) included."""

    def __init__(self, name: str, uf: np.ufunc) -> None:
        self._call = _function(name, uf)
        self._uf = uf
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return _function(f"{self.__name__}.{name}", getattr(self._uf, name))


# ---- creation and transfer ---------------------------------------------------------------------------------
def _fresh(a: np.ndarray) -> ndarray:
    return ndarray._wrap(a, _tls.device, True)


def empty(shape: Any, dtype: Any = float, order: str = "C") -> ndarray:
    return _fresh(_poison(np.empty(shape, dtype=dtype, order=order)))


def empty_like(a: Any, dtype: Any = None, order: str = "K", shape: Any = None) -> ndarray:
    like = a._a if isinstance(a, ndarray) else a
    return _fresh(_poison(np.empty_like(like, dtype=dtype, order=order, shape=shape)))


def asarray(obj: Any, dtype: Any = None, order: Any = None) -> ndarray:
    if isinstance(obj, ndarray):
        if dtype is None or np.dtype(dtype) == obj.dtype:
            return obj
        _check_device(obj)
        return _fresh(obj._a.astype(dtype))
    if hasattr(obj, "__cuda_array_interface__"):
        raise TypeError(f"asarray: cannot read device memory of a {type(obj).__name__} in the emulator")
    get_current_stream()._seq += 1
    return _fresh(np.array(obj, dtype=dtype, order=order or "K", copy=True))  # host-to-device copy


def array(obj: Any, dtype: Any = None, copy: bool | None = True, order: str = "K", ndmin: int = 0) -> ndarray:
    if isinstance(obj, ndarray):
        if not copy and obj._dev == _tls.device and (dtype is None or np.dtype(dtype) == obj.dtype):
            return obj
        if copy is False:
            raise ValueError("array: a copy is needed (other device or dtype) but copy=False")
        src = obj._a  # a copy from another device is a peer copy, allowed
        return _fresh(np.array(src, dtype=dtype, order=order, copy=True, ndmin=ndmin))
    return asarray(np.array(obj, dtype=dtype, order=order, ndmin=ndmin))


def ascontiguousarray(a: Any, dtype: Any = None) -> ndarray:
    if not isinstance(a, ndarray):
        return asarray(np.ascontiguousarray(a, dtype=dtype))
    _check_device(a)
    out = np.ascontiguousarray(a._a, dtype=dtype)
    return a if out is a._a else _fresh(out)


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)


def from_dlpack(obj: Any) -> ndarray:
    kind, dev = obj.__dlpack_device__()
    if kind != 2:
        raise TypeError(f"from_dlpack: the emulator takes emulated device arrays only (DLPack device type {kind})")
    capsule = obj.__dlpack__()
    if not isinstance(capsule, _Capsule):
        raise TypeError("from_dlpack: not an emulated device array (real CUDA memory cannot be read here)")
    return capsule.array


def get_array_module(*args: Any) -> Any:
    import sys

    return sys.modules["gpubp.backend.emulation.cupy_standin"] if any(isinstance(a, ndarray) for a in args) else np


lib = types.SimpleNamespace(
    stride_tricks=types.SimpleNamespace(
        as_strided=lambda x, shape=None, strides=None: ndarray._wrap(
            np.lib.stride_tricks.as_strided(x._a, shape, strides), x._dev, False
        )
    )
)
