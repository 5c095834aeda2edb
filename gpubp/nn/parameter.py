"""Parameter and Buffer: the tensors a Module registers, as ``torch.nn.parameter``."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor

__all__ = ["Buffer", "Parameter"]


def _rebuild_tensor(cls: type, host: Any, device: str, requires_grad: bool, extra: dict) -> Tensor:
    """Unpickle a tensor saved by ``_reduce_tensor``: its values go back to the device it was saved from."""
    t = Tensor(host, device=device)
    if cls is Tensor:
        out = t
    elif cls is Buffer:
        out = Buffer(t, persistent=extra.get("persistent", True))
    else:
        out = cls(t, requires_grad=False)
    out.requires_grad = requires_grad
    return out


def _reduce_tensor(t: Tensor) -> tuple:
    """``__reduce__`` for a tensor: its values on the host (this waits for the GPU), its device and its flags."""
    extra = {"persistent": t.persistent} if isinstance(t, Buffer) else {}
    host = t._be.to_numpy(t._data)
    return _rebuild_tensor, (type(t), host, str(t.device), t.requires_grad, extra)


class Parameter(Tensor):
    """A tensor that a Module registers as trainable: a leaf that requires grad, sharing memory with ``data``."""

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            from .. import creation

            data = creation.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__}")
        self._data = data._data
        self._be = data._be
        self._requires_grad = False
        self._grad = None
        self._node = None
        self._vc = [0]
        self._base = None
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: int) -> tuple:
        return _reduce_tensor(self)

    def __deepcopy__(self, memo: dict) -> Parameter:
        out = type(self)(Tensor._wrap(self._data.copy(), self._be), requires_grad=self._requires_grad)
        if self._grad is not None:
            out._grad = Tensor._wrap(self._grad._data.copy(), self._be)
        memo[id(self)] = out
        return out


class Buffer(Tensor):
    """A tensor that a Module registers as a buffer when assigned as an attribute (state, not trained);
    ``persistent=False`` keeps it out of the state dict."""

    __slots__ = ("persistent",)

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True) -> None:
        if data is None:
            from .. import creation

            data = creation.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer: expected a Tensor, got {type(data).__name__}")
        self._data = data._data
        self._be = data._be
        self._requires_grad = False
        self._grad = None
        self._node = None
        self._vc = [0]
        self._base = None
        self.persistent = persistent
        self.requires_grad = data.requires_grad

    def __reduce_ex__(self, protocol: int) -> tuple:
        return _reduce_tensor(self)
