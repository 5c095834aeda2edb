"""Tensor: one backend array plus what autograd needs (requires_grad, grad, node, version).

Operators and most methods are the functions of ``gpubp.ops``, attached at the bottom of
this file, so every op is written once and reachable both as ``gpubp.exp(x)`` and ``x.exp()``.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import autograd, dtypes
from .backend import Backend, Device, get_backend
from .errors import InputError, InputTypeError

_SYNC_MODES = {"default": 0, "warn": 1, "error": 2}
_sync_mode = {"mode": "default"}


def set_sync_debug_mode(debug_mode: str | int) -> None:
    """PyTorch's ``torch.cuda.set_sync_debug_mode``: ``"default"`` (0) allows host reads of tensor data, ``"warn"`` (1)
    warns and ``"error"`` (2) raises at each one (item, numpy, tolist, float, int, bool, repr), to prove a code path
    never waits for the GPU. Under the emulated CUDA device it also covers every call that synchronizes on CuPy."""
    names = {v: k for k, v in _SYNC_MODES.items()}
    mode = names.get(debug_mode, debug_mode) if isinstance(debug_mode, int) else debug_mode
    if mode not in _SYNC_MODES:
        raise ValueError(f"set_sync_debug_mode: expected 'default', 'warn' or 'error' (or 0, 1, 2), got {debug_mode!r}")
    _sync_mode["mode"] = mode
    from .backend import emulated

    if emulated():
        from .backend.emulation import cupy_standin

        cupy_standin.set_sync_debug_mode(mode)


def get_sync_debug_mode() -> int:
    """The current sync debug mode as PyTorch numbers it: 0 default, 1 warn, 2 error."""
    return _SYNC_MODES[_sync_mode["mode"]]


def _host_read(t: Tensor, what: str) -> None:
    mode = _sync_mode["mode"]
    if mode == "default":
        return
    msg = f"{what}: reads tensor data on the host (a GPU synchronization) while sync debug mode is '{mode}'"
    if mode == "error":
        raise RuntimeError(msg)
    warnings.warn(msg, stacklevel=3)


def backend_for(device: Any, op: str) -> Backend:
    """``get_backend(device)``, its errors naming ``op``; an unknown device or GPU index is PyTorch's RuntimeError."""
    try:
        return get_backend(device)
    except ValueError as e:
        raise InputError(f"{op}: {e}") from None
    except (RuntimeError, NotImplementedError) as e:
        raise _retyped(e, f"{op}: {e}") from None


def _retyped(e: Exception, message: str) -> Exception:
    """``e``'s own type (CudaUnavailableError, NotImplementedError, ...) with ``message``; RuntimeError if that
    type cannot be built from a message alone."""
    try:
        return type(e)(message)
    except TypeError:
        return RuntimeError(message)


