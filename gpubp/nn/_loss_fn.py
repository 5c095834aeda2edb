"""Functional losses, under ``torch.nn.functional``'s names."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from .. import ops
from ..creation import full_like
from ..errors import InputError
from ..ops import (
    log_softmax,
    mse_loss,
)
from ..ops._core import check_same_device
from ..ops.loss import (
    TargetError,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    check_broadcast_pair,
    check_class_target,
    check_label_smoothing,
    check_reduction,
    host_values,
)
from ..tensor import Tensor
from ._ctc import ctc_loss
from ._distance_fn import pairwise_distance
from ._fn_common import _arange, _channel_view, _reduce

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "ctc_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
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


def _tensors(op: str, names: str, *ts: Any) -> None:
    """Each of ``ts`` a Tensor (TypeError naming ``names`` otherwise), all on one device."""
    if not all(isinstance(t, Tensor) for t in ts):
        got = ", ".join(type(t).__name__ for t in ts)
        raise TypeError(f"{op}: {names} must be Tensors, got {got}")
    for t in ts[1:]:
        check_same_device(op, ts[0], t)


def _log_sigmoid(x: Tensor) -> Tensor:
    """log sigmoid(x) = -log(1 + exp(-x)), without overflow."""
    return -ops.logaddexp(-x, 0.0)


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


def _check_pair_target(op: str, input1: Tensor, input2: Tensor, target: Tensor, reduction: str) -> None:
    _tensors(op, "input1, input2 and target", input1, input2, target)
    check_reduction(op, reduction)


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1; rows of (N, D) inputs with an
    (N,) target, or (D,) inputs with a 0-d target. cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)), as PyTorch."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_pair_target("cosine_embedding_loss", input1, input2, target, reduction)
    d = target.ndim
    if d > 1:
        raise InputError("cosine_embedding_loss: 0D or 1D target tensor expected, multi-target not supported")
    if input1.ndim != d + 1 or input2.ndim != d + 1:
        raise InputError(
            f"cosine_embedding_loss: {d}D target tensor expects {d + 1}D input tensors, but found inputs with sizes "
            f"{input1.shape} and {input2.shape}"
        )
    prod = (input1 * input2).sum(d)
    mag1 = (input1 * input1).sum(d) + 1e-12
    mag2 = (input2 * input2).sum(d) + 1e-12
    cos = prod / (mag1 * mag2).sqrt()
    loss = ops.where(target == 1, 1 - cos, 0.0) + ops.where(target == -1, (cos - margin).clamp_min(0), 0.0)
    return _reduce(loss, reduction)


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, -target (input1 - input2) + margin); the three tensors have one number of dimensions and broadcast."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_pair_target("margin_ranking_loss", input1, input2, target, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise InputError(
            "margin_ranking_loss: All input tensors should have same dimension but got sizes: "
            f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape}"
        )
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def _check_triplet(op: str, anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    _tensors(op, "anchor, positive and negative", anchor, positive, negative)
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not a == p == n:
        raise InputError(
            f"{op}: The anchor, positive, and negative tensors are expected to have the same number of dimensions, "
            f"but got: anchor {a}D, positive {p}D, and negative {n}D inputs"
        )


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d the pairwise p-norm distance; ``swap`` uses min(d(a, n), d(p, n))."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("triplet_margin_loss", reduction)
    if not margin > 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    _check_triplet("triplet_margin_loss", anchor, positive, negative)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """triplet_margin_loss with any ``distance_function`` (default: pairwise_distance); margin must be positive."""
    check_reduction("triplet_margin_with_distance_loss", reduction)
    if not margin > 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be greater than 0, got {margin}")
    _check_triplet("triplet_margin_with_distance_loss", anchor, positive, negative)
    dist = pairwise_distance if distance_function is None else distance_function
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = ops.minimum(d_neg, dist(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


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


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)) (times weight), averaged over the class (last) dimension."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _tensors("multilabel_soft_margin_loss", "input and target", input, target)
    check_reduction("multilabel_soft_margin_loss", reduction)
    loss = -(target * _log_sigmoid(input) + (1 - target) * _log_sigmoid(-input))
    if weight is not None:
        loss = loss * weight
    c = input.shape[-1] if input.ndim else 1
    return _reduce(loss.sum(input.ndim - 1) / c if input.ndim else loss, reduction)


def _class_rows(op: str, input: Tensor) -> tuple[Tensor, int]:
    """(N, C) view of a (C,) or (N, C) input (a 0-d input is one class), and C."""
    if input.ndim > 2 or (input.ndim >= 1 and input.shape[-1] == 0):
        raise InputError(
            f"{op}: Expected non-empty vector or matrix with optional 0-dim batch size, but got: {input.shape}"
        )
    return input.reshape(-1 if input.ndim == 2 else 1, input.shape[-1] if input.ndim else 1), (
        input.shape[-1] if input.ndim else 1
    )


def _check_index_range(op: str, t: Tensor, lo: int, hi: int) -> None:
    """On the CPU, every value of ``t`` in [lo, hi) (else IndexError-like RuntimeError); on a GPU it is not read."""
    v = host_values(t)
    if v is not None and v.size and ((v < lo) | (v >= hi)).any():
        raise IndexError(f"{op}: target out of range: values must be in [{lo}, {hi})")


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """sum over i != y of max(0, margin - x[y] + x[i])^p (times weight[y]) / C, for (C,) or (N, C) input and class
    targets y; p is 1 or 2."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    op = "multi_margin_loss"
    _tensors(op, "input and target", input, target)
    check_reduction(op, reduction)
    if p != 1 and p != 2:
        raise ValueError(f"{op}: only p == 1 and p == 2 supported, got p={p}")
    if weight is not None and (not isinstance(weight, Tensor) or weight.ndim != 1):
        raise ValueError(f"{op}: weight must be one-dimensional, got {getattr(weight, 'shape', weight)}")
    x, c = _class_rows(op, input)
    n = x.shape[0]
    if target.ndim > 1 or target.numel() != n or target.dtype.kind not in "iu":
        raise InputError(f"{op}: inconsistent target size, expected {n} integer class indices but got {target.shape}")
    if weight is not None and weight.numel() != c:
        raise InputError(f"{op}: inconsistent weight size, expected {c} but got {weight.shape}")
    _check_index_range(op, target, 0, c)
    y = target.reshape(n).clamp(0, c - 1)
    rows = _arange(n, y)
    z = (margin - x[rows, y].unsqueeze(1) + x).clamp_min(0)
    h = z if p == 1 else z * z
    if weight is not None:
        h = h * weight[y].unsqueeze(1)
    other = (_arange(c, y).reshape(1, c) != y.reshape(n, 1)).astype(h.dtype)
    loss = (h * other).sum(1) / c
    if reduction == "none" and input.ndim <= 1:
        return loss.reshape(target.shape)
    return _reduce(loss, reduction)


