"""Elementwise arithmetic and math: forward and VJP side by side.

Binary ops broadcast; ``unbroadcast`` folds each gradient back to its input's shape.
VJPs capture arrays and shapes, never input Tensors, so an unused input's memory is freed.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import OUT
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import check_same_device, float_data, make, operands, spec


def _broadcast_error(op: str, *arrays: Any) -> InputError:
    shapes = [tuple(getattr(a, "shape", ())) for a in arrays]
    listed = ", ".join(map(str, shapes[:-1])) + f" and {shapes[-1]}"
    return InputError(f"{op}: shapes {listed} cannot be broadcast together")


def _compute(op: str, fn: Any, x: Any, y: Any) -> Any:
    """``fn(x, y)``, with NumPy's errors (shapes that do not broadcast, integers to negative powers) re-raised as
    gpubp's, naming ``op``; a successful call costs nothing extra."""
    try:
        return fn(x, y)
    except ValueError as e:
        try:
            np.broadcast_shapes(tuple(getattr(x, "shape", ())), tuple(getattr(y, "shape", ())))
        except ValueError:
            raise _broadcast_error(op, x, y) from None
        raise InputError(f"{op}: {e}") from e


def _refuse_bool(op: str, what: str, *values: Any) -> None:
    """PyTorch refuses - (sub and neg) on bool tensors and Python bools: it would be xor or not, not arithmetic."""
    bools = [v for v in values if isinstance(v, bool) or getattr(v, "dtype", dtypes.float32) == dtypes.bool_]
    if not bools:
        return
    if len(bools) == 2:
        raise InputTypeError(
            f"{op}: subtraction, the `-` operator, with two bool tensors is not supported; use `^` or logical_xor()"
        )
    raise InputTypeError(
        f"{op}: {what}, the `-` operator, with a bool tensor is not supported; "
        "to invert a mask use `~` or logical_not() instead"
    )


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _saved(t: Tensor | None, value: Any, other_spec: tuple | None) -> Any:
    """What a binary op's rule saves of one operand: the tensor, or the scalar in its place; nothing when the other
    operand needs no gradient (the rule reads this one only for that)."""
    if other_spec is None:
        return None
    return t if t is not None else value


def add(a: Any, b: Any) -> Tensor:
    """a + b."""
    ta, tb, x, y, be = operands(a, b, "add")
    sa, sb = spec(ta), spec(tb)
    out = _compute("add", be.xp.add, x, y)
    return make("add", out, be, (ta, tb), lambda m, g: (m.unbroadcast(g, sa), m.unbroadcast(g, sb)))


def sub(a: Any, b: Any) -> Tensor:
    """a - b."""
    _refuse_bool("sub", "subtraction", a._data if isinstance(a, Tensor) else a, b._data if isinstance(b, Tensor) else b)
    ta, tb, x, y, be = operands(a, b, "sub")
    sa, sb = spec(ta), spec(tb)
    out = _compute("sub", be.xp.subtract, x, y)
    return make(
        "sub", out, be, (ta, tb), lambda m, g: (m.unbroadcast(g, sa), None if sb is None else m.unbroadcast(-g, sb))
    )


def mul(a: Any, b: Any) -> Tensor:
    """a * b."""
    ta, tb, x, y, be = operands(a, b, "mul")
    sa, sb = spec(ta), spec(tb)
    out = _compute("mul", be.xp.multiply, x, y)

    def rule(m: Any, g: Any, x: Any, y: Any) -> tuple:
        return (
            None if sa is None else m.unbroadcast(g * y, sa),
            None if sb is None else m.unbroadcast(g * x, sb),
        )

    return make("mul", out, be, (ta, tb), rule, saved=(_saved(ta, x, sb), _saved(tb, y, sa)))


