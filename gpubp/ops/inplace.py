"""In-place ops (``x += y``, ``x[key] = v``, ``add_``, ``fill_``, ...).

Under ``no_grad`` (or when nothing requires grad) they write straight into the tensor's
buffer. When autograd is recording they run the out-of-place op on a snapshot of the old
value, write the result into the buffer and make the tensor the output of that op, so
gradients stay exact. Every in-place write bumps the version counter, which lets
backward detect a tensor that was changed after an op saved it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import _mode
from ..errors import InputError
from ..tensor import Tensor
from . import arith, index
from ._core import check_same_device, operands


def _recording(t: Tensor, *args: Any) -> bool:
    if not _mode.enabled:
        return False
    return t._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args)


def _check_inplace(t: Tensor, name: str) -> None:
    """Refuse, while autograd records, to change a leaf that requires grad or a view of one, as PyTorch: the
    write would bypass the graph and silently corrupt the gradient. Under no_grad it is the optimizer's update.
    Refuse always to write into an expanded tensor, whose elements share memory (a stride of 0)."""
    if _mode.enabled:
        if t._node is None and t._requires_grad:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad cannot be changed in place while autograd records; "
                "update parameters inside gpubp.no_grad(), or use the out-of-place op"
            )
        base = t._base
        if base is not None and base._node is None and base._requires_grad:
            raise RuntimeError(
                f"{name}: a view of a leaf tensor that requires grad (shape {base.shape}) is being used in an in-place "
                "operation; update it inside gpubp.no_grad(), or use the out-of-place op"
            )
    data = t._data
    if data.size > 1 and 0 in data.strides and any(st == 0 and n > 1 for st, n in zip(data.strides, data.shape)):
        raise InputError(
            f"{name}: unsupported operation: more than one element of the written-to tensor (shape {t.shape}, an "
            "expanded view) refers to a single memory location; clone() the tensor first"
        )


def _replace(t: Tensor, r: Tensor) -> Tensor:
    """Write result ``r`` into ``t``'s buffer and make ``t`` stand for it in the graph."""
    t._data[...] = r._data
    t._vc[0] += 1
    t._node = r._node
    t._requires_grad = t._requires_grad or r._requires_grad
    return t


def _snapshot(t: Tensor) -> Tensor:
    """The old value of ``t`` as its own tensor, in ``t``'s place in the graph."""
    s = Tensor._wrap(t._data.copy(), t._be)
    s._node = t._node
    s._requires_grad = t._requires_grad
    return s


_UFUNCS = {"add_": "add", "sub_": "subtract", "mul_": "multiply", "div_": "true_divide"}
_OPS: dict[str, Callable] = {"add_": arith.add, "sub_": arith.sub, "mul_": arith.mul, "div_": arith.div}


def _arith_inplace(t: Tensor, other: Any, name: str) -> Tensor:
    _, _, _, y, be = operands(t, other, name)  # validates devices and operand types
    result_dt = (
        dtypes.promote(t.dtype, other.dtype) if isinstance(other, Tensor) else dtypes.scalar_dtype(t.dtype, other)
    )
    if name == "div_" and result_dt.kind != "f":
        result_dt = dtypes.DEFAULT_FLOAT
    if dtypes._CATEGORY[result_dt.kind] > dtypes._CATEGORY[t.dtype.kind]:
        raise RuntimeError(f"{name}: the result has dtype {result_dt}, which cannot be stored in this {t.dtype} tensor")
    oshape = tuple(getattr(y, "shape", ()))
    try:
        bshape = np.broadcast_shapes(t.shape, oshape)
    except ValueError:
        bshape = None
    if bshape != t.shape:
        raise InputError(f"{name}: an operand of shape {oshape} does not broadcast to this tensor's shape {t.shape}")
    _check_inplace(t, name)
    if _recording(t, other):
        return _replace(t, _OPS[name](_snapshot(t), other))
    getattr(be.xp, _UFUNCS[name])(t._data, y, out=t._data, casting="unsafe")
    t._vc[0] += 1
    return t


def _scaled(other: Any, alpha: float) -> Any:
    if alpha == 1:
        return other
    return arith.mul(other, alpha) if isinstance(other, Tensor) else other * alpha


