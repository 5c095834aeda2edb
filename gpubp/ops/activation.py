"""Activations. Each calls its backend's fused forward and derivative primitives: one pass
forward, and one pass backward that reads the upstream gradient and one saved tensor."""

from __future__ import annotations

from ..backend.base import ACTIVATION_SAVES
from ..tensor import Tensor
from ._core import float_data, make, norm_dim


def _activation(name: str, x: Tensor, param: float = 0.0) -> Tensor:
    be = x._be
    xd = float_data(x)
    y = be.act_forward(name, xd, param)
    if ACTIVATION_SAVES[name] == "output":
        return make(name, y, be, (x,), lambda g: (be.act_backward(name, g, y, param),), save_out=True)
    return make(name, y, be, (x,), lambda g: (be.act_backward(name, g, xd, param),), save=(x,))


def relu(x: Tensor) -> Tensor:
    """max(x, 0); relu'(0) = 0, as PyTorch."""
    return _activation("relu", x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return _activation("leaky_relu", x, float(negative_slope))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else alpha * (exp(x) - 1)."""
    return _activation("elu", x, float(alpha))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow."""
    return _activation("sigmoid", x)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _activation("tanh", x)


def softplus(x: Tensor, beta: float = 1.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, linear where beta * x > 20 (PyTorch's threshold)."""
    if beta <= 0:
        raise ValueError(f"softplus: beta must be positive, got {beta}")
    return _activation("softplus", x, float(beta))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (exact, with erf) or its tanh approximation (approximate='tanh')."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _activation("gelu" if approximate == "none" else "gelu_tanh", x)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return _activation("silu", x)


def _rowwise(name: str, x: Tensor, dim: int, constant: float) -> Tensor:
    """softmax / log_softmax along ``dim`` through the backend's fused pair (saves the output).
    A 0-d input is a single row of one element: the result is ``constant`` and the gradient 0."""
    be = x._be
    xd = float_data(x)
    if x.ndim == 0:
        return make(name, be.xp.full_like(xd, constant), be, (x,), lambda g: (be.xp.zeros_like(g),))
    ax = norm_dim(dim, x.ndim, name)
    forward, backward = getattr(be, name), getattr(be, name + "_backward")
    y = forward(xd, ax)
    return make(name, y, be, (x,), lambda g: (backward(g, y, ax),), save_out=True)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the max for stability."""
    return _rowwise("softmax", x, dim, 1.0)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``, computed stably."""
    return _rowwise("log_softmax", x, dim, 0.0)
