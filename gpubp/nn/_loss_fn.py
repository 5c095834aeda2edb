"""Functional losses, under ``torch.nn.functional``'s names: regression, class and likelihood losses here; the
margin, embedding and ranking losses in ``_loss_margin_fn``."""

from __future__ import annotations

import math
import warnings
from typing import Any

from .. import ops
from ..creation import full_like
from ..ops import log_softmax
from ..ops._core import check_same_device
from ..ops.loss import (
    TargetError,
    check_broadcast_pair,
    check_class_target,
    check_label_smoothing,
    check_reduction,
)
from ..ops.loss import binary_cross_entropy as _bce
from ..ops.loss import binary_cross_entropy_with_logits as _bce_logits
from ..tensor import Tensor
from ._ctc import ctc_loss
from ._fn_common import _arange, _channel_view, _reduce

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "ctc_loss",
    "gaussian_nll_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
]


def _weighted(op: str, loss: Tensor, input: Tensor, weight: Tensor | None, reduction: str, by_weight: bool) -> Tensor:
    """``loss`` (broadcast over input and target) times ``weight`` (the input's shape, as PyTorch 2.13), reduced;
    ``by_weight``: 'mean' divides the weighted sum by weight.sum() (l1, mse), else by the element count (huber)."""
    if weight is None:
        return _reduce(loss, reduction)
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor or None, got {type(weight).__name__}")
    check_same_device(op, input, weight)
    if weight.shape != input.shape:
        raise ValueError(
            f"{op}: Weights and input must have the same size, got weight {weight.shape} and input {input.shape}"
        )
    loss = loss * weight
    if reduction == "mean" and by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """|input - target| (times ``weight``, the input's shape), reduced; with a weight 'mean' divides by its sum."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_broadcast_pair("l1_loss", input, target)
    check_reduction("l1_loss", reduction)
    return _weighted("l1_loss", (input - target).abs(), input, weight, reduction, by_weight=True)


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """(input - target)^2 (times ``weight``, the input's shape), reduced; with a weight 'mean' divides by its sum."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is None:
        return ops.mse_loss(input, target, reduction)
    check_broadcast_pair("mse_loss", input, target)
    check_reduction("mse_loss", reduction)
    d = input - target
    return _weighted("mse_loss", d * d, input, weight, reduction, by_weight=True)


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0, weight: Tensor | None = None
) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); d = input - target. ``weight`` (the input's shape)
    scales each element; 'mean' then stays the mean over elements, as PyTorch."""
    check_broadcast_pair("huber_loss", input, target)
    check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    d = input - target
    a = d.abs()
    loss = ops.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _weighted("huber_loss", loss, input, weight, reduction, by_weight=False)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    reduction = legacy_reduction(size_average, reduce, reduction)
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
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """-input[i, t_i] (times weight[t_i]); ``mean`` divides by the total weight of non-ignored targets.
    A target outside [0, C) raises IndexError on the CPU; on a GPU (not read back) its loss is NaN."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if isinstance(input, Tensor) and isinstance(target, Tensor) and input.ndim == 1:  # unbatched (C,): a batch of 1
        out = nll_loss(input.unsqueeze(0), target.unsqueeze(0), weight, ignore_index=ignore_index, reduction=reduction)
        return out.reshape(()) if reduction == "none" else out
    _check_class_args("nll_loss", input, target, weight, reduction)
    check_class_target("nll_loss", input, target, ignore_index)
    return _nll(input, target, weight, ignore_index, reduction)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits (N, C) or (N, C, d...) against class indices or class
    probabilities. Integer targets without weights run the backend's fused kernel. A class index outside [0, C)
    raises IndexError on the CPU; on a GPU (not read back) its loss and gradient are NaN."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if isinstance(input, Tensor) and isinstance(target, Tensor) and input.ndim == 1:  # unbatched (C,): a batch of 1
        out = cross_entropy(
            input.unsqueeze(0),
            target.unsqueeze(0),
            weight,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=label_smoothing,
        )
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
        return ops.cross_entropy(
            input, target, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
        )
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


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated ``size_average`` / ``reduce`` mapped to a reduction (with PyTorch's warning); without
    them, ``reduction`` unchanged."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    out = "mean" if size_average and reduce else ("sum" if reduce else "none")
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{out}' instead.", stacklevel=3
    )
    return out


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """-w (y max(log p, -100) + (1 - y) max(log(1 - p), -100)), reduced (see ``gpubp.ops.loss``)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _bce(input, target, weight, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """w ((1 - y) x + (1 + (pw - 1) y) softplus(-x)), reduced, computed without overflow (see ``gpubp.ops.loss``)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _bce_logits(input, target, weight, reduction, pos_weight)


_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release."
)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """target (log target - input) pointwise (input holds log-probabilities; ``log_target``: so does target);
    'batchmean' divides the sum by the batch size, 'mean' (which warns, as PyTorch) by the element count."""
    check_broadcast_pair("kl_div", input, target)
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn(_KL_MEAN_WARNING, stacklevel=2)
    if reduction not in ("none", "batchmean", "sum", "mean"):
        raise ValueError(f"kl_div: {reduction!r} is not a valid value for reduction (none, batchmean, sum, mean)")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = ops.xlogy(target, target) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """exp(input) - target input (``log_input``) or input - target log(input + eps); ``full`` adds Stirling's
    target log target - target + 0.5 log(2 pi target) where target > 1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_broadcast_pair("poisson_nll_loss", input, target)
    check_reduction("poisson_nll_loss", reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        big = target > 1
        t = ops.where(big, target, 2.0)  # no log of targets <= 1 (their term is 0): no NaN, no warning
        stirling = t * t.log() - t + 0.5 * (2 * math.pi * t).log()
        loss = loss + ops.where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6, reduction: str = "mean"
) -> Tensor:
    """0.5 (log max(var, eps) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) when ``full``). var has the
    input's shape, or one dimension fewer, or one dimension of size 1 (homoscedastic); the clamp is not
    differentiated, as PyTorch's in-place clamp under no_grad."""
    check_broadcast_pair("gaussian_nll_loss", input, target)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
        var = full_like(input, float(var))
    elif not isinstance(var, Tensor):
        raise TypeError(f"gaussian_nll_loss: var must be a Tensor or a float, got {type(var).__name__}")
    else:
        check_same_device("gaussian_nll_loss", input, var)
        if bool((var < 0).any()):  # PyTorch reads this back too (torch.any(var < 0)): a host sync
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif not (input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError(
                f"gaussian_nll_loss: var is of incorrect size {var.shape} for input of size {input.shape}: expected "
                "the input's size, that without the last dimension, or one dimension of size 1"
            )
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"gaussian_nll_loss: {reduction} is not valid (expected 'none', 'mean' or 'sum')")
    var = var + (var.clamp_min(eps) - var).detach()
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
