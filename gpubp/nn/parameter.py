"""Parameter and Buffer: the tensors a Module registers, as ``torch.nn.parameter``."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..tensor import Tensor

__all__ = [
    "Buffer",
    "Parameter",
    "UninitializedBuffer",
    "UninitializedParameter",
    "UninitializedTensorMixin",
    "is_lazy",
]


def _as(cls: type, t: Tensor, requires_grad: bool, extra: dict) -> Tensor:
    """``t``'s memory as a ``cls`` (Tensor, Parameter, Buffer or a subclass) with ``requires_grad``."""
    if cls is Tensor:
        out = t
    elif issubclass(cls, Buffer):
        out = cls(t, persistent=extra.get("persistent", True))
    else:
        out = cls(t, requires_grad=False)
    out.requires_grad = requires_grad
    return out


def _extra(t: Tensor) -> dict:
    return {"persistent": t.persistent} if isinstance(t, Buffer) else {}


def _rebuild_tensor(cls: type, host: Any, device: str, requires_grad: bool, extra: dict) -> Tensor:
    """Unpickle a tensor saved by ``_reduce_tensor``: its values go back to the device it was saved from."""
    return _as(cls, Tensor(host, device=device), requires_grad, extra)


def _reduce_tensor(t: Tensor) -> tuple:
    """``__reduce__`` for a Parameter or Buffer: its values on the host (this waits for the GPU), device and flags."""
    return _rebuild_tensor, (type(t), t._be.to_numpy(t._data), str(t.device), t.requires_grad, _extra(t))


def _deepcopy(t: Tensor, memo: dict) -> Tensor:
    """A Parameter or Buffer copied on its device (values and ``.grad``), keeping its type and flags."""
    plain = Tensor.__deepcopy__(t, memo)
    out = _as(type(t), plain, t.requires_grad, _extra(t))
    out._grad = plain._grad
    memo[id(t)] = out
    return out


def _adopt(t: Tensor, data: Tensor | None, who: str) -> None:
    """Make ``t`` a fresh leaf over ``data``'s memory (an empty tensor when None), as PyTorch's constructors."""
    if data is None:
        from .. import creation

        data = creation.empty(0)
    if not isinstance(data, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(data).__name__}")
    t._data = data._data
    t._be = data._be
    t._requires_grad = False
    t._grad = None
    t._node = None
    t._vc = [0]
    t._base = None
    t._hooks = None


class Parameter(Tensor):
    """A tensor that a Module registers as trainable: a leaf that requires grad, sharing memory with ``data``."""

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        _adopt(self, data, "Parameter")
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: int) -> tuple:
        return _reduce_tensor(self)

    __deepcopy__ = _deepcopy


class Buffer(Tensor):
    """A tensor that a Module registers as a buffer when assigned as an attribute (state, not trained);
    ``persistent=False`` keeps it out of the state dict."""

    __slots__ = ("persistent",)

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True) -> None:
        _adopt(self, data, "Buffer")
        self.persistent = persistent
        self.requires_grad = data.requires_grad if data is not None else False

    def __reduce_ex__(self, protocol: int) -> tuple:
        return _reduce_tensor(self)

    __deepcopy__ = _deepcopy


# ---- uninitialized (lazy) parameters and buffers -------------------------------------------------------------------
_USE_MSG = (
    "This error happens when you are using a `LazyModule` or explicitly manipulating "
    "`nn.parameter.{cls}` objects. When using LazyModules call `forward` with a dummy batch to initialize the "
    "parameters before using them"
)


class _NoData:
    """The array of an uninitialized parameter or buffer: it knows its dtype and whose it is (``owner``, e.g.
    'LazyLinear.weight'); anything else asked of it (a shape, values, arithmetic) raises a clear error."""

    __slots__ = ("dtype", "owner", "kind")

    def __init__(self, dtype: Any, owner: str, kind: type) -> None:
        self.dtype, self.owner, self.kind = dtype, owner, kind

    def _error(self, what: str) -> Exception:
        where = f" {self.owner}" if self.owner else ""
        noun = "parameter" if issubclass(self.kind, Parameter) else "buffer"
        return InputError(
            f"Attempted to use an uninitialized {noun}{where}: it has no shape or values until it is materialized "
            f"(asked for {what}). " + _USE_MSG.format(cls=self.kind.__name__)
        )

    def __getattr__(self, name: str) -> Any:
        raise self._error(f"its {name}")

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise self._error("conversion to an array")

    def __len__(self) -> int:
        raise self._error("len()")

    def __iter__(self) -> Any:
        raise self._error("iteration")

    def __bool__(self) -> bool:
        raise self._error("bool()")

    def __getitem__(self, key: Any) -> Any:
        raise self._error("indexing")

    def __setitem__(self, key: Any, value: Any) -> None:
        raise self._error("indexed assignment")


def _no_op(name: str) -> Any:
    def op(self: _NoData, *args: Any) -> Any:
        raise self._error(f"operator {name}")

    return op


for _name in (
    "add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow matmul rmatmul neg pos abs "
    "lt le gt ge and rand or ror xor rxor invert iadd isub imul itruediv"
).split():
    setattr(_NoData, f"__{_name}__", _no_op(_name))
del _name


