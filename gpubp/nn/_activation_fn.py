"""Functional activations and dropout with PyTorch's ``inplace=`` flag, re-exported by ``nn.functional``.

``inplace=True`` writes the result into the input and returns that same tensor; while autograd records, the op runs
on a snapshot of the old value so gradients stay exact (``ops.inplace.apply_``), and a leaf that requires grad is
refused, as PyTorch."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

from .. import ops
from ..backend import get_backend
from ..errors import InputError, InputTypeError
from ..ops import gelu
from ..ops._core import norm_dim
from ..ops.activation import _check_float
from ..ops.inplace import apply_
from ..tensor import Tensor

__all__ = [
    "dropout", "elu", "elu_", "gelu", "leaky_relu", "leaky_relu_", "log_softmax", "relu", "relu_", "sigmoid", "silu",
    "softmax", "softplus", "tanh",
    "hardtanh", "hardtanh_", "relu6", "hardswish", "hardsigmoid", "mish", "selu", "selu_", "celu", "celu_", "prelu",
    "rrelu", "rrelu_", "softsign", "logsigmoid", "glu", "softmin", "threshold", "threshold_", "tanhshrink",
    "softshrink", "hardshrink", "gumbel_softmax",
]  # fmt: skip

# SELU's constants (Klambauer et al. 2017), to PyTorch's precision
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


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


def _tensor(op: str, x: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")


def _real(op: str, name: str, value: Any) -> float:
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: argument '{name}' must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def _float_input(op: str, x: Any) -> None:
    """A floating-point tensor: PyTorch's "not implemented for 'Long'" (here an InputTypeError) otherwise."""
    _tensor(op, x)
    _check_float(op, x)


def _numeric_input(op: str, x: Any) -> None:
    """An int or float tensor (hardtanh, relu6 and threshold keep an integer dtype, as PyTorch); bool refused."""
    _tensor(op, x)
    if x.dtype.kind == "b":
        raise InputTypeError(f"{op}: Bool inputs not supported for {op}; cast to a numeric dtype first")


def _as_input_type(x: Tensor, value: float) -> float | int:
    """A scalar bound in ``x``'s kind: an integer tensor clamps to int(bound), as PyTorch casts it."""
    return int(value) if x.dtype.kind in "iu" else value


# Each piecewise activation is a ``where`` over its pieces, so the derivative at a kink is exactly PyTorch's (a
# constant piece contributes 0, the piece chosen by the comparison contributes its own slope) and gradients of
# gradients come from the composition.


def _hardtanh(x: Tensor, min_val: float, max_val: float) -> Tensor:
    lo, hi = _as_input_type(x, min_val), _as_input_type(x, max_val)
    # hardtanh'(x) = 0 at both bounds, as PyTorch (1 strictly inside); NaN passes through
    return ops.where(x <= lo, lo, ops.where(x >= hi, hi, x))


def _hardtanh_args(op: str, x: Any, min_val: Any, max_val: Any) -> tuple[float, float]:
    _numeric_input(op, x)
    lo, hi = _real(op, "min_val", min_val), _real(op, "max_val", max_val)
    if lo > hi:
        raise ValueError(f"{op}: min_val cannot be greater than max_val, got min_val={lo} > max_val={hi}")
    return lo, hi


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]; the derivative is 0 at the bounds, as PyTorch."""
    lo, hi = _hardtanh_args("hardtanh", input, min_val, max_val)
    return apply_(input, _hardtanh, "hardtanh_", lo, hi) if inplace else _hardtanh(input, lo, hi)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """hardtanh in place."""
    lo, hi = _hardtanh_args("hardtanh_", input, min_val, max_val)
    return apply_(input, _hardtanh, "hardtanh_", lo, hi)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): hardtanh(x, 0, 6), with its derivative 0 at 0 and 6."""
    _numeric_input("relu6", input)
    return apply_(input, _hardtanh, "relu6_", 0.0, 6.0) if inplace else _hardtanh(input, 0.0, 6.0)


def _hardswish(x: Tensor) -> Tensor:
    # PyTorch's derivative: 0 for x <= -3, x / 3 + 1/2 for -3 < x < 3, 1 from 3 on and for NaN (the quadratic
    # piece sees 0 there, so its unused derivative is finite: 0 * NaN would poison the gradient)
    below = ops.where(x < 3.0, x, 0.0)
    return ops.where(x < 3.0, ops.where(below <= -3.0, 0.0, below * (below + 3.0) / 6.0), x)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    _float_input("hardswish", input)
    return apply_(input, _hardswish, "hardswish_") if inplace else _hardswish(input)


