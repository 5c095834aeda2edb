"""Functional convolutions, under ``torch.nn.functional``'s names."""

from __future__ import annotations

import numbers
from typing import Any

from ..errors import InputError, InputTypeError
from ..ops import (
    conv2d,
)
from ..ops.conv import _conv2d
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d"]


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
