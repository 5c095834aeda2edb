"""Parameter and Buffer: the tensors a Module registers, as ``torch.nn.parameter``."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor

__all__ = ["Buffer", "Parameter"]


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
