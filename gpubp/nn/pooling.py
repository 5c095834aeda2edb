"""Pooling layers."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..tensor import Tensor
from . import functional as F
from .layers import _tuple_arg
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


class _Pool2d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        layer = type(self).__name__
        k = _tuple_arg(layer, "kernel_size", kernel_size, 2, 1)
        if stride is not None:
            _tuple_arg(layer, "stride", stride, 2, 1)
        pads = _tuple_arg(layer, "padding", padding, 2, 0)
        if any(p > kk // 2 for p, kk in zip(pads, k)):
            raise InputError(f"{layer}: padding {padding} must be at most half of kernel_size {kernel_size}")
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = stride if stride is not None else kernel_size  # as PyTorch stores it
        self.ceil_mode = False

    @staticmethod
    def _unsupported(layer: str, **flags: Any) -> None:
        given = [f"{k}={v!r}" for k, (v, default) in flags.items() if v != default]
        if given:
            raise InputError(f"{layer}: {', '.join(given)} is not supported in gpubp yet (issue 14)")


class MaxPool2d(_Pool2d):
    """Max over kernel_size windows (stride defaults to kernel_size)."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        self._unsupported(
            "MaxPool2d", dilation=(dilation, 1), return_indices=(return_indices, False), ceil_mode=(ceil_mode, False)
        )
        super().__init__(kernel_size, stride, padding)
        self.dilation, self.return_indices = dilation, return_indices

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(_Pool2d):
    """Mean over kernel_size windows (stride defaults to kernel_size; zero padding counts in the divisor)."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        self._unsupported(
            "AvgPool2d",
            ceil_mode=(ceil_mode, False),
            count_include_pad=(count_include_pad, True),
            divisor_override=(divisor_override, None),
        )
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
