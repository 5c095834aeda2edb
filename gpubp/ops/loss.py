"""Fused losses. Cross-entropy runs two backend primitives forward (per-row losses, then their sum or mean with the
count of non-ignored rows kept on the device) and one backward (``(softmax - onehot) * g / count``). The binary
cross-entropies are one elementwise op each, with PyTorch's own gradient formulas (clamps included)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import is_grad_enabled
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from ._core import check_same_device, make, on_device, spec

REDUCTIONS = ("mean", "sum", "none")
_CLASS_DTYPES = (np.dtype(np.int64), np.dtype(np.uint8))
_BCE_EPS = float(np.float32(1e-12))  # PyTorch's floor on p (1 - p) in the BCE gradient: 1e-12 as a float32


class TargetError(RuntimeError, ValueError):
    """A cross-entropy target of the wrong dtype or kind: PyTorch raises RuntimeError, and gpubp's earlier
    ValueError still catches it (as NumPy's AxisError is both a ValueError and an IndexError)."""


def check_reduction(op: str, reduction: Any) -> None:
    """``reduction`` is one of 'mean', 'sum', 'none' (ValueError otherwise, as PyTorch)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_label_smoothing(label_smoothing: float) -> float:
    """The smoothing to use: above 1 is a RuntimeError; a negative value means none (PyTorch smooths only above 0)."""
    if not label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    return max(float(label_smoothing), 0.0)


def host_values(t: Tensor) -> np.ndarray | None:
    """``t``'s values for a check that must read them, on the CPU only; None on a GPU, where reading them would
    wait for it (the ops there give NaN instead). A plain ndarray view: reading it is no device sync."""
    if t.device.type != "cpu":
        return None
    return np.asarray(t._data)


def check_class_target(op: str, input: Tensor, target: Tensor, ignore_index: int, probs: bool = False) -> None:  # noqa: A002
    """Integer class targets of shape (N, d...) for (N, C, d...) input, each in [0, C) or ``ignore_index``
    (``probs``: the op also takes floating-point class probabilities of the input's shape; the message says so).

    The range is checked on the CPU only (IndexError, as PyTorch); on a GPU it is not read back: an out-of-range
    target gives a NaN loss (and NaN gradient) instead, never an out-of-bounds read."""
    want = (input.shape[0],) + input.shape[2:]
    # each op keeps the wording its earlier messages had (callers match on it)
    what = f"{want} integer class indices" if op == "cross_entropy" else f"integer class indices of shape {want}"
    if target.dtype.kind not in "iu":
        alt = f", or floating-point class probabilities of the input's shape {input.shape}" if probs else ""
        raise TargetError(
            f"{op}: target must be {what} (expected dtype int64 or uint8){alt}, "
            f"got shape {target.shape} and dtype {target.dtype}"
        )
    if target.dtype not in _CLASS_DTYPES:  # PyTorch takes Long or Byte class indices only
        raise TargetError(f"{op}: expected target dtype to be int64 or uint8 (Long or Byte), but got {target.dtype}")
    if target.ndim != len(want):  # PyTorch: a RuntimeError ("multi-target not supported")
        raise TargetError(f"{op}: target must be {what} for input of shape {input.shape}, got shape {target.shape}")
    if target.shape != want:
        raise ValueError(f"{op}: target must be {what} for input of shape {input.shape}, got shape {target.shape}")
    t = host_values(target)
    if t is None:
        return
    classes = input.shape[1]
    bad = (t != ignore_index) & ((t < 0) | (t >= classes))
    if bad.any():
        raise IndexError(
            f"{op}: Target {int(t[bad][0])} is out of bounds: class indices must be in [0, {classes}) "
            f"(or ignore_index={ignore_index})"
        )


def cross_entropy(
    input: Tensor,  # noqa: A002 - PyTorch's name
    target: Tensor,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy of (N, C) logits against (N,) integer class targets.

    ``mean`` divides by the number of targets that are not ``ignore_index``. A target outside [0, C) raises
    IndexError on the CPU; on a GPU (not read back) its row's loss and gradient are NaN.
    """
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(
            f"cross_entropy: input and target must be Tensors, got {type(input).__name__} and {type(target).__name__}"
        )
    check_same_device("cross_entropy", input, target)
    check_reduction("cross_entropy", reduction)
    if input.ndim != 2:
        raise ValueError(f"cross_entropy: input must be (N, C) logits, got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input must be floating point, got {input.dtype}")
    label_smoothing = check_label_smoothing(label_smoothing)
    check_class_target("cross_entropy", input, target, ignore_index)
    be = input._be
    t = target._data
    rows, saved = be.cross_entropy(input._data, t, ignore_index, label_smoothing)

    if reduction == "none":
        out, divisor = rows, None
    else:  # the divisor (the count of rows not ignored) stays on the device
        out, divisor = be.cross_entropy_reduce(rows, t, ignore_index, reduction == "mean")

    def rule(m: Any, g: Any, x: Any, probs: Any, t: Any) -> tuple:
        # the fused backward (softmax - onehot) * g / count; it is an op of its own, differentiable in g and x
        g_rows = g if reduction == "none" else m.broadcast_to(g, t.shape)
        return (m.cross_entropy_backward(g_rows, x, probs, m.raw(t), ignore_index, label_smoothing, divisor),)

    return make("cross_entropy", out, be, (input,), rule, saved=(input, saved, target))


def check_pair(op: str, a: Tensor, b: Tensor, dtype_error: type = TypeError) -> None:
    """The binary cross-entropies' input and target: tensors of one shape, the target floating point (else
    ``dtype_error``: RuntimeError, as PyTorch)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors, got {type(a).__name__} and {type(b).__name__}")
    check_same_device(op, a, b)
    if a.shape != b.shape:
        raise ValueError(f"{op}: input has shape {a.shape} but target has shape {b.shape}; they must match")
    if b.dtype.kind != "f":
        raise dtype_error(f"{op}: target must be floating point, got {b.dtype}")


def check_broadcast_pair(op: str, a: Tensor, b: Tensor) -> None:
    """A regression loss's input and target (mse, l1, huber, smooth_l1): tensors whose shapes broadcast, as PyTorch
    (which warns that they differ), at least one of them floating point (the other is promoted)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors, got {type(a).__name__} and {type(b).__name__}")
    check_same_device(op, a, b)
    if a.shape != b.shape:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise InputError(
                f"{op}: input has shape {a.shape} but target has shape {b.shape}; they must match or broadcast"
            ) from None
    if a.dtype.kind != "f" and b.dtype.kind != "f":
        raise InputTypeError(
            f"{op}: not implemented for {a.dtype} input and {b.dtype} target; one must be floating point"
        )


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error, (input - target)^2 reduced by ``reduction``."""
    from . import reduce

    check_broadcast_pair("mse_loss", input, target)
    check_reduction("mse_loss", reduction)
    d = input - target
    sq = d * d
    if reduction == "none":
        return sq
    return reduce.mean(sq) if reduction == "mean" else reduce.sum(sq)


def _reduced(loss: Tensor, reduction: str) -> Tensor:
    from . import reduce

    if reduction == "none":
        return loss
    return reduce.mean(loss) if reduction == "mean" else reduce.sum(loss)


def _constant_operand(op: str, name: str, t: Tensor | None, input: Tensor) -> Any:  # noqa: A002
    """A weight-like operand: broadcastable to the input's shape, on its device, without a gradient (PyTorch's
    losses are not differentiable in weight and pos_weight, and raise when asked)."""
    if t is None:
        return None
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
    check_same_device(op, input, t)
    try:
        shape = np.broadcast_shapes(t.shape, input.shape)
    except ValueError:
        shape = None
    if shape != input.shape:
        raise RuntimeError(f"{op}: {name} of shape {t.shape} does not broadcast to the input's shape {input.shape}")
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{op}: the loss is not differentiable with respect to {name}, which requires grad; pass "
            f"{name}.detach() (as PyTorch)"
        )
    return t._data


def _check_probabilities(t: Tensor, what: str) -> None:
    p = host_values(t)
    if p is None or p.size == 0 or ((p >= 0) & (p <= 1)).all():
        return
    lo, hi = np.fmin.reduce(p, axis=None), np.fmax.reduce(p, axis=None)  # fmin/fmax skip NaN
    nan = ", and NaN" if np.isnan(p).any() else ""
    got = f"got values from {float(lo):.6g} to {float(hi):.6g}{nan}"
    raise RuntimeError(f"binary_cross_entropy: all elements of {what} should be between 0 and 1, {got}")


def _inside(p: Any, y: Any) -> Any:
    return (p >= 0) & (p <= 1) & (y >= 0) & (y <= 1)


@on_device
def binary_cross_entropy(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """-w (y max(log p, -100) + (1 - y) max(log(1 - p), -100)) reduced, with PyTorch's gradient
    (p - y) / max(p (1 - p), 1e-12). Input outside [0, 1]: RuntimeError on the CPU, NaN loss on a GPU."""
    check_pair("binary_cross_entropy", input, target, RuntimeError)
    check_reduction("binary_cross_entropy", reduction)
    if input.dtype.kind != "f":
        raise RuntimeError(f"binary_cross_entropy: input must be floating point, got {input.dtype}")
    w = _constant_operand("binary_cross_entropy", "weight", weight, input)
    # The ranges are read on the CPU only: on a GPU that would wait for it, so there the loss (and gradient) of an
    # element whose input or target is outside [0, 1] or NaN comes out NaN instead, to be noticed downstream.
    _check_probabilities(input, "input")
    _check_probabilities(target, "target")
    be = input._be
    xp = be.xp
    dt = dtypes.promote(input.dtype, target.dtype)
    p = input._data.astype(dt, copy=False)
    y = target._data.astype(dt, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf before the clamp, as PyTorch
        log_p = xp.maximum(xp.log(p), -100.0)
        log_q = xp.maximum(xp.log1p(-p), -100.0)  # log1p: 1 - p rounds to 1 for tiny p in float32, log1p(-p) not
        loss = -(y * log_p + (1.0 - y) * log_q)
    loss = xp.where(_inside(p, y), loss, math.nan)  # NaN for p or y outside [0, 1]: on a GPU (the CPU raised)
    if w is not None:
        loss = loss * w
    sp, st = spec(input), spec(target)

    def rule(m: Any, g: Any, p: Any, y: Any, w: Any) -> tuple:
        if w is not None:
            g = g * w
        gp = None
        gt = None
        if sp is not None:
            gp = g * (p - y) / m.maximum((1.0 - p) * p, _BCE_EPS)
            gp = m.unbroadcast(m.where(_inside(m.raw(p), m.raw(y)), gp, math.nan), sp)
        if st is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                gt = m.unbroadcast(g * (m.log1p(-p) - m.log(p)), st)  # d/dy = -logit(p), unclamped, as PyTorch
        return gp, gt

    out = make("binary_cross_entropy", loss, be, (input, target), rule, saved=(input, target, weight))
    return _reduced(out, reduction)


@on_device
def binary_cross_entropy_with_logits(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """w ((1 - y) x + (1 + (pw - 1) y) softplus(-x)) reduced, computed without overflow; its gradient
    w ((1 - y) - (1 + (pw - 1) y) sigmoid(-x)) is exact at x = 0 too. pos_weight broadcasts as PyTorch."""
    op = "binary_cross_entropy_with_logits"
    check_pair(op, input, target, RuntimeError)
    check_reduction(op, reduction)
    if input.dtype.kind != "f":
        raise RuntimeError(f"{op}: input must be floating point, got {input.dtype}")
    w = _constant_operand(op, "weight", weight, input)
    pw = _constant_operand(op, "pos_weight", pos_weight, input)
    be = input._be
    xp = be.xp
    dt = dtypes.promote(input.dtype, target.dtype)
    x = input._data.astype(dt, copy=False)
    y = target._data.astype(dt, copy=False)
    soft = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0.0)  # softplus(-x) = -log sigmoid(x); exp never overflows
    lw = 1.0 if pw is None else 1.0 + (pw - 1.0) * y
    loss = (1.0 - y) * x + lw * soft
    if w is not None:
        loss = loss * w
    sx, sy = spec(input), spec(target)

    def rule(m: Any, g: Any, x: Any, y: Any, w: Any, pw: Any, soft: Any) -> tuple:
        if w is not None:
            g = g * w
        gx = None
        gy = None
        if sx is not None:
            lw = 1.0 if pw is None else 1.0 + (pw - 1.0) * y
            gx = m.unbroadcast(g * ((1.0 - y) - lw * m.sigmoid(-x)), sx)
        if sy is not None:
            if pw is None:
                dy = -x
            else:
                soft = m.cached(soft, lambda: m.log1p(m.exp(-m.abs(x))) + m.maximum(-x, 0.0))
                dy = (pw - 1.0) * soft - x
            gy = m.unbroadcast(g * dy, sy)
        return gx, gy

    out = make(op, loss, be, (input, target), rule, saved=(input, target, weight, pos_weight, soft))
    return _reduced(out, reduction)
