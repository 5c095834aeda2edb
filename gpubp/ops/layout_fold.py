"""F.unfold and F.fold (registered as ``nn_unfold``/``nn_fold``): sliding blocks of an image as columns and back,
on conv.py's im2col/col2im pair (each the other's gradient, so both are differentiable to any order)."""

from __future__ import annotations

import numbers
from typing import Any

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import conv, shape


def _pair(v: Any, name: str, op: str) -> tuple[int, int]:
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(a, numbers.Integral) for a in v):
        return int(v[0]), int(v[1])
    raise InputTypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")


def _params(kernel_size: Any, dilation: Any, padding: Any, stride: Any, op: str) -> tuple:
    k = _pair(kernel_size, "kernel_size", op)
    d = _pair(dilation, "dilation", op)
    p = _pair(padding, "padding", op)
    s = _pair(stride, "stride", op)
    if min(k) < 1 or min(d) < 1 or min(s) < 1 or min(p) < 0:
        raise InputError(
            f"{op}: kernel_size, dilation and stride must be positive and padding non-negative, got "
            f"kernel_size={k}, dilation={d}, padding={p}, stride={s}"
        )
    return k, d, p, s


def _blocks(size: tuple[int, int], k: tuple, d: tuple, p: tuple, s: tuple, op: str) -> tuple[int, int]:
    """The number of sliding blocks along height and width."""
    oh = (size[0] + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (size[1] + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    if oh < 1 or ow < 1:
        raise InputError(
            f"{op}: Given input with spatial size {tuple(size)}, kernel_size={k}, dilation={d}, padding={p}, "
            f"calculated shape of the array of sliding blocks as ({oh}, {ow}), but its components must be at least one."
        )
    return oh, ow


def nn_unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """F.unfold: the sliding blocks of (N, C, H, W) (or (C, H, W)) as columns (N, C*KH*KW, L), channel-major."""
    op = "unfold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise InputError(f"{op}: Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    k, d, p, s = _params(kernel_size, dilation, padding, stride, op)
    x = input if input.ndim == 4 else shape.unsqueeze(input, 0)
    n, c, h, w = x.shape
    oh, ow = _blocks((h, w), k, d, p, s, op)
    geo = conv.Geometry(n, c, h, w, 1, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], oh, ow)
    cols = shape.reshape(conv.im2col(x, geo), (n, c * k[0] * k[1], oh * ow))  # (N, 1, C*KH*KW, L) -> (N, ., L)
    return cols if input.ndim == 4 else shape.reshape(cols, cols.shape[1:])


def nn_fold(
    input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """F.fold: columns (N, C*KH*KW, L) (or (C*KH*KW, L)) summed back onto an (N, C, H, W) image of ``output_size``
    (H, W); where blocks overlap their values add up. The adjoint of unfold."""
    op = "fold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise InputError(
            f"{op}: Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported (got {input.ndim}D)"
        )
    size = _pair(output_size, "output_size", op)
    k, d, p, s = _params(kernel_size, dilation, padding, stride, op)
    cols = input if input.ndim == 3 else shape.unsqueeze(input, 0)
    n, ck, length = cols.shape
    if ck % (k[0] * k[1]):
        raise InputError(
            f"{op}: Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
            f"input.size(1)={ck} and kernel_size={k}"
        )
    oh, ow = _blocks(size, k, d, p, s, op)
    if length != oh * ow:
        raise InputError(
            f"{op}: Given output_size={size}, kernel_size={k}, dilation={d}, padding={p}, stride={s}, expected size "
            f"of input's dimension 2 to match the calculated number of sliding blocks {oh} * {ow} = {oh * ow}, but "
            f"got input.size(2)={length}."
        )
    c = ck // (k[0] * k[1])
    geo = conv.Geometry(n, c, size[0], size[1], 1, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], oh, ow)
    img = conv.col2im(shape.reshape(cols, (n, 1, ck, length)), geo)
    return img if input.ndim == 3 else shape.reshape(img, img.shape[1:])
