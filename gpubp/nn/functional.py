"""Functional forms of layers and losses, under ``torch.nn.functional``'s names.

Layers with their own VJP live in ``gpubp.ops`` (linear, conv2d, pools, the fused cross-entropy);
the rest are compositions of ops, so their gradients come from the tape.
"""

from __future__ import annotations

from typing import Any

from .. import ops
from ..autograd import no_grad
from ..backend import get_backend
from ..ops import (
    avg_pool2d,
    conv2d,
    elu,
    gelu,
    leaky_relu,
    linear,
    log_softmax,
    max_pool2d,
    mse_loss,
    pad,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from ..ops.loss import REDUCTIONS, check_pair
from ..tensor import Tensor

__all__ = [
    "avg_pool2d",
    "conv1d",
    "conv2d",
    "elu",
    "gelu",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "pad",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
    "adaptive_avg_pool2d",
    "dropout",
    "batch_norm",
    "layer_norm",
    "embedding",
    "cross_entropy",
    "nll_loss",
    "l1_loss",
    "huber_loss",
    "smooth_l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]


def conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution of x (N, C, L) with weight (O, C/groups, K): conv2d on a height of 1."""
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(
            f"conv1d: expected input (N, C, L) and weight (O, C/groups, K), got {x.shape} and {weight.shape}"
        )
    out = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride), (0, padding), (1, dilation), groups)
    return out.squeeze(2)


def adaptive_avg_pool2d(x: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size, with PyTorch's bins [floor(i H / OH), ceil((i + 1) H / OH))."""
    if x.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected input (N, C, H, W), got shape {x.shape}")
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    h, w = x.shape[2:]
    if (oh, ow) == (1, 1):
        return x.mean((2, 3), keepdim=True)
    if h % oh == 0 and w % ow == 0:
        return avg_pool2d(x, (h // oh, w // ow))
    rows = []
    for i in range(oh):
        r0, r1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        cols = [x[:, :, r0:r1, (j * w) // ow : -(-((j + 1) * w) // ow)].mean((2, 3)) for j in range(ow)]
        rows.append(ops.stack(cols, -1))
    return ops.stack(rows, -2)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    be = get_backend(x.device)
    keep = be.rand(x.shape, x.dtype) >= p
    return x * Tensor._wrap(keep.astype(x.dtype) * (1.0 / (1.0 - p)), be)


def _arange(n: int, like: Tensor) -> Tensor:
    with like._be.enter():
        return Tensor._wrap(like._be.xp.arange(n), like._be)


def _channel_view(t: Tensor, ndim: int) -> Tensor:
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (dim 1) by batch statistics (training) or running ones (eval);
    in training the running statistics move by ``momentum`` (running var uses the unbiased var)."""
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C, ...), got shape {x.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        n = x.numel() // x.shape[1]
        if n < 2:
            raise ValueError(f"batch_norm: training needs more than 1 value per channel, got input shape {x.shape}")
        mean = x.mean(axes, keepdim=True)
        var = x.var(axes, correction=0, keepdim=True)
        if running_mean is not None and running_var is not None:
            with no_grad():
                running_mean.mul_(1 - momentum).add_(mean.reshape(-1).detach() * momentum)
                running_var.mul_(1 - momentum).add_(var.reshape(-1).detach() * (momentum * n / (n - 1)))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation needs running_mean and running_var")
        mean, var = _channel_view(running_mean, x.ndim), _channel_view(running_var, x.ndim)
    y = (x - mean) * (var + eps).rsqrt()
    if weight is not None:
        y = y * _channel_view(weight, x.ndim)
    if bias is not None:
        y = y + _channel_view(bias, x.ndim)
    return y


def layer_norm(
    x: Tensor, normalized_shape: Any, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalize over the last len(normalized_shape) dims."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(f"layer_norm: input shape {x.shape} does not end with normalized_shape {shape}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(axes, keepdim=True)
    y = (x - mean) * (x.var(axes, correction=0, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def embedding(idx: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` picked by integer ``idx``; the padding_idx row gets no gradient."""
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    if padding_idx is not None:
        keep = ops.ne(_arange(weight.shape[0], weight), padding_idx).unsqueeze(1).astype(weight.dtype)
        weight = weight * keep + weight.detach() * (1 - keep)  # same values; no gradient into that row
    return weight[idx]


# ---- losses ----------------------------------------------------------------------------------


def _reduce(loss: Tensor, reduction: str, op: str, denom: Any = None) -> Tensor:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / denom if denom is not None else loss.mean()


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    check_pair("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction, "l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); d = input - target."""
    check_pair("huber_loss", input, target)
    d = input - target
    a = d.abs()
    return _reduce(ops.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta)), reduction, "huber_loss")


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    check_pair("smooth_l1_loss", input, target)
    d = input - target
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction, "smooth_l1_loss")
    return _reduce(ops.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta), reduction, "smooth_l1_loss")


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """-(y log p + (1 - y) log(1 - p)), each log clamped at -100 as PyTorch."""
    check_pair("binary_cross_entropy", input, target)
    loss = -(target * input.log().clamp(min=-100) + (1 - target) * (1 - input).log().clamp(min=-100))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """BCE on logits, computed stably: (1 - y) x + (1 + (pw - 1) y) (log(1 + e^-|x|) + max(-x, 0))."""
    check_pair("binary_cross_entropy_with_logits", input, target)
    stable = (-input.abs()).exp().log1p() + (-input).relu()
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * stable
    else:
        loss = (1 - target) * input + stable
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _classes_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N * d1 * ..., C)."""
    if x.ndim == 2:
        return x
    return x.permute(0, *range(2, x.ndim), 1).reshape(-1, x.shape[1])


def nll_loss(
    input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """-input[i, t_i] (times weight[t_i]); ``mean`` divides by the total weight of non-ignored targets."""
    if input.ndim < 2:
        raise ValueError(f"nll_loss: input must be (N, C) or (N, C, ...), got shape {input.shape}")
    if target.dtype.kind not in "iu" or target.shape != (input.shape[0],) + input.shape[2:]:
        raise ValueError(
            f"nll_loss: target must be integer class indices of shape {(input.shape[0],) + input.shape[2:]}, "
            f"got shape {target.shape} and dtype {target.dtype}"
        )
    logp = _classes_last(input)
    t = target.reshape(-1)
    valid = t != ignore_index
    safe = ops.where(valid, t, 0)
    picked = logp[_arange(t.shape[0], t), safe]
    w = valid.astype(input.dtype)
    if weight is not None:
        w = w * weight[safe]
    loss = -picked * w
    if reduction == "none":
        return loss.reshape(target.shape)
    return _reduce(loss, reduction, "nll_loss", w.sum())


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits (N, C) or (N, C, d...) against class indices or class
    probabilities. Integer targets without weights run the backend's fused kernel."""
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError("cross_entropy: input and target must be Tensors")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim < 2:
        raise ValueError(f"cross_entropy: input must be (N, C) or (N, C, ...) logits, got shape {input.shape}")
    c = input.shape[1]
    if weight is not None and weight.shape != (c,):
        raise ValueError(f"cross_entropy: weight must have shape ({c},), got {weight.shape}")
    if target.dtype.kind == "f":  # class probabilities
        if target.shape != input.shape:
            raise ValueError(
                f"cross_entropy: probability targets must have the input's shape {input.shape}, got {target.shape}"
            )
        logp = log_softmax(input, 1)
        p = target * (1 - label_smoothing) + label_smoothing / c if label_smoothing else target
        wp = p * _channel_view(weight, input.ndim) if weight is not None else p
        loss = -(wp * logp).sum(1)
        return _reduce(loss, reduction, "cross_entropy", input.shape[0] if input.ndim == 2 else loss.numel())
    if weight is None and input.ndim == 2:
        return ops.cross_entropy(input, target, ignore_index, label_smoothing, reduction)
    logp = log_softmax(input, 1)
    nll = nll_loss(logp, target, weight, ignore_index, "none" if label_smoothing else reduction)
    if not label_smoothing:
        return nll
    # PyTorch's smoothed form: (1 - e) * nll + e / C * sum_c w_c (-logp_c), over non-ignored rows
    flat = _classes_last(logp)
    t = target.reshape(-1)
    valid = (t != ignore_index).astype(input.dtype)
    wsum = flat * weight if weight is not None else flat
    smooth = -(wsum.sum(1)) * valid / c
    loss = (1 - label_smoothing) * nll.reshape(-1) + label_smoothing * smooth
    if reduction == "none":
        return loss.reshape(target.shape)
    safe = ops.where(t != ignore_index, t, 0)
    denom = (valid * weight[safe]).sum() if weight is not None else valid.sum()
    return _reduce(loss, reduction, "cross_entropy", denom)