def add_(t: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """t += alpha * other, in place."""
    return _arith_inplace(t, _scaled(other, alpha), "add_")


def sub_(t: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """t -= alpha * other, in place."""
    return _arith_inplace(t, _scaled(other, alpha), "sub_")


def mul_(t: Tensor, other: Any) -> Tensor:
    """t *= other, in place."""
    return _arith_inplace(t, other, "mul_")


def div_(t: Tensor, other: Any, rounding_mode: str | None = None) -> Tensor:
    """t /= other, in place (``rounding_mode`` 'trunc' or 'floor' rounds the quotient, as PyTorch)."""
    if rounding_mode is not None:
        return apply_(t, lambda s, o: arith.div(s, o, rounding_mode=rounding_mode), "div_", other)
    return _arith_inplace(t, other, "div_")


def setitem(t: Tensor, key: Any, value: Any) -> None:
    """t[key] = value."""
    _setitem(t, key, value, "setitem")


def _setitem(t: Tensor, key: Any, value: Any, name: str) -> None:
    index.check_value(value, name)
    _check_inplace(t, name)
    if _recording(t, value):
        _replace(t, index.index_put(_snapshot(t), key, value))
        return
    k, _ = index._key(t, key)
    v = value
    if isinstance(value, Tensor):
        check_same_device(name, t, value)
        v = value._data
    try:
        t._data[k] = v
    except IndexError as e:
        raise IndexError(f"{name}: {e} (tensor shape {t.shape})") from None
    except ValueError as e:
        vshape = tuple(getattr(v, "shape", ()))
        raise InputError(
            f"{name}: cannot assign a value of shape {vshape} into a tensor of shape {t.shape}: {e}"
        ) from None
    t._vc[0] += 1


def fill_(t: Tensor, value: Any) -> Tensor:
    """Set every element to ``value`` (a number or a one-element tensor)."""
    return _fill(t, value, "fill_")


def _fill(t: Tensor, value: Any, name: str) -> Tensor:
    if isinstance(value, Tensor) and value._data.size != 1:
        raise InputError(f"{name}: value must have one element, got shape {value.shape}")
    _setitem(t, Ellipsis, value.reshape(()) if isinstance(value, Tensor) else value, name)
    return t


def zero_(t: Tensor) -> Tensor:
    """Set every element to 0."""
    return _fill(t, 0, "zero_")


def copy_(t: Tensor, src: Tensor) -> Tensor:
    """Copy ``src`` (broadcast to t's shape) into t."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_: src must be a Tensor, got {type(src).__name__}")
    if src._be is not t._be:
        src = src.to(t.device)
    if not _broadcasts(t.shape, src.shape):
        raise InputError(f"copy_: src of shape {src.shape} does not broadcast to {t.shape}")
    _setitem(t, Ellipsis, src, "copy_")
    return t


def _broadcasts(shape: tuple, other: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, other) == shape
    except ValueError:
        return False


def clamp_(t: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clamp in place."""
    if min is None and max is None:
        raise InputError("clamp_: at least one of 'min' or 'max' must not be None")
    _check_inplace(t, "clamp_")
    if _recording(t, min, max):
        return _replace(t, arith.clamp(_snapshot(t), min, max))
    r = arith.clamp(t, min, max)
    t._data[...] = r._data
    t._vc[0] += 1
    return t


def apply_(t: Tensor, fn: Callable[..., Tensor], name: str, *args: Any, **kwargs: Any) -> Tensor:
    """Write ``fn(t, *args, **kwargs)`` into ``t`` and return ``t``: the one in-place helper (relu_,
    dropout(inplace=True), masked_fill_, addmm_, floor_, ...). While autograd records (``t`` or an argument requires
    grad) ``fn`` runs on a snapshot, so the gradient is exact, as for the other in-place ops. The result must keep
    ``t``'s shape and a dtype ``t`` can hold (float into float, int into float or int), cast to ``t``'s, as PyTorch."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(t).__name__}")
    _check_inplace(t, name)
    with t._be.enter():  # on t's device, whichever is current (nn's inplace= forms call this directly)
        return _apply(t, fn, name, *args, **kwargs)


def _apply(t: Tensor, fn: Callable[..., Tensor], name: str, *args: Any, **kwargs: Any) -> Tensor:
    """apply_ on the checked tensor, inside its device."""
    recording = _recording(t, *args, *kwargs.values())
    r = fn(_snapshot(t) if recording else t, *args, **kwargs)
    if r.shape != t.shape:
        raise InputError(f"{name}: the result's shape {r.shape} does not match this tensor's shape {t.shape}")
    if dtypes._CATEGORY[r.dtype.kind] > dtypes._CATEGORY[t.dtype.kind]:
        raise RuntimeError(f"{name}: result type {r.dtype} can't be cast to the desired output type {t.dtype}")
    if r.dtype != t.dtype:
        r = r.to(t.dtype)
    if recording and r._requires_grad:
        return _replace(t, r)
    t._data[...] = r._data
    t._vc[0] += 1
    if recording:  # a result without a gradient (floor_divide_, bitwise ops): t no longer depends on the graph
        t._node = None
        t._requires_grad = False
    return t
