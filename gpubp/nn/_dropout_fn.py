"""Functional dropout variants (dropout1d/2d/3d, alpha dropout), under ``torch.nn.functional``'s names.

As PyTorch's _dropout_impl: nothing happens for p = 0, in eval or on an empty input; p = 1 gives zeros; the
feature variants draw one keep/drop per (N, C) channel and broadcast it over the spatial dims."""

from __future__ import annotations

import math
import numbers
import warnings

from ..backend import get_backend
from ..ops.inplace import apply_
from ..tensor import Tensor

__all__ = ["dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]

_SELU_ALPHA = 1.7580993408473766  # -SELU's lambda * alpha: the value alpha dropout drops to


def _check_p(p: float) -> None:
    if not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"dropout: p must be a number, got {type(p).__name__} {p!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _noise(x: Tensor, p: float, feature: bool, alpha: bool) -> Tensor:
    """x with PyTorch's (feature) dropout or alpha dropout applied; a fresh keep-mask with P(keep) = 1 - p."""
    if p == 1.0:
        return x * 0.0
    be = get_backend(x.device)
    shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2) if feature else tuple(x.shape)
    with be.enter():
        keep = (be.rand(shape, x.dtype) >= p).astype(x.dtype)
        if not alpha:
            return x * Tensor._wrap(keep * (1.0 / (1.0 - p)), be)
        # mean 0 and variance 1 are kept for unit-normal input: x keep a + alpha' a (p - (1 - keep))
        a = 1.0 / math.sqrt((_SELU_ALPHA * _SELU_ALPHA * p + 1) * (1 - p))
        scale = Tensor._wrap(keep * a, be)
        shift = Tensor._wrap((keep - 1) * (_SELU_ALPHA * a) + _SELU_ALPHA * a * p, be)
    return x * scale + shift


def _run(x: Tensor, p: float, training: bool, inplace: bool, feature: bool, alpha: bool, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
    _check_p(p)
    if not training or p == 0.0 or x.numel() == 0:
        return x
    if inplace:
        return apply_(x, _noise, f"{name}_", p, feature, alpha)
    return _noise(x, p, feature, alpha)


def _unbatched(x: Tensor, p: float, training: bool, inplace: bool, name: str) -> Tensor:
    """Feature dropout of an unbatched (C, *) input: one draw per channel."""
    if not training or p == 0.0 or x.numel() == 0:
        return x
    if inplace:
        return apply_(x, lambda t: _noise(t.unsqueeze(0), p, True, False).squeeze(0), f"{name}_")
    return _noise(x.unsqueeze(0), p, True, False).squeeze(0)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) with probability p, scaling the rest by 1 / (1 - p)."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that dropout1d exists to "
            "provide channel-wise dropout on inputs with 1 spatial dimension, a channel dimension, and an optional "
            "batch dimension (i.e. 2D or 3D inputs)."
        )
    if input.ndim == 2:
        return _unbatched(input, p, training, inplace, "dropout1d")
    return _run(input, p, training, inplace, True, False, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) with probability p; a 3-D input is taken as (N, C, L), as PyTorch
    (with its warning)."""
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will result in an "
            "error in a future release. To retain the behavior and silence this warning, please use dropout instead. "
            "Note that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial dimensions, a "
            "channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will "
            "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
            "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _run(input, p, training, inplace, True, False, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p."""
    _check_p(p)
    if input.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated and will result in an "
            "error in a future release. To retain the behavior and silence this warning, please use dropout instead. "
            "Note that dropout3d exists to provide channel-wise dropout on inputs with 3 spatial dimensions, a "
            "channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    if input.ndim != 5:
        return _unbatched(input, p, training, inplace, "dropout3d")
    return _run(input, p, training, inplace, True, False, "dropout3d")


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped elements become -lambda alpha, then an affine map keeps mean and variance."""
    return _run(input, p, training, inplace, False, True, "alpha_dropout")


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout of whole (N, C) channels."""
    return _run(input, p, training, inplace, True, True, "feature_alpha_dropout")
