"""Functional convolutions, under ``torch.nn.functional``'s names.

conv1d and conv2d run on the fused conv2d op (its own VJP); conv3d and the transposed convolutions are composed from
differentiable ops (pad, the N-d im2col/col2im pair, matmul, slicing), so gradients of gradients come for free. A
transposed convolution is conv's input gradient: a matmul with the weight, then col2im onto the full output, then
the padding cropped off (and output_padding rows added at the end). Inputs may be unbatched, as PyTorch's."""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..errors import InputError, InputTypeError
from ..ops import matmul, pad
from ..ops._core import check_same_device
from ..ops.conv import GeometryNd, _conv2d, col2im_nd, im2col_nd
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]

_LIMITS = {  # (minimum, PyTorch's complaint below it)
    "stride": (1, "non-positive stride is not supported"),
    "padding": (0, "negative padding is not supported"),
    "dilation": (1, "dilation should be greater than zero"),
    "output_padding": (0, "negative output_padding is not supported"),
}


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation of input (N, C, L) or (C, L) with weight (O, C/groups, K); padding may be an int, a
    1-tuple, 'valid' or 'same'."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation of input (N, C, H, W) or (C, H, W) with weight (O, C/groups, KH, KW); padding may be
    an int, a pair, 'valid' or 'same'."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """3-D cross-correlation of input (N, C, D, H, W) or (C, D, H, W) with weight (O, C/groups, KD, KH, KW)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 1-D convolution (conv1d's input gradient) of input (N, C_in, L) with weight (C_in, C_out/groups,
    K). Note PyTorch's argument order: output_padding and groups come before dilation."""
    op = "conv_transpose1d"
    return _conv_transpose(op, 1, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 2-D convolution (conv2d's input gradient) of input (N, C_in, H, W) with weight (C_in,
    C_out/groups, KH, KW). Note PyTorch's argument order: output_padding and groups come before dilation."""
    op = "conv_transpose2d"
    return _conv_transpose(op, 2, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 3-D convolution (conv3d's input gradient) of input (N, C_in, D, H, W) with weight (C_in,
    C_out/groups, KD, KH, KW)."""
    op = "conv_transpose3d"
    return _conv_transpose(op, 3, input, weight, bias, stride, padding, output_padding, groups, dilation)


# ---- the shared checks --------------------------------------------------------------------------------------------


def _ints(op: str, name: str, v: Any, dims: int) -> tuple[int, ...]:
    """stride, padding, dilation or output_padding: an int or a tuple of 1 or ``dims`` ints (one is repeated)."""
    if _is_int(v):
        v = (v,)
    if not isinstance(v, (tuple, list)) or not all(_is_int(a) for a in v):
        raise InputTypeError(f"{op}: {name} must be an int or a tuple of {dims} ints, got {v!r}")
    if len(v) not in (1, dims):
        raise InputError(f"{op}: {name} must be an int or a tuple of {dims} ints, got {tuple(v)}")
    v = tuple(int(a) for a in v) * (dims if len(v) == 1 else 1)
    minimum, complaint = _LIMITS[name]
    if min(v) < minimum:
        raise InputError(f"{op}: {complaint}, got {name}={v}")
    return v


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _batched(op: str, input: Any, weight: Any, bias: Any, dims: int) -> tuple[Tensor, bool]:
    """The input with a batch dim (added to an unbatched one), and whether it had one."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(
            f"{op}: input and weight must be Tensors, got {type(input).__name__} and {type(weight).__name__}"
        )
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}: bias must be a Tensor or None, got {type(bias).__name__}")
    check_same_device(op, input, weight)
    if bias is not None:
        check_same_device(op, input, bias)
    if input.ndim not in (dims + 1, dims + 2):
        raise InputError(
            f"{op}: expected a {dims + 1}-D (unbatched) or {dims + 2}-D (batched) input, got shape {input.shape}"
        )
    if weight.ndim != dims + 2:
        raise InputError(f"{op}: expected a {dims + 2}-D weight, got shape {weight.shape}")
    if input.ndim == dims + 1:
        return input.unsqueeze(0), False
    return input, True


def _check(op: str, x: Tensor, weight: Tensor, bias: Tensor | None, groups: Any, transposed: bool) -> int:
    """Channels, groups, dtypes and bias against the weight; returns the output's channel count."""
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise InputTypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise InputError(f"{op}: non-positive groups is not supported, got groups={groups}")
    c = x.shape[1]
    if transposed:  # weight (C_in, C_out/groups, *k)
        want, out = weight.shape[0], weight.shape[1] * groups
        fits = c == want and c % groups == 0
    else:  # weight (C_out, C_in/groups, *k)
        want, out = weight.shape[1] * groups, weight.shape[0]
        fits = c == want and out % groups == 0
    if not fits:
        raise InputError(
            f"{op}: weight of shape {weight.shape} with groups={groups} expects an input with {want} channels "
            f"(divisible by groups), got input of shape {x.shape}"
        )
    if x.dtype != weight.dtype:  # PyTorch: a RuntimeError ("Input type (double) and bias type (float) ...")
        raise InputTypeError(f"{op}: input is {x.dtype} but weight is {weight.dtype}")
    if bias is not None and bias.shape != (out,):
        raise InputError(f"{op}: bias has shape {bias.shape}, expected ({out},)")
    if bias is not None and bias.dtype != x.dtype:
        raise InputTypeError(f"{op}: input is {x.dtype} but bias is {bias.dtype}")
    return out


