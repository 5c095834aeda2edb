"""Functional losses, under ``torch.nn.functional``'s names."""

from __future__ import annotations

import math
from typing import Any

from .. import ops
from ..ops import (
    log_softmax,
    mse_loss,
)
from ..ops.loss import (
    TargetError,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    check_broadcast_pair,
    check_class_target,
    check_label_smoothing,
    check_reduction,
)
from ..tensor import Tensor
from ._fn_common import _arange, _channel_view, _reduce

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    check_broadcast_pair("l1_loss", input, target)
    check_reduction("l1_loss", reduction)
    return _reduce((input - target).abs(), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); d = input - target."""
    check_broadcast_pair("huber_loss", input, target)
    check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    d = input - target
    a = d.abs()
    return _reduce(ops.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta)), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    check_broadcast_pair("smooth_l1_loss", input, target)
    check_reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    d = input - target
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction)
    return _reduce(ops.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta), reduction)


def _classes_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N * d1 * ..., C)."""
    if x.ndim == 2:
        return x
    return x.permute(0, *range(2, x.ndim), 1).reshape(-1, x.shape[1])


def _class_targets(t: Tensor, classes: int, ignore_index: int, dtype: Any) -> tuple[Tensor, Tensor]:
    """(safe, scale) for flat class targets: ``safe`` indexes a class (0 on ignored and out-of-range rows, so no
    read is ever out of bounds), ``scale`` is 1 on counted rows, 0 on ignored ones and NaN out of range (reached on
    a GPU only: the CPU raised), so such a row's loss and gradient are NaN without reading the targets back."""
    be, xp = t._be, t._be.xp
    with be.enter():
        d = t._data
        valid = d != ignore_index
        inside = (d >= 0) & (d < classes)
        safe = xp.where(valid & inside, d, 0)
        scale = xp.where(inside | ~valid, valid.astype(dtype), xp.full((), math.nan, dtype=dtype))
    return Tensor._wrap(safe, be), Tensor._wrap(scale, be)


def _check_class_args(op: str, input: Tensor, target: Tensor, weight: Tensor | None, reduction: str) -> None:
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        got = f"{type(input).__name__} and {type(target).__name__}"
        raise TypeError(f"{op}: input and target must be Tensors, got {got}")
    check_reduction(op, reduction)
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (C,), (N, C) or (N, C, ...), got shape {input.shape}")
    c = input.shape[1]
    if weight is not None and not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor or None, got {type(weight).__name__}")
    if weight is not None and weight.shape != (c,):
        raise RuntimeError(f"{op}: weight must have one entry per class, shape ({c},), got {weight.shape}")


def _nll(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, reduction: str) -> Tensor:
    """nll_loss on checked arguments."""
    flat = _classes_last(logp)
    safe, w = _class_targets(target.reshape(-1), logp.shape[1], ignore_index, logp.dtype)
    picked = flat[_arange(safe.shape[0], safe), safe]
    if weight is not None:
        w = w * weight[safe]
    loss = -picked * w
    if reduction == "none":
        return loss.reshape(target.shape)
    return _reduce(loss, reduction, w.sum())


def nll_loss(
    input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """-input[i, t_i] (times weight[t_i]); ``mean`` divides by the total weight of non-ignored targets.
    A target outside [0, C) raises IndexError on the CPU; on a GPU (not read back) its loss is NaN."""
    if isinstance(input, Tensor) and isinstance(target, Tensor) and input.ndim == 1:  # unbatched (C,): a batch of 1
        out = nll_loss(input.unsqueeze(0), target.unsqueeze(0), weight, ignore_index, reduction)
        return out.reshape(()) if reduction == "none" else out
    _check_class_args("nll_loss", input, target, weight, reduction)
    check_class_target("nll_loss", input, target, ignore_index)
    return _nll(input, target, weight, ignore_index, reduction)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits (N, C) or (N, C, d...) against class indices or class
    probabilities. Integer targets without weights run the backend's fused kernel. A class index outside [0, C)
    raises IndexError on the CPU; on a GPU (not read back) its loss and gradient are NaN."""
    if isinstance(input, Tensor) and isinstance(target, Tensor) and input.ndim == 1:  # unbatched (C,): a batch of 1
        out = cross_entropy(input.unsqueeze(0), target.unsqueeze(0), weight, ignore_index, reduction, label_smoothing)
        return out.reshape(()) if reduction == "none" else out
    _check_class_args("cross_entropy", input, target, weight, reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    c = input.shape[1]
    if target.dtype.kind == "f" and target.shape == input.shape:  # class probabilities
        logp = log_softmax(input, 1)
        p = target * (1 - label_smoothing) + label_smoothing / c if label_smoothing else target
        wp = p * _channel_view(weight, input.ndim) if weight is not None else p
        loss = -(wp * logp).sum(1)
        return _reduce(loss, reduction, input.shape[0] if input.ndim == 2 else loss.numel())
    if target.dtype.kind == "f" and target.ndim == input.ndim:
        raise TargetError(
            f"cross_entropy: probability targets must have the input's shape {input.shape}, got {target.shape}"
        )
    check_class_target("cross_entropy", input, target, ignore_index, probs=True)
    if weight is None and input.ndim == 2:
        return ops.cross_entropy(input, target, ignore_index, label_smoothing, reduction)
    logp = log_softmax(input, 1)
    nll = _nll(logp, target, weight, ignore_index, "none" if label_smoothing else reduction)
    if not label_smoothing:
        return nll
    # PyTorch's smoothed form: (1 - e) * nll + e / C * sum_c w_c (-logp_c), over non-ignored rows
    flat = _classes_last(logp)
    safe, _ = _class_targets(target.reshape(-1), c, ignore_index, input.dtype)
    valid = (target.reshape(-1) != ignore_index).astype(input.dtype)
    wsum = flat * weight if weight is not None else flat
    smooth = -(wsum.sum(1)) * valid / c
    loss = (1 - label_smoothing) * nll.reshape(-1) + label_smoothing * smooth
    if reduction == "none":
        return loss.reshape(target.shape)
    denom = (valid * weight[safe]).sum() if weight is not None else valid.sum()
    return _reduce(loss, reduction, denom)
