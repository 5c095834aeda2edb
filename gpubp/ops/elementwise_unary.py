"""Unary elementwise math: trigonometric and hyperbolic functions, exp/log variants, special functions, rounding.

Integer inputs to float functions give float32, as PyTorch; rounding keeps integer dtypes. Each rule is written
once and runs in both modes: where ``m`` lacks a function (cosh, digamma, polygamma) ``_call`` uses this module's
differentiable op in a graph and the backend's array function otherwise.
"""

from __future__ import annotations

import math
import numbers
from collections import namedtuple
from collections.abc import Callable
from typing import Any

from .. import dtypes
from ..autograd import OUT
from ..backend.special import special
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import float_data, make, write_out

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0


def _need_tensor(x: Any, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be a Tensor, not {type(x).__name__}")


def _record(op: str, x: Tensor, y: Any, rule: Callable, save_out: bool, out: Tensor | None) -> Tensor:
    r = make(op, y, x._be, (x,), lambda m, g, v: (rule(m, g, v),), saved=(OUT if save_out else x,))
    return write_out(r, out, op)


def _float_op(op: str, x: Tensor, fwd: Callable, rule: Callable, save_out: bool = False, out: Any = None) -> Tensor:
    """A float function: ``fwd(xp, data)`` forward (integers as float32), ``rule(m, g, v)`` its VJP."""
    _need_tensor(x, op)
    return _record(op, x, fwd(x._be.xp, float_data(x)), rule, save_out, out)


def _call(m: Any, op: Callable, array_fn: Callable, v: Any) -> Any:
    """``op(v)`` recorded in a graph (``m.graph``), ``array_fn(v)`` on arrays in first-order backward."""
    return op(v) if m.graph else array_fn(v)


def _zero_grad(m: Any, g: Any, v: Any) -> Any:
    return m.zeros_like(g)


def tan(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Tangent; d/dx = 1 + tan(x)^2 (saves its output)."""
    return _float_op("tan", input, lambda xp, d: xp.tan(d), lambda m, g, y: g * (1 + y * y), True, out)


def asin(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Arcsine; d/dx = 1 / sqrt(1 - x^2)."""
    return _float_op("asin", input, lambda xp, d: xp.arcsin(d), lambda m, g, v: g * m.pow(1 - v * v, -0.5), out=out)


def acos(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Arccosine; d/dx = -1 / sqrt(1 - x^2)."""
    return _float_op("acos", input, lambda xp, d: xp.arccos(d), lambda m, g, v: -g * m.pow(1 - v * v, -0.5), out=out)


def atan(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Arctangent; d/dx = 1 / (1 + x^2)."""
    return _float_op("atan", input, lambda xp, d: xp.arctan(d), lambda m, g, v: g / (1 + v * v), out=out)


def sinh(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Hyperbolic sine; d/dx = cosh(x)."""
    xp = input._be.xp if isinstance(input, Tensor) else None
    return _float_op("sinh", input, lambda xp, d: xp.sinh(d), lambda m, g, v: g * _call(m, cosh, xp.cosh, v), out=out)


def cosh(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Hyperbolic cosine; d/dx = sinh(x)."""
    xp = input._be.xp if isinstance(input, Tensor) else None
    return _float_op("cosh", input, lambda xp, d: xp.cosh(d), lambda m, g, v: g * _call(m, sinh, xp.sinh, v), out=out)


def asinh(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Inverse hyperbolic sine; d/dx = 1 / sqrt(x^2 + 1)."""
    return _float_op("asinh", input, lambda xp, d: xp.arcsinh(d), lambda m, g, v: g * m.pow(v * v + 1, -0.5), out=out)


def acosh(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Inverse hyperbolic cosine; d/dx = 1 / sqrt(x^2 - 1)."""
    return _float_op("acosh", input, lambda xp, d: xp.arccosh(d), lambda m, g, v: g * m.pow(v * v - 1, -0.5), out=out)


def atanh(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Inverse hyperbolic tangent; d/dx = 1 / (1 - x^2)."""
    return _float_op("atanh", input, lambda xp, d: xp.arctanh(d), lambda m, g, v: g / (1 - v * v), out=out)


def exp2(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """2^x; d/dx = 2^x log 2 (saves its output)."""
    return _float_op("exp2", input, lambda xp, d: xp.exp2(d), lambda m, g, y: g * (y * _LN2), True, out)


def expm1(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """e^x - 1, accurate for small x; d/dx = e^x (saves its output)."""
    return _float_op("expm1", input, lambda xp, d: xp.expm1(d), lambda m, g, y: g * (y + 1), True, out)


def log2(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Base-2 logarithm; d/dx = 1 / (x log 2)."""
    return _float_op("log2", input, lambda xp, d: xp.log2(d), lambda m, g, v: g / (v * _LN2), out=out)


def log10(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Base-10 logarithm; d/dx = 1 / (x log 10)."""
    return _float_op("log10", input, lambda xp, d: xp.log10(d), lambda m, g, v: g / (v * _LN10), out=out)


def reciprocal(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """1 / x (integers give float32); d/dx = -1 / x^2 (saves its output)."""
    return _float_op("reciprocal", input, lambda xp, d: 1 / d, lambda m, g, y: -g * (y * y), True, out)


def square(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """x * x (integers stay integers, bool gives int64); d/dx = 2x."""
    _need_tensor(input, "square")
    d = input._data
    if d.dtype == dtypes.bool_:
        d = d.astype(dtypes.int64)
    return _record("square", input, d * d, lambda m, g, v: g * (2 * v), False, out)


def erfc(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The complementary error function 1 - erf(x), without cancellation; d/dx = -2 / sqrt(pi) exp(-x^2)."""
    _need_tensor(input, "erfc")
    y = special(input._be, "erfc", float_data(input))
    return _record("erfc", input, y, lambda m, g, v: g * (-_TWO_OVER_SQRT_PI * m.exp(-(v * v))), False, out)


def erfinv(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The inverse error function on (-1, 1); d/dx = sqrt(pi) / 2 exp(erfinv(x)^2) (saves its output)."""
    _need_tensor(input, "erfinv")
    y = special(input._be, "erfinv", float_data(input))
    return _record("erfinv", input, y, lambda m, g, y: g * (_SQRT_PI_OVER_2 * m.exp(y * y)), True, out)


def lgamma(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """log |Gamma(x)|; d/dx = digamma(x)."""
    _need_tensor(input, "lgamma")
    be = input._be

    def rule(m: Any, g: Any, v: Any) -> Any:
        return g * _call(m, digamma, lambda a: special(be, "digamma", a), v)

    d = float_data(input)
    y = be.xp.where(d == -math.inf, math.inf, special(be, "lgamma", d))  # log|Gamma(-inf)| = inf, as PyTorch
    return _record("lgamma", input, y, rule, False, out)


def digamma(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """psi(x) = Gamma'(x) / Gamma(x); d/dx = polygamma(1, x)."""
    _need_tensor(input, "digamma")
    be = input._be

    def rule(m: Any, g: Any, v: Any) -> Any:
        return g * _call(m, lambda t: polygamma(1, t), lambda a: special(be, "polygamma", a, 1), v)

    return _record("digamma", input, special(be, "digamma", float_data(input)), rule, False, out)


def polygamma(n: int, input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The n-th derivative of digamma (n >= 0); d/dx = polygamma(n + 1, x)."""
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' must be an int, not {type(n).__name__}")
    if n < 0:
        raise InputError(f"polygamma(n, x) does not support negative n (got n = {n})")
    _need_tensor(input, "polygamma")
    be = input._be
    n = int(n)
    y = special(be, "digamma", float_data(input)) if n == 0 else special(be, "polygamma", float_data(input), n)

    def rule(m: Any, g: Any, v: Any) -> Any:
        return g * _call(m, lambda t: polygamma(n + 1, t), lambda a: special(be, "polygamma", a, n + 1), v)

    return _record("polygamma", input, y, rule, False, out)


def sinc(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0; d/dx = (cos(pi x) pi x - sin(pi x)) / (pi x^2), 0 at 0 as PyTorch."""

    def rule(m: Any, g: Any, v: Any) -> Any:
        zero = m.raw(v) == 0
        safe = m.where(zero, 1.0, v)
        p = safe * math.pi
        return m.where(zero, 0.0, g * ((m.cos(p) * p - m.sin(p)) / (p * safe)))

    return _float_op("sinc", input, lambda xp, d: xp.sinc(d), rule, out=out)


def logit(input: Tensor, eps: float | None = None, *, out: Tensor | None = None) -> Tensor:
    """log(x / (1 - x)), x first clamped to [eps, 1 - eps] when eps is given; d/dx = 1 / (x (1 - x)), 0 where the
    clamp binds (NaN outside [0, 1] without eps), as PyTorch."""
    _need_tensor(input, "logit")
    xp, d = input._be.xp, float_data(input)
    z = d if eps is None else xp.clip(d, eps, 1.0 - eps)
    y = xp.log(z / (1 - z))

    def rule(m: Any, g: Any, v: Any) -> Any:
        r = m.raw(v)
        base = g / (v * (1 - v))
        if eps is None:
            return m.where((r < 0) | (r > 1), math.nan, base)
        return m.where((r < eps) | (r > 1.0 - eps), 0.0, base)

    return _record("logit", input, y, rule, False, out)


def deg2rad(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Degrees to radians."""
    c = math.pi / 180.0
    return _float_op("deg2rad", input, lambda xp, d: d * d.dtype.type(c), lambda m, g, v: g * c, out=out)


def rad2deg(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Radians to degrees."""
    c = 180.0 / math.pi
    return _float_op("rad2deg", input, lambda xp, d: d * d.dtype.type(c), lambda m, g, v: g * c, out=out)


def _rounding(op: str, x: Tensor, fn: Callable, out: Any) -> Tensor:
    """floor, ceil, round, trunc: integers pass unchanged (a copy), bool is refused; zero gradient, as PyTorch."""
    _need_tensor(x, op)
    d = x._data
    if d.dtype == dtypes.bool_:
        raise InputTypeError(f"{op}: not implemented for bool tensors")
    y = fn(x._be.xp, d) if d.dtype.kind == "f" else d.copy()
    return _record(op, x, y, _zero_grad, False, out)


def floor(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The largest integer <= x (zero gradient)."""
    return _rounding("floor", input, lambda xp, d: xp.floor(d), out)


def ceil(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The smallest integer >= x (zero gradient)."""
    return _rounding("ceil", input, lambda xp, d: xp.ceil(d), out)


def trunc(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """x rounded toward zero (zero gradient); ``fix`` is its alias."""
    return _rounding("trunc", input, lambda xp, d: xp.trunc(d), out)


def round(input: Tensor, *, decimals: int = 0, out: Tensor | None = None) -> Tensor:
    """x rounded half to even, to ``decimals`` decimal places (zero gradient)."""
    if not isinstance(decimals, numbers.Integral) or isinstance(decimals, bool):
        raise TypeError(f"round(): argument 'decimals' must be an int, not {type(decimals).__name__}")
    if decimals and isinstance(input, Tensor) and input._data.dtype.kind != "f":
        raise InputTypeError(f"round: decimals is only supported for float tensors, got dtype {input.dtype}")
    return _rounding("round", input, lambda xp, d: xp.round(d, int(decimals)), out)


def frac(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """x - trunc(x), of float tensors; d/dx = 1."""
    _need_tensor(input, "frac")
    d = input._data
    if d.dtype.kind != "f":
        raise InputTypeError(f"frac: only float tensors are supported, got dtype {d.dtype}")
    return _record("frac", input, d - input._be.xp.trunc(d), lambda m, g, v: g, False, out)


def sgn(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The sign of each element (= sign for real tensors, 0 for NaN; bool stays bool); zero gradient, as PyTorch."""
    _need_tensor(input, "sgn")
    xp, d = input._be.xp, input._data
    if d.dtype == dtypes.bool_:
        y = d.copy()
    elif d.dtype.kind == "f":
        y = xp.where(xp.isnan(d), 0, xp.sign(d)).astype(d.dtype, copy=False)
    else:
        y = xp.sign(d)
    return _record("sgn", input, y, _zero_grad, False, out)


def nan_to_num(
    input: Tensor,
    nan: float = 0.0,
    posinf: float | None = None,
    neginf: float | None = None,
    *,
    out: Tensor | None = None,
) -> Tensor:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default the dtype's largest and
    smallest values); the gradient passes where x is finite and is 0 at the replaced values, as PyTorch."""
    _need_tensor(input, "nan_to_num")
    xp, d = input._be.xp, input._data
    if d.dtype.kind != "f":
        return _record("nan_to_num", input, d.copy(), lambda m, g, v: g, False, out)
    y = xp.nan_to_num(d, nan=nan, posinf=posinf, neginf=neginf)

    def rule(m: Any, g: Any, v: Any) -> Any:
        return m.where(xp.isfinite(m.raw(v)), g, 0.0)

    return _record("nan_to_num", input, y, rule, False, out)


def positive(input: Tensor) -> Tensor:
    """``input`` itself (PyTorch's unary +); refused for bool tensors."""
    _need_tensor(input, "positive")
    if input._data.dtype == dtypes.bool_:
        raise InputTypeError("positive: the `+` operator, on a bool tensor is not supported")
    return input


def signbit(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Whether each element's sign bit is set (True for -0.0), as a bool tensor (no gradient)."""
    _need_tensor(input, "signbit")
    d = input._data
    y = input._be.xp.signbit(d) if d.dtype.kind == "f" else d < 0
    return write_out(Tensor._wrap(y, input._be), out, "signbit")


def _predicate(op: str, x: Tensor, fn: Callable, default: bool) -> Tensor:
    """A float predicate; integer and bool tensors are all ``default``."""
    _need_tensor(x, op)
    xp, d = x._be.xp, x._data
    y = fn(xp, d) if d.dtype.kind == "f" else (xp.ones if default else xp.zeros)(d.shape, dtype=bool)
    return Tensor._wrap(y, x._be)


def isnan(input: Tensor) -> Tensor:
    """Whether each element is NaN (bool tensor)."""
    return _predicate("isnan", input, lambda xp, d: xp.isnan(d), False)


def isinf(input: Tensor) -> Tensor:
    """Whether each element is +inf or -inf (bool tensor)."""
    return _predicate("isinf", input, lambda xp, d: xp.isinf(d), False)


def isposinf(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Whether each element is +inf (bool tensor)."""
    return write_out(_predicate("isposinf", input, lambda xp, d: xp.isinf(d) & (d > 0), False), out, "isposinf")


def isneginf(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Whether each element is -inf (bool tensor)."""
    return write_out(_predicate("isneginf", input, lambda xp, d: xp.isinf(d) & (d < 0), False), out, "isneginf")


def isfinite(input: Tensor) -> Tensor:
    """Whether each element is finite (bool tensor; integers are always finite)."""
    return _predicate("isfinite", input, lambda xp, d: xp.isfinite(d), True)


def isreal(input: Tensor) -> Tensor:
    """All True: gpubp's tensors are real."""
    _need_tensor(input, "isreal")
    return Tensor._wrap(input._be.xp.ones(input._data.shape, dtype=bool), input._be)


def i0(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The modified Bessel function of the first kind, order 0; d/dx = i1(x)."""
    _need_tensor(input, "i0")
    be = input._be

    def rule(m: Any, g: Any, v: Any) -> Any:
        return g * _call(m, special_i1, lambda a: special(be, "i1", a), v)

    return _record("i0", input, special(be, "i0", float_data(input)), rule, False, out)


def special_i1(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The modified Bessel function of the first kind, order 1 (torch.special.i1); d/dx = i0(x) - i1(x) / x,
    1/2 at 0."""
    _need_tensor(input, "special_i1")
    be = input._be

    def rule(m: Any, g: Any, v: Any) -> Any:
        zero = m.raw(v) == 0
        safe = m.where(zero, 1.0, v)
        i1 = _call(m, special_i1, lambda a: special(be, "i1", a), safe)
        return g * m.where(zero, 0.5, _call(m, i0, lambda a: special(be, "i0", a), safe) - i1 / safe)

    return _record("special_i1", input, special(be, "i1", float_data(input)), rule, False, out)


def mvlgamma(input: Tensor, p: int, *, out: Tensor | None = None) -> Tensor:
    """The multivariate log-gamma of dimension p: p (p - 1) / 4 log(pi) + sum_j lgamma(x - j / 2), j < p (composed
    from lgamma, which gives its gradient)."""
    if not isinstance(p, numbers.Integral) or isinstance(p, bool) or p < 1:
        raise InputError(f"mvlgamma: p has to be greater than or equal to 1, got {p!r}")
    _need_tensor(input, "mvlgamma")
    total = lgamma(input)
    for j in range(1, int(p)):
        total = total + lgamma(input - 0.5 * j)
    return write_out(total + p * (p - 1) / 4 * math.log(math.pi), out, "mvlgamma")


Frexp = namedtuple("frexp", ["mantissa", "exponent"])


def frexp(input: Tensor) -> Frexp:
    """(mantissa, exponent) with input = mantissa * 2^exponent, |mantissa| in [0.5, 1); exponent int32, as PyTorch.
    The mantissa's gradient is g / 2^exponent (the exponent is piecewise constant)."""
    _need_tensor(input, "frexp")
    if input._data.dtype.kind != "f":
        raise InputTypeError(f"frexp: only floating-point dtypes are supported, got {input.dtype}")
    xp = input._be.xp
    mantissa, exponent = xp.frexp(input._data)
    scale = xp.ldexp(xp.ones_like(mantissa), -exponent)  # 2^-exponent, exact in the input's dtype
    m_out = make("frexp", mantissa, input._be, (input,), lambda m, g, s: (g * m.const(s),), saved=(scale,))
    return Frexp(m_out, Tensor._wrap(exponent.astype(dtypes.int32, copy=False), input._be))