def _pads(p: tuple[int, ...], right: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """F.pad's list (last dim first) for ``p`` on the left and ``right`` (default ``p``) on the right."""
    right = p if right is None else right
    return tuple(v for a, b in zip(reversed(p), reversed(right)) for v in (a, b))


# ---- convolution --------------------------------------------------------------------------------------------------


def _conv(
    op: str, dims: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: Any
) -> Tensor:
    x, batched = _batched(op, input, weight, bias, dims)
    s = _ints(op, "stride", stride, dims)
    d = _ints(op, "dilation", dilation, dims)
    _check(op, x, weight, bias, groups, False)
    k = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise InputError(f"{op}: invalid padding string {padding!r}, should be one of 'same', 'valid'")
        if padding == "same" and any(v != 1 for v in s):
            raise InputError(f"{op}: padding='same' is not supported for strided convolutions, got stride={s}")
        total = tuple(dd * (kk - 1) if padding == "same" else 0 for dd, kk in zip(d, k))
        p = tuple(t // 2 for t in total)
        extra = tuple(t - 2 * (t // 2) for t in total)
        if any(extra):  # an odd total: the extra one on the right (bottom), as PyTorch
            x = pad(x, _pads((0,) * dims, extra))
    else:
        p = _ints(op, "padding", padding, dims)
    padded = tuple(n + 2 * q for n, q in zip(x.shape[2:], p))
    if any(n < dd * (kk - 1) + 1 for n, dd, kk in zip(padded, d, k)):  # PyTorch: "Kernel size can't be greater ..."
        kernel, size = (f"size {k[0]}", f"length {padded[0]}") if dims == 1 else (str(k), str(padded))
        raise InputError(
            f"{op}: kernel {kernel} (dilation {d if dims > 1 else d[0]}) is larger than the padded input {size} "
            f"(input shape {x.shape}, padding {p if dims > 1 else p[0]})"
        )
    if dims == 1:  # conv2d on a height of 1
        out = _conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, *s), (0, *p), (1, *d), groups, op).squeeze(2)
    elif dims == 2:
        out = _conv2d(x, weight, bias, s, p, d, groups, op)
    else:
        out = _conv_windows(x, weight, bias, s, p, d, groups)
    return out if batched else out.squeeze(0)


def _conv_windows(x: Tensor, weight: Tensor, bias: Tensor | None, s: tuple, p: tuple, d: tuple, groups: int) -> Tensor:
    """Any-d convolution, composed: pad, im2col_nd, one matmul per group (batched), reshape, bias."""
    if any(p):
        x = pad(x, _pads(p))
    n, c, *size = x.shape
    o, k = weight.shape[0], tuple(weight.shape[2:])
    out = tuple((m - dd * (kk - 1) - 1) // ss + 1 for m, kk, ss, dd in zip(size, k, s, d))
    geo = GeometryNd(n, c, tuple(size), groups, k, s, d, out)
    cols = im2col_nd(x, geo)  # (N, G, C/G*prod(k), prod(out))
    y = matmul(weight.reshape(groups, o // groups, (c // groups) * math.prod(k)), cols)  # (N, G, O/G, prod(out))
    y = y.reshape(n, o, *out)
    if bias is not None:
        y = y + bias.reshape(o, *(1,) * len(k))
    return y


# ---- transposed convolution ---------------------------------------------------------------------------------------


def _conv_transpose(
    op: str,
    dims: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: Any,
    dilation: Any,
) -> Tensor:
    x, batched = _batched(op, input, weight, bias, dims)
    s = _ints(op, "stride", stride, dims)
    p = _ints(op, "padding", padding, dims)
    extra = _ints(op, "output_padding", output_padding, dims)
    d = _ints(op, "dilation", dilation, dims)
    cout = _check(op, x, weight, bias, groups, True)
    if any(e >= ss and e >= dd for e, ss, dd in zip(extra, s, d)):
        raise InputError(
            f"{op}: output padding must be smaller than either stride or dilation, got output_padding={extra}, "
            f"stride={s}, dilation={d}"
        )
    n, cin, *size = x.shape
    k = tuple(weight.shape[2:])
    full = tuple((m - 1) * ss + dd * (kk - 1) + 1 for m, ss, dd, kk in zip(size, s, d, k))  # before the crop
    out = tuple(f - 2 * q + e for f, q, e in zip(full, p, extra))
    if min(out) < 1:
        raise InputError(
            f"{op}: given input size per channel {tuple(size)}, the calculated output size per channel {out} is "
            f"too small (kernel {k}, stride {s}, padding {p}, dilation {d}, output_padding {extra})"
        )
    cg, kcols = cin // groups, weight.shape[1] * math.prod(k)
    wt = weight.reshape(groups, cg, kcols).transpose(-1, -2)  # (G, C_out/G*prod(k), C_in/G)
    cols = matmul(wt, x.reshape(n, groups, cg, math.prod(size)))  # (N, G, C_out/G*prod(k), prod(size))
    y = col2im_nd(cols, GeometryNd(n, cout, full, groups, k, s, d, tuple(size)))  # (N, C_out, *full)
    grow = tuple(max(0, q + m - f) for q, m, f in zip(p, out, full))  # output_padding past the full output: zeros
    if any(grow):
        y = pad(y, _pads((0,) * dims, grow))
    if any(p) or any(extra):
        y = y[(slice(None), slice(None), *(slice(q, q + m) for q, m in zip(p, out)))]
    if bias is not None:
        y = y + bias.reshape(cout, *(1,) * dims)
    return y if batched else y.squeeze(0)
