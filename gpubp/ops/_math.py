"""The two namespaces gradient rules run on: one rule per op, two modes (see ``gpubp.autograd.engine``).

``array_math(be)``: first-order backward. Raw arrays, ``xp`` functions and the backend's fused primitives (the
activation derivatives, softmax backward, the fused cross-entropy backward: custom kernels on a GPU).

``tensor_math(be)``: ``create_graph=True``. The same names over gpubp's differentiable ops, so what a rule computes
is recorded and can be differentiated again. A fused primitive runs here as its reference formula written with
differentiable ops (the NumPy backend's own formula where it is written over ``xp``), so it needs no second
kernel and its derivative is exact to any order.

Both share a few helpers: ``raw(v)`` (the array under a value: masks and index arithmetic never need a gradient),
``const(a)`` (an array as an operand: itself, or a constant tensor), ``cached(v, fn)`` (a value forward kept for
backward, or, in a graph, ``fn()`` recomputing it from tensors so its dependence on the inputs is recorded).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .. import dtypes
from ..autograd import engine
from ..backend.base import Backend
from ..tensor import Tensor
from . import activation, arith, conv, index, layout, linalg, pool, reduce, shape
from ._core import unbroadcast

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _keep_shape(shape: tuple, dims: tuple) -> tuple:
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


class ArrayMath:
    """Rules on raw arrays: ``xp`` plus the backend's fused primitives. Attributes are bound once per backend, so
    a rule pays one attribute lookup per call, as a hand-written VJP would."""

    graph = False

    def __init__(self, be: Backend) -> None:
        xp = be.xp
        self.be = be
        self.xp = xp
        for name in ("exp", "log", "log1p", "cos", "sin", "abs", "maximum", "where", "matmul", "swapaxes",
                     "transpose", "concatenate", "broadcast_to", "zeros_like", "flip"):  # fmt: skip
            setattr(self, name, getattr(xp, name))
        self.pow = xp.power

    @staticmethod
    def raw(v: Any) -> Any:
        return v

    @staticmethod
    def const(a: Any) -> Any:
        return a

    # the backend's fused derivatives, looked up at each call (a backend's method may be replaced: tests plant one)
    def act_backward(self, name: str, g: Any, saved: Any, param: float) -> Any:
        return self.be.act_backward(name, g, saved, param)

    def softmax_backward(self, g: Any, y: Any, axis: int) -> Any:
        return self.be.softmax_backward(g, y, axis)

    def log_softmax_backward(self, g: Any, y: Any, axis: int) -> Any:
        return self.be.log_softmax_backward(g, y, axis)

    @staticmethod
    def cached(v: Any, recompute: Callable[[], Any]) -> Any:
        return v

    unbroadcast = staticmethod(unbroadcast)

    def zeros(self, shape: tuple, dtype: Any, like: Any = None) -> Any:
        return self.xp.zeros(shape, dtype=dtype)

    @staticmethod
    def sum(a: Any, axes: Any, keepdims: bool = False) -> Any:
        return a.sum(axis=axes, keepdims=keepdims)

    def mean(self, a: Any, axes: Any, keepdims: bool = False) -> Any:
        return a.mean(axis=axes, keepdims=keepdims)

    def expand(self, g: Any, dims: tuple, keepdim: bool, shape: tuple) -> Any:
        """A reduced gradient broadcast back over the reduced dims (a read-only view)."""
        if not keepdim and dims:
            g = self.xp.expand_dims(g, dims)
        return self.xp.broadcast_to(g, shape)

    def put_along_axis(self, shape: tuple, idx: Any, g: Any, ax: int) -> Any:
        out = self.xp.zeros(shape, dtype=g.dtype)
        self.xp.put_along_axis(out, idx, g, axis=ax)
        return out

    def index_scatter(self, g: Any, shape: tuple, dtype: Any, key: Any, gather: bool) -> Any:
        """zeros(shape)[key] += g: the gradient of indexing (repeated integer indices add up when ``gather``)."""
        out = self.xp.zeros(shape, dtype=dtype)
        if gather:
            self.be.scatter_add(out, key, g)
        else:
            out[key] = g
        return out

    def take(self, g: Any, key: Any) -> Any:
        return self.xp.asarray(g[key])

    @staticmethod
    def zero_at(g: Any, key: Any) -> Any:
        out = g.copy()
        out[key] = 0
        return out

    @staticmethod
    def astype(g: Any, dtype: Any) -> Any:
        return g.astype(dtype)

    def to_backend(self, g: Any, be: Backend) -> Any:
        return be.asarray(self.be.to_numpy(g))

    def sigmoid(self, x: Any) -> Any:
        return self.be.act_forward("sigmoid", x)

    def tanh(self, x: Any) -> Any:
        return self.be.act_forward("tanh", x)

    def cross_entropy_backward(
        self, g_rows: Any, x: Any, probs: Any, t: Any, ignore_index: int, smoothing: float, divisor: Any
    ) -> Any:
        return self.be.cross_entropy_backward(g_rows, probs, t, ignore_index, smoothing, divisor)

    def im2col(self, x: Any, geo: Any) -> Any:
        return conv.im2col_array(self.xp, x, geo)

    def col2im(self, cols: Any, geo: Any) -> Any:
        return conv.col2im_array(self.xp, cols, geo)

    def max_pool2d_backward(self, g: Any, x: Any, out: Any, geo: Any) -> Any:
        return pool.max_pool2d_backward_array(self.xp, g, x, out, geo)


class _TensorXP:
    """The slice of ``xp`` the backend's reference formulas use, over differentiable ops: running
    ``Backend.act_backward`` (and the softmax backwards) with it records the derivative as a graph."""

    where = staticmethod(arith.where)
    maximum = staticmethod(arith.maximum)
    minimum = staticmethod(arith.minimum)
    exp = staticmethod(arith.exp)
    abs = staticmethod(arith.abs)
    log1p = staticmethod(arith.log1p)
    tanh = staticmethod(activation.tanh)

    @staticmethod
    def sum(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        return reduce.sum(a, axis, keepdims)

    @staticmethod
    def expm1(a: Tensor) -> Tensor:
        return arith.exp(a) - 1.0


class _Reference:
    """The backend's reference formulas (written once, on ``xp``) with tensors in place of arrays."""

    xp = _TensorXP
    erf = staticmethod(arith.erf)
    _sigmoid = Backend._sigmoid
    act_backward = Backend.act_backward
    softmax_backward = Backend.softmax_backward
    log_softmax_backward = Backend.log_softmax_backward


