"""Activations. Each calls its backend's fused forward and derivative primitives: one pass
forward, and one pass backward that reads the upstream gradient and one saved tensor."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..autograd import OUT, _mode
from ..backend.base import ACTIVATION_SAVES
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import float_data, make, norm_dim

# PyTorch computes sigmoid and tanh of integers and bools (as float32) and relu of integers (keeping the dtype); the
# other activations and softmax take floating point only ("... not implemented for 'Long'")
_TAKES_INTEGERS = ("sigmoid", "tanh")


def _check_float(op: str, x: Tensor) -> None:
    """A floating-point input (a dtype test, nothing read): NotImplementedError in PyTorch, a TypeError here."""
    if x.dtype.kind != "f":
        raise InputTypeError(f"{op}: not implemented for {x.dtype} input; expected a floating-point tensor")


def _number(op: str, name: str, value: Any) -> float:
    """A real scalar argument (a bool counts, as PyTorch), else a TypeError naming it."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: argument '{name}' must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def _activation(name: str, x: Tensor, param: float = 0.0) -> Tensor:
    be = x._be
    if name not in _TAKES_INTEGERS:
        _check_float(name, x)
    xd = float_data(x)
    if _mode.enabled and x._requires_grad:
        # a backend may keep what the derivative needs besides the saved tensor (NumPy: GELU's act'(x)); None if not
        y, kept = be.act_forward_keep(name, xd, param)
    else:
        y, kept = be.act_forward(name, xd, param), None

    def rule(m: Any, g: Any, v: Any, k: Any) -> tuple:
        # the derivative is a fused primitive of its own (one pass over g and the saved tensor, or g * act'(x) when
        # kept); with create_graph it runs as the backend's reference formula on tensors (the kept array is a
        # constant, so it is not used there), and is differentiated in turn
        if k is None or m.graph:
            return (m.act_backward(name, g, v, param),)
        return (m.be.act_backward_kept(name, g, v, k, param),)

    return make(name, y, be, (x,), rule, saved=(OUT if ACTIVATION_SAVES[name] == "output" else x, kept))


def relu(x: Tensor) -> Tensor:
    """max(x, 0); relu'(0) = 0, as PyTorch. An integer tensor keeps its dtype (no gradient to track)."""
    kind = x.dtype.kind
    if kind == "b":
        raise InputTypeError("relu: Boolean inputs not supported for relu; cast to a numeric dtype first")
    if kind in "iu":
        with x._be.enter():
            return Tensor._wrap(x._be.xp.maximum(x._data, 0), x._be)
    return _activation("relu", x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return _activation("leaky_relu", x, _number("leaky_relu", "negative_slope", negative_slope))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else alpha * (exp(x) - 1)."""
    return _activation("elu", x, _number("elu", "alpha", alpha))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow."""
    return _activation("sigmoid", x)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _activation("tanh", x)


def softplus(x: Tensor, beta: float = 1.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, linear where beta * x > 20 (PyTorch's threshold). Any beta, as PyTorch:
    beta = 0 gives inf, a negative beta -softplus(|beta| x) / |beta| (where beta * x <= 20)."""
    beta = _number("softplus", "beta", beta)
    if beta == 0:
        with np.errstate(divide="ignore", invalid="ignore"):  # log(2) / 0 = inf, as PyTorch, without NumPy's warning
            return _activation("softplus", x, beta)
    return _activation("softplus", x, beta)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (exact, with erf) or its tanh approximation (approximate='tanh')."""
    if approximate not in ("none", "tanh"):
        raise InputError(f"gelu: approximate argument must be either 'none' or 'tanh', got {approximate!r}")
    return _activation("gelu" if approximate == "none" else "gelu_tanh", x)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return _activation("silu", x)


def _rowwise(name: str, x: Tensor, dim: int, constant: float) -> Tensor:
    """softmax / log_softmax along ``dim`` through the backend's fused pair (saves the output).
    A 0-d input is a single row of one element: the result is ``constant`` and the gradient 0."""
    be = x._be
    _check_float(name, x)
    xd = float_data(x)
    if x.ndim == 0:
        return make(name, be.xp.full_like(xd, constant), be, (x,), lambda m, g: (m.zeros_like(g),))
    ax = norm_dim(dim, x.ndim, name)
    if xd.shape[ax] == 0:  # rows of no elements: an empty result (the max shift has nothing to reduce)
        with be.enter():
            return make(name, be.xp.empty_like(xd), be, (x,), lambda m, g: (m.zeros_like(g),))
    y = getattr(be, name)(xd, ax)
    backward = name + "_backward"
    return make(name, y, be, (x,), lambda m, g, y: (getattr(m, backward)(g, y, ax),), saved=(OUT,))


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the max for stability."""
    return _rowwise("softmax", x, dim, 1.0)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``, computed stably."""
    return _rowwise("log_softmax", x, dim, 0.0)
