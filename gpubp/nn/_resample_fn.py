"""Interpolation, pixel and channel shuffles, affine grids and grid sampling, under ``torch.nn.functional``'s
names: separable taps (``_pool_fn._separable``) and gathers, compositions of differentiable ops."""

from __future__ import annotations

import itertools
import math
import numbers
import warnings
from typing import Any

import numpy as np

from .. import ops
from ..errors import InputError
from ..ops import pool as _pool
from ..tensor import Tensor
from ._pool_fn import (
    _adaptive_avg,
    _const,
    _float_input,
    _separable,
)

__all__ = [
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "pixel_shuffle",
    "pixel_unshuffle",
    "channel_shuffle",
    "native_channel_shuffle",
    "affine_grid",
    "grid_sample",
]


# ---- interpolation --------------------------------------------------------------------------------------------------

_MODE_DIMS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) to ``size`` or by ``scale_factor``: modes nearest,
    nearest-exact, linear, bilinear, bicubic (A = -0.75), trilinear, area (adaptive average), as PyTorch's kernels;
    antialias for bilinear and bicubic downsampling."""
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: input must be a Tensor, got {type(input).__name__}")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | "
                "trilinear"
            )
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    spatial = list(input.shape[2:])
    scales: list | None = None
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    f"Input and output must have the same number of spatial dimensions, but got input with spatial "
                    f"dimensions of {spatial} and output size of {size}. Please provide input tensor in (N, C, d1, "
                    f"d2, ...,dK) format and output size in (o1, o2, ...,oK) format."
                )
            out_size = [int(v) for v in size]
        else:
            out_size = [int(size)] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    f"Input and scale_factor must have the same number of spatial dimensions, but got input with "
                    f"spatial dimensions of {spatial} and scale_factor of shape {scale_factor}. Please provide input "
                    f"tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format."
                )
            scales = [float(f) for f in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        out_size = [int(n * f) for n, f in zip(spatial, scales)]  # PyTorch truncates in double
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and scales is not None:
        recompute_scale_factor = True
    if recompute_scale_factor and scales is not None:
        out_size = [math.floor(float(n) * f) for n, f in zip(spatial, scales)]
        scales = None
    if antialias and not (mode in ("bilinear", "bicubic") and input.ndim == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D tensor as input"
        )
    if mode in _MODE_DIMS and input.ndim != _MODE_DIMS[mode]:
        need = _MODE_DIMS[mode]
        if input.ndim in (3, 4, 5):
            raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {need}D input")
    if input.ndim not in (3, 4, 5) or mode not in ("nearest", "nearest-exact", "area", *_MODE_DIMS):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for the modes: nearest | "
            f"linear | bilinear | bicubic | trilinear | area | nearest-exact (got {mode})"
        )
    if any(o <= 0 for o in out_size):
        raise InputError(
            f"interpolate: input {tuple(input.shape)} gives output spatial size {tuple(out_size)}; it must be positive"
        )
    if mode == "area":
        return _adaptive_avg(f"adaptive_avg_pool{dim}d", input, dim, tuple(out_size))
    if mode not in ("nearest", "nearest-exact"):  # the nearest modes only pick elements: any dtype
        _float_input("interpolate", input)
    kind = {"bicubic": "cubic", "bilinear": "linear", "trilinear": "linear"}.get(mode, mode)
    taps = [
        _pool.interp_taps(
            kind, n, o, None if scales is None else scales[i], bool(align_corners), antialias, input.dtype == np.float64
        )
        for i, (n, o) in enumerate(zip(spatial, out_size))
    ]
    return _separable(input, taps)


def upsample(
    input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest", align_corners: bool | None = None
) -> Tensor:
    """Deprecated alias of interpolate (with PyTorch's warning)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated: interpolate(..., mode='nearest') (with PyTorch's warning)."""
    warnings.warn(
        "`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2
    )
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True) (with PyTorch's warning)."""
    warnings.warn(
        "`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2
    )
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---- pixel and channel shuffles -------------------------------------------------------------------------------------


