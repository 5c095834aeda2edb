"""Padding layers: ConstantPad, ZeroPad, ReflectionPad, ReplicationPad, CircularPad (1d/2d/3d), over F.pad."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = [
    "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
]  # fmt: skip


def _pads(layer: str, padding: Any, n: int) -> tuple[int, ...]:
    """An int (the same pad on every side) or a tuple of 2 d ints (last dim's left, right, ...), as PyTorch."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (padding,) * n
    padding = tuple(padding)
    if len(padding) != n:
        raise ValueError(f"{layer}: padding must be an int or a tuple of {n} ints, got {padding!r}")
    return padding


class _PadNd(Module):
    _mode = "constant"
    _dims = 1

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = _pads(type(self).__name__, padding, 2 * self._dims)

    def _check(self, x: Tensor) -> None:
        d = self._dims
        if x.ndim not in (d + 1, d + 2):
            msg = f"{type(self).__name__}: expected {d + 1}D or {d + 2}D input (got {x.ndim}D input)"
            raise ValueError(msg) if self._mode == "circular" else InputError(msg)

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def _check(self, x: Tensor) -> None:  # any number of leading dims, as PyTorch's constant pad
        if x.ndim < self._dims:
            raise InputError(f"{type(self).__name__}: expected at least {self._dims}D input (got {x.ndim}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: padding an int or (left, right)."""

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims with ``value``: padding an int or (left, right, top, bottom)."""

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims with ``value``: padding an int or (left, right, top, bottom, front, back)."""

    _dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dim with zeros."""

    _dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last 2 dims with zeros."""

    _dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last 3 dims with zeros."""

    _dims = 3


class ReflectionPad1d(_PadNd):
    """Pad (C, W) or (N, C, W) by reflecting at the border (without repeating the edge)."""

    _mode, _dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Pad (C, H, W) or (N, C, H, W) by reflecting at the borders."""

    _mode, _dims = "reflect", 2


class ReflectionPad3d(_PadNd):
    """Pad (C, D, H, W) or (N, C, D, H, W) by reflecting at the borders."""

    _mode, _dims = "reflect", 3


class ReplicationPad1d(_PadNd):
    """Pad (C, W) or (N, C, W) by repeating the edge values."""

    _mode, _dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Pad (C, H, W) or (N, C, H, W) by repeating the edge values."""

    _mode, _dims = "replicate", 2


class ReplicationPad3d(_PadNd):
    """Pad (C, D, H, W) or (N, C, D, H, W) by repeating the edge values."""

    _mode, _dims = "replicate", 3


class CircularPad1d(_PadNd):
    """Pad (C, W) or (N, C, W) by wrapping around (periodic)."""

    _mode, _dims = "circular", 1


class CircularPad2d(_PadNd):
    """Pad (C, H, W) or (N, C, H, W) by wrapping around (periodic)."""

    _mode, _dims = "circular", 2


class CircularPad3d(_PadNd):
    """Pad (C, D, H, W) or (N, C, D, H, W) by wrapping around (periodic)."""

    _mode, _dims = "circular", 3
