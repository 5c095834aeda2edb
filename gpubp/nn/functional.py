"""Functional forms of layers and losses, under ``torch.nn.functional``'s names.

Layers with their own VJP live in ``gpubp.ops`` (linear, conv2d, pools, the fused cross-entropy);
the rest are compositions of ops, so their gradients come from the tape.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import ops
from ..autograd import no_grad
from ..errors import InputError, InputTypeError
from ..ops import (
    avg_pool2d,
    conv2d,
    gelu,
    linear,
    log_softmax,
    max_pool2d,
    mse_loss,
    one_hot,
    pad,
    sigmoid,
    softmax,
    tanh,
)
from ..ops import nn_fold as fold
from ..ops import nn_unfold as unfold
from ..ops.conv import _conv2d
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
from ._activation_fn import dropout, elu, elu_, leaky_relu, leaky_relu_, relu, relu_, silu, softplus

__all__ = [
    "avg_pool2d",
    "conv1d",
    "conv2d",
    "elu",
    "elu_",
    "gelu",
    "leaky_relu",
    "leaky_relu_",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "pad",
    "relu",
    "relu_",
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
    "one_hot",
    "unfold",
    "fold",
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
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"conv1d: input and weight must be Tensors, got {type(x).__name__} and {type(weight).__name__}")
    if x.ndim != 3 or weight.ndim != 3:
        raise InputError(
            f"conv1d: expected input (N, C, L) and weight (O, C/groups, K), got {x.shape} and {weight.shape}"
        )
    s, p, d = (_single(v, name) for v, name in ((stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    if s < 1 or d < 1 or p < 0:
        raise InputError(
            f"conv1d: stride and dilation must be >= 1 and padding >= 0, got stride={stride}, padding={padding}, "
            f"dilation={dilation}"
        )
    k, length = weight.shape[2], x.shape[2]
    if length + 2 * p < d * (k - 1) + 1:  # PyTorch: "Kernel size can't be greater than actual input size"
        raise InputError(
            f"conv1d: kernel size {k} (dilation {d}) is larger than the padded input length {length + 2 * p} "
            f"(input shape {x.shape}, padding {p})"
        )
    out = _conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, p), (1, d), groups, "conv1d")
    return out.squeeze(2)


def _single(v: Any, name: str) -> int:
    """conv1d's stride, padding or dilation: an int or a tuple of one int."""
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if not isinstance(v, numbers.Integral) or isinstance(v, bool):
        raise InputTypeError(f"conv1d: {name} must be an int or a tuple of 1 int, got {v!r}")
    return int(v)


def adaptive_avg_pool2d(x: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size, with PyTorch's bins [floor(i H / OH), ceil((i + 1) H / OH))."""
    if x.ndim != 4:
        raise InputError(f"adaptive_avg_pool2d: expected input (N, C, H, W), got shape {x.shape}")
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


def _arange(n: int, like: Tensor) -> Tensor:
    with like._be.enter():
        return Tensor._wrap(like._be.xp.arange(n), like._be)


def _channel_view(t: Tensor, ndim: int) -> Tensor:
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def _check_batch_norm_args(x: Tensor, stats: dict[str, Tensor | None]) -> None:
    """Each given statistic or affine parameter: a tensor of C elements with the input's dtype, or float32 for a
    float16 input (PyTorch's mixed case; gpubp also lets a float16 model keep float32 running statistics).
    Another mix is a RuntimeError, as PyTorch."""
    c = x.shape[1]
    params = {name: t for name, t in stats.items() if t is not None}
    for name, t in params.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"batch_norm: {name} must be a Tensor or None, got {type(t).__name__}")
        if t.numel() != c:
            raise InputError(f"batch_norm: {name} should contain {c} elements (one per channel), not {t.numel()}")
    allowed = {x.dtype, np.dtype(np.float32)} if x.dtype == np.float16 else {x.dtype}
    wrong = {name: t.dtype for name, t in params.items() if t.dtype not in allowed}
    if wrong:
        got = ", ".join(f"{name} {dt}" for name, dt in wrong.items())
        want = " or ".join(sorted(str(d) for d in allowed))
        raise RuntimeError(f"batch_norm: mixed dtype: input is {x.dtype} but {got}; expected {want}")


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
    if not isinstance(x, Tensor):
        raise TypeError(f"batch_norm: input must be a Tensor, got {type(x).__name__}")
    if x.ndim < 2:
        raise InputError(f"batch_norm: expected input (N, C, ...), got shape {x.shape}")
    if x.dtype.kind != "f":  # PyTorch: NotImplementedError "batch_norm" not implemented for 'Long'
        raise InputTypeError(f"batch_norm: not implemented for {x.dtype} input; expected a floating-point tensor")
    stats = {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias}
    _check_batch_norm_args(x, stats)
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        n = x.numel() // x.shape[1]
        if n < 2:
            raise InputError(f"batch_norm: training needs more than 1 value per channel, got input shape {x.shape}")
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
    return y if y.dtype == x.dtype else y.astype(x.dtype)  # float32 statistics of a float16 input: float16 out


def layer_norm(
    x: Tensor, normalized_shape: Any, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalize over the last len(normalized_shape) dims."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape:
        raise InputError(f"layer_norm: input shape {x.shape} does not end with normalized_shape {shape}")
    if x.dtype.kind != "f":  # PyTorch: NotImplementedError "LayerNormKernelImpl" not implemented for 'Long'
        raise InputTypeError(f"layer_norm: not implemented for {x.dtype} input; expected a floating-point tensor")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(axes, keepdim=True)
    y = (x - mean) * (x.var(axes, correction=0, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, D) picked by integer ``input``; the padding_idx row (negative counts from
    the end, as PyTorch) gets no gradient. An index outside [0, num_embeddings) raises IndexError on the CPU; on a
    GPU (not read back) its row comes out NaN, never wrapped or read out of bounds."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(
            f"embedding: input and weight must be Tensors, got {type(input).__name__} and {type(weight).__name__}"
        )
    if input.dtype.kind not in "iu":  # PyTorch: a RuntimeError ("Expected tensor for argument #1 'indices' ...")
        raise InputTypeError(f"embedding: indices must be integers (int64 or int32), got {input.dtype}")
    if weight.ndim != 2:
        raise InputError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings, in [{-n}, {n}), got {padding_idx}")
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
    be, xp = input._be, input._be.xp
    idx = host_values(input)
    if idx is not None:
        bad = (idx < 0) | (idx >= n)
        if bad.any():
            raise IndexError(
                f"embedding: index {int(idx[bad][0])} is out of range in self: indices must be in [0, {n}) "
                f"(num_embeddings)"
            )
        rows = weight[input]
    else:
        # On a GPU the indices are not read back: clamp them to a safe row and make those rows NaN (noticed in the
        # loss), rather than wrap a negative index or read past the table.
        with be.enter():
            inside = (input._data >= 0) & (input._data < n)
            safe = Tensor._wrap(xp.where(inside, input._data, 0), be)
        rows = ops.where(Tensor._wrap(inside[..., None], be), weight[safe], math.nan)
    if padding_idx is not None:
        # detach only the looked-up padding rows: no gradient reaches weight[padding_idx] (O(len(input) D), not O(n D))
        pad_rows = (input == padding_idx).unsqueeze(-1)
        rows = ops.where(pad_rows, rows.detach(), rows)
    return rows


# ---- losses ----------------------------------------------------------------------------------


def _reduce(loss: Tensor, reduction: str, denom: Any = None) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / denom if denom is not None else loss.mean()


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
