"""Logical and bitwise ops, closeness tests: results without a gradient (bool or integer tensors, Python bools)."""

from __future__ import annotations

from typing import Any

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import operands, write_out
from .arith import _compute


def _logical(op: str, fn_name: str, a: Any, b: Any, out: Any) -> Tensor:
    _, _, x, y, be = operands(a, b, op)
    return write_out(Tensor._wrap(_compute(op, getattr(be.xp, fn_name), x, y), be), out, op)


def logical_and(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Elementwise and of the truth values (nonzero is True), as a bool tensor."""
    return _logical("logical_and", "logical_and", input, other, out)


def logical_or(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Elementwise or of the truth values, as a bool tensor."""
    return _logical("logical_or", "logical_or", input, other, out)


def logical_xor(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Elementwise xor of the truth values, as a bool tensor."""
    return _logical("logical_xor", "logical_xor", input, other, out)


def _bitwise(op: str, fn_name: str, a: Any, b: Any, out: Any, allow_bool: bool = True) -> Tensor:
    _, _, x, y, be = operands(a, b, op)
    for v in (x, y):
        kind = getattr(v, "dtype", None)
        kind = kind.kind if kind is not None else ("f" if isinstance(v, float) else "i")
        if kind == "f" or (kind == "b" and not allow_bool):
            allowed = "integer and bool" if allow_bool else "integer"
            raise InputTypeError(
                f"{op}: only {allowed} tensors are supported, got dtype {getattr(v, 'dtype', 'float')}"
            )
    return write_out(Tensor._wrap(_compute(op, getattr(be.xp, fn_name), x, y), be), out, op)


def bitwise_and(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """a & b: bitwise on integers, logical on bools; floats are refused, as PyTorch."""
    return _bitwise("bitwise_and", "bitwise_and", input, other, out)


def bitwise_or(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """a | b: bitwise on integers, logical on bools; floats are refused."""
    return _bitwise("bitwise_or", "bitwise_or", input, other, out)


def bitwise_xor(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """a ^ b: bitwise on integers, logical on bools; floats are refused."""
    return _bitwise("bitwise_xor", "bitwise_xor", input, other, out)


def bitwise_left_shift(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """a << b, of integer tensors."""
    return _bitwise("bitwise_left_shift", "left_shift", input, other, out, allow_bool=False)


def bitwise_right_shift(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """a >> b (arithmetic: the sign is kept), of integer tensors."""
    return _bitwise("bitwise_right_shift", "right_shift", input, other, out, allow_bool=False)


def _close_operands(op: str, a: Any, b: Any) -> tuple:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{op}(): input and other must be Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.dtype != b.dtype:
        raise InputTypeError(f"{op}: expected both tensors to have the same dtype, but got {a.dtype} and {b.dtype}")
    _, _, x, y, be = operands(a, b, op)
    return x, y, be


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (equal infinities are close), as a bool tensor."""
    if rtol < 0 or atol < 0:
        raise InputError(f"isclose: rtol and atol must be non-negative, got rtol={rtol} and atol={atol}")
    x, y, be = _close_operands("isclose", input, other)
    xp = be.xp
    if x.dtype.kind != "f":
        return Tensor._wrap(_int_close(xp, x, y, rtol, atol), be)
    return Tensor._wrap(_compute("isclose", lambda u, v: xp.isclose(u, v, rtol, atol, equal_nan), x, y), be)


def _int_close(xp: Any, x: Any, y: Any, rtol: float, atol: float) -> Any:
    """Integers and bools: the test in float64, as PyTorch (which refuses none of them)."""
    diff = xp.abs(x.astype("float64") - y.astype("float64"))
    return diff <= atol + rtol * xp.abs(y.astype("float64"))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether every element of input is close to other's (isclose), as a Python bool (synchronizes on a GPU)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())  # the answer is on the host: a sync


def equal(input: Tensor, other: Tensor) -> bool:
    """Whether both tensors have the same shape and elements, as a Python bool (synchronizes on a GPU)."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"equal(): arguments must be Tensors, got {type(input).__name__} and {type(other).__name__}")
    if input.shape != other.shape:
        return False
    _, _, x, y, be = operands(input, other, "equal")
    return bool(be.xp.all(x == y))  # the answer is on the host: a sync
