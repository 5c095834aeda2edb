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


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the max for stability."""
    be = x._be
    ax = norm_dim(dim, max(x.ndim, 1), "softmax") if x.ndim else None
    xd = float_data(x)
    if ax is None:
        return make("softmax", be.xp.ones_like(xd), be, (x,), lambda g: (be.xp.zeros_like(g),))
    y = be.softmax(xd, ax)
    return make("softmax", y, be, (x,), lambda g: (be.softmax_backward(g, y, ax),), save_out=True)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``, computed stably."""
    be = x._be
    ax = norm_dim(dim, max(x.ndim, 1), "log_softmax") if x.ndim else None
    xd = float_data(x)
    if ax is None:
        return make("log_softmax", be.xp.zeros_like(xd), be, (x,), lambda g: (be.xp.zeros_like(g),))
    y = be.log_softmax(xd, ax)
    return make("log_softmax", y, be, (x,), lambda g: (be.log_softmax_backward(g, y, ax),), save_out=True)
