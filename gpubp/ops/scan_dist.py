"""Distances and norm clipping: dist (the p-norm of a difference), cdist (batched pairwise p-norm distances) and
renorm (each slice's p-norm capped at maxnorm)."""

from __future__ import annotations

import builtins
import math
import numbers
from typing import Any

import numpy as np

from ..autograd import OUT
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import arith, reduce
from ._core import check_same_device, make, norm_dim, spec, unbroadcast

_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _check_p(p: Any, op: str) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{op}: p must be a number, got {p!r}")
    return float(p)


def dist(x: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of x - other (broadcast), a 0-d tensor; its gradient is 0 where the distance is 0, as PyTorch."""
    if not isinstance(x, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"dist: expected two Tensors, got {type(x).__name__} and {type(other).__name__}")
    p = _check_p(p, "dist")
    for t in (x, other):
        if t.dtype.kind != "f":
            raise InputTypeError(f"dist: expected floating-point tensors, got dtype {t.dtype}")
    return reduce.norm(arith.sub(x, other), p)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str | None = None) -> Tensor:
    """Pairwise p-norm distances: (..., P, M) and (..., R, M) -> (..., P, R), batch dims broadcast.

    p = 2 goes through matmul (|a|^2 + |b|^2 - 2 a.b) when P or R exceeds 25, or with
    compute_mode='use_mm_for_euclid_dist', as PyTorch; otherwise the differences are formed (P R M memory).
    The gradient is 0 where a distance is 0."""
    if not isinstance(x1, Tensor) or not isinstance(x2, Tensor):
        raise TypeError(f"cdist: expected two Tensors, got {type(x1).__name__} and {type(x2).__name__}")
    p = _check_p(p, "cdist")
    mode = _MODES[0] if compute_mode is None else compute_mode
    if mode not in _MODES:
        raise InputError(f"cdist: {compute_mode!r} is not a valid value for compute_mode (expected one of {_MODES})")
    check_same_device("cdist", x1, x2)
    if x1.ndim < 2 or x2.ndim < 2:
        raise InputError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D, X2 got: {x2.ndim}D")
    if x1.dtype.kind != "f" or x1.dtype != x2.dtype:
        raise InputTypeError(f"cdist: expected two floating-point tensors of one dtype, got {x1.dtype} and {x2.dtype}")
    if x1.shape[-1] != x2.shape[-1]:
        raise InputError(
            f"cdist: X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]} "
            f"(shapes {x1.shape} and {x2.shape})"
        )
    if p < 0:
        raise InputError(f"cdist only supports non-negative p values, got {p}")
    try:
        batch = np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise InputError(f"cdist: batch dims of {x1.shape} and {x2.shape} do not broadcast") from None
    rows, cols = x1.shape[-2], x2.shape[-2]
    if p == 2 and x1.shape[-1] and (mode == _MODES[1] or (mode == _MODES[0] and builtins.max(rows, cols) > 25)):
        return _cdist_mm(x1, x2)
    return _cdist_direct(x1, x2, p, batch)


def _pair_diff(a: Any, b: Any) -> Any:
    """(..., P, M) and (..., R, M) -> a_p - b_r as (..., P, R, M): arrays or tensors alike."""
    return a.reshape(a.shape[:-1] + (1, a.shape[-1])) - b.reshape(b.shape[:-2] + (1,) + b.shape[-2:])


def _cdist_direct(x1: Tensor, x2: Tensor, p: float, batch: tuple) -> Tensor:
    xp = x1._be.xp
    diff = _pair_diff(x1._data, x2._data)
    a = xp.abs(diff)
    if diff.shape[-1] == 0:
        out = xp.zeros(diff.shape[:-1], dtype=diff.dtype)
    elif p == 0:
        out = (diff != 0).sum(axis=-1).astype(diff.dtype)
    elif p == 1:
        out = a.sum(axis=-1)
    elif p == 2:
        out = xp.sqrt((diff * diff).sum(axis=-1))
    elif p == math.inf:
        out = a.max(axis=-1)
    else:
        out = (a**p).sum(axis=-1) ** (1.0 / p)
    s1, s2 = spec(x1), spec(x2)

    def rule(m: Any, g: Any, a: Any, b: Any, dist: Any) -> tuple:
        d = _pair_diff(a, b)  # recomputed, so the graph of a double backward sees its dependence on x1 and x2
        w = _dist_weight(m, d, dist.reshape(dist.shape + (1,)), p)
        if w is None:  # p = 0 counts non-zeros: piecewise constant
            return tuple(None if sp is None else m.zeros(sp[0], sp[1], g) for sp in (s1, s2))
        gd = g.reshape(g.shape + (1,)) * w  # (..., P, R, M)
        g1 = None if s1 is None else unbroadcast(m.sum(gd, (gd.ndim - 2,)), s1)
        g2 = None if s2 is None else unbroadcast(-m.sum(gd, (gd.ndim - 3,)), s2)
        return (g1, g2)

    return make("cdist", xp.asarray(out), x1._be, (x1, x2), rule, saved=(x1, x2, OUT))


def _dist_weight(m: Any, d: Any, dist: Any, p: float) -> Any:
    """d dist / d diff for one pair, PyTorch's cdist cases: 0 where the distance is 0; p = inf goes to every
    coordinate that attains the max (no sharing, as PyTorch); p = 0 has no gradient."""
    xp = m.xp
    raw, rdist = m.raw(d), m.raw(dist)
    if p == 0 or raw.shape[-1] == 0:
        return None
    sign = xp.sign(raw)
    if p == 1:
        return m.const(sign)
    if p == math.inf:
        return m.const(sign * (xp.abs(raw) == rdist))
    pos = rdist > 0
    safe = m.where(pos, dist, 1.0)
    if p == 2:
        return d / safe * m.const(pos)
    # |d|^(p-1) sign(d) / dist^(p-1); |d| replaced by 1 where d = 0 (its term is 0: sign 0), so p < 2 stays finite
    mag = m.where(raw != 0, m.abs(d), 1.0)
    return m.const(sign * pos) * (mag / safe) ** (p - 1)


def _cdist_mm(x1: Tensor, x2: Tensor) -> Tensor:
    """Euclidean cdist as sqrt(max(|a|^2 + |b|^2 - 2 a b^T, 0)): a matmul instead of P R M differences."""
    xp = x1._be.xp
    a, b = x1._data, x2._data
    sq = (a * a).sum(axis=-1)[..., :, None] + (b * b).sum(axis=-1)[..., None, :] - 2 * (a @ xp.swapaxes(b, -1, -2))
    out = xp.sqrt(xp.maximum(sq, 0))
    s1, s2 = spec(x1), spec(x2)

    def rule(m: Any, g: Any, a: Any, b: Any, dist: Any) -> tuple:
        pos = m.raw(dist) > 0
        q = g / m.where(pos, dist, 1.0) * m.const(pos)  # (..., P, R): g / dist, 0 where the distance is 0
        last = q.ndim - 1
        g1 = g2 = None
        if s1 is not None:  # sum_r q_pr (a_p - b_r)
            g1 = unbroadcast(a * m.sum(q, (last,), True) - m.matmul(q, b), s1)
        if s2 is not None:  # sum_p q_pr (b_r - a_p)
            qt = m.swapaxes(q, last - 1, last)
            g2 = unbroadcast(b * m.sum(qt, (last,), True) - m.matmul(qt, a), s2)
        return (g1, g2)

    return make("cdist", out, x1._be, (x1, x2), rule, saved=(x1, x2, OUT))


def renorm(x: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice along ``dim`` whose p-norm (over the other dims) exceeds ``maxnorm`` is scaled to norm
    maxnorm (by maxnorm / (norm + 1e-7), as PyTorch); differentiable through the norm."""
    if not isinstance(x, Tensor):
        raise TypeError(f"renorm: input must be a Tensor, got {type(x).__name__}")
    p = _check_p(p, "renorm")
    if x.ndim < 2:
        raise InputError(f"renorm: input needs at least 2 dimensions, got {x.ndim} dimensions (shape {x.shape})")
    if x.dtype.kind != "f":
        raise InputTypeError(f"renorm: expected a floating-point tensor, got dtype {x.dtype}")
    if p <= 0:
        raise InputError(f"renorm: non-positive-norm not supported (p = {p})")
    if isinstance(maxnorm, bool) or not isinstance(maxnorm, numbers.Real) or maxnorm < 0:
        raise InputError(f"renorm: expected maxnorm to be a number >= 0 but got {maxnorm!r}")
    ax = norm_dim(dim, x.ndim, "renorm")
    n = reduce.norm(x, p, tuple(i for i in range(x.ndim) if i != ax), True)
    factor = arith.where(n > maxnorm, float(maxnorm) / (n + 1e-7), 1.0)
    return x * factor