def div(a: Any, b: Any, rounding_mode: str | None = None) -> Tensor:
    """a / b (true division: integers give float32); ``rounding_mode`` 'trunc' or 'floor' rounds the quotient (and
    keeps integer dtypes), as PyTorch."""
    if rounding_mode is not None:
        from .elementwise_binary import divide

        return divide(a, b, rounding_mode=rounding_mode)
    ta, tb, x, y, be = operands(a, b, "div")
    if getattr(x, "dtype", None) is not None and x.dtype.kind != "f":
        x = x.astype(dtypes.DEFAULT_FLOAT)
    if getattr(y, "dtype", None) is not None and y.dtype.kind != "f":
        y = y.astype(dtypes.DEFAULT_FLOAT)
    sa, sb = spec(ta), spec(tb)
    out = _compute("div", be.xp.true_divide, x, y)

    def rule(m: Any, g: Any, y: Any, out: Any) -> tuple:
        q = g / y
        return m.unbroadcast(q, sa), None if sb is None else m.unbroadcast(-q * out, sb)

    return make("div", out, be, (ta, tb), rule, saved=(tb if tb is not None else y, OUT if sb is not None else None))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """a ** b. d/da = b * a^(b-1); d/db = a^b * log(a) (0 where a == 0 and b >= 0, as PyTorch)."""
    ta, tb, x, y, be = operands(a, b, "pow")
    if tb is None and type(y) is int and y < 0 and x.dtype.kind in "iub":
        raise InputError(f"pow: integers to negative integer powers are not allowed (a {x.dtype} tensor ** {y})")
    xp = be.xp
    sa, sb = spec(ta), spec(tb)
    out = _compute("pow", xp.power, x, y)

    def rule(m: Any, g: Any, x: Any, y: Any, out: Any) -> tuple:
        ga = gb = None
        if sa is not None:
            if tb is None and y == 0:
                ga = m.zeros_like(g)
            elif tb is None and y == 2:
                ga = g * (2 * x)
            else:
                ga = g * (y * m.pow(x, y - 1))
        if sb is not None:
            zero = m.raw(x) == 0
            logx = m.log(m.where(zero, 1.0, x))
            gb = m.where(zero & (m.raw(y) >= 0), 0.0, g * out * logx)
        return m.unbroadcast(ga, sa), m.unbroadcast(gb, sb)

    saved = (ta if ta is not None else x, tb if tb is not None else y, OUT if sb is not None else None)
    return make("pow", out, be, (ta, tb), rule, saved=saved)


def neg(x: Tensor) -> Tensor:
    """-x."""
    _refuse_bool("neg", "negation", x._data)
    return make("neg", -x._data, x._be, (x,), lambda m, g: (-g,))


def _unary(name: str, x: Tensor, out: Any, rule: Any, save_out: bool = False) -> Tensor:
    """Record an elementwise op whose gradient is ``rule(m, g, v)``, ``v`` its input (or its output: save_out)."""
    return make(name, out, x._be, (x,), lambda m, g, v: (rule(m, g, v),), saved=(OUT if save_out else x,))


