"""The elementwise family: elementwise math, special functions, logical/bitwise ops and the operators
``& | ^ << >> % //`` with their reflected and in-place forms.

The functions live in ``elementwise_unary`` (one input), ``elementwise_binary`` (two or three) and
``elementwise_logic`` (no gradient); this module registers them, names PyTorch's aliases (``arcsin``, ``multiply``,
...) and builds the in-place method forms (``floor_``, ``lerp_``, ...), each a write through ``_write``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from .. import dtypes
from ..tensor import Tensor
from . import activation, arith
from .elementwise_binary import (  # noqa: F401 - registered by name
    addcdiv,
    addcmul,
    atan2,
    clamp_max,
    clamp_min,
    copysign,
    divide,
    float_power,
    floor_divide,
    fmod,
    heaviside,
    hypot,
    ldexp,
    lerp,
    logaddexp,
    logaddexp2,
    nextafter,
    remainder,
    rsub,
    xlog1py,
    xlogy,
)
from .elementwise_logic import (  # noqa: F401 - registered by name
    allclose,
    bitwise_and,
    bitwise_left_shift,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    equal,
    isclose,
    logical_and,
    logical_or,
    logical_xor,
)
from .elementwise_unary import (  # noqa: F401 - registered by name
    acos,
    acosh,
    asin,
    asinh,
    atan,
    atanh,
    ceil,
    cosh,
    deg2rad,
    digamma,
    erfc,
    erfinv,
    exp2,
    expm1,
    floor,
    frac,
    frexp,
    i0,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    isreal,
    lgamma,
    log2,
    log10,
    logit,
    mvlgamma,
    nan_to_num,
    polygamma,
    positive,
    rad2deg,
    reciprocal,
    round,
    sgn,
    signbit,
    sinc,
    sinh,
    special_i1,
    square,
    tan,
    trunc,
)
from .inplace import apply_

DIFFERENTIABLE: tuple[str, ...] = (
    "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "exp2", "expm1", "log2", "log10",
    "reciprocal", "square", "erfc", "erfinv", "lgamma", "digamma", "polygamma", "sinc", "logit", "deg2rad",
    "rad2deg", "floor", "ceil", "trunc", "round", "frac", "sgn", "nan_to_num", "positive", "i0", "special_i1",
    "mvlgamma",
    "atan2", "hypot", "fmod", "remainder", "divide", "copysign", "lerp", "addcmul", "addcdiv", "logaddexp",
    "logaddexp2", "xlogy", "xlog1py", "float_power", "clamp_min", "clamp_max", "ldexp", "rsub", "frexp",
)  # fmt: skip
NON_DIFFERENTIABLE: tuple[str, ...] = (
    "signbit", "isnan", "isinf", "isposinf", "isneginf", "isfinite", "isreal", "floor_divide", "heaviside",
    "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
    "bitwise_right_shift", "isclose", "allclose", "equal", "nextafter",
)  # fmt: skip

# PyTorch's aliases: gpubp.<alias> and Tensor.<alias> are the function in gpubp.ops they name
ALIASES: dict[str, str] = {
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh", "arccosh": "acosh",
    "arctanh": "atanh", "arctan2": "atan2", "fix": "trunc", "negative": "neg", "multiply": "mul",
    "subtract": "sub", "true_divide": "div", "absolute": "abs", "greater": "gt", "greater_equal": "ge",
    "less": "lt", "less_equal": "le", "not_equal": "ne",
}  # fmt: skip
# special_i1 is torch.special.i1 only (gpubp.special.i1)
TOP_LEVEL: dict[str, str] = {**{n: n for n in DIFFERENTIABLE + NON_DIFFERENTIABLE if n != "special_i1"}, **ALIASES}


def _inplace(name: str, fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return apply_(self, fn, name, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place {name[:-1]}: the result written into this tensor."
    return method


def _float_power_self(t: Tensor, exponent: Any) -> Tensor:
    if t.dtype != dtypes.float64:  # float_power computes in float64, which an in-place result must then hold
        raise RuntimeError(f"float_power_: the base has dtype {t.dtype}, but the result requires dtype float64")
    return float_power(t, exponent)


_INPLACE: dict[str, Callable[..., Tensor]] = {
    "floor_": floor, "ceil_": ceil, "round_": round, "trunc_": trunc, "fix_": trunc, "frac_": frac,
    "reciprocal_": reciprocal, "square_": square, "clamp_min_": clamp_min, "clamp_max_": clamp_max,
    "lerp_": lerp, "addcmul_": addcmul, "addcdiv_": addcdiv, "nan_to_num_": nan_to_num, "exp_": arith.exp,
    "log_": arith.log, "log1p_": arith.log1p, "sqrt_": arith.sqrt, "rsqrt_": arith.rsqrt,
    "sigmoid_": activation.sigmoid, "tanh_": activation.tanh, "sin_": arith.sin, "cos_": arith.cos, "tan_": tan,
    "asin_": asin, "acos_": acos, "atan_": atan, "sinh_": sinh, "cosh_": cosh, "asinh_": asinh, "acosh_": acosh,
    "atanh_": atanh, "arcsin_": asin, "arccos_": acos, "arctan_": atan, "arcsinh_": asinh, "arccosh_": acosh,
    "arctanh_": atanh, "exp2_": exp2, "expm1_": expm1, "log2_": log2, "log10_": log10, "erf_": arith.erf,
    "erfc_": erfc, "erfinv_": erfinv, "i0_": i0, "lgamma_": lgamma, "mvlgamma_": mvlgamma, "ldexp_": ldexp,
    "nextafter_": nextafter, "digamma_": digamma, "sinc_": sinc, "logit_": logit,
    "deg2rad_": deg2rad, "rad2deg_": rad2deg, "sgn_": sgn, "sign_": sgn, "abs_": arith.abs, "absolute_": arith.abs,
    "neg_": arith.neg, "negative_": arith.neg, "pow_": arith.pow, "float_power_": _float_power_self, "fmod_": fmod,
    "remainder_": remainder, "atan2_": atan2, "arctan2_": atan2, "hypot_": hypot, "copysign_": copysign,
    "xlogy_": xlogy, "floor_divide_": floor_divide, "divide_": divide, "true_divide_": arith.div,
    "multiply_": arith.mul, "subtract_": arith.sub, "heaviside_": heaviside, "logical_and_": logical_and,
    "logical_or_": logical_or, "logical_xor_": logical_xor, "logical_not_": arith.logical_not,
    "bitwise_and_": bitwise_and, "bitwise_or_": bitwise_or, "bitwise_xor_": bitwise_xor,
    "bitwise_not_": arith.bitwise_not, "bitwise_left_shift_": bitwise_left_shift,
    "bitwise_right_shift_": bitwise_right_shift,
}  # fmt: skip
for _name, _fn in _INPLACE.items():
    globals()[_name] = _inplace(_name, _fn)

# polygamma's method takes n after self; torch has no Tensor.special_i1 nor Tensor.rsub
_NOT_METHODS = ("polygamma", "special_i1", "rsub")
METHODS: tuple[str, ...] = tuple(n for n in DIFFERENTIABLE + NON_DIFFERENTIABLE if n not in _NOT_METHODS) + tuple(
    _INPLACE
)


def _ops() -> Any:
    return sys.modules[__name__.rpartition(".")[0]]


def _reflect(fn: Callable) -> Callable:
    def reflected(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)

    return reflected


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    """polygamma(n, self)."""
    return _ops().polygamma(n, self)


def _polygamma_inplace(self: Tensor, n: int) -> Tensor:
    """In-place polygamma(n, self)."""
    return apply_(self, lambda t: _ops().polygamma(n, t), "polygamma_")


def attach(cls: type) -> None:
    """The methods with gpubp.ops' device-entering functions, the aliases, and the operators & | ^ << >> % //."""
    ops = _ops()
    for name in DIFFERENTIABLE + NON_DIFFERENTIABLE:
        if name not in _NOT_METHODS:
            setattr(cls, name, getattr(ops, name))
    for alias, target in ALIASES.items():
        setattr(cls, alias, getattr(ops, target))
    cls.polygamma = ops._on_device(_polygamma_method)
    cls.polygamma_ = ops._on_device(_polygamma_inplace)
    operators = {
        "and": ("bitwise_and", "bitwise_and_"), "or": ("bitwise_or", "bitwise_or_"),
        "xor": ("bitwise_xor", "bitwise_xor_"), "lshift": ("bitwise_left_shift", "bitwise_left_shift_"),
        "rshift": ("bitwise_right_shift", "bitwise_right_shift_"), "mod": ("remainder", "remainder_"),
        "floordiv": ("floor_divide", "floor_divide_"),
    }  # fmt: skip
    for op, (fn_name, inplace_name) in operators.items():
        fn = getattr(ops, fn_name)
        setattr(cls, f"__{op}__", fn)
        setattr(cls, f"__r{op}__", _reflect(fn))
        setattr(cls, f"__i{op}__", getattr(cls, inplace_name))
    cls.__pos__ = ops.positive
