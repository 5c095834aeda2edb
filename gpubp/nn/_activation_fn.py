"""Functional activations and dropout with PyTorch's ``inplace=`` flag, re-exported by ``nn.functional``.

``inplace=True`` writes the result into the input and returns that same tensor; while autograd records, the op runs
on a snapshot of the old value so gradients stay exact (``ops.inplace.apply_``), and a leaf that requires grad is
refused, as PyTorch."""

from __future__ import annotations

import numbers
import warnings

from .. import ops
from ..backend import get_backend
from ..ops import gelu, log_softmax, sigmoid, softmax, tanh
from ..ops.inplace import apply_
from ..tensor import Tensor

__all__ = [
    "dropout", "elu", "elu_", "gelu", "leaky_relu", "leaky_relu_", "log_softmax", "relu", "relu_", "sigmoid", "silu",
    "softmax", "softplus", "tanh",
]  # fmt: skip


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); relu'(0) = 0, as PyTorch."""
    return apply_(input, ops.relu, "relu_") if inplace else ops.relu(input)


def relu_(input: Tensor) -> Tensor:
    """relu in place."""
    return apply_(input, ops.relu, "relu_")


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    if inplace:
        return apply_(input, ops.leaky_relu, "leaky_relu_", negative_slope)
    return ops.leaky_relu(input, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """leaky_relu in place."""
    return apply_(input, ops.leaky_relu, "leaky_relu_", negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha * (exp(x) - 1)."""
    return apply_(input, ops.elu, "elu_", alpha) if inplace else ops.elu(input, alpha)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """elu in place."""
    return apply_(input, ops.elu, "elu_", alpha)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return apply_(input, ops.silu, "silu_") if inplace else ops.silu(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (20 by default, as PyTorch)."""
    if threshold == 20:
        return ops.softplus(input, beta)
    if not isinstance(threshold, numbers.Real):
        raise TypeError(f"softplus: argument 'threshold' must be a number, got {type(threshold).__name__}")
    return ops.where(input * beta > threshold, input, ops.softplus(input, beta))


def _dropout(x: Tensor, p: float) -> Tensor:
    be = get_backend(x.device)
    if p == 1.0:
        return x * 0.0
    keep = be.rand(x.shape, x.dtype) >= p
    return x * Tensor._wrap(keep.astype(x.dtype) * (1.0 / (1.0 - p)), be)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only)."""
    if not isinstance(p, numbers.Real):
        raise TypeError(f"dropout: p must be a number, got {type(p).__name__} {p!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if inplace:
        return apply_(input, _dropout, "dropout_", p)
    return _dropout(input, p)


def legacy_softmax_dim(name: str, ndim: int) -> int:
    """The dim PyTorch's Softmax(dim=None) picks (0 for 0-, 1- and 3-D inputs, else 1), with its warning."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1
