"""Convolution over (N, C, H, W), by im2col: windows are strided views of the
padded input, a convolution is one matrix product per group, and each backward folds window
gradients back with one strided add per kernel position (col2im). The N-d pair (im2col_nd, col2im_nd) serves
conv3d and the transposed convolutions, which nn/_conv_fn.py composes from it, pad and matmul."""

from __future__ import annotations

import itertools
import math
import numbers
from typing import Any, NamedTuple

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import check_same_device, make, on_device, spec


def _pair(v: Any, name: str, op: str) -> tuple[int, int]:
    if isinstance(v, numbers.Integral):
        return int(v), int(v)
    if not isinstance(v, (tuple, list)):
        raise InputTypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    v = tuple(v)
    if len(v) != 2 or not all(isinstance(a, numbers.Integral) for a in v):
        raise InputError(f"{op}: {name} must be an int or a pair of ints, got {v}")
    return int(v[0]), int(v[1])


def _windows(xp: Any, a: Any, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int) -> tuple[Any, int, int]:
    """Strided view (N, C, OH, OW, KH, KW) of ``a`` (N, C, H, W): no copy."""
    n, c, h, w = a.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    s0, s1, s2, s3 = a.strides
    view = xp.lib.stride_tricks.as_strided(a, (n, c, oh, ow, kh, kw), (s0, s1, s2 * sh, s3 * sw, s2 * dh, s3 * dw))
    return view, oh, ow


def _col2im(xp: Any, gwin: Any, shape: tuple, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int) -> Any:
    """Sum window gradients (N, C, OH, OW, KH, KW) back onto an (N, C, H, W) array."""
    out = xp.zeros(shape, dtype=gwin.dtype)
    _, _, oh, ow = gwin.shape[:4]
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw] += gwin[
                :, :, :, :, i, j
            ]
    return out


