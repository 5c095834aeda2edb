"""Differentiable functions, each with its forward and VJP side by side.

``DIFFERENTIABLE`` names every public op that has a gradient; the test suite fails when
one of them has no gradient case. ``attach_methods`` makes them Tensor methods/operators.

The families in ``FAMILIES`` register themselves: each module lists its public functions in ``DIFFERENTIABLE`` and
``NON_DIFFERENTIABLE``, the names that become Tensor methods in ``METHODS``, optionally the names ``gpubp.*`` exports
in ``TOP_LEVEL`` (default: every public function; a dict maps a top-level name to a function's name), and
optionally ``attach(cls)`` for operators.
"""

from __future__ import annotations

from typing import Any

from ._core import on_device as _on_device
from .activation import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus, tanh
from .arith import (
    abs,
    add,
    bitwise_not,
    clamp,
    clip,
    cos,
    div,
    eq,
    erf,
    exp,
    ge,
    gt,
    le,
    log,
    log1p,
    logical_not,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    rsqrt,
    sign,
    sin,
    sqrt,
    sub,
    where,
)
from .conv import conv2d
from .index import getitem, index_put
from .inplace import add_, clamp_, copy_, div_, fill_, mul_, setitem, sub_, zero_
from .linalg import bmm, linear, matmul, mm
from .loss import cross_entropy, mse_loss
from .pool import avg_pool2d, max_pool2d
from .reduce import amax, amin, argmax, argmin, logsumexp, max, mean, min, norm, std, sum, var
from .shape import (
    astype,
    broadcast_to,
    cat,
    chunk,
    clone,
    contiguous,
    expand,
    flatten,
    narrow,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    t,
    to_device,
    transpose,
    unsqueeze,
    view,
)

DIFFERENTIABLE = (
    "add", "sub", "mul", "div", "pow", "neg", "abs", "exp", "log", "log1p", "sqrt", "rsqrt",
    "sin", "cos", "erf", "sign", "clamp", "maximum", "minimum", "where",
    "matmul", "linear", "mm", "bmm", "t", "narrow",
    "sum", "mean", "max", "min", "amax", "amin", "var", "std", "logsumexp", "norm",
    "reshape", "flatten", "transpose", "permute", "expand", "broadcast_to", "squeeze", "unsqueeze",
    "cat", "stack", "split", "chunk", "pad", "getitem", "index_put", "contiguous", "clone", "astype",
    "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "silu", "softmax", "log_softmax",
    "cross_entropy", "mse_loss", "conv2d", "max_pool2d", "avg_pool2d",
)  # fmt: skip

# Public functions without a gradient (comparisons, indices, in-place writes, device moves).
NON_DIFFERENTIABLE = (
    "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "argmax", "argmin",
    "add_", "sub_", "mul_", "div_", "setitem", "fill_", "zero_", "copy_", "clamp_", "to_device",
    "view", "clip", "bitwise_not",
)  # fmt: skip


# the op families that register themselves (see the module docstring)
FAMILIES = (
    "select", "sorting", "scan", "products", "decomp", "layout", "elementwise", "sampling", "recurrent", "attention",
    "normalization",
)  # fmt: skip
TOP_LEVEL: dict[str, str] = {}  # gpubp.<name> -> the function's name in gpubp.ops, for the families' functions


def _register_families() -> None:
    import importlib

    global DIFFERENTIABLE, NON_DIFFERENTIABLE
    for family in FAMILIES:
        mod = importlib.import_module(f"{__name__}.{family}")
        names = tuple(mod.DIFFERENTIABLE) + tuple(mod.NON_DIFFERENTIABLE)
        for name in names:
            if name in globals():
                raise RuntimeError(f"gpubp.ops: the family {family!r} redefines {name!r}")
            globals()[name] = getattr(mod, name)
        DIFFERENTIABLE += tuple(mod.DIFFERENTIABLE)
        NON_DIFFERENTIABLE += tuple(mod.NON_DIFFERENTIABLE)
        top = getattr(mod, "TOP_LEVEL", names)
        TOP_LEVEL.update(top.items() if isinstance(top, dict) else ((n, n) for n in top))


_register_families()


