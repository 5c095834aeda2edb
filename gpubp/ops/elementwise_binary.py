"""Binary (and ternary) elementwise math: atan2, hypot, fmod, remainder, divisions, copysign, lerp, addcmul, ...

Operands broadcast and promote as PyTorch's (``operands``: Python scalars stay scalars); each gradient is folded
back to its input's shape by ``unbroadcast``. Piecewise-constant factors of a gradient (trunc(a / b) in fmod's)
are computed on the raw arrays in both modes: their own derivative is zero.
"""

from __future__ import annotations

import math
from typing import Any

from .. import dtypes
from ..autograd import OUT
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import arith, shape
from ._core import make, operands, spec, write_out
from .arith import _compute

_LN2 = math.log(2.0)


def _floats(v: Any) -> Any:
    """An array operand as floating point (integers become float32, as PyTorch's float functions)."""
    if hasattr(v, "dtype") and v.dtype.kind != "f":
        return v.astype(dtypes.DEFAULT_FLOAT)
    return v


def _float_operands(a: Any, b: Any, op: str) -> tuple:
    ta, tb, x, y, be = operands(a, b, op)
    return ta, tb, _floats(x), _floats(y), be


def _keep(t: Tensor | None, v: Any) -> Any:
    return t if t is not None else v


def atan2(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """The angle of (other, input) in (-pi, pi]; d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)."""
    ta, tb, x, y, be = _float_operands(input, other, "atan2")
    sa, sb = spec(ta), spec(tb)

    def rule(m: Any, g: Any, x: Any, y: Any) -> tuple:
        q = g / (x * x + y * y)
        return m.unbroadcast(None if sa is None else q * y, sa), m.unbroadcast(None if sb is None else -q * x, sb)

    r = make("atan2", _compute("atan2", be.xp.arctan2, x, y), be, (ta, tb), rule, saved=(_keep(ta, x), _keep(tb, y)))
    return write_out(r, out, "atan2")


def hypot(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """sqrt(a^2 + b^2) without overflow; d/da = a / hypot, d/db = b / hypot (saves its output)."""
    ta, tb, x, y, be = _float_operands(input, other, "hypot")
    sa, sb = spec(ta), spec(tb)

    def rule(m: Any, g: Any, x: Any, y: Any, h: Any) -> tuple:
        q = g / h
        return m.unbroadcast(None if sa is None else q * x, sa), m.unbroadcast(None if sb is None else q * y, sb)

    saved = (_keep(ta, x), _keep(tb, y), OUT)
    r = make("hypot", _compute("hypot", be.xp.hypot, x, y), be, (ta, tb), rule, saved=saved)
    return write_out(r, out, "hypot")


def _modulo(op: str, a: Any, b: Any, fn_name: str, quotient: str, out: Any) -> Tensor:
    ta, tb, x, y, be = operands(a, b, op)
    xp = be.xp
    sa, sb = spec(ta), spec(tb)

    def rule(m: Any, g: Any, x: Any, y: Any) -> tuple:
        gb = None
        if sb is not None:
            q = getattr(xp, quotient)(xp.true_divide(m.raw(x), m.raw(y)))  # piecewise constant: no gradient
            gb = m.unbroadcast(-g * m.const(q), sb)
        return m.unbroadcast(g, sa), gb

    saved = (_keep(ta, x) if sb is not None else None, _keep(tb, y) if sb is not None else None)
    r = make(op, _compute(op, getattr(xp, fn_name), x, y), be, (ta, tb), rule, saved=saved)
    return write_out(r, out, op)


def fmod(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """The C remainder a - trunc(a / b) * b (the sign of a); d/da = 1, d/db = -trunc(a / b)."""
    return _modulo("fmod", input, other, "fmod", "trunc", out)


def remainder(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Python's remainder a - floor(a / b) * b (the sign of b), the ``%`` operator; d/db = -floor(a / b)."""
    return _modulo("remainder", input, other, "remainder", "floor", out)


def floor_divide(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """floor(a / b), the ``//`` operator (integers stay integers). No gradient: PyTorch implements none. An integer
    division by zero gives 0 (PyTorch raises; checking would synchronize on a GPU)."""
    _, _, x, y, be = operands(input, other, "floor_divide")
    return write_out(Tensor._wrap(_compute("floor_divide", be.xp.floor_divide, x, y), be), out, "floor_divide")


def _trunc_divide(xp: Any, x: Any, y: Any) -> Any:
    if getattr(x, "dtype", getattr(y, "dtype", None)).kind == "f":
        return xp.trunc(xp.true_divide(x, y))
    q = xp.floor_divide(x, y)
    # floor and trunc differ where the division is inexact and the signs differ
    return q + ((xp.remainder(x, y) != 0) & ((xp.asarray(x) < 0) != (xp.asarray(y) < 0)))


def divide(input: Any, other: Any, *, rounding_mode: str | None = None, out: Tensor | None = None) -> Tensor:
    """a / b: true division (``rounding_mode=None``, as ``div``), 'trunc' (toward zero) or 'floor'; the rounded
    divisions keep integer dtypes and have a zero gradient, as PyTorch."""
    if rounding_mode is None:
        return write_out(arith.div(input, other), out, "divide")
    if rounding_mode not in ("trunc", "floor"):
        raise InputError(
            f"divide: expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'"
        )
    ta, tb, x, y, be = operands(input, other, "divide")
    if rounding_mode == "floor":
        q = _compute("divide", be.xp.floor_divide, x, y)
    else:
        q = _compute("divide", lambda u, v: _trunc_divide(be.xp, u, v), x, y)
    if not hasattr(q, "dtype"):
        q = be.xp.asarray(q)
    sa, sb = spec(ta), spec(tb)

    def rule(m: Any, g: Any) -> tuple:
        zero = m.zeros_like(g)
        return m.unbroadcast(None if sa is None else zero, sa), m.unbroadcast(None if sb is None else zero, sb)

    return write_out(make("divide", q, be, (ta, tb), rule), out, "divide")


def copysign(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """|a| with the sign of b (integers give float32); d/da = copysign / a (0 at a == 0), d/db = 0, as PyTorch."""
    ta, tb, x, y, be = _float_operands(input, other, "copysign")
    sa, sb = spec(ta), spec(tb)

    def rule(m: Any, g: Any, x: Any, r: Any) -> tuple:
        ga = None
        if sa is not None:
            zero = m.raw(x) == 0
            ga = m.where(zero, 0.0, g * (r / m.where(zero, 1.0, x)))
        return m.unbroadcast(ga, sa), m.unbroadcast(None if sb is None else m.zeros_like(g), sb)

    saved = (_keep(ta, x), OUT)
    r = make("copysign", _compute("copysign", be.xp.copysign, x, y), be, (ta, tb), rule, saved=saved)
    return write_out(r, out, "copysign")


def heaviside(input: Tensor, values: Tensor, *, out: Tensor | None = None) -> Tensor:
    """0 where x < 0 (and at NaN), ``values`` where x == 0, 1 where x > 0. No gradient, as PyTorch."""
    if not isinstance(input, Tensor) or not isinstance(values, Tensor):
        raise TypeError("heaviside(): input and values must be Tensors")
    if input.dtype != values.dtype:
        raise InputTypeError(
            f"heaviside is not yet implemented for tensors with different dtypes ({input.dtype} and {values.dtype})"
        )
    _, _, x, y, be = operands(input, values, "heaviside")
    xp = be.xp
    r = _compute("heaviside", lambda u, v: xp.where(u == 0, v, (u > 0).astype(u.dtype)), x, y)
    return write_out(Tensor._wrap(r, be), out, "heaviside")


def lerp(input: Tensor, end: Tensor, weight: Any, *, out: Tensor | None = None) -> Tensor:
    """input + weight * (end - input) (weight a number or a tensor; all broadcast); d/dinput = 1 - w,
    d/dend = w, d/dweight = end - input. Computed as PyTorch, from the nearer end for accuracy."""
    ts, te, s, e, be = _float_operands(input, end, "lerp")
    xp = be.xp
    tw = weight if isinstance(weight, Tensor) else None
    if tw is not None:
        if tw._be is not be:
            raise InputError(f"lerp: weight is on {tw.device}, but input is on {input.device}")
        w = tw._data.astype(s.dtype, copy=False) if hasattr(s, "dtype") else tw._data
    elif isinstance(weight, (int, float)) and not isinstance(weight, bool):
        w = float(weight)
    else:
        raise TypeError(f"lerp(): weight must be a number or a Tensor, not {type(weight).__name__}")
    diff = _compute("lerp", xp.subtract, e, s)
    try:
        if tw is None:
            r = s + w * diff if abs(w) < 0.5 else e - diff * (1 - w)
        else:
            r = xp.where(xp.abs(w) < 0.5, s + w * diff, e - diff * (1 - w))
    except ValueError:
        raise InputError(
            f"lerp: shapes {input.shape}, {tuple(getattr(e, 'shape', ()))} and {tuple(getattr(w, 'shape', ()))} "
            "cannot be broadcast together"
        ) from None
    ss, se, sw = spec(ts), spec(te), spec(tw)

    def rule(m: Any, g: Any, s: Any, e: Any, w: Any) -> tuple:
        return (
            None if ss is None else m.unbroadcast(g * (1 - w), ss),
            None if se is None else m.unbroadcast(g * w, se),
            None if sw is None else m.unbroadcast(g * (e - s), sw),
        )

    saved = (_keep(ts, s) if sw is not None else None, _keep(te, e) if sw is not None else None, _keep(tw, w))
    return write_out(make("lerp", r, be, (ts, te, tw), rule, saved=saved), out, "lerp")


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1, out: Tensor | None = None) -> Tensor:
    """input + value * tensor1 * tensor2 (composed from add and mul, which give its gradient)."""
    prod = arith.mul(tensor1, tensor2)
    return write_out(arith.add(input, prod if value == 1 else arith.mul(prod, value)), out, "addcmul")


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1, out: Tensor | None = None) -> Tensor:
    """input + value * tensor1 / tensor2 (composed from add, mul and div); integer tensors are refused, as
    PyTorch."""
    for t in (tensor1, tensor2):
        if isinstance(t, Tensor) and t._data.dtype.kind in "iub":
            raise InputTypeError(
                "addcdiv: integer division with addcdiv is not supported; use (input + value * tensor1 / tensor2)"
            )
    q = arith.div(tensor1, tensor2)
    return write_out(arith.add(input, q if value == 1 else arith.mul(q, value)), out, "addcdiv")


def logaddexp(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """log(e^a + e^b) without overflow; d/da = e^(a - out), d/db = e^(b - out) (saves its output)."""
    ta, tb, x, y, be = _float_operands(input, other, "logaddexp")
    sa, sb = spec(ta), spec(tb)

    def rule(m: Any, g: Any, x: Any, y: Any, r: Any) -> tuple:
        return (
            None if sa is None else m.unbroadcast(g * m.exp(x - r), sa),
            None if sb is None else m.unbroadcast(g * m.exp(y - r), sb),
        )

    saved = (_keep(ta, x), _keep(tb, y), OUT)
    r = make("logaddexp", _compute("logaddexp", be.xp.logaddexp, x, y), be, (ta, tb), rule, saved=saved)
    return write_out(r, out, "logaddexp")


def logaddexp2(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """log2(2^a + 2^b) without overflow; d/da = 2^(a - out) (saves its output)."""
    ta, tb, x, y, be = _float_operands(input, other, "logaddexp2")
    sa, sb = spec(ta), spec(tb)

    def rule(m: Any, g: Any, x: Any, y: Any, r: Any) -> tuple:
        return (
            None if sa is None else m.unbroadcast(g * m.exp((x - r) * _LN2), sa),
            None if sb is None else m.unbroadcast(g * m.exp((y - r) * _LN2), sb),
        )

    saved = (_keep(ta, x), _keep(tb, y), OUT)
    r = make("logaddexp2", _compute("logaddexp2", be.xp.logaddexp2, x, y), be, (ta, tb), rule, saved=saved)
    return write_out(r, out, "logaddexp2")


def _xlog(op: str, a: Any, b: Any, log_name: str, offset: float, out: Any) -> Tensor:
    """x * log(y) (xlogy) or x * log1p(y) (xlog1py), 0 where x == 0 unless y is NaN; d/dx = log(y) (0 where
    x == 0 and y is outside the domain), d/dy = x / (y + offset), as PyTorch."""
    ta, tb, x, y, be = _float_operands(a, b, op)
    xp = be.xp
    # a Python scalar operand as an array of the tensor's dtype: log(3) must not promote float32 to float64
    x = x if hasattr(x, "dtype") else xp.asarray(x, dtype=y.dtype)
    y = y if hasattr(y, "dtype") else xp.asarray(y, dtype=x.dtype)
    lg = getattr(xp, log_name)
    r = _compute(op, lambda u, v: xp.where((u == 0) & ~xp.isnan(v), 0.0, u * lg(v)), x, y)
    sa, sb = spec(ta), spec(tb)

    def rule(m: Any, g: Any, x: Any, y: Any) -> tuple:
        ga = gb = None
        if sa is not None:
            outside = (m.raw(x) == 0) & (m.raw(y) + offset <= 0)
            ga = m.where(outside, 0.0, g * getattr(m, log_name)(y if tb is not None else m.const(y)))
        if sb is not None:
            gb = g * x / (y + offset) if offset else g * x / y
        return m.unbroadcast(ga, sa), m.unbroadcast(gb, sb)

    r = make(op, r, be, (ta, tb), rule, saved=(_keep(ta, x), _keep(tb, y)))
    return write_out(r, out, op)


def xlogy(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """x * log(y), 0 where x == 0 (unless y is NaN); d/dx = log(y) (0 where x == 0 and y <= 0), d/dy = x / y."""
    return _xlog("xlogy", input, other, "log", 0.0, out)


def xlog1py(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """x * log1p(y), 0 where x == 0 (unless y is NaN); d/dx = log1p(y) (0 where x == 0 and y <= -1),
    d/dy = x / (1 + y)."""
    return _xlog("xlog1py", input, other, "log1p", 1.0, out)


def float_power(input: Any, exponent: Any, *, out: Tensor | None = None) -> Tensor:
    """input ** exponent computed in float64 (composed from a cast and pow, which give its gradient)."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power(): expected at least one Tensor operand")
    a = shape.astype(input, dtypes.float64) if isinstance(input, Tensor) else float(input)
    b = shape.astype(exponent, dtypes.float64) if isinstance(exponent, Tensor) else float(exponent)
    return write_out(arith.pow(a, b), out, "float_power")


def clamp_min(input: Tensor, min: Any, *, out: Tensor | None = None) -> Tensor:
    """max(input, min) (min a number or a tensor), as clamp(input, min=min)."""
    return write_out(arith.clamp(input, min=min), out, "clamp_min")


def clamp_max(input: Tensor, max: Any, *, out: Tensor | None = None) -> Tensor:
    """min(input, max) (max a number or a tensor), as clamp(input, max=max)."""
    return write_out(arith.clamp(input, max=max), out, "clamp_max")


def ldexp(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """input * 2^other (a float result; composed from mul and exp2, which give its gradient)."""
    from .elementwise_unary import exp2

    scale = exp2(other) if isinstance(other, Tensor) else 2.0 ** float(other)
    return write_out(arith.mul(input, scale), out, "ldexp")


def nextafter(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
    """The next float after input toward other (no gradient)."""
    _, _, x, y, be = operands(input, other, "nextafter")
    if getattr(x, "dtype", None) is None or x.dtype.kind != "f":
        raise InputTypeError(f"nextafter: only floating-point tensors are supported, got {getattr(x, 'dtype', x)}")
    return write_out(Tensor._wrap(_compute("nextafter", be.xp.nextafter, x, y), be), out, "nextafter")


def rsub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """other - alpha * input (composed from sub and mul, which give its gradient)."""
    return arith.sub(other, input if alpha == 1 else arith.mul(input, alpha))
