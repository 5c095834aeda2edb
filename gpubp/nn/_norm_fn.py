"""Functional normalization, under ``torch.nn.functional``'s names."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import no_grad
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._fn_common import _channel_view

__all__ = ["batch_norm", "layer_norm"]


def _check_batch_norm_args(x: Tensor, stats: dict[str, Tensor | None]) -> None:
    """Each given statistic or affine parameter: a tensor of C elements with the input's dtype, or float32 for a
    float16 input (PyTorch's mixed case; gpubp also lets a float16 model keep float32 running statistics).
    Another mix is a RuntimeError, as PyTorch."""
    c = x.shape[1]
    params = {name: t for name, t in stats.items() if t is not None}
    for name, t in params.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"batch_norm: {name} must be a Tensor or None, got {type(t).__name__}")
        if t.numel() != c:
            raise InputError(f"batch_norm: {name} should contain {c} elements (one per channel), not {t.numel()}")
    allowed = {x.dtype, np.dtype(np.float32)} if x.dtype == np.float16 else {x.dtype}
    wrong = {name: t.dtype for name, t in params.items() if t.dtype not in allowed}
    if wrong:
        got = ", ".join(f"{name} {dt}" for name, dt in wrong.items())
        want = " or ".join(sorted(str(d) for d in allowed))
        raise RuntimeError(f"batch_norm: mixed dtype: input is {x.dtype} but {got}; expected {want}")


def batch_norm(
    x: Tensor,
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
    if not isinstance(x, Tensor):
        raise TypeError(f"batch_norm: input must be a Tensor, got {type(x).__name__}")
    if x.ndim < 2:
        raise InputError(f"batch_norm: expected input (N, C, ...), got shape {x.shape}")
    if x.dtype.kind != "f":  # PyTorch: NotImplementedError "batch_norm" not implemented for 'Long'
        raise InputTypeError(f"batch_norm: not implemented for {x.dtype} input; expected a floating-point tensor")
    stats = {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias}
    _check_batch_norm_args(x, stats)
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        n = x.numel() // x.shape[1]
        if n < 2:
            raise InputError(f"batch_norm: training needs more than 1 value per channel, got input shape {x.shape}")
        mean = x.mean(axes, keepdim=True)
        var = x.var(axes, correction=0, keepdim=True)
        if running_mean is not None and running_var is not None:
            with no_grad():
                running_mean.mul_(1 - momentum).add_(mean.reshape(-1).detach() * momentum)
                running_var.mul_(1 - momentum).add_(var.reshape(-1).detach() * (momentum * n / (n - 1)))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation needs running_mean and running_var")
        mean, var = _channel_view(running_mean, x.ndim), _channel_view(running_var, x.ndim)
    y = (x - mean) * (var + eps).rsqrt()
    if weight is not None:
        y = y * _channel_view(weight, x.ndim)
    if bias is not None:
        y = y + _channel_view(bias, x.ndim)
    return y if y.dtype == x.dtype else y.astype(x.dtype)  # float32 statistics of a float16 input: float16 out


def layer_norm(
    x: Tensor, normalized_shape: Any, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalize over the last len(normalized_shape) dims."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape:
        raise InputError(f"layer_norm: input shape {x.shape} does not end with normalized_shape {shape}")
    if x.dtype.kind != "f":  # PyTorch: NotImplementedError "LayerNormKernelImpl" not implemented for 'Long'
        raise InputTypeError(f"layer_norm: not implemented for {x.dtype} input; expected a floating-point tensor")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(axes, keepdim=True)
    y = (x - mean) * (x.var(axes, correction=0, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