def _factor(op: str, name: str, value: Any) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if value < 1:
        raise InputError(f"{op}: {name} must be greater than 0, but got: {value}")
    return int(value)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r), as PyTorch."""
    r = _factor("pixel_shuffle", "upscale_factor", upscale_factor)
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise InputError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={input.shape[-3] if input.ndim >= 3 else None} is not divisible by {r * r} "
            f"(input shape {tuple(input.shape)}, at least 3-D)"
        )
    *lead, c, h, w = input.shape
    n = len(lead)
    y = input.reshape(*lead, c // (r * r), r, r, h, w)
    y = y.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of pixel_shuffle."""
    r = _factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    if input.ndim < 3 or input.shape[-1] % r or input.shape[-2] % r:
        raise InputError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor {r}, got input shape "
            f"{tuple(input.shape)} (at least 3-D)"
        )
    *lead, c, h, w = input.shape
    n = len(lead)
    y = input.reshape(*lead, c, h // r, r, w // r, r)
    y = y.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, C, *) with C = g k: channel (g_i, k_i) moves to (k_i, g_i), as ShuffleNet and PyTorch."""
    g = _factor("channel_shuffle", "groups", groups)
    if input.ndim < 3:
        raise InputError(f"channel_shuffle: expected an input of at least 3 dims (N, C, *), got {input.ndim}-D")
    if input.shape[1] % g:
        raise InputError(
            f"channel_shuffle: number of channels must be divisible by groups. Got {input.shape[1]} channels and "
            f"{g} groups."
        )
    n, c, *rest = input.shape
    return input.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """channel_shuffle under its ATen name."""
    return channel_shuffle(input, groups)


# ---- affine grids and grid sampling ---------------------------------------------------------------------------------
# Composed from differentiable ops: the corner weights are functions of the grid (so the grid gets its gradient, as
# PyTorch's grid_sampler backward), the corner values gathers of the input; integer corners carry no gradient.

_GRID_WARNING = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. Please specify "
    "align_corners=True if the old behavior is desired. See the documentation of grid_sample for details."
)


def _linspace_from_neg_one(n: int, align_corners: bool) -> np.ndarray:
    if n <= 1:
        return np.zeros(max(n, 1))
    r = np.linspace(-1.0, 1.0, n)
    return r if align_corners else r * (n - 1) / n


def affine_grid(theta: Tensor, size: Any, align_corners: bool | None = None) -> Tensor:
    """The sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of the affine maps theta (N, 2, 3) (or (N, 3, 4)) over
    an output of ``size`` (N, C, H, W) (or (N, C, D, H, W)), in grid_sample's [-1, 1] coordinates."""
    if align_corners is None:
        warnings.warn(_GRID_WARNING, stacklevel=2)
        align_corners = False
    if not isinstance(theta, Tensor) or theta.dtype.kind != "f":
        got = theta.dtype if isinstance(theta, Tensor) else type(theta).__name__
        raise ValueError(f"Expected theta to have floating point type, but got {got}")
    size = [int(v) for v in size]
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(
                f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got {tuple(theta.shape)}."
            )
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(
                f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got {tuple(theta.shape)}."
            )
    else:
        raise NotImplementedError(
            f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, respectively. Got size "
            f"{size}."
        )
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when align_corners=True. "
            "This is not an intended use case of affine_grid. See the documentation of affine_grid for details.",
            stacklevel=2,
        )
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    axes = [_linspace_from_neg_one(n, bool(align_corners)) for n in spatial]  # (D,) H, W
    mesh = np.meshgrid(*axes, indexing="ij")
    base = np.stack(list(mesh[::-1]) + [np.ones_like(mesh[0])], -1)  # (..., d + 1): x (W), y (H), (z (D)), 1
    d = len(spatial)
    flat = _const(base.reshape(1, -1, d + 1), theta, theta.dtype)
    grid = ops.matmul(flat, theta.transpose(1, 2))  # (N, prod(spatial), d)
    return grid.reshape(size[0], *spatial, d)


def _unnormalize(c: Tensor, size: int, align_corners: bool) -> Tensor:
    return (c + 1) / 2 * (size - 1) if align_corners else ((c + 1) * size - 1) / 2


