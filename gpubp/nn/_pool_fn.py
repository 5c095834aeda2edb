"""Functional pooling and resampling, under ``torch.nn.functional``'s names."""

from __future__ import annotations

from typing import Any

from .. import ops
from ..errors import InputError
from ..ops import (
    avg_pool2d,
    max_pool2d,
)
from ..tensor import Tensor

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "max_pool2d"]


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