def _hardsigmoid(x: Tensor) -> Tensor:
    # derivative 1/6 strictly inside (-3, 3), else 0 (at +-3 and for NaN, whose value x * 0 stays NaN), as PyTorch
    inside = (x > -3.0) & (x < 3.0)
    return ops.where(inside, x / 6.0 + 0.5, ops.where(x <= -3.0, 0.0, ops.where(x >= 3.0, 1.0, x * 0.0)))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    _float_input("hardsigmoid", input)
    return apply_(input, _hardsigmoid, "hardsigmoid_") if inplace else _hardsigmoid(input)


def _mish(x: Tensor) -> Tensor:
    return x * ops.tanh(ops.softplus(x))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    _float_input("mish", input)
    return apply_(input, _mish, "mish_") if inplace else _mish(input)


def _selu(x: Tensor) -> Tensor:
    return ops.elu(x, _SELU_ALPHA) * _SELU_SCALE  # selu'(0) = scale * alpha (the left branch), as PyTorch


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with SELU's fixed alpha ~ 1.6733 and scale ~ 1.0507."""
    _float_input("selu", input)
    return apply_(input, _selu, "selu_") if inplace else _selu(input)


def selu_(input: Tensor) -> Tensor:
    """selu in place."""
    _float_input("selu_", input)
    return apply_(input, _selu, "selu_")


def _celu(x: Tensor, alpha: float) -> Tensor:
    return ops.elu(x / alpha, 1.0) * alpha  # celu'(0) = 1


def _celu_alpha(op: str, x: Any, alpha: Any) -> float:
    _float_input(op, x)
    a = _real(op, "alpha", alpha)
    if a == 0:
        raise InputError(f"{op}: ZeroDivisionError: alpha cannot be 0 for CELU")
    return a


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    a = _celu_alpha("celu", input, alpha)
    return apply_(input, _celu, "celu_", a) if inplace else _celu(input, a)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """celu in place."""
    return apply_(input, _celu, "celu_", _celu_alpha("celu_", input, alpha))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x for x > 0, else weight * x, with one learned slope (or one per channel, dim 1)."""
    _float_input("prelu", input)
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim > 1:
        raise InputError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    if weight.dtype != input.dtype:
        raise InputTypeError(f"prelu: Type promoting not supported. Got input {input.dtype} and weight {weight.dtype}")
    n = weight.numel()
    if n != 1:
        if input.ndim == 0:
            raise InputError(f"prelu: Not allow zero-dim input tensor with {n} weights")
        channels = input.shape[1] if input.ndim > 1 else 1
        if channels != n:
            raise InputError(
                "prelu: Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                f"{n} and channel size = {channels}."
            )
    if input.ndim > 1:
        weight = weight.reshape((-1,) + (1,) * (input.ndim - 2))  # (C, 1, ..., 1): broadcast over dim 1
    elif input.ndim == 0:
        weight = weight.reshape(())
    # prelu'(0) = weight (the negative branch), as PyTorch
    return ops.where(input > 0, input, weight * input)


def _rrelu_bounds(op: str, x: Any, lower: Any, upper: Any) -> tuple[float, float]:
    _float_input(op, x)
    lo, hi = _real(op, "lower", lower), _real(op, "upper", upper)
    if lo > hi:
        raise InputError(f"{op}: Lower bound should be less than or equal to the upper bound, got {lo} > {hi}")
    return lo, hi


def _rrelu(x: Tensor, lower: float, upper: float, training: bool) -> Tensor:
    if not training:
        return ops.leaky_relu(x, (lower + upper) / 2)
    be = x._be
    with be.enter():  # one slope per element, drawn on the device: U(lower, upper)
        u = be.rand(x.shape, x.dtype)
        slope = Tensor._wrap((u * (upper - lower) + lower).astype(x.dtype), be)
    return ops.where(x > 0, x, x * slope)  # rrelu'(0) = its slope, as PyTorch


def rrelu(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False
) -> Tensor:
    """Randomized leaky relu: a slope per element from U(lower, upper) in training, (lower + upper) / 2 in eval."""
    lo, hi = _rrelu_bounds("rrelu", input, lower, upper)
    return apply_(input, _rrelu, "rrelu_", lo, hi, training) if inplace else _rrelu(input, lo, hi, training)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    """rrelu in place."""
    lo, hi = _rrelu_bounds("rrelu_", input, lower, upper)
    return apply_(input, _rrelu, "rrelu_", lo, hi, training)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    _numeric_input("softsign", input)
    if input.dtype.kind != "f":
        input = input.float()  # an integer tensor gives the default float dtype, as PyTorch
    return input / (input.abs() + 1.0)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), computed stably as -softplus(-x)."""
    _float_input("logsigmoid", input)
    return -ops.softplus(-input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), where a and b are the two halves of ``input`` along ``dim``."""
    _float_input("glu", input)
    if input.ndim == 0:
        raise InputError("glu: glu does not support scalars because halving size must be even")
    d = norm_dim(dim, input.ndim, "glu")
    n = input.shape[d]
    if n % 2:
        raise InputError(f"glu: Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.split(n // 2, d)
    return a * ops.sigmoid(b)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmax(-x) along ``dim``; ``dtype`` casts the input first (None for dim: PyTorch's legacy choice)."""
    input, dim = _rowwise_args("softmin", input, dim, dtype)
    return ops.softmax(-input, dim)


