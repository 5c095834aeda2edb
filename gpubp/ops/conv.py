"""Convolution and pooling over (N, C, H, W), by im2col: windows are strided views of the
padded input, a convolution is one matrix product per group, and each backward folds window
gradients back with one strided add per kernel position (col2im)."""

from __future__ import annotations

import numbers
from typing import Any

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import check_same_device, make, spec


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
    xpad = _pad(xp, x._data, ph, pw)
    win, oh, ow = _windows(xp, xpad, kh, kw, sh, sw, dh, dw)
    if oh < 1 or ow < 1:
        raise InputError(
            f"{op}: kernel {(kh, kw)} (dilation {(dh, dw)}) is larger than the padded input {xpad.shape[2:]}"
        )
    og, k, pix = o // groups, cg * kh * kw, oh * ow
    # im2col in the layout that makes the product NCHW: cols (N, G, Cg*KH*KW, OH*OW), one copy
    cols = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, groups, k, pix)
    w3 = weight._data.reshape(groups, og, k)  # (G, Og, K)
    out = xp.matmul(w3, cols).reshape(n, o, oh, ow)  # (N, G, Og, OH*OW): already NCHW
    if bias is not None:
        out += bias._data.reshape(1, o, 1, 1)
    sx, swt, sb = spec(x), spec(weight), spec(bias)

    def vjp(g: Any) -> tuple:
        g4 = g.reshape(n, groups, og, pix)
        gx = gw = gb = None
        if swt is not None:  # sum over the batch of g_n cols_n^T
            gw = xp.matmul(g4, cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(weight.shape)
        if sx is not None:
            gcols = xp.matmul(w3.transpose(0, 2, 1), g4)  # (N, G, K, OH*OW)
            gwin = gcols.reshape(n, c, kh, kw, oh, ow).transpose(0, 1, 4, 5, 2, 3)
            gx = _col2im(xp, gwin, xpad.shape, kh, kw, sh, sw, dh, dw)[:, :, ph : ph + h, pw : pw + w]
        if sb is not None:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb

    return make("conv2d", out, x._be, (x, weight, bias), vjp, save=(x, weight))


def _pool_args(x: Tensor, kernel_size: Any, stride: Any, padding: Any, op: str) -> tuple:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise InputError(f"{op}: expected input (N, C, H, W), got shape {x.shape}")
    kh, kw = _pair(kernel_size, "kernel_size", op)
    sh, sw = _pair(kernel_size if stride is None else stride, "stride", op)
    ph, pw = _pair(padding, "padding", op)
    if min(kh, kw) < 1 or min(sh, sw) < 1 or min(ph, pw) < 0:
        raise InputError(
            f"{op}: kernel_size and stride must be positive and padding non-negative, "
            f"got kernel_size={kernel_size}, stride={stride}, padding={padding}"
        )
    if ph > kh // 2 or pw > kw // 2:
        raise InputError(f"{op}: padding {(ph, pw)} must be at most half the kernel {(kh, kw)}")
    return kh, kw, sh, sw, ph, pw


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max over each window; the gradient goes to the (first) maximum of each window."""
    kh, kw, sh, sw, ph, pw = _pool_args(x, kernel_size, stride, padding, "max_pool2d")
    xp = x._be.xp
    n, c, h, w = x.shape
    xpad = _pad(xp, x._data, ph, pw, -xp.inf)
    _, oh, ow = _windows(xp, xpad, kh, kw, sh, sw, 1, 1)
    if oh < 1 or ow < 1:
        raise InputError(f"max_pool2d: kernel {(kh, kw)} is larger than the input {x.shape[2:]}")
    # one strided view of the input per window position: a running maximum, no window copy
    taps = [(i, j) for i in range(kh) for j in range(kw)]

    def tap(a: Any, i: int, j: int) -> Any:
        return a[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]

    out = tap(xpad, *taps[0]).copy()
    for i, j in taps[1:]:
        xp.maximum(out, tap(xpad, i, j), out=out)

    def vjp(g: Any) -> tuple:
        gpad = xp.zeros(xpad.shape, dtype=g.dtype)
        open_ = xp.ones(out.shape, dtype=bool)  # windows whose maximum has not been found yet
        for i, j in taps:  # the first position holding the maximum gets the gradient, as PyTorch
            hit = (tap(xpad, i, j) == out) & open_
            open_ &= ~hit
            tap(gpad, i, j)[...] += g * hit  # overlapping windows add up
        return (gpad[:, :, ph : ph + h, pw : pw + w],)

    return make("max_pool2d", out, x._be, (x,), vjp, save=(x,))


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over each window (zero padding counts in the divisor, as PyTorch's default)."""
    kh, kw, sh, sw, ph, pw = _pool_args(x, kernel_size, stride, padding, "avg_pool2d")
    xp = x._be.xp
    n, c, h, w = x.shape
    xpad = _pad(xp, x._data, ph, pw)
    win, oh, ow = _windows(xp, xpad, kh, kw, sh, sw, 1, 1)
    if oh < 1 or ow < 1:
        raise InputError(f"avg_pool2d: kernel {(kh, kw)} is larger than the input {x.shape[2:]}")
    out = win.mean(axis=(4, 5))
    scale = 1.0 / (kh * kw)

    def vjp(g: Any) -> tuple:
        gwin = xp.broadcast_to((g * scale)[..., None, None], (n, c, oh, ow, kh, kw))
        return (_col2im(xp, gwin, xpad.shape, kh, kw, sh, sw, 1, 1)[:, :, ph : ph + h, pw : pw + w],)

    return make("avg_pool2d", out.astype(x.dtype, copy=False), x._be, (x,), vjp)
