"""Convolution layers: each holds its weight and bias and calls the functional form."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..tensor import Tensor
from . import functional as F
from .layers import _int_arg, _param, _reset_fan_in, _tuple_arg
from .module import Module

__all__ = ["Conv1d", "Conv2d"]


class _ConvNd(Module):
    _dims = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        dims, layer = self._dims, type(self).__name__
        in_channels = _int_arg(layer, "in_channels", in_channels, 0)
        out_channels = _int_arg(layer, "out_channels", out_channels, 0)
        groups = _int_arg(layer, "groups", groups, 1)
        if in_channels % groups or out_channels % groups:
            raise InputError(
                f"{layer}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                f"must be divisible by groups ({groups})"
            )
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(
                f"{layer}: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', but got "
                f"padding_mode={padding_mode!r}"
            )
        k = _tuple_arg(layer, "kernel_size", kernel_size, dims, 1)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride = _tuple_arg(layer, "stride", stride, dims, 1)
        self.dilation = _tuple_arg(layer, "dilation", dilation, dims, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{layer}: invalid padding string {padding!r}, should be one of 'same', 'valid'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{layer}: padding='same' is not supported for strided convolutions")
            # 'same': d (k - 1) in all, the odd one on the right, as PyTorch
            sides = [(d * (kk - 1) // 2, d * (kk - 1) - d * (kk - 1) // 2) for d, kk in zip(self.dilation, k)]
            if padding == "valid":
                sides = [(0, 0)] * dims
            self.padding = padding
        else:
            self.padding = _tuple_arg(layer, "padding", padding, dims, 0)
            sides = [(p, p) for p in self.padding]
        self.groups, self.padding_mode = groups, padding_mode
        self.output_padding, self.transposed = (0,) * dims, False
        # what forward passes on: the convolution's own (symmetric) padding, or a pad before it (F.pad order: the
        # last dim first) for a padding mode other than zeros or an uneven 'same'
        if padding_mode == "zeros" and all(a == b for a, b in sides):
            self._conv_padding, self._prepad = tuple(a for a, _ in sides), None
        else:
            self._conv_padding = (0,) * dims
            self._prepad = tuple(v for side in reversed(sides) for v in side)
        self.weight = _param(out_channels, in_channels // groups, *k, device=device, dtype=dtype)
        self.register_parameter("bias", _param(out_channels, device=device, dtype=dtype) if bias else None)
        _reset_fan_in(self.weight, self.bias)

    def _input(self, x: Tensor) -> Tensor:
        if x.ndim != self._dims + 2 or x.shape[1] != self.in_channels:
            want = "(N, C, L)" if self._dims == 1 else "(N, C, H, W)"
            raise InputError(
                f"{type(self).__name__}: expected input {want} with C = {self.in_channels}, got shape {x.shape}"
            )
        if self._prepad is None:
            return x
        return F.pad(x, self._prepad, "constant" if self.padding_mode == "zeros" else self.padding_mode)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L)."""

    _dims = 1

    def forward(self, x: Tensor) -> Tensor:
        x = self._input(x)
        pad = self._conv_padding[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], pad, self.dilation[0], self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W): stride, padding, dilation, groups."""

    def forward(self, x: Tensor) -> Tensor:
        x = self._input(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self._conv_padding, self.dilation, self.groups)