def _pad(xp: Any, a: Any, ph: int, pw: int, value: float = 0.0) -> Any:
    if not ph and not pw:
        return a
    return xp.pad(a, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation of x (N, C, H, W) with weight (O, C/groups, KH, KW), as PyTorch's."""
    return _conv2d(x, weight, bias, stride, padding, dilation, groups, "conv2d")


def _conv2d(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any, dilation: Any, groups: int, op: str
) -> Tensor:
    """conv2d, its errors naming ``op`` (conv1d runs on a height of 1)."""
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors, got {type(x).__name__} and {type(weight).__name__}")
    check_same_device(op, x, weight)
    sh, sw = _pair(stride, "stride", op)
    ph, pw = _pair(padding, "padding", op)
    dh, dw = _pair(dilation, "dilation", op)
    if x.ndim != 4 or weight.ndim != 4:
        raise InputError(
            f"{op}: expected input (N, C, H, W) and weight (O, C/groups, KH, KW), got {x.shape} and {weight.shape}"
        )
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if not isinstance(groups, numbers.Integral) or groups < 1 or c % groups or o % groups or cg * groups != c:
        raise InputError(
            f"{op}: input has {c} channels, weight {weight.shape} with groups={groups} expects "
            f"{cg * groups} (and out channels divisible by groups)"
        )
    if x.dtype != weight.dtype:  # PyTorch: a RuntimeError ("Input type (double) and bias type (float) ...")
        raise InputTypeError(f"{op}: input is {x.dtype} but weight is {weight.dtype}")
    if bias is not None and bias.shape != (o,):
        raise InputError(f"{op}: bias has shape {bias.shape}, expected ({o},)")
    if min(sh, sw, dh, dw) < 1 or min(ph, pw) < 0:
        raise InputError(
            f"{op}: stride and dilation must be >= 1 and padding >= 0, "
            f"got stride={stride}, padding={padding}, dilation={dilation}"
        )
    xp = x._be.xp
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise InputError(
            f"{op}: kernel {(kh, kw)} (dilation {(dh, dw)}) is larger than the padded input {(h + 2 * ph, w + 2 * pw)}"
        )
    geo = Geometry(n, c, h, w, groups, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    og, k, pix = o // groups, cg * kh * kw, oh * ow
    cols = im2col_array(xp, x._data, geo)  # (N, G, Cg*KH*KW, OH*OW): the layout that makes the product NCHW
    out = xp.matmul(weight._data.reshape(groups, og, k), cols).reshape(n, o, oh, ow)
    if bias is not None:
        out += bias._data.reshape(1, o, 1, 1)
    sx, swt, sb = spec(x), spec(weight), spec(bias)
    wshape = weight.shape

    def rule(m: Any, g: Any, x: Any, wt: Any, cols: Any) -> tuple:
        g4 = g.reshape((n, groups, og, pix))
        gx = gw = gb = None
        if swt is not None:  # sum over the batch of g_n cols_n^T
            cols = m.cached(cols, lambda: m.im2col(x, geo))
            gw = m.sum(m.matmul(g4, m.swapaxes(cols, -1, -2)), 0).reshape(wshape)
        if sx is not None:  # the windows' gradients (N, G, K, OH*OW), folded back onto the input
            gx = m.col2im(m.matmul(m.swapaxes(wt.reshape((groups, og, k)), -1, -2), g4), geo)
        if sb is not None:
            gb = m.sum(g, (0, 2, 3))
        return gx, gw, gb

    saved = (x if swt is not None else None, weight if sx is not None else None, cols if swt is not None else None)
    return make("conv2d", out, x._be, (x, weight, bias), rule, saved=saved)


class Geometry(NamedTuple):
    """A convolution's shapes: input (n, c, h, w) in ``groups``, kernel, stride, padding, dilation, output."""

    n: int
    c: int
    h: int
    w: int
    groups: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    oh: int
    ow: int


def im2col_array(xp: Any, x: Any, geo: Geometry) -> Any:
    """The windows of (N, C, H, W) ``x`` as columns (N, G, C/G*KH*KW, OH*OW): one copy of a strided view."""
    n, c, _, _, groups, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = geo
    win, _, _ = _windows(xp, _pad(xp, x, ph, pw), kh, kw, sh, sw, dh, dw)
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, groups, (c // groups) * kh * kw, oh * ow)


def col2im_array(xp: Any, cols: Any, geo: Geometry) -> Any:
    """im2col's adjoint: columns (N, G, C/G*KH*KW, OH*OW) summed back onto an (N, C, H, W) array."""
    n, c, h, w, _, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = geo
    gwin = cols.reshape(n, c, kh, kw, oh, ow).transpose(0, 1, 4, 5, 2, 3)
    return _col2im(xp, gwin, (n, c, h + 2 * ph, w + 2 * pw), kh, kw, sh, sw, dh, dw)[:, :, ph : ph + h, pw : pw + w]


def im2col(x: Tensor, geo: Geometry) -> Tensor:
    """im2col as an op (for gradients of gradients): linear, so its gradient is col2im."""
    cols = im2col_array(x._be.xp, x._data, geo)
    return make("im2col", cols, x._be, (x,), lambda m, g: (m.col2im(g, geo),))


def col2im(cols: Tensor, geo: Geometry) -> Tensor:
    """col2im as an op: linear, so its gradient is im2col."""
    out = col2im_array(cols._be.xp, cols._data, geo)
    return make("col2im", out, cols._be, (cols,), lambda m, g: (m.im2col(g, geo),))


# ---- N-d windows (conv3d, the transposed convolutions): composed with pad and matmul in nn/_conv_fn.py ----------


class GeometryNd(NamedTuple):
    """An N-d convolution's shapes over an already padded input (n, c, *size) in ``groups``: kernel ``k``, stride
    ``s``, dilation ``d`` and output size ``o``, each a tuple of one int per spatial dim."""

    n: int
    c: int
    size: tuple
    groups: int
    k: tuple
    s: tuple
    d: tuple
    o: tuple


def _windows_nd(xp: Any, a: Any, geo: GeometryNd) -> Any:
    """Strided view (N, C, *O, *K) of ``a`` (N, C, *size): no copy."""
    st = a.strides[2:]
    strides = (*a.strides[:2], *(t * s for t, s in zip(st, geo.s)), *(t * d for t, d in zip(st, geo.d)))
    return xp.lib.stride_tricks.as_strided(a, (*a.shape[:2], *geo.o, *geo.k), strides)


def im2col_nd_array(xp: Any, x: Any, geo: GeometryNd) -> Any:
    """The windows of (N, C, *size) ``x`` as columns (N, G, C/G*prod(K), prod(O)): one copy of a strided view."""
    dims = len(geo.k)
    win = _windows_nd(xp, x, geo).transpose(0, 1, *range(2 + dims, 2 + 2 * dims), *range(2, 2 + dims))
    return win.reshape(geo.n, geo.groups, (geo.c // geo.groups) * math.prod(geo.k), math.prod(geo.o))


def col2im_nd_array(xp: Any, cols: Any, geo: GeometryNd) -> Any:
    """im2col_nd's adjoint: columns (N, G, C/G*prod(K), prod(O)) summed back onto an (N, C, *size) array, one
    strided add per kernel position."""
    gwin = cols.reshape(geo.n, geo.c, *geo.k, *geo.o)
    out = xp.zeros((geo.n, geo.c, *geo.size), dtype=cols.dtype)
    for pos in itertools.product(*(range(k) for k in geo.k)):
        key = tuple(slice(i * d, i * d + s * (o - 1) + 1, s) for i, d, s, o in zip(pos, geo.d, geo.s, geo.o))
        out[(slice(None), slice(None), *key)] += gwin[(slice(None), slice(None), *pos)]
    return out


@on_device
def im2col_nd(x: Tensor, geo: GeometryNd) -> Tensor:
    """im2col_nd as an op: linear, so its gradient is col2im_nd (an op again in a graph)."""
    cols = im2col_nd_array(x._be.xp, x._data, geo)

    def rule(m: Any, g: Any) -> tuple:
        return (col2im_nd(g, geo) if m.graph else col2im_nd_array(m.xp, g, geo),)

    return make("im2col", cols, x._be, (x,), rule)


@on_device
def col2im_nd(cols: Tensor, geo: GeometryNd) -> Tensor:
    """col2im_nd as an op: linear, so its gradient is im2col_nd."""
    out = col2im_nd_array(cols._be.xp, cols._data, geo)

    def rule(m: Any, g: Any) -> tuple:
        return (im2col_nd(g, geo) if m.graph else im2col_nd_array(m.xp, g, geo),)

    return make("col2im", out, cols._be, (cols,), rule)
