"""Normalization layers: batch norm and layer norm."""

from __future__ import annotations

import numbers
from typing import Any

from .. import creation, dtypes
from ..autograd import no_grad
from ..backend import default_device
from ..errors import InputError
from ..tensor import Tensor
from . import functional as F
from .layers import _int_arg
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    _dims: tuple[int, ...] = ()
    _version = 2  # version 2 added num_batches_tracked, as PyTorch's

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        num_features = _int_arg(type(self).__name__, "num_features", num_features, 1)
        if not isinstance(momentum, numbers.Real):  # None (a cumulative average) needs a host read of the count
            raise TypeError(f"{type(self).__name__}: momentum must be a number, got {momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dev = device or default_device()
        self.register_parameter(
            "weight", Parameter(creation.ones(num_features, device=dev, dtype=dtype)) if affine else None
        )
        use_bias = affine and bias
        self.register_parameter(
            "bias", Parameter(creation.zeros(num_features, device=dev, dtype=dtype)) if use_bias else None
        )
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, device=dev, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, device=dev, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.zeros((), device=dev, dtype=dtypes.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches counted."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def _upgrade_state_dict(self, state_dict: dict[str, Any], prefix: str, version: int | None) -> None:
        # a state dict without version 2 (a plain dict, or an old PyTorch one) may lack the counter: keep ours
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats and key not in state_dict:
            state_dict[key] = self.num_batches_tracked

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise InputError(
                f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._dims)} input with "
                f"{self.num_features} channels in dim 1, got shape {x.shape}"
            )
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)  # on the device: no host read
        use_batch = self.training or self.running_mean is None or self.running_var is None
        track = not self.training or self.track_running_stats  # training without tracking leaves the buffers alone
        return F.batch_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            self.momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L)."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W)."""

    _dims = (4,)


class LayerNorm(Module):
    """Normalize over the last dims (normalized_shape), with a learned scale and shift."""

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        elif not isinstance(normalized_shape, (tuple, list)):
            raise TypeError(f"LayerNorm: normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}")
        self.normalized_shape = tuple(_int_arg("LayerNorm", "normalized_shape", n, 0) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dev, shape = device or default_device(), self.normalized_shape
        weight = Parameter(creation.ones(shape, device=dev, dtype=dtype)) if elementwise_affine else None
        self.register_parameter("weight", weight)
        use_bias = elementwise_affine and bias
        self.register_parameter("bias", Parameter(creation.zeros(shape, device=dev, dtype=dtype)) if use_bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )
