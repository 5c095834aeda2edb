"""Pooling arrays: the fused max_pool2d / avg_pool2d ops over (N, C, H, W) (strided windows of ``conv``'s im2col),
and the host tables behind ``nn.functional``'s general pools and interpolation (window taps, adaptive bins, the
argmax of each window, per-dim interpolation taps and weights)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

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


# ---- window tables: the general pools (1-3 spatial dims, dilation, ceil_mode, adaptive) -----------------------------
# Each spatial dim gets a host table pos (O, K) of the input coordinate every output position reads at each of its K
# taps, and valid (O, K) marking the taps inside the input. Max pooling picks, per window, the flat index of its
# maximum (the gradient then flows through a gather); average pooling is separable, one (O, S) weight matrix a dim.


def pool_out_len(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape: with ceil_mode the last window must start inside the input or left padding."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def window_table(size: int, k: int, s: int, p: int, d: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """(pos, valid), each (out, k): window o reads input o*s - p + t*d at tap t."""
    pos = np.arange(out)[:, None] * s - p + np.arange(k)[None, :] * d
    return pos, (pos >= 0) & (pos < size)


def adaptive_table(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """(pos, valid) of PyTorch's adaptive bins [floor(o S / O), ceil((o + 1) S / O))."""
    o = np.arange(out)
    start, end = (o * size) // out, -(-((o + 1) * size) // out)
    k = int((end - start).max()) if out else 1
    pos = start[:, None] + np.arange(k)[None, :]
    return pos, pos < end[:, None]


def max_pool_indices(xp: Any, x: Any, tables: list[tuple[np.ndarray, np.ndarray]]) -> Any:
    """Flat (per plane) index of each window's maximum: x (..., S1..Sd) -> int64 (..., O1..Od). As PyTorch's CPU
    kernel: the first maximum in window order wins, a NaN always takes over, and an all -inf (or integer minimum)
    window points at its first tap inside the input."""
    d = len(tables)
    sizes = x.shape[x.ndim - d :]
    outs = tuple(pos.shape[0] for pos, _ in tables)
    flat_x = x.reshape(x.shape[: x.ndim - d] + (-1,))
    strides = [int(np.prod(sizes[i + 1 :])) for i in range(d)]

    def tap(taps: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        flat, ok = np.zeros(outs, dtype=np.int64), np.ones(outs, dtype=bool)
        for i, ((pos, valid), t) in enumerate(zip(tables, taps)):
            view = (1,) * i + (-1,) + (1,) * (d - 1 - i)
            flat = flat + np.clip(pos[:, t], 0, sizes[i] - 1).reshape(view) * strides[i]
            ok = ok & valid[:, t].reshape(view)
        return flat, ok

    # the first valid tap per window, per dim (a window always has one: PyTorch bounds the padding)
    first = [
        np.clip(pos[np.arange(len(pos)), valid.argmax(1)], 0, size - 1) for (pos, valid), size in zip(tables, sizes)
    ]
    start = np.zeros(outs, dtype=np.int64)
    for i, f in enumerate(first):
        start = start + f.reshape((1,) * i + (-1,) + (1,) * (d - 1 - i)) * strides[i]
    floating = x.dtype.kind == "f"
    lowest = -np.inf if floating else np.iinfo(x.dtype).min
    best = xp.full(flat_x.shape[:-1] + outs, lowest, dtype=x.dtype)
    best_idx = xp.broadcast_to(xp.asarray(start), best.shape).copy()
    for taps in itertools.product(*(range(pos.shape[1]) for pos, _ in tables)):
        flat, ok = tap(taps)
        vals = flat_x[..., xp.asarray(flat.reshape(-1))].reshape(best.shape)
        wins = (vals > best) | xp.isnan(vals) if floating else vals > best
        take = xp.asarray(ok) & wins
        best = xp.where(take, vals, best)
        best_idx = xp.where(take, xp.asarray(flat), best_idx)
    return best_idx


def avg_taps(tables: tuple[np.ndarray, np.ndarray], size: int, divisor: np.ndarray) -> tuple:
    """(idx, w, valid), each (O, K), of one dim of an average: weight 1 / divisor[o] at the taps inside the input."""
    pos, valid = tables
    return np.clip(pos, 0, size - 1), np.broadcast_to(1.0 / divisor[:, None], pos.shape), valid


def interp_taps(
    mode: str,
    size: int,
    out: int,
    scale: float | None,
    align_corners: bool,
    antialias: bool = False,
    double: bool = True,
) -> tuple:
    """(idx, w, None), each (out, taps), of one dim of PyTorch's upsample kernels (nearest, nearest-exact, linear,
    cubic with A = -0.75 and clamped borders; antialias: PyTorch's separable triangle / Keys(-0.5) filters);
    ``scale`` is the user's scale_factor for this dim (used as 1/scale, as PyTorch) or None (size / out);
    ``double``: the input is float64 (nearest rounds as PyTorch does for it)."""
    o = np.arange(out)
    if mode in ("nearest", "nearest-exact"):
        # PyTorch's source indices: float32 arithmetic on 1/scale_factor; from sizes alone, (o + 0.5) in/out in
        # double for a float64 input and float32 otherwise (checked against torch over many sizes and scales; a
        # float64 input with a scale_factor rounds differently in PyTorch in rare near-integer cases)
        shift = 0.5 if mode == "nearest-exact" else 0.0
        if scale is None and double:
            src = np.floor((o + shift) * size / out)
        else:
            sc = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(size) / np.float32(out)
            src = np.floor(((o + shift).astype(np.float32) * sc).astype(np.float32))
        src = np.minimum(src.astype(np.int64), size - 1)
        return src[:, None], np.ones((out, 1)), None
    if align_corners:
        sc = (size - 1) / (out - 1) if out > 1 else 0.0
    else:
        sc = 1.0 / scale if scale is not None and scale > 0 else size / out
    if antialias:
        return _aa_weights(mode, size, out, sc)
    if align_corners:
        real = sc * o
    else:
        real = sc * (o + 0.5) - 0.5
    if mode == "linear":
        real = np.maximum(real, 0.0) if not align_corners else real
        i0 = real.astype(np.int64)
        i1 = i0 + (i0 < size - 1)
        lam = real - i0
        return np.stack([i0, i1], 1), np.stack([1.0 - lam, lam], 1), None
    # cubic: PyTorch's upsample_bicubic2d, A = -0.75, taps at floor(x) - 1 .. floor(x) + 2 clamped to the border
    a = -0.75
    i0 = np.floor(real).astype(np.int64)
    t = real - i0

    def near(v: np.ndarray) -> np.ndarray:
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v: np.ndarray) -> np.ndarray:
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    idx = np.stack([np.clip(i0 - 1 + k, 0, size - 1) for k in range(4)], 1)
    return idx, np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], 1), None