def multilabel_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])) / C; each row of the
    integer target lists its classes, ended by the first -1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    op = "multilabel_margin_loss"
    _tensors(op, "input and target", input, target)
    check_reduction(op, reduction)
    x, c = _class_rows(op, input)
    if target.shape != input.shape or target.dtype.kind not in "iu":
        raise InputError(
            f"{op}: inconsistent target size: {target.shape} for input of size: {input.shape} (expected integer "
            "class indices of the input's shape)"
        )
    _check_index_range(op, target, -1, c)
    t = target.reshape(x.shape)
    listed = (t != -1).cumprod(1).astype(x.dtype)  # (N, C): 1 up to the first -1
    safe = t.clamp(0, c - 1)
    onehot = (safe.unsqueeze(2) == _arange(c, safe).reshape(1, 1, c)).astype(x.dtype)  # (N, K, C)
    is_target = ((onehot * listed.unsqueeze(2)).sum(1) > 0).astype(x.dtype)  # (N, C)
    xj = ops.gather(x, 1, safe)  # (N, K): the listed classes' scores
    hinge = (1 - xj.unsqueeze(2) + x.unsqueeze(1)).clamp_min(0)  # (N, K, C)
    loss = (hinge * listed.unsqueeze(2) * (1 - is_target).unsqueeze(1)).sum((1, 2)) / c
    if reduction == "none" and input.ndim <= 1:
        return loss.reshape(())
    return _reduce(loss, reduction)


def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """input where target is 1, max(0, margin - input) where it is -1 (both terms for any other target value)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _tensors("hinge_embedding_loss", "input and target", input, target)
    check_reduction("hinge_embedding_loss", reduction)
    loss = ops.where(target != 1, (margin - input).clamp_min(0), 0.0) + ops.where(target != -1, input, 0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """log(1 + exp(-target input)), computed without overflow."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_broadcast_pair("soft_margin_loss", input, target)
    check_reduction("soft_margin_loss", reduction)
    return _reduce(ops.logaddexp(-target * input, 0.0), reduction)
