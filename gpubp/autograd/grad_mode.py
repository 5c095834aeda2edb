"""Grad mode: whether ops record the tape (no_grad, enable_grad, set_grad_enabled, inference_mode)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode"]


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when ops record the tape (the default)."""
    return _mode.enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns recording on or off."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = _mode.enabled

    def __enter__(self) -> None:
        self.prev = _mode.enabled
        _mode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self.prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper


class _NoParamDecorator(set_grad_enabled):
    """A mode usable as ``with m():``, ``@m()`` and, as PyTorch's, the bare ``@m``."""

    _MODE = False

    def __new__(cls, orig_func: Callable | None = None, *args: Any, **kwargs: Any) -> Any:
        if orig_func is not None and callable(orig_func):
            return cls()(orig_func)
        return super().__new__(cls)

    def __init__(self, orig_func: Callable | None = None) -> None:
        super().__init__(self._MODE)


class no_grad(_NoParamDecorator):
    """Ops inside record nothing: for evaluation and in-place parameter updates."""

    _MODE = False


class enable_grad(_NoParamDecorator):
    """Turn recording back on inside a ``no_grad`` block."""

    _MODE = True


class inference_mode(set_grad_enabled):
    """``no_grad`` under PyTorch's name for inference (``mode=False`` leaves recording as it is); gpubp has no
    separate inference tensors, so tensors made inside can later be used with autograd."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        super().__init__(False)
        self._off = bool(mode)

    def __enter__(self) -> None:
        self.prev = _mode.enabled
        if self._off:
            _mode.enabled = False

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(self._off):
                return fn(*args, **kwargs)

        return wrapper
