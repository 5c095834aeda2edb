"""Functional normalization, under ``torch.nn.functional``'s names. Each is a composition of differentiable ops (mean,
var, rsqrt, reshape, pad, getitem), so gradients, and gradients of gradients, come from the tape."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import ops
from ..autograd import no_grad
from ..errors import InputError, InputTypeError
from ..ops import pad
from ..tensor import Tensor
from ._fn_common import _channel_view

__all__ = ["batch_norm", "group_norm", "instance_norm", "layer_norm", "local_response_norm", "rms_norm"]


def _check_tensor_input(op: str, x: Any, min_ndim: int) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim < min_ndim:
        raise InputError(f"{op}: expected input (N, C, ...) with at least {min_ndim} dims, got shape {x.shape}")
    if x.dtype.kind != "f":  # PyTorch: NotImplementedError "batch_norm" not implemented for 'Long'
        raise InputTypeError(f"{op}: not implemented for {x.dtype} input; expected a floating-point tensor")


def _check_batch_norm_args(x: Tensor, stats: dict[str, Tensor | None], op: str = "batch_norm") -> None:
    """Each given statistic or affine parameter: a tensor of C elements with the input's dtype, or float32 for a
    float16 input (PyTorch's mixed case; gpubp also lets a float16 model keep float32 running statistics).
    Another mix is a RuntimeError, as PyTorch."""
    c = x.shape[1]
    params = {name: t for name, t in stats.items() if t is not None}
    for name, t in params.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
        if t.numel() != c:
            raise InputError(f"{op}: {name} should contain {c} elements (one per channel), not {t.numel()}")
    allowed = {x.dtype, np.dtype(np.float32)} if x.dtype == np.float16 else {x.dtype}
    wrong = {name: t.dtype for name, t in params.items() if t.dtype not in allowed}
    if wrong:
        got = ", ".join(f"{name} {dt}" for name, dt in wrong.items())
        want = " or ".join(sorted(str(d) for d in allowed))
        raise RuntimeError(f"{op}: mixed dtype: input is {x.dtype} but {got}; expected {want}")


def _affine(y: Tensor, x: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """Per-channel (dim 1) scale and shift, cast back to the input's dtype (float32 parameters of a float16 input)."""
    if weight is not None:
        y = y * _channel_view(weight, x.ndim)
    if bias is not None:
        y = y + _channel_view(bias, x.ndim)
    return y if y.dtype == x.dtype else y.astype(x.dtype)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (dim 1) by batch statistics (training) or running ones (eval);
    in training the running statistics move by ``momentum`` (running var uses the unbiased var)."""
    _check_tensor_input("batch_norm", input, 2)
    stats = {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias}
    _check_batch_norm_args(input, stats)
    axes = (0,) + tuple(range(2, input.ndim))
    if training:
        n = input.numel() // input.shape[1]
        if n < 2:
            raise InputError(f"batch_norm: training needs more than 1 value per channel, got input shape {input.shape}")
        mean = input.mean(axes, keepdim=True)
        var = input.var(axes, correction=0, keepdim=True)
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.reshape(-1).detach() * momentum)
            if running_var is not None:
                running_var.mul_(1 - momentum).add_(var.reshape(-1).detach() * (momentum * n / (n - 1)))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation needs running_mean and running_var")
        mean, var = _channel_view(running_mean, input.ndim), _channel_view(running_var, input.ndim)
    return _affine((input - mean) * (var + eps).rsqrt(), input, weight, bias)


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each (sample, channel) over its spatial dims; given running statistics move by ``momentum`` toward
    the batch average of the per-instance ones (unbiased var), and are used instead when not ``use_input_stats``."""
    _check_tensor_input("instance_norm", input, 2)
    stats = {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias}
    _check_batch_norm_args(input, stats, "instance_norm")
    axes = tuple(range(2, input.ndim))
    if use_input_stats:
        n = input.numel() // (input.shape[0] * input.shape[1]) if input.numel() else 0
        if n == 1 or not axes:  # PyTorch: ValueError
            raise ValueError(
                f"instance_norm: expected more than 1 spatial element when training, got input size {input.shape}"
            )
        mean = input.mean(axes, keepdim=True)  # (N, C, 1, ...)
        var = input.var(axes, correction=0, keepdim=True)
        with no_grad():
            if running_mean is not None:
                batch_mean = mean.detach().reshape(input.shape[:2]).mean(0)
                running_mean.mul_(1 - momentum).add_(batch_mean.astype(running_mean.dtype) * momentum)
            if running_var is not None:
                batch_var = var.detach().reshape(input.shape[:2]).mean(0) * (n / (n - 1))
                running_var.mul_(1 - momentum).add_(batch_var.astype(running_var.dtype) * momentum)
    else:
        if running_mean is None or running_var is None:  # PyTorch: RuntimeError
            raise InputError(
                "instance_norm: expected running_mean and running_var to be defined when use_input_stats is false"
            )
        mean, var = _channel_view(running_mean, input.ndim), _channel_view(running_var, input.ndim)
    return _affine((input - mean) * (var + eps).rsqrt(), input, weight, bias)


def _normalized_shape(op: str, x: Tensor, normalized_shape: Any) -> tuple[int, ...]:
    if isinstance(normalized_shape, numbers.Integral):
        shape = (int(normalized_shape),)
    else:
        shape = tuple(normalized_shape)
    if not shape or x.shape[x.ndim - len(shape) :] != shape:  # PyTorch: RuntimeError
        raise InputError(
            f"{op}: input shape {x.shape} does not end with normalized_shape {shape} (given "
            f"normalized_shape={list(shape)}, expected input with shape [*, {', '.join(map(str, shape))}])"
        )
    if x.dtype.kind != "f":  # PyTorch: NotImplementedError "LayerNormKernelImpl" not implemented for 'Long'
        raise InputTypeError(f"{op}: not implemented for {x.dtype} input; expected a floating-point tensor")
    return shape


def layer_norm(
    input: Tensor, normalized_shape: Any, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalize over the last len(normalized_shape) dims."""
    _normalized_shape("layer_norm", input, normalized_shape)
    return ops.layer_norm(input, normalized_shape, weight, bias, eps)  # one fused op (gpubp/ops/normalization.py)


def rms_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2 over the last len(normalized_shape) dims) + eps) * weight (x the input); eps None is the
    dtype's machine epsilon (float32's for a float16 input, which is computed in float32 as PyTorch)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rms_norm: input must be a Tensor, got {type(input).__name__}")
    shape = _normalized_shape("rms_norm", input, normalized_shape)
    if weight is not None and tuple(weight.shape) != shape:
        raise InputError(f"rms_norm: weight must have shape {shape} (normalized_shape), got {weight.shape}")
    return ops.rms_norm(input, normalized_shape, weight, eps)  # one fused op (gpubp/ops/normalization.py)


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Split the channels (dim 1) into ``num_groups`` groups and normalize each sample's group over its channels and
    spatial dims, then scale and shift per channel."""
    if not isinstance(input, Tensor):
        raise TypeError(f"group_norm: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:  # PyTorch: RuntimeError
        raise InputError(f"group_norm: expected at least 2 dimensions for input tensor but received {input.ndim}")
    if not isinstance(num_groups, numbers.Integral) or isinstance(num_groups, bool):
        raise TypeError(f"group_norm: num_groups must be an int, got {num_groups!r}")
    if num_groups < 1 or input.shape[1] % num_groups:  # PyTorch: RuntimeError
        raise InputError(
            f"group_norm: expected number of channels in input to be divisible by num_groups, but got input of "
            f"shape {list(input.shape)} and num_groups={num_groups}"
        )
    per_group = input.shape[0] * input.shape[1] // num_groups * int(np.prod(input.shape[2:], dtype=np.int64))
    if per_group == 1:  # PyTorch's _verify_batch_size, a ValueError
        raise ValueError(
            f"group_norm: expected more than 1 value per channel when training, got input size {input.shape}"
        )
    _check_tensor_input("group_norm", input, 2)
    _check_batch_norm_args(input, {"weight": weight, "bias": bias}, "group_norm")
    n = input.shape[0]
    g = input.reshape(n, num_groups, -1)  # (N, G, C/G * spatial)
    y = (g - g.mean(-1, keepdim=True)) * (g.var(-1, correction=0, keepdim=True) + eps).rsqrt()
    return _affine(y.reshape(input.shape), input, weight, bias)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """x / (k + alpha * avg(x^2 over a window of ``size`` neighbouring channels, zero-padded)) ** beta (x the input),
    as PyTorch (whose average always divides by ``size``)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"local_response_norm: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 3:  # PyTorch: ValueError
        raise ValueError(
            f"local_response_norm: expected 3D or higher dimensionality input (got {input.ndim} dimensions)"
        )
    if not isinstance(size, numbers.Integral) or isinstance(size, bool):
        raise TypeError(f"local_response_norm: size must be an int, got {size!r}")
    if size < 1:
        raise ValueError(f"local_response_norm: size must be positive, got {size}")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = pad(input * input, (0, 0) * (input.ndim - 2) + (size // 2, (size - 1) // 2))  # (N, C + size - 1, ...)
    window = sq[:, 0:c]
    for i in range(1, size):
        window = window + sq[:, i : i + c]
    div = (window * (alpha / size) + k) ** beta
    return input / div