def _aa_weights(mode: str, size: int, out: int, scale: float) -> tuple:
    """PyTorch's _compute_indices_min_size_weights_aa: a filter widened by the downscale factor, normalized."""
    w = np.zeros((out, size))
    interp = 2 if mode == "linear" else 4
    support = interp / 2 * scale if scale >= 1.0 else interp / 2 * 1.0
    inv = 1.0 / scale if scale >= 1.0 else 1.0

    def filt(x: np.ndarray) -> np.ndarray:
        x = np.abs(x)
        if mode == "linear":
            return np.where(x < 1.0, 1.0 - x, 0.0)
        a = -0.5
        return np.where(
            x < 1.0,
            ((a + 2) * x - (a + 3)) * x * x + 1,
            np.where(x < 2.0, (((x - 5) * x + 8) * x - 4) * a, 0.0),
        )

    for i in range(out):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), size)
        j = np.arange(xmin, xmax)
        ws = filt((j - center + 0.5) * inv)
        total = ws.sum()
        w[i, xmin:xmax] = ws / total if total != 0 else ws
    taps = max(int((w != 0).sum(1).max()), 1) if out else 1
    idx = np.argsort(w == 0, axis=1, kind="stable")[:, :taps]  # the nonzero taps first
    return idx, np.take_along_axis(w, idx, 1), None


def fractional_max_indices(xp: Any, x: Any, samples: Any, kernel: tuple[int, ...], outs: tuple[int, ...]) -> Any:
    """PyTorch's fractional max pooling on x (N, C, *S): per plane, window i of a dim starts at
    int((i + u) alpha) - int(u alpha), alpha = (S - K) / (O - 1), the last at S - K, with u from ``samples``
    (N, C, d): its entries (w, h) in 2-D, (t, h, w) in 3-D. Returns the int64 flat index of each window's maximum."""
    d = len(kernel)
    sizes = x.shape[x.ndim - d :]
    order = (1, 0) if d == 2 else tuple(range(d))
    one = x.dtype.type
    starts = []
    for i in range(d):
        u = samples[..., order[i]][..., None]  # (N, C, 1)
        size, k, o = sizes[i], kernel[i], outs[i]
        if o > 1:
            alpha = one(size - k) / one(o - 1)  # in the input's precision, as PyTorch
            seq = ((xp.arange(o, dtype=x.dtype) + u) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)
        else:
            seq = xp.zeros(u.shape[:-1] + (o,), dtype=np.int64)
        seq[..., o - 1] = size - k
        starts.append(seq)
    lead = x.shape[: x.ndim - d]
    flat_x = x.reshape(lead + (-1,))
    strides = [int(np.prod(sizes[i + 1 :])) for i in range(d)]

    def flat_at(taps: tuple[int, ...]) -> Any:
        flat = 0
        for i, t in enumerate(taps):
            view = lead + (1,) * i + (-1,) + (1,) * (d - 1 - i)
            flat = flat + ((starts[i] + t) * strides[i]).reshape(view)
        return flat

    best, best_idx = None, None
    for taps in itertools.product(*(range(k) for k in kernel)):
        flat = flat_at(taps)
        vals = xp.take_along_axis(flat_x, flat.reshape(lead + (-1,)), -1).reshape(flat.shape)
        if best is None:  # the first tap: PyTorch starts from -inf at the window's first index
            best_idx = flat
            best = xp.where(xp.isnan(vals), vals, xp.maximum(vals, -xp.inf))
            continue
        take = (vals > best) | xp.isnan(vals)
        best = xp.where(take, vals, best)
        best_idx = xp.where(take, flat, best_idx)
    return best_idx