def _reflect(c: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """PyTorch's reflect_coordinates: c reflected into [low, high] (bounds given doubled)."""
    if twice_low == twice_high:
        return c * 0.0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    c = ops.abs(c - low)
    flips = ops.floor(c.detach() / span)
    extra = c - flips * span
    return ops.where(flips.remainder(2) == 0, extra + low, span - extra + low)


def _source(c: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    """PyTorch's compute_coordinates: border clips, reflection reflects then clips; zeros leaves c as is."""
    if padding_mode == "border":
        return ops.clamp(c, 0, size - 1)
    if padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
        return ops.clamp(c, 0, size - 1)
    return c


def _fetch(flat: Tensor, coords: list, sizes: tuple) -> Tensor:
    """input values (N, C, *out) at integer float coordinates ``coords`` (x first, each (N, *out), no gradient);
    those outside the input read 0."""
    n, c = flat.shape[0], flat.shape[1]
    inside = None
    index = None
    stride = 1
    for coord, size in zip(coords, sizes[::-1]):  # x runs along the last dim
        ok = (coord >= 0) & (coord <= size - 1)
        inside = ok if inside is None else inside & ok
        term = ops.clamp(coord, 0, size - 1).to(np.int64) * stride
        index = term if index is None else index + term
        stride *= size
    out_shape = tuple(index.shape[1:])
    index = index.reshape(n, 1, -1).expand(n, c, -1)
    vals = ops.gather(flat, 2, index).reshape(n, c, *out_shape)
    return ops.where(inside.unsqueeze(1), vals, 0.0)


def _cubic(t: Tensor) -> list:
    """PyTorch's get_cubic_upsampling_coefficients (A = -0.75) at offsets -1, 0, 1, 2 from floor(x)."""
    a = -0.75

    def near(v: Tensor) -> Tensor:
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v: Tensor) -> Tensor:
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Tensor:
    """Sample input (N, C, H, W) (or (N, C, D, H, W)) at grid (N, Ho, Wo, 2) (or (N, Do, Ho, Wo, 3)) coordinates
    in [-1, 1] (x first): modes bilinear (trilinear in 3-D), nearest, bicubic (4-D); padding zeros, border,
    reflection. Gradients reach input and grid, as PyTorch's."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or 'reflection', but got: "
            f"'{padding_mode}'"
        )
    if align_corners is None:
        warnings.warn(_GRID_WARNING, stacklevel=2)
        align_corners = False
    if not isinstance(input, Tensor) or not isinstance(grid, Tensor):
        raise TypeError("grid_sample: input and grid must be Tensors")
    d = input.ndim - 2
    if input.ndim not in (4, 5) or grid.ndim != input.ndim or grid.shape[-1] != d or grid.shape[0] != input.shape[0]:
        raise InputError(
            f"grid_sampler(): expected input (N, C, H, W) with grid (N, H_out, W_out, 2), or (N, C, D, H, W) with "
            f"grid (N, D_out, H_out, W_out, 3), the same N; got input {tuple(input.shape)} and grid "
            f"{tuple(grid.shape)}"
        )
    if mode == "bicubic" and d != 2:
        raise InputError("grid_sampler(): bicubic interpolation only supports 4D input")
    _float_input("grid_sample", input)
    sizes = tuple(input.shape[2:])  # (D,) H, W
    flat = input.flatten(2)
    ac = bool(align_corners)
    # per grid component (x, y, z): its input size runs from the last spatial dim backwards
    raw = [_unnormalize(grid[..., i], sizes[d - 1 - i], ac) for i in range(d)]
    if mode == "bicubic":
        x, y = raw
        x0, y0 = ops.floor(x.detach()), ops.floor(y.detach())
        wx, wy = _cubic(x - x0), _cubic(y - y0)
        out = None
        for j in range(4):
            row = None
            for i in range(4):
                cx = _source(x0 + (i - 1), sizes[1], padding_mode, ac).detach()
                cy = _source(y0 + (j - 1), sizes[0], padding_mode, ac).detach()
                term = _fetch(flat, [ops.floor(cx), ops.floor(cy)], sizes) * wx[i].unsqueeze(1)
                row = term if row is None else row + term
            term = row * wy[j].unsqueeze(1)
            out = term if out is None else out + term
        return out
    coords = [_source(c, sizes[d - 1 - i], padding_mode, ac) for i, c in enumerate(raw)]
    if mode == "nearest":
        with input._be.enter():  # nearbyint: half to even, as PyTorch
            picks = [Tensor._wrap(input._be.xp.rint(c._data), input._be) for c in coords]
            never = Tensor._wrap(input._be.xp.zeros(tuple(grid.shape[:-1]), dtype=bool), input._be)
        # + 0 through the grid: its gradient is a zero tensor (not None), as PyTorch's, even where the grid is NaN
        return _fetch(flat, picks, sizes) + ops.where(never, grid[..., 0], 0.0).unsqueeze(1)
    lows = [ops.floor(c.detach()) for c in coords]
    out = None
    for corner in itertools.product((0, 1), repeat=d):
        weight = None
        for c, lo, k in zip(coords, lows, corner):
            w = c - lo if k else lo + 1 - c
            weight = w if weight is None else weight * w
        term = _fetch(flat, [lo + k for lo, k in zip(lows, corner)], sizes) * weight.unsqueeze(1)
        out = term if out is None else out + term
    return out