class Tensor:
    """An n-dimensional array on one device that can record operations for autograd."""

    # _base: the tensor whose memory this one is a view of (None when it owns its memory), as PyTorch's ``_base``
    __slots__ = ("_data", "_be", "_requires_grad", "_grad", "_node", "_vc", "_base", "_hooks", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(
        self, data: Any, dtype: Any = None, device: str | Device | None = None, requires_grad: bool = False
    ) -> None:
        if device is None and isinstance(data, Tensor):
            device = data.device
        be = backend_for(device, "tensor")
        with be.enter():
            self._data = _convert.to_array(data, None if dtype is None else dtypes.to_dtype(dtype), be, "tensor")
        self._be = be
        self._requires_grad = False
        self._grad = None
        self._node = None
        self._vc = [0]
        self._base = None
        self._hooks = None
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _wrap(data: Any, be: Backend, vc: list | None = None) -> Tensor:
        """Wrap an array without copying or checking (the fast path every op uses). A NumPy scalar (what NumPy's
        ufuncs return for 0-d input) becomes a 0-d array, so in-place writes to the tensor work."""
        t = object.__new__(Tensor)
        t._data = np.asarray(data) if isinstance(data, np.generic) else data
        t._be = be
        t._requires_grad = False
        t._grad = None
        t._node = None
        t._vc = [0] if vc is None else vc
        t._base = None
        t._hooks = None
        return t

    # ---- attributes ------------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """The same values as a tensor cut from the graph, as PyTorch's ``.data``: it shares memory, never requires
        grad, and has a version counter of its own, so in-place changes through it (``p.data.add_(u)``) are not
        seen by autograd. Prefer ``detach()`` or ``no_grad()``, which autograd does check."""
        return Tensor._wrap(self._data, self._be)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        if value._be is not self._be:
            raise InputError(f"data: cannot assign a tensor on {value.device} to the data of a tensor on {self.device}")
        if self._requires_grad and value._data.dtype.kind != "f":
            raise InputTypeError(
                f"data: a tensor that requires grad needs floating-point data, got dtype {value.dtype}"
            )
        self._data = value._data  # the new values replace the old, in shape and dtype, as PyTorch's ``p.data = t``

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def device(self) -> Device:
        return self._be.device

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the length of one dimension."""
        if dim is None:
            return self.shape
        if self.ndim == 0 and isinstance(dim, int):
            raise IndexError(f"size: dimension specified as {dim} but the tensor has no dimensions")
        return self.shape[_ops._core.norm_dim(dim, self.ndim, "size")]

    def numel(self) -> int:
        """Number of elements."""
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return int(self._data.dtype.itemsize)

    def stride(self, dim: int | None = None) -> Any:
        """Steps in elements between neighbours along each dimension (PyTorch's strides, not NumPy's bytes)."""
        steps = tuple(st // self._data.dtype.itemsize for st in self._data.strides)
        return steps if dim is None else steps[_ops._core.norm_dim(dim, max(self.ndim, 1), "stride")]

    def is_contiguous(self) -> bool:
        """True when the elements lie in memory in row-major order with no gaps."""
        return bool(self._data.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        """True for float16/32/64 tensors."""
        return self._data.dtype.kind == "f"

    def data_ptr(self) -> int:
        """The address of the first element (host memory on the CPU, device memory on a GPU)."""
        arr = self._data
        return int(arr.ctypes.data) if isinstance(arr, np.ndarray) else int(arr.data.ptr)

    @property
    def is_cuda(self) -> bool:
        return self._be.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self._be.device.type == "cpu"

    def type(self, dtype: Any = None, non_blocking: bool = False) -> Any:
        """With no argument, PyTorch's type name (``'torch.FloatTensor'``, ``'torch.cuda.LongTensor'``); with a
        dtype or such a name, this tensor cast to it (itself when nothing changes)."""
        if dtype is None:
            prefix = "torch.cuda." if self.is_cuda else "torch."
            return prefix + dtypes.tensor_type_name(self._data.dtype)
        if isinstance(dtype, str):
            dt, cuda = dtypes.from_tensor_type_name(dtype)
            out = self.cuda() if cuda and not self.is_cuda else (self.cpu() if not cuda and self.is_cuda else self)
            return out.to(dt)
        return self.to(dtype)

    def _new(self, op: str, size: tuple, dtype: Any, device: Any, requires_grad: bool, fill: Any) -> Tensor:
        from . import creation

        kw = {"dtype": self.dtype if dtype is None else dtype, "device": self.device if device is None else device}
        shape = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        out = creation.full(tuple(shape), fill, **kw) if fill is not None else creation.empty(*shape, **kw)
        return out.requires_grad_(requires_grad) if requires_grad else out

    def new_zeros(
        self, *sizes: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """Zeros of ``size`` with this tensor's dtype and device unless given."""
        return self._new("new_zeros", _sizes(sizes, size, "new_zeros"), dtype, device, requires_grad, 0)

    def new_ones(
        self, *sizes: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """Ones of ``size`` with this tensor's dtype and device unless given."""
        return self._new("new_ones", _sizes(sizes, size, "new_ones"), dtype, device, requires_grad, 1)

    def new_empty(
        self, *sizes: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """An uninitialised tensor of ``size`` with this tensor's dtype and device unless given."""
        return self._new("new_empty", _sizes(sizes, size, "new_empty"), dtype, device, requires_grad, None)

    def new_full(
        self, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """``fill_value`` everywhere, with this tensor's dtype and device unless given."""
        return self._new("new_full", (tuple(size),), dtype, device, requires_grad, fill_value)

    def new_tensor(self, data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """A copy of ``data`` as a tensor with this tensor's dtype and device unless given."""
        if isinstance(data, Tensor):
            data = data.detach()
        kw_dtype = self.dtype if dtype is None else dtype
        return Tensor(
            data, dtype=kw_dtype, device=self.device if device is None else device, requires_grad=requires_grad
        )

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        return self._node

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._node is not None:
            if not value:
                raise RuntimeError("requires_grad: cannot turn off requires_grad of a non-leaf tensor; use detach()")
            return
        if value and self._data.dtype.kind != "f":
            raise InputTypeError(
                f"requires_grad: only floating-point tensors can require gradients, got dtype {self._data.dtype}"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set requires_grad in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: expected a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape or value._be is not self._be or value.dtype != self.dtype:
                raise InputError(
                    f"grad: assigned gradient has shape {value.shape}, dtype {value.dtype} on {value.device}; "
                    f"expected shape {self.shape}, dtype {self.dtype} on {self.device}"
                )
        self._grad = value

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        if self.ndim < 2:
            raise InputError(f"mT: only supported on matrices or batches of matrices, got a {self.ndim}-D tensor")
        return _ops.transpose(self, -2, -1)

    # ---- conversion and devices ------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array sharing memory, for CPU tensors, as PyTorch; a tensor that requires grad or
        lives on a GPU raises unless ``force=True``, which detaches it (and copies it to the host, waiting for the
        GPU)."""
        if self._requires_grad and not force:
            # writes into the shared array would bypass autograd and silently corrupt gradients
            raise RuntimeError(
                "numpy(): Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        if self._be.device.type != "cpu" and not force:
            raise TypeError(
                f"numpy(): can't convert {self.device} device type tensor to numpy. "
                "Use Tensor.cpu() to copy the tensor to host memory first."
            )
        _host_read(self, "numpy()")
        return self._be.to_numpy(self._data)

    def item(self) -> Any:
        """The single value as a Python number (waits for the GPU)."""
        _host_read(self, "item()")
        if self._data.size != 1:
            raise InputError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        """The data as nested Python lists (waits for the GPU)."""
        _host_read(self, "tolist()")
        return self._data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if self._be.device.type != "cpu":
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. "
                "Use Tensor.cpu() to copy the tensor to host memory first."
            )
        _host_read(self, "__array__")
        arr = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return np.array(arr, copy=True) if copy else arr

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self._data.__dlpack__(**{k: v for k, v in kwargs.items() if v is not None})

    def __dlpack_device__(self) -> tuple[int, int]:
        return self._data.__dlpack_device__()

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(device)``, ``to(dtype)`` or both; differentiable; returns self when nothing changes."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to(): unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, (str, Device)):
                device = a
            elif isinstance(a, numbers.Integral) and not isinstance(a, bool):
                device = f"cuda:{a}"  # a bare int is a GPU index, as PyTorch
            elif isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            else:
                dtype = a
        out = self
        if device is not None:
            out = _ops.to_device(out, device)
        if dtype is not None:
            out = _ops.astype(out, dtype)
        return out

    def cpu(self) -> Tensor:
        """This tensor on the CPU."""
        return self.to("cpu")

    def cuda(self, device: Any = None, non_blocking: bool = False) -> Tensor:
        """This tensor on GPU ``device`` (an int, a string or a device; None: the current GPU)."""
        return self.to("cuda" if device is None else device)

    def float(self) -> Tensor:
        """Cast to float32."""
        return _ops.astype(self, dtypes.float32)

    def double(self) -> Tensor:
        """Cast to float64."""
        return _ops.astype(self, dtypes.float64)

    def half(self) -> Tensor:
        """Cast to float16."""
        return _ops.astype(self, dtypes.float16)

    def long(self) -> Tensor:
        """Cast to int64."""
        return _ops.astype(self, dtypes.int64)

    def int(self) -> Tensor:
        """Cast to int32."""
        return _ops.astype(self, dtypes.int32)

    def bool(self) -> Tensor:
        """Cast to bool."""
        return _ops.astype(self, dtypes.bool_)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory and the version counter)."""
        return Tensor._wrap(self._data, self._be, self._vc)

    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False, inputs: Any = None
    ) -> None:
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf that requires grad (``inputs``: of
        those only); ``create_graph=True`` records backward, for gradients of gradients."""
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    # ---- Python protocol ---------------------------------------------------------------------
    def __reduce_ex__(self, protocol: int) -> tuple:
        """Pickle as the values on the host (this waits for the GPU), the device and requires_grad; a pickled tensor
        loads back onto the device it was saved from."""
        return _rebuild_tensor, (self._be.to_numpy(self._data), str(self.device), self._requires_grad)

    def __deepcopy__(self, memo: dict) -> Tensor:
        """A copy on the same device (no trip through the host), with its gradient; graph leaves only, as PyTorch."""
        if self._node is not None:
            raise RuntimeError(
                "deepcopy: only tensors created explicitly by the user (graph leaves) support the deepcopy protocol; "
                "detach() it first"
            )
        with self._be.enter():  # the copy is made on the tensor's device, whichever device is current
            out = Tensor._wrap(self._data.copy(), self._be)
            if self._grad is not None:
                out._grad = Tensor._wrap(self._grad._data.copy(), self._be)
        out._requires_grad = self._requires_grad
        memo[id(self)] = out
        return out

    __hash__ = object.__hash__  # == is elementwise, so hash by identity

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def _scalar(self, what: str) -> Any:
        _host_read(self, what)
        if self._data.size != 1:
            raise InputError(f"{what}: only one-element tensors can be converted, got shape {self.shape}")
        return self._data.reshape(()).item()

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise InputError(
                f"bool(): the truth value of a tensor with {self._data.size} elements is ambiguous; use any() or all()"
            )
        return bool(self._scalar("bool()"))

    def __float__(self) -> float:
        return float(self._scalar("float()"))

    def __int__(self) -> int:
        return int(self._scalar("int()"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, got dtype {self.dtype}")
        return int(self._scalar("__index__"))

    def __format__(self, spec: str) -> str:
        if self._data.size == 1 and spec:
            return format(self._data.reshape(()).item(), spec)
        return repr(self)

    def __repr__(self) -> str:
        _host_read(self, "repr()")
        body = np.array2string(
            np.asarray(self._be.to_numpy(self._data)), separator=", ", prefix="tensor(", threshold=200
        )
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self._data.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            extras.append(f"dtype={self.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.op}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"


def _sizes(sizes: tuple, size: Any, op: str) -> tuple:
    """The size of a ``new_*`` call given positionally (``2, 3`` or ``(2, 3)``) or as ``size=``, as PyTorch."""
    if size is None:
        return sizes
    if sizes:
        raise TypeError(f"{op}(): got the size both positionally {sizes} and as size={size!r}")
    return (tuple(size),) if isinstance(size, (tuple, list)) else (size,)


def _rebuild_tensor(host: np.ndarray, device: str, requires_grad: bool) -> Tensor:
    """Unpickle a tensor pickled by ``Tensor.__reduce_ex__``."""
    return Tensor(host, device=device, requires_grad=requires_grad)


def is_tensor(obj: Any) -> bool:
    """True for gpubp tensors."""
    return isinstance(obj, Tensor)


# Tensor's methods and operators are the ops, attached by gpubp.ops when it finishes importing;
# this module only needs the namespace for the few methods written out above.
from . import _convert  # noqa: E402 - it needs Tensor defined
from . import ops as _ops  # noqa: E402
