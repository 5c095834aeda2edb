"""Convolution layers: each holds its weight and bias and calls the functional form. A transposed convolution's
weight is (in_channels, out_channels/groups, *kernel_size), as PyTorch's, and its init uses that tensor's fan."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..tensor import Tensor
from . import functional as F
from .layers import _int_arg, _param, _reset_fan_in, _tuple_arg
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


class _ConvNd(Module):
    _dims = 2
    _transposed = False

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
        self.output_padding, self.transposed = (0,) * dims, self._transposed
        # what forward passes on: the convolution's own (symmetric) padding, or a pad before it (F.pad order: the
        # last dim first) for a padding mode other than zeros or an uneven 'same'
        if padding_mode == "zeros" and all(a == b for a, b in sides):
            self._conv_padding, self._prepad = tuple(a for a, _ in sides), None
        else:
            self._conv_padding = (0,) * dims
            self._prepad = tuple(v for side in reversed(sides) for v in side)
        if self._transposed:  # (in, out/groups, *k); its init is kaiming on that tensor's fan (out/groups * prod(k))
            self.weight = _param(in_channels, out_channels // groups, *k, device=device, dtype=dtype)
        else:
            self.weight = _param(out_channels, in_channels // groups, *k, device=device, dtype=dtype)
        self.register_parameter("bias", _param(out_channels, device=device, dtype=dtype) if bias else None)
        _reset_fan_in(self.weight, self.bias)

    def _input(self, x: Tensor) -> Tensor:
        """``x`` checked (batched or not) and, for a padding mode other than zeros or an uneven 'same', padded."""
        dims = self._dims
        if not isinstance(x, Tensor) or x.ndim not in (dims + 1, dims + 2) or x.shape[-dims - 1] != self.in_channels:
            want = ("(N, C, L)", "(N, C, H, W)", "(N, C, D, H, W)")[dims - 1]
            raise InputError(
                f"{type(self).__name__}: expected input {want} with C = {self.in_channels}, got "
                f"{'shape ' + str(x.shape) if isinstance(x, Tensor) else type(x).__name__} (N may be left out)"
            )
        if self._prepad is None:
            return x
        if self.padding_mode == "circular":  # PyTorch's circular pad refuses to wrap more than once
            pads = self._prepad  # (last dim's left, its right, the one before's left, ...)
            if any(max(pads[2 * i], pads[2 * i + 1]) > x.shape[-1 - i] for i in range(dims)):
                raise InputError(
                    f"{type(self).__name__}: circular padding {self._prepad} wraps around more than once for an "
                    f"input of shape {x.shape}"
                )
        return F.pad(x, self._prepad, "constant" if self.padding_mode == "zeros" else self.padding_mode)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def forward(self, x: Tensor) -> Tensor:
        x = self._input(x)
        fn = (F.conv1d, F.conv2d, F.conv3d)[self._dims - 1]
        return fn(x, self.weight, self.bias, self.stride, self._conv_padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L): stride, padding (ints, 'same', 'valid'), dilation, groups,
    padding_mode."""

    _dims = 1


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or (C, H, W): stride, padding (ints, 'same', 'valid'), dilation, groups,
    padding_mode."""


class Conv3d(_ConvNd):
    """3-D convolution over (N, C, D, H, W) or (C, D, H, W): stride, padding (ints, 'same', 'valid'), dilation,
    groups, padding_mode."""

    _dims = 3


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        layer, dims = type(self).__name__, self._dims
        if padding_mode != "zeros":
            raise ValueError(f'{layer}: only "zeros" padding mode is supported, got padding_mode={padding_mode!r}')
        padding = _tuple_arg(layer, "padding", padding, dims, 0)  # no 'same' or 'valid' here, as PyTorch
        output_padding = _tuple_arg(layer, "output_padding", output_padding, dims, 0)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)  # fmt: skip
        self.output_padding = output_padding

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple[int, ...]:
        """output_padding, or the one that gives ``output_size`` (its last dims: spatial sizes), as PyTorch."""
        if output_size is None:
            return self.output_padding
        dims, layer = self._dims, type(self).__name__
        lead = x.ndim - dims  # 2 batched, 1 unbatched
        output_size = list(output_size)
        if len(output_size) == lead + dims:
            output_size = output_size[lead:]
        if len(output_size) != dims:
            raise ValueError(
                f"{layer}: for {x.ndim}D input, output_size must have {dims} or {lead + dims} elements "
                f"(got {len(output_size)})"
            )
        low = [
            (n - 1) * s - 2 * p + d * (k - 1) + 1
            for n, s, p, d, k in zip(x.shape[lead:], self.stride, self.padding, self.dilation, self.kernel_size)
        ]
        high = [m + s - 1 for m, s in zip(low, self.stride)]
        if any(not lo <= int(n) <= hi for n, lo, hi in zip(output_size, low, high)):
            raise ValueError(
                f"{layer}: requested an output size of {output_size}, but valid sizes range from {low} to {high} "
                f"(for an input of {x.shape[lead:]})"
            )
        return tuple(int(n) - lo for n, lo in zip(output_size, low))

    def forward(self, x: Tensor, output_size: Any = None) -> Tensor:
        x = self._input(x)
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self._dims - 1]
        extra = self._output_padding(x, output_size)
        return fn(x, self.weight, self.bias, self.stride, self.padding, extra, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution over (N, C, L) or (C, L) (Conv1d's input gradient); ``output_size`` in forward
    picks the output padding."""

    _dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution over (N, C, H, W) or (C, H, W) (Conv2d's input gradient); ``output_size`` in
    forward picks the output padding."""


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution over (N, C, D, H, W) or (C, D, H, W) (Conv3d's input gradient)."""

    _dims = 3