def _threshold(x: Tensor, threshold: float, value: float) -> Tensor:
    return ops.where(x <= threshold, _as_input_type(x, value), x)  # derivative 0 where x <= threshold


def _threshold_args(op: str, x: Any, threshold: Any, value: Any) -> tuple[float, float]:
    _numeric_input(op, x)
    return _real(op, "threshold", threshold), _real(op, "value", value)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    th, v = _threshold_args("threshold", input, threshold, value)
    return apply_(input, _threshold, "threshold_", th, v) if inplace else _threshold(input, th, v)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """threshold in place."""
    th, v = _threshold_args("threshold_", input, threshold, value)
    return apply_(input, _threshold, "threshold_", th, v)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    _numeric_input("tanhshrink", input)
    return input - ops.tanh(input)


def _inside(x: Tensor, lambd: float) -> Tensor:
    return (x >= -lambd) & (x <= lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between (derivative 0 at +-lambd, as PyTorch)."""
    _float_input("softshrink", input)
    lam = _real("softshrink", "lambd", lambd)
    if not lam >= 0:
        raise InputError(f"softshrink: lambda must be in range [0, inf) for input dtype {input.dtype}, but found {lam}")
    return ops.where(_inside(input, lam), 0.0, ops.where(input > lam, input - lam, input + lam))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0 (derivative 0 at +-lambd, as PyTorch)."""
    _float_input("hardshrink", input)
    lam = _real("hardshrink", "lambd", lambd)
    return ops.where(_inside(input, lam), 0.0, input)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """tanh(x)."""
    return ops.tanh(input)


def _rowwise_args(op: str, input: Any, dim: int | None, dtype: Any) -> tuple[Tensor, int]:
    _tensor(op, input)
    if dim is None:
        dim = legacy_softmax_dim(op, input.ndim, stacklevel=4)
    if dtype is not None:
        input = input.to(dtype)  # cast first, as PyTorch (so float16 logits can be normalized in float32)
    return input, dim


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``; ``dtype`` casts the input first (None for dim: PyTorch's legacy choice,
    with its deprecation warning)."""
    input, dim = _rowwise_args("softmax", input, dim, dtype)
    return ops.softmax(input, dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """x - logsumexp(x) along ``dim``, computed stably; ``dtype`` and dim=None as ``softmax``."""
    input, dim = _rowwise_args("log_softmax", input, dim, dtype)
    return ops.log_softmax(input, dim)


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1) -> Tensor:
    """softmax((logits + g) / tau) along ``dim``, g ~ Gumbel(0, 1) from gpubp's generator on the logits' device;
    ``hard``: the one-hot of its argmax, with the soft sample's (straight-through) gradient. ``eps`` is deprecated
    and unused, as PyTorch."""
    _float_input("gumbel_softmax", logits)
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    from ..creation import empty_like, zeros_like  # creation sits beside ops; imported where used

    gumbels = -empty_like(logits).exponential_().log()  # ~ Gumbel(0, 1)
    y_soft = ops.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft  # the reparameterization trick
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft  # straight through: the value of y_hard, the gradient of y_soft


def _dropout(x: Tensor, p: float) -> Tensor:
    be = get_backend(x.device)
    if p == 1.0:
        return x * 0.0
    with be.enter():  # the mask's raw-array arithmetic runs on x's device (cuda:1 while cuda:0 is current)
        keep = be.rand(x.shape, x.dtype) >= p
        scale = Tensor._wrap(keep.astype(x.dtype) * (1.0 / (1.0 - p)), be)
    return x * scale


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


def legacy_softmax_dim(name: str, ndim: int, stacklevel: int = 3) -> int:
    """The dim PyTorch's Softmax(dim=None) picks (0 for 0-, 1- and 3-D inputs, else 1), with its warning."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1
