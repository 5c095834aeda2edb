"""Fused losses. Cross-entropy runs two backend primitives forward (per-row losses, then their sum or mean with the
count of non-ignored rows kept on the device) and one backward (``(softmax - onehot) * g / count``)."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from ._core import check_same_device, make

REDUCTIONS = ("mean", "sum", "none")


def cross_entropy(
    input: Tensor,  # noqa: A002 - PyTorch's name
    target: Tensor,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy of (N, C) logits against (N,) integer class targets.

    ``mean`` divides by the number of targets that are not ``ignore_index``.
    """
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError("cross_entropy: input and target must be Tensors")
    check_same_device("cross_entropy", input, target)
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if input.ndim != 2:
        raise ValueError(f"cross_entropy: input must be (N, C) logits, got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input must be floating point, got {input.dtype}")
    if target.dtype.kind not in "iu" or target.shape != (input.shape[0],):
        raise ValueError(
            f"cross_entropy: target must be ({input.shape[0]},) integer class indices, "
            f"got shape {target.shape} and dtype {target.dtype}"
        )
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    be = input._be
    xp = be.xp
    t = target.data
    rows, saved = be.cross_entropy(input.data, t, ignore_index, label_smoothing)

    if reduction == "none":

        def vjp(g: Any) -> tuple:
            return (be.cross_entropy_backward(g, saved, t, ignore_index, label_smoothing),)

        return make("cross_entropy", rows, be, (input,), vjp, save=(input, target))

    out, divisor = be.cross_entropy_reduce(rows, t, ignore_index, reduction == "mean")  # divisor stays on the device

    def vjp(g: Any) -> tuple:
        g_rows = xp.broadcast_to(g, t.shape)
        return (be.cross_entropy_backward(g_rows, saved, t, ignore_index, label_smoothing, divisor),)

    return make("cross_entropy", out, be, (input,), vjp, save=(input, target))


def check_pair(op: str, a: Tensor, b: Tensor) -> None:
    """An elementwise loss's input and target: tensors of one shape, the target floating point."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors")
    if a.shape != b.shape:
        raise ValueError(f"{op}: input has shape {a.shape} but target has shape {b.shape}; they must match")
    if b.dtype.kind != "f":
        raise TypeError(f"{op}: target must be floating point, got {b.dtype}")


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error, (input - target)^2 reduced by ``reduction``."""
    from . import reduce

    check_pair("mse_loss", input, target)
    if reduction not in REDUCTIONS:
        raise ValueError(f"mse_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    d = input - target
    sq = d * d
    if reduction == "none":
        return sq
    return reduce.mean(sq) if reduction == "mean" else reduce.sum(sq)