def _rebuild_uninitialized(cls: type, requires_grad: bool, device: str, dtype: str, extra: dict, owner: str) -> Tensor:
    """Unpickle an uninitialized parameter or buffer (it has no values to save: only where and what it will be)."""
    out = cls(requires_grad=requires_grad, device=device, dtype=dtype, **extra)
    out._data.owner = owner
    return out


class UninitializedTensorMixin:
    """What UninitializedParameter and UninitializedBuffer share: no shape or values until ``materialize``; only
    moves and casts (``to``, ``cuda``, ``double``...) work before, and they change what will be materialized."""

    __slots__ = ()
    cls_to_become: type = Tensor
    _data: Any
    _be: Any

    def _placeholder(self, requires_grad: bool, device: Any, dtype: Any) -> None:
        from .. import creation
        from ..backend import default_device

        probe = creation.empty(0, device=device if device is not None else default_device(), dtype=dtype)
        self._data = _NoData(probe.dtype, "", type(self))
        self._be = probe._be
        self._requires_grad = False
        self._grad = None
        self._node = None
        self._vc = [0]
        self._base = None
        self._hooks = None
        self.requires_grad = requires_grad  # a floating dtype only, as any tensor

    def materialize(self, shape: Any, device: Any = None, dtype: Any = None) -> None:
        """Give it memory (uninitialized values) of ``shape`` on its device with its dtype (or ``device``,
        ``dtype``), in place: it becomes a Parameter (or a Buffer), the same object a module or optimizer holds."""
        from .. import creation

        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        real = creation.empty(
            *shape, device=self.device if device is None else device, dtype=self._data.dtype if dtype is None else dtype
        )
        if self._requires_grad and real.dtype.kind != "f":
            raise TypeError(f"materialize: a parameter that requires grad needs a floating dtype, got {real.dtype}")
        self._data, self._be = real._data, real._be
        self.__class__ = self.cls_to_become

    @property
    def shape(self) -> tuple[int, ...]:
        raise InputError(
            "Can't access the shape of an uninitialized parameter or buffer"
            + (f" ({self._data.owner})" if self._data.owner else "")
            + ". This error usually happens in `load_state_dict` when trying to load an uninitialized parameter "
            "into an initialized one. Call `forward` to initialize the parameters before accessing their attributes."
        )

    def share_memory_(self) -> Tensor:
        """Not possible before materialization."""
        raise RuntimeError(
            "Can't share memory on an uninitialized parameter or buffer. Call `forward` to initialize the "
            "parameters before calling `module.share_memory()`."
        )

    def _moved(self, device: Any, dtype: Any) -> Tensor:
        """A new placeholder of this kind on ``device`` with ``dtype`` (None: unchanged)."""
        kind = type(self)
        out = kind.__new__(kind)
        dev = self.device if device is None else device
        dt = self._data.dtype if dtype is None else dtype
        UninitializedTensorMixin._placeholder(out, self._requires_grad, dev, dt)
        out._data.owner = self._data.owner
        if isinstance(self, Buffer):
            out.persistent = self.persistent
        return out

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """Where and as what it will be materialized: ``to(device)``, ``to(dtype)`` or both (a new placeholder)."""
        device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        if kwargs:
            raise TypeError(f"to(): unexpected arguments {sorted(kwargs)}")
        from ..backend import Device

        for a in args:
            if isinstance(a, (str, Device)):
                device = a
            elif isinstance(a, int) and not isinstance(a, bool):
                device = f"cuda:{a}"
            elif isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif not isinstance(a, bool):
                dtype = a
        return self._moved(device, dtype)

    def cpu(self) -> Tensor:
        """A placeholder that will be materialized on the CPU."""
        return self._moved("cpu", None)

    def cuda(self, device: Any = None, non_blocking: bool = False) -> Tensor:
        """A placeholder that will be materialized on a GPU."""
        return self._moved("cuda" if device is None else device, None)

    def float(self) -> Tensor:
        """A placeholder that will be materialized as float32."""
        return self._moved(None, "float32")

    def double(self) -> Tensor:
        """A placeholder that will be materialized as float64."""
        return self._moved(None, "float64")

    def half(self) -> Tensor:
        """A placeholder that will be materialized as float16."""
        return self._moved(None, "float16")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, protocol: int) -> tuple:
        extra = {"persistent": self.persistent} if isinstance(self, Buffer) else {}
        args = (type(self), self._requires_grad, str(self.device), str(self._data.dtype), extra, self._data.owner)
        return _rebuild_uninitialized, args

    def __deepcopy__(self, memo: dict) -> Tensor:
        if id(self) in memo:
            return memo[id(self)]
        out = self._moved(None, None)
        memo[id(self)] = out
        return out


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is not known yet (a lazy module's weight): using it raises until ``materialize``
    turns it into a Parameter of a shape, on its device (``device=``) with its dtype (``dtype=``)."""

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> None:
        self._placeholder(requires_grad, device, dtype)


class UninitializedBuffer(UninitializedTensorMixin, Buffer):
    """A buffer whose shape is not known yet (a lazy batch norm's running statistics); ``materialize`` gives it
    memory; ``persistent=False`` keeps it out of the state dict."""

    __slots__ = ()
    cls_to_become = Buffer

    def __init__(
        self, requires_grad: bool = False, device: Any = None, dtype: Any = None, persistent: bool = True
    ) -> None:
        self._placeholder(requires_grad, device, dtype)
        self.persistent = persistent
