"""Functional margin, embedding and ranking losses, under ``torch.nn.functional``'s names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import ops
from ..errors import InputError
from ..ops._core import check_same_device
from ..ops.loss import check_broadcast_pair, check_reduction, host_values
from ..tensor import Tensor
from ._distance_fn import pairwise_distance
from ._fn_common import _arange, _reduce
from ._loss_fn import legacy_reduction

__all__ = [
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]


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
