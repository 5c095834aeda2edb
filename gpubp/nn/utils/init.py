"""skip_init: build a module without running its parameter initialization, as ``torch.nn.utils``."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

from ..module import Module

__all__ = ["skip_init"]

M = TypeVar("M", bound=Module)


def skip_init(module_cls: type[M], *args: Any, **kwargs: Any) -> M:
    """``module_cls(*args, **kwargs)`` on ``kwargs['device']`` (default "cpu", as PyTorch), its parameters and buffers
    promised nothing ("uninitialized"). PyTorch builds on the meta device then allocates empty memory; gpubp has no
    meta device, so it builds the module on the target device and its values are whatever the constructor drew,
    which keeps no global state patched (nothing can leak if the constructor raises)."""
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs["device"] = kwargs.pop("device", "cpu")
    return module_cls(*args, **kwargs)
