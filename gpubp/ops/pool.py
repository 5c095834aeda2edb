"""Max and average pooling over (N, C, H, W), on the strided windows of ``conv``'s im2col."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import InputError
from ..tensor import Tensor
from ._core import make
from .conv import Geometry, _pad, _pair, _windows


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
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise InputError(f"max_pool2d: kernel {(kh, kw)} is larger than the input {x.shape[2:]}")
    # one strided view of the input per window position: a running maximum, no window copy
    taps = [(i, j) for i in range(kh) for j in range(kw)]
    out = _tap(xpad, 0, 0, sh, sw, oh, ow).copy()
    for i, j in taps[1:]:
        xp.maximum(out, _tap(xpad, i, j, sh, sw, oh, ow), out=out)
    geo = Geometry(n, c, h, w, c, kh, kw, sh, sw, ph, pw, 1, 1, oh, ow)  # one group per channel

    def rule(m: Any, g: Any, x: Any, out: Any) -> tuple:
        return (m.max_pool2d_backward(g, x, out, geo),)

    return make("max_pool2d", out, x._be, (x,), rule, saved=(x, out))


def _tap(a: Any, i: int, j: int, sh: int, sw: int, oh: int, ow: int) -> Any:
    """The strided view of ``a`` (N, C, H, W) that kernel position (i, j) of every window reads: (N, C, OH, OW)."""
    return a[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]


def _first_hits(xp: Any, x: Any, out: Any, geo: Geometry) -> Iterator[tuple[int, int, Any]]:
    """Per kernel position, where the window's (first) maximum sits: the gradient goes there, as PyTorch."""
    xpad = _pad(xp, x, geo.ph, geo.pw, -xp.inf)
    open_ = xp.ones(out.shape, dtype=bool)  # windows whose maximum has not been found yet
    for i in range(geo.kh):
        for j in range(geo.kw):
            hit = (_tap(xpad, i, j, geo.sh, geo.sw, geo.oh, geo.ow) == out) & open_
            open_ &= ~hit
            yield i, j, hit


def max_pool2d_backward_array(xp: Any, g: Any, x: Any, out: Any, geo: Geometry) -> Any:
    """max_pool2d's gradient on arrays: per kernel position, one strided add of g where that position won."""
    n, c, h, w = x.shape
    gpad = xp.zeros((n, c, h + 2 * geo.ph, w + 2 * geo.pw), dtype=g.dtype)
    for i, j, hit in _first_hits(xp, x, out, geo):
        _tap(gpad, i, j, geo.sh, geo.sw, geo.oh, geo.ow)[...] += g * hit  # overlapping windows add up
    return gpad[:, :, geo.ph : geo.ph + h, geo.pw : geo.pw + w]


def max_pool2d_hits(xp: Any, x: Any, out: Any, geo: Geometry) -> Any:
    """The winners as a column mask (N, C, KH*KW, OH*OW), for the gradient as an op: col2im(g * mask)."""
    mask = xp.zeros((geo.n, geo.c, geo.kh, geo.kw, geo.oh, geo.ow), dtype=bool)
    for i, j, hit in _first_hits(xp, x, out, geo):
        mask[:, :, i, j] = hit
    return mask.reshape(geo.n, geo.c, geo.kh * geo.kw, geo.oh * geo.ow)


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
    geo = Geometry(n, c, h, w, c, kh, kw, sh, sw, ph, pw, 1, 1, oh, ow)  # one group per channel
    spread = (n, c, kh * kw, oh * ow)

    def rule(m: Any, g: Any) -> tuple:
        # every window position gets g / (KH*KW): a broadcast view folded back by col2im
        return (m.col2im(m.broadcast_to((g * scale).reshape((n, c, 1, oh * ow)), spread), geo),)

    return make("avg_pool2d", out.astype(x.dtype, copy=False), x._be, (x,), rule)