_REFERENCE = _Reference()


class TensorMath:
    """Rules on tensors (create_graph=True): every name a differentiable op, so the backward pass is recorded."""

    graph = True
    exp = staticmethod(arith.exp)
    log = staticmethod(arith.log)
    log1p = staticmethod(arith.log1p)
    cos = staticmethod(arith.cos)
    sin = staticmethod(arith.sin)
    abs = staticmethod(arith.abs)
    pow = staticmethod(arith.pow)
    maximum = staticmethod(arith.maximum)
    matmul = staticmethod(linalg.matmul)
    sigmoid = staticmethod(activation.sigmoid)
    tanh = staticmethod(activation.tanh)
    act_backward = staticmethod(_REFERENCE.act_backward)
    softmax_backward = staticmethod(_REFERENCE.softmax_backward)
    log_softmax_backward = staticmethod(_REFERENCE.log_softmax_backward)

    def __init__(self, be: Backend) -> None:
        self.be = be
        self.xp = be.xp

    @staticmethod
    def raw(v: Any) -> Any:
        return v._data if isinstance(v, Tensor) else v

    def const(self, a: Any) -> Any:
        return Tensor._wrap(self.xp.asarray(a), self.be) if hasattr(a, "dtype") else a

    @staticmethod
    def cached(v: Any, recompute: Callable[[], Any]) -> Any:
        return recompute()

    def where(self, cond: Any, a: Any, b: Any) -> Tensor:
        c = cond if isinstance(cond, Tensor) else Tensor._wrap(self.xp.asarray(cond), self.be)
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            a = Tensor._wrap(self.xp.asarray(a, dtype=dtypes.DEFAULT_FLOAT), self.be)
        return arith.where(c, a, b)

    unbroadcast = staticmethod(unbroadcast)  # the same function: it uses only what tensors and arrays share

    def zeros(self, shp: tuple, dtype: Any, like: Any = None) -> Tensor:
        return Tensor._wrap(self.xp.zeros(shp, dtype=dtype), self.be)

    def zeros_like(self, g: Tensor) -> Tensor:
        return Tensor._wrap(self.xp.zeros(g.shape, dtype=g.dtype), g._be)

    sum = staticmethod(reduce.sum)  # (a, dims, keepdim), called positionally as ArrayMath's
    mean = staticmethod(reduce.mean)

    @staticmethod
    def expand(g: Tensor, dims: tuple, keepdim: bool, shp: tuple) -> Tensor:
        if not keepdim and dims:
            g = shape.reshape(g, _keep_shape(shp, dims))
        return shape.broadcast_to(g, shp) if g.shape != shp else g

    transpose = staticmethod(shape.permute)  # (g, axes)
    swapaxes = staticmethod(shape.transpose)
    concatenate = staticmethod(shape.cat)

    @staticmethod
    def flip(g: Tensor, axis: Any) -> Tensor:
        """xp.flip(g, axis) as the differentiable flip op (``axis`` an int or a tuple of non-negative ints)."""
        return layout._flip(g, (axis,) if isinstance(axis, int) else tuple(axis))

    broadcast_to = staticmethod(shape.broadcast_to)

    def put_along_axis(self, shp: tuple, idx: Any, g: Tensor, ax: int) -> Tensor:
        mask = self.xp.zeros(shp, dtype=bool)
        self.xp.put_along_axis(mask, idx, True, axis=ax)
        return shape.broadcast_to(g, shp) * Tensor._wrap(mask, self.be)

    @staticmethod
    def index_scatter(g: Tensor, shp: tuple, dtype: Any, key: Any, gather: bool) -> Tensor:
        return index_scatter(g, shp, dtype, key, gather)

    take = staticmethod(index.getitem)

    def zero_at(self, g: Tensor, key: Any) -> Tensor:
        keep = self.xp.ones(g.shape, dtype=bool)
        keep[key] = False
        return g * Tensor._wrap(keep, g._be)

    astype = staticmethod(shape.astype)

    @staticmethod
    def to_backend(g: Tensor, be: Backend) -> Tensor:
        return shape.to_device(g, be.device)

    def cross_entropy_backward(
        self, g_rows: Tensor, x: Tensor, probs: Any, t: Any, ignore_index: int, smoothing: float, divisor: Any
    ) -> Tensor:
        """(softmax(x) - (1 - eps) onehot(t) - eps / C) * g_row / divisor, with ignored rows 0 and rows whose target
        is outside [0, C) NaN: the fused backward's formula, in differentiable ops."""
        xp = self.xp
        n, classes = x.shape
        valid = t != ignore_index
        inside = (t >= 0) & (t < classes)
        target = xp.zeros((n, classes), dtype=x.dtype)
        target[xp.arange(n), xp.where(valid & inside, t, 0)] = xp.where(inside, 1.0 - smoothing, 0.0)
        if smoothing:
            target += smoothing / classes
        if divisor is not None:
            g_rows = g_rows / Tensor._wrap(xp.asarray(divisor, dtype=x.dtype), self.be)
        gr = arith.where(Tensor._wrap(valid, self.be), g_rows, 0.0)
        d = (activation.softmax(x, 1) - Tensor._wrap(target, self.be)) * shape.reshape(gr, (n, 1))
        bad = Tensor._wrap((valid & ~inside)[:, None], self.be)
        return arith.where(bad, math.nan, d)

    im2col = staticmethod(conv.im2col)
    col2im = staticmethod(conv.col2im)

    def max_pool2d_backward(self, g: Tensor, x: Tensor, out: Any, geo: Any) -> Tensor:
        """col2im(g * where each window's maximum sat): linear in g; the mask is piecewise constant in x."""
        hits = pool.max_pool2d_hits(self.xp, x._data, out, geo)
        spread = shape.reshape(g, (geo.n, geo.c, 1, geo.oh * geo.ow)) * Tensor._wrap(hits, self.be)
        return conv.col2im(spread, geo)


def index_scatter(g: Tensor, shp: tuple, dtype: Any, key: Any, gather: bool) -> Tensor:
    """zeros(shape)[key] += g as an op: the gradient of indexing, whose own gradient is indexing again."""
    be = g._be
    out = array_math(be).index_scatter(g._data, shp, dtype, key, gather)

    def rule(m: Any, gg: Any) -> tuple:
        return (m.take(gg, key),)

    from ._core import make

    return make("index_backward", out, be, (g,), rule)


_ARRAY: dict = {}
_TENSOR: dict = {}


def array_math(be: Backend) -> ArrayMath:
    m = _ARRAY.get(be)
    if m is None:
        m = _ARRAY[be] = ArrayMath(be)
    return m


def tensor_math(be: Backend) -> TensorMath:
    m = _TENSOR.get(be)
    if m is None:
        m = _TENSOR[be] = TensorMath(be)
    return m


engine.set_maths(array_math, tensor_math)
