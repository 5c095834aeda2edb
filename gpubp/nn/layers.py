"""Layers: each holds its parameters and calls the functional form in ``forward``.
Parameters start as PyTorch's do (kaiming-uniform weights, U(+-1/sqrt(fan_in)) biases)."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .. import creation
from ..autograd import no_grad
from ..backend import default_device
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


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
        if padding == "valid":
            padding = 0
        elif isinstance(padding, str):
            raise InputError(f"{layer}: padding={padding!r} is not supported; give 'valid', an int or a tuple of ints")
        k = _tuple_arg(layer, "kernel_size", kernel_size, dims, 1)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride = _tuple_arg(layer, "stride", stride, dims, 1)
        self.padding = _tuple_arg(layer, "padding", padding, dims, 0)
        self.dilation = _tuple_arg(layer, "dilation", dilation, dims, 1)
        self.groups = groups
        self.weight = _param(out_channels, in_channels // groups, *k, device=device, dtype=dtype)
        self.register_parameter("bias", _param(out_channels, device=device, dtype=dtype) if bias else None)
        _reset_fan_in(self.weight, self.bias)

    def _check(self, x: Tensor) -> None:
        if x.ndim != self._dims + 2 or x.shape[1] != self.in_channels:
            want = "(N, C, L)" if self._dims == 1 else "(N, C, H, W)"
            raise InputError(
                f"{type(self).__name__}: expected input {want} with C = {self.in_channels}, got shape {x.shape}"
            )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, groups={self.groups}"
        )


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L)."""

    _dims = 1

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.conv1d(x, self.weight, self.bias, self.stride[0], self.padding[0], self.dilation[0], self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W): stride, padding, dilation, groups."""

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class MaxPool2d(Module):
    """Max over kernel_size windows (stride defaults to kernel_size)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        layer = type(self).__name__
        k = _tuple_arg(layer, "kernel_size", kernel_size, 2, 1)
        if stride is not None:
            _tuple_arg(layer, "stride", stride, 2, 1)
        pads = _tuple_arg(layer, "padding", padding, 2, 0)
        if any(p > kk // 2 for p, kk in zip(pads, k)):
            raise InputError(f"{layer}: padding {padding} must be at most half of kernel_size {kernel_size}")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    """Mean over kernel_size windows (stride defaults to kernel_size)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


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


class Dropout(Module):
    """Zero elements with probability p in training; identity in eval."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not isinstance(p, numbers.Real):
            raise TypeError(f"Dropout: dropout probability p must be a number, got {type(p).__name__} {p!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: dropout probability p must be between 0 and 1, got {p!r}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    _dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        num_features = _int_arg(type(self).__name__, "num_features", num_features, 1)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dev = device or default_device()
        if affine:
            self.weight = Parameter(creation.ones(num_features, device=dev, dtype=dtype))
            self.bias = Parameter(creation.zeros(num_features, device=dev, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, device=dev, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, device=dev, dtype=dtype))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise InputError(
                f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._dims)} input with "
                f"{self.num_features} channels in dim 1, got shape {x.shape}"
            )
        use_batch = self.training or not self.track_running_stats
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, use_batch, self.momentum, self.eps
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


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
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        elif not isinstance(normalized_shape, (tuple, list)):
            raise TypeError(f"LayerNorm: normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}")
        self.normalized_shape = tuple(_int_arg("LayerNorm", "normalized_shape", n, 0) for n in normalized_shape)
        self.eps = eps
        dev = device or default_device()
        if elementwise_affine:
            self.weight = Parameter(creation.ones(self.normalized_shape, device=dev, dtype=dtype))
            self.bias = Parameter(creation.zeros(self.normalized_shape, device=dev, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


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
        return f"{self.num_embeddings}, {self.embedding_dim}"


def _activation_module(name: str, fn: Any, doc: str, **defaults: Any) -> type:
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        Module.__init__(self)
        params = dict(defaults)
        params.update(zip(defaults, args))
        params.update(kwargs)
        unknown = set(params) - set(defaults)
        if unknown:
            raise TypeError(f"{name}: unexpected arguments {sorted(unknown)}")
        self.__dict__["_kw"] = params

    def forward(self, x: Tensor) -> Tensor:
        return fn(x, **self._kw)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self._kw.items())

    return type(name, (Module,), {"__init__": __init__, "forward": forward, "extra_repr": extra_repr, "__doc__": doc})


ReLU = _activation_module("ReLU", F.relu, "max(x, 0).")
LeakyReLU = _activation_module("LeakyReLU", F.leaky_relu, "x, or negative_slope * x below 0.", negative_slope=0.01)
ELU = _activation_module("ELU", F.elu, "x, or alpha * (exp(x) - 1) below 0.", alpha=1.0)
Sigmoid = _activation_module("Sigmoid", F.sigmoid, "1 / (1 + exp(-x)).")
Tanh = _activation_module("Tanh", F.tanh, "tanh(x).")
Softplus = _activation_module("Softplus", F.softplus, "log(1 + exp(beta x)) / beta.", beta=1.0)
GELU = _activation_module("GELU", F.gelu, "x * Phi(x) (or its tanh approximation).", approximate="none")
SiLU = _activation_module("SiLU", F.silu, "x * sigmoid(x).")
Softmax = _activation_module("Softmax", F.softmax, "softmax along dim.", dim=-1)
LogSoftmax = _activation_module("LogSoftmax", F.log_softmax, "log-softmax along dim.", dim=-1)