def _enter_devices() -> None:
    """Every public op runs with its tensors' device current (``_core.on_device``): replace each, here and in the
    modules that define or re-export it, so that calls between ops and from nn, optim and Tensor methods all go
    through it."""
    import sys

    homes = [m for n, m in sys.modules.items() if n.startswith(__name__ + ".")]  # gpubp.ops' modules
    for name in DIFFERENTIABLE + NON_DIFFERENTIABLE:
        fn = globals()[name]
        wrapped = _on_device(fn)
        globals()[name] = wrapped
        for home in homes:  # the module that defines it, and any family module that re-exports it
            if getattr(home, name, None) is fn:
                setattr(home, name, wrapped)


_enter_devices()


def _equality(fn: Any) -> Any:
    """== and != against things that are not tensors, numbers or arrays give Python's answer (lists and tuples
    too: ``x == [1, 2]`` is False, as PyTorch)."""

    def method(self: Any, other: Any) -> Any:
        if other is None or isinstance(other, (str, bytes, dict, set, list, tuple)):
            return NotImplemented
        return fn(self, other)

    return method


def _reflect(fn: Any) -> Any:
    def reflected(self: Any, other: Any) -> Any:
        return fn(other, self)

    return reflected


def _shape_method(fn: Any) -> Any:
    def method(self: Any, *shape: Any) -> Any:
        return fn(self, *shape)

    method.__doc__ = fn.__doc__
    return method


def attach_methods(cls: type) -> None:
    """Make the ops Tensor methods and operators, with PyTorch's names."""
    for name in (
        "add", "sub", "mul", "div", "pow", "neg", "abs", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos",
        "clamp", "clip", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "sign",
        "matmul", "sum", "mean", "max", "min", "amax", "amin", "var", "std", "logsumexp", "norm",
        "argmax", "argmin", "flatten", "transpose", "squeeze", "unsqueeze", "split", "chunk", "contiguous",
        "clone", "astype", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "silu",
        "softmax", "log_softmax", "add_", "sub_", "mul_", "div_", "fill_", "zero_", "copy_", "clamp_",
        "broadcast_to", "bitwise_not", "mm", "bmm", "t", "narrow", "erf",
    ):  # fmt: skip
        setattr(cls, name, globals()[name])
    cls.reshape = _shape_method(reshape)
    cls.view = _shape_method(view)
    cls.permute = _shape_method(permute)
    cls.expand = _shape_method(expand)
    cls.expand_as = lambda self, other: broadcast_to(self, other.shape)
    cls.view_as = lambda self, other: view(self, other.shape)
    cls.__getitem__ = getitem
    cls.__setitem__ = setitem
    cls.__add__, cls.__radd__, cls.__iadd__ = add, _reflect(add), add_
    cls.__sub__, cls.__rsub__, cls.__isub__ = sub, _reflect(sub), sub_
    cls.__mul__, cls.__rmul__, cls.__imul__ = mul, _reflect(mul), mul_
    cls.__truediv__, cls.__rtruediv__, cls.__itruediv__ = div, _reflect(div), div_
    cls.__pow__, cls.__rpow__ = pow, _reflect(pow)
    cls.__matmul__, cls.__rmatmul__ = matmul, _reflect(matmul)
    cls.__neg__ = neg
    cls.__abs__ = abs
    cls.__eq__, cls.__ne__ = _equality(eq), _equality(ne)
    cls.__lt__, cls.__le__, cls.__gt__, cls.__ge__ = lt, le, gt, ge
    cls.__invert__ = bitwise_not  # logical not of a bool tensor, bitwise not of an integer one, as PyTorch
    import importlib

    for family in FAMILIES:
        mod = importlib.import_module(f"{__name__}.{family}")
        registered = set(mod.DIFFERENTIABLE) | set(mod.NON_DIFFERENTIABLE)
        for name in getattr(mod, "METHODS", ()):
            # a registered function is wrapped by _enter_devices (here, and in the module that defines it)
            setattr(cls, name, globals()[name] if name in registered else _on_device(getattr(mod, name)))
        if hasattr(mod, "attach"):
            mod.attach(cls)


from ..autograd import hooks as _hooks  # noqa: E402
from ..tensor import Tensor  # noqa: E402
from . import _math  # noqa: E402, F401  (registers the rules' math namespaces with the engine)

attach_methods(Tensor)
_hooks.attach(Tensor)
