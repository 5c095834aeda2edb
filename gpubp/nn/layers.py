"""Layers: each holds its parameters and calls the functional form in ``forward``.
Parameters start as PyTorch's do (kaiming-uniform weights, U(+-1/sqrt(fan_in)) biases)."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .. import creation, dtypes
from ..autograd import no_grad
from ..backend import default_device
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


def _param(*shape: int, device: Any = None, dtype: Any = None) -> Parameter:
    return Parameter(creation.empty(*shape, device=device or default_device(), dtype=dtype))


def _int_arg(layer: str, name: str, value: Any, minimum: int) -> int:
    """A constructor's int argument, at least ``minimum``: TypeError for a non-int, InputError (a ValueError, and
    PyTorch's RuntimeError) below it."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{layer}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise InputError(f"{layer}: {name} must be {'positive' if minimum == 1 else f'>= {minimum}'}, got {value}")
    return int(value)


def _tuple_arg(layer: str, name: str, value: Any, dims: int, minimum: int) -> tuple[int, ...]:
    """An int or a ``dims``-tuple of ints (kernel_size, stride, ...), each at least ``minimum``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,) * dims
    if not isinstance(value, (tuple, list)):  # a float or a string: PyTorch's TypeError
        raise InputTypeError(f"{layer}: {name} must be an int or a tuple of {dims} ints, got {value!r}")
    if len(value) != dims:
        raise InputError(f"{layer}: {name} must be an int or a tuple of {dims} ints, got {value!r}")
    return tuple(_int_arg(layer, name, v, minimum) for v in value)


def _reset_fan_in(weight: Parameter, bias: Parameter | None) -> None:
    if weight.numel():  # a layer with 0 features or channels has nothing to draw (and a fan of 0)
        init.kaiming_uniform_(weight, a=math.sqrt(5))  # = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    if bias is not None:
        fan_in = math.prod(weight.shape[1:])
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class Identity(Module):
    """Returns its input."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class Linear(Module):
    """y = x W^T + b, for x of shape (..., in_features)."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        self.in_features = _int_arg("Linear", "in_features", in_features, 0)
        self.out_features = _int_arg("Linear", "out_features", out_features, 0)
        self.weight = _param(out_features, in_features, device=device, dtype=dtype)
        self.register_parameter("bias", _param(out_features, device=device, dtype=dtype) if bias else None)
        _reset_fan_in(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise InputError(f"Linear: expected input of shape (..., {self.in_features}), got {x.shape}")
        if x.dtype != self.weight.dtype:  # PyTorch: "mat1 and mat2 must have the same dtype" (a RuntimeError)
            raise InputTypeError(
                f"Linear: input dtype {x.dtype} does not match weight dtype {self.weight.dtype}; convert the input "
                f"with .to({self.weight.dtype}) or the layer with .to(dtype={x.dtype})"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


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


class Flatten(Module):
    """Flatten dims start_dim..end_dim (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero elements with probability p in training; identity in eval."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not isinstance(p, numbers.Real):
            raise TypeError(f"Dropout: dropout probability p must be a number, got {type(p).__name__} {p!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: dropout probability p must be between 0 and 1, got {p!r}")
        self.p, self.inplace = p, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class _BatchNorm(Module):
    _dims: tuple[int, ...] = ()
    _version = 2  # version 2 added num_batches_tracked, as PyTorch's

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        num_features = _int_arg(type(self).__name__, "num_features", num_features, 1)
        if not isinstance(momentum, numbers.Real):  # None (a cumulative average) needs a host read of the count
            raise TypeError(f"{type(self).__name__}: momentum must be a number, got {momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dev = device or default_device()
        self.register_parameter(
            "weight", Parameter(creation.ones(num_features, device=dev, dtype=dtype)) if affine else None
        )
        use_bias = affine and bias
        self.register_parameter(
            "bias", Parameter(creation.zeros(num_features, device=dev, dtype=dtype)) if use_bias else None
        )
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, device=dev, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, device=dev, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.zeros((), device=dev, dtype=dtypes.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches counted."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def _upgrade_state_dict(self, state_dict: dict[str, Any], prefix: str, version: int | None) -> None:
        # a state dict without version 2 (a plain dict, or an old PyTorch one) may lack the counter: keep ours
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats and key not in state_dict:
            state_dict[key] = self.num_batches_tracked

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise InputError(
                f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._dims)} input with "
                f"{self.num_features} channels in dim 1, got shape {x.shape}"
            )
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)  # on the device: no host read
        use_batch = self.training or self.running_mean is None or self.running_var is None
        track = not self.training or self.track_running_stats  # training without tracking leaves the buffers alone
        return F.batch_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            self.momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L)."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W)."""

    _dims = (4,)


class LayerNorm(Module):
    """Normalize over the last dims (normalized_shape), with a learned scale and shift."""

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        elif not isinstance(normalized_shape, (tuple, list)):
            raise TypeError(f"LayerNorm: normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}")
        self.normalized_shape = tuple(_int_arg("LayerNorm", "normalized_shape", n, 0) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dev, shape = device or default_device(), self.normalized_shape
        weight = Parameter(creation.ones(shape, device=dev, dtype=dtype)) if elementwise_affine else None
        self.register_parameter("weight", weight)
        use_bias = elementwise_affine and bias
        self.register_parameter("bias", Parameter(creation.zeros(shape, device=dev, dtype=dtype)) if use_bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class Embedding(Module):
    """A table of num_embeddings vectors of size embedding_dim, looked up by integer index."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        num_embeddings = _int_arg("Embedding", "num_embeddings", num_embeddings, 1)
        embedding_dim = _int_arg("Embedding", "embedding_dim", embedding_dim, 0)
        if padding_idx is not None:
            if not isinstance(padding_idx, numbers.Integral) or isinstance(padding_idx, bool):
                raise TypeError(f"Embedding: padding_idx must be an int or None, got {padding_idx!r}")
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be within num_embeddings: in [{-num_embeddings}, "
                    f"{num_embeddings - 1}], got {padding_idx}"
                )
            padding_idx = int(padding_idx) % num_embeddings  # -1 is the last row, as PyTorch stores it
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.weight = _param(num_embeddings, embedding_dim, device=device, dtype=dtype)
        init.normal_(self.weight)
        if padding_idx is not None:
            with no_grad():
                self.weight[padding_idx] = 0

    def forward(self, idx: Tensor) -> Tensor:
        return F.embedding(idx, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s if self.padding_idx is None else f"{s}, padding_idx={self.padding_idx}"
