"""What happens as ops record: ``saved_tensors_hooks`` (pack what a node saves, unpack it for backward: activation
checkpointing and offloading are built on it) and anomaly mode's note of where each op was called.

Ops call ``RECORD_HOOK[0](node)`` after recording a node when it is set; it stays None (nothing to call) until a
program first uses either feature, so ordinary training pays nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks"]

RECORD_HOOK: list = [None]


class _Local(threading.local):
    def __init__(self) -> None:
        self.stack: list = []  # (pack, unpack) pairs, innermost last
        self.disabled: str | None = None


_local = _Local()


def activate() -> None:
    RECORD_HOOK[0] = _on_record


def _is_array(v: Any) -> bool:
    return hasattr(v, "dtype") and hasattr(v, "shape") and hasattr(v, "strides")


def _on_record(node: Any) -> None:
    from . import anomaly

    if anomaly.is_enabled():
        node.stack = anomaly.user_stack()
    if _local.stack and node.unpack is None:
        pack, unpack = _local.stack[-1]
        be = node.be
        node.vals = tuple(pack(_wrap(v, be)) if _is_array(v) else _Plain(v) for v in node.vals)
        node.unpack = _Unpacker(unpack)


class _Plain:
    """A saved constant that is not an array: kept as it is, beside the packed arrays."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v


class _Unpacker:
    def __init__(self, unpack: Callable) -> None:
        self.unpack = unpack

    def __call__(self, packed: tuple) -> tuple:
        out = []
        for p in packed:
            if type(p) is _Plain:
                out.append(p.v)
                continue
            t = self.unpack(p)
            data = getattr(t, "_data", None)
            if data is None:
                raise TypeError(f"saved_tensors_hooks: unpack_hook must return a Tensor, got {type(t).__name__}")
            out.append(data)
        return tuple(out)


def _wrap(v: Any, be: Any) -> Any:
    from ..tensor import Tensor

    return Tensor._wrap(v, be)


class saved_tensors_hooks:
    """Inside, each tensor an op saves for backward goes through ``pack_hook(tensor) -> anything`` and comes back
    at backward through ``unpack_hook(that) -> tensor`` (of the same values), as PyTorch's."""

    def __init__(self, pack_hook: Callable[[Any], Any], unpack_hook: Callable[[Any], Any]) -> None:
        if not callable(pack_hook) or not callable(unpack_hook):
            raise TypeError("saved_tensors_hooks: pack_hook and unpack_hook must be callable")
        self.pair = (pack_hook, unpack_hook)

    def __enter__(self) -> saved_tensors_hooks:
        if _local.disabled is not None:
            raise RuntimeError(_local.disabled)
        _local.stack.append(self.pair)
        activate()
        return self

    def __exit__(self, *exc: object) -> None:
        _local.stack.pop()


class save_on_cpu(saved_tensors_hooks):
    """Keep what ops save for backward on the CPU (host memory) and copy it back to its device at backward."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        def pack(t: Any) -> tuple:
            return t.device, t.cpu()

        def unpack(packed: tuple) -> Any:
            device, t = packed
            return t.to(device)

        super().__init__(pack, unpack)


class disable_saved_tensors_hooks:
    """Inside, entering ``saved_tensors_hooks`` raises RuntimeError with ``error_message``."""

    def __init__(self, error_message: str) -> None:
        self.message = error_message
        self.prev: str | None = None

    def __enter__(self) -> None:
        self.prev = _local.disabled
        _local.disabled = self.message

    def __exit__(self, *exc: object) -> None:
        _local.disabled = self.prev