def abs(x: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    """|x|; abs'(0) = 0, as PyTorch."""
    xp, d = x._be.xp, x._data
    if d.dtype == dtypes.bool_:
        raise InputTypeError("abs: not implemented for bool tensors")
    return _unary("abs", x, xp.abs(d), lambda m, g, v: g * m.const(xp.sign(m.raw(v))))


def exp(x: Tensor) -> Tensor:
    """e^x (saves its output: d/dx = e^x)."""
    y = x._be.xp.exp(float_data(x))
    return _unary("exp", x, y, lambda m, g, y: g * y, save_out=True)


def log(x: Tensor) -> Tensor:
    """Natural logarithm."""
    d = float_data(x)
    return _unary("log", x, x._be.xp.log(d), lambda m, g, v: g / v)


def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for small x."""
    d = float_data(x)
    return _unary("log1p", x, x._be.xp.log1p(d), lambda m, g, v: g / (1 + v))


def sqrt(x: Tensor) -> Tensor:
    """Square root (saves its output: d/dx = 1 / (2 sqrt(x)))."""
    y = x._be.xp.sqrt(float_data(x))
    return _unary("sqrt", x, y, lambda m, g, y: g / (2 * y), save_out=True)


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x) (saves its output: d/dx = -y^3 / 2)."""
    y = 1 / x._be.xp.sqrt(float_data(x))
    return _unary("rsqrt", x, y, lambda m, g, y: g * (-0.5 * y * y * y), save_out=True)


def sin(x: Tensor) -> Tensor:
    """Sine."""
    xp, d = x._be.xp, float_data(x)
    return _unary("sin", x, xp.sin(d), lambda m, g, v: g * m.cos(v))


def cos(x: Tensor) -> Tensor:
    """Cosine."""
    xp, d = x._be.xp, float_data(x)
    return _unary("cos", x, xp.cos(d), lambda m, g, v: -g * m.sin(v))


def erf(x: Tensor) -> Tensor:
    """The error function; d/dx = 2 / sqrt(pi) * exp(-x^2)."""
    d = float_data(x)
    return _unary("erf", x, x._be.erf(d), lambda m, g, v: g * (_TWO_OVER_SQRT_PI * m.exp(-(v * v))))


def _bound(v: Any, x: Tensor, name: str) -> tuple[Tensor | None, Any]:
    if v is None:
        return None, None
    if isinstance(v, Tensor):
        check_same_device("clamp", x, v)
        return v, v._data
    if isinstance(v, numbers.Real):
        return None, v
    raise TypeError(f"clamp: {name} must be a number, a Tensor or None, got {type(v).__name__}")


def _clamp_dtype(d: Any, lo: Any, hi: Any) -> Any:
    """The result dtype, PyTorch's: an integer tensor clamped to a float bound becomes float."""
    dt = d.dtype
    for v in (lo, hi):
        if v is None or isinstance(v, bool):
            continue
        if isinstance(v, numbers.Real):
            dt = dtypes.scalar_dtype(dt, v) if not isinstance(v, numbers.Integral) else dt
        elif dt.kind != "f" or v.ndim:  # a 0-d float tensor does not promote a float tensor, as PyTorch
            dt = dtypes.promote(dt, v.dtype)
    return dt


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Limit x to [min, max]; x gets the gradient where min <= x <= max, a bound where it binds."""
    if min is None and max is None:
        raise InputError("clamp: at least one of min and max must be given")
    xp, d = x._be.xp, x._data
    tlo, lo = _bound(min, x, "min")
    thi, hi = _bound(max, x, "max")
    dt = _clamp_dtype(d, lo, hi)
    if dt != d.dtype:
        d = d.astype(dt)
    out = d
    try:
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
    except ValueError:
        raise _broadcast_error("clamp", *(a for a in (d, lo, hi) if a is not None)) from None
    if out is d:
        out = d.copy()
    if out.dtype != dt:
        out = out.astype(dt)
    sx, slo, shi = spec(x), spec(tlo), spec(thi)

    def rule(m: Any, g: Any, d: Any, lo: Any, hi: Any) -> tuple:
        # out = min(max(x, lo), hi): hi binds where max(x, lo) > hi, lo where x < lo and hi does not (masks: no
        # gradient flows through them, so they are computed on the arrays in both modes)
        d, lo, hi = m.raw(d), m.raw(lo), m.raw(hi)
        above = (d if lo is None else xp.maximum(d, lo)) > hi if hi is not None else xp.zeros(d.shape, bool)
        below = (d < lo) & ~above if lo is not None else xp.zeros(d.shape, bool)
        inside = ~(below | above)
        return (
            None if sx is None else m.unbroadcast(g * m.const(inside), sx),
            None if slo is None else m.unbroadcast(g * m.const(below), slo),
            None if shi is None else m.unbroadcast(g * m.const(above), shi),
        )

    saved = (x, tlo if tlo is not None else lo, thi if thi is not None else hi)
    return make("clamp", out, x._be, (x, tlo, thi), rule, saved=saved)


clip = clamp


def _minmax(op: str, a: Any, b: Any, take_a: Any) -> Tensor:
    ta, tb, x, y, be = operands(a, b, op)
    xp = be.xp
    sa, sb = spec(ta), spec(tb)
    out = _compute(op, xp.maximum if op == "maximum" else xp.minimum, x, y)

    def rule(m: Any, g: Any, x: Any, y: Any) -> tuple:
        x, y = m.raw(x), m.raw(y)
        wa = take_a(x, y) + (x == y) * 0.5  # ties split the gradient, as PyTorch
        return (
            None if sa is None else m.unbroadcast(g * m.const(wa), sa),
            None if sb is None else m.unbroadcast(g * m.const(1 - wa), sb),
        )

    return make(op, out, be, (ta, tb), rule, saved=(ta if ta is not None else x, tb if tb is not None else y))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max of a and b; ties split the gradient evenly."""
    return _minmax("maximum", a, b, lambda x, y: x > y)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min of a and b; ties split the gradient evenly."""
    return _minmax("minimum", a, b, lambda x, y: x < y)


def where(condition: Tensor, a: Any = None, b: Any = None) -> Any:
    """Elements of a where condition holds, else of b; ``where(condition)`` alone is
    ``nonzero(condition, as_tuple=True)`` (which synchronizes on a GPU)."""
    if a is None and b is None:
        from .select_mask import where_nonzero  # lazily: the select family imports this module

        return where_nonzero(condition)
    if a is None or b is None:
        raise TypeError("where: give both a and b, or neither (where(condition) is nonzero(condition, as_tuple=True))")
    if not isinstance(condition, Tensor):
        raise TypeError(f"where: condition must be a bool tensor, got {type(condition).__name__}")
    if condition.dtype != dtypes.bool_:
        raise InputTypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    if isinstance(a, numbers.Number) and isinstance(b, numbers.Number):
        a = Tensor(a, device=condition.device)
    ta, tb, x, y, be = operands(a, b, "where")
    if be is not condition._be:
        check_same_device("where", condition, ta if ta is not None else tb)
    c = condition._data
    try:
        out = be.xp.where(c, x, y)
    except ValueError:
        raise _broadcast_error("where", c, x, y) from None
    sa, sb = spec(ta), spec(tb)

    def rule(m: Any, g: Any, c: Any) -> tuple:
        return (
            None if sa is None else m.unbroadcast(m.where(c, g, 0.0), sa),
            None if sb is None else m.unbroadcast(m.where(c, 0.0, g), sb),
        )

    return make("where", out, be, (ta, tb), rule, saved=(condition,))


def _compare(op: str, fn_name: str) -> Any:
    def compare(a: Any, b: Any) -> Tensor:
        ta, tb, x, y, be = operands(a, b, op)
        return Tensor._wrap(_compute(op, getattr(be.xp, fn_name), x, y), be)

    compare.__name__ = op
    compare.__doc__ = f"Elementwise {fn_name} as a bool tensor (no gradient)."
    return compare


eq = _compare("eq", "equal")
ne = _compare("ne", "not_equal")
lt = _compare("lt", "less")
le = _compare("le", "less_equal")
gt = _compare("gt", "greater")
ge = _compare("ge", "greater_equal")


def logical_not(x: Tensor) -> Tensor:
    """Elementwise not, as a bool tensor."""
    return Tensor._wrap(x._be.xp.logical_not(x._data), x._be)


def bitwise_not(x: Tensor) -> Tensor:
    """~x: logical not of a bool tensor, bitwise not of an integer one (no gradient)."""
    kind = x._data.dtype.kind
    if kind == "b":
        return Tensor._wrap(x._be.xp.logical_not(x._data), x._be)
    if kind not in "iu":
        raise InputTypeError(
            f"bitwise_not: ~ (invert) is only implemented on integer and bool tensors, got dtype {x._data.dtype}"
        )
    return Tensor._wrap(x._be.xp.invert(x._data), x._be)


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each element (0 for NaN; bool stays bool), as PyTorch; its gradient is 0."""
    xp, d = x._be.xp, x._data
    if d.dtype == dtypes.bool_:
        return Tensor._wrap(d.copy(), x._be)
    y = xp.sign(d)
    if d.dtype.kind == "f":
        y = xp.where(xp.isnan(d), 0, y).astype(d.dtype, copy=False)
    return make("sign", y, x._be, (x,), lambda m, g: (m.zeros_like(g),))
