"""Normalization layers: batch, instance, layer, group, RMS and local response norm."""

from __future__ import annotations

import numbers
import warnings
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

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "LocalResponseNorm",
    "RMSNorm",
]


def _register_affine(module: Module, shape: Any, weight: bool, bias: bool, device: Any, dtype: Any) -> None:
    """The affine parameters every norm layer has: ``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None."""
    dev = device or default_device()
    module.register_parameter("weight", Parameter(creation.ones(shape, device=dev, dtype=dtype)) if weight else None)
    module.register_parameter("bias", Parameter(creation.zeros(shape, device=dev, dtype=dtype)) if bias else None)


def _reset_affine(module: Module) -> None:
    """Weight 1 and bias 0, where the layer has them."""
    with no_grad():
        if module.weight is not None:
            module.weight.fill_(1)
        if getattr(module, "bias", None) is not None:
            module.bias.zero_()


class _NormBase(Module):
    """What batch and instance norm share: per-channel affine parameters and optional running statistics."""

    _version = 2  # version 2 added num_batches_tracked, as PyTorch's

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        num_features = _int_arg(type(self).__name__, "num_features", num_features, 1)
        if momentum is not None and (not isinstance(momentum, numbers.Real) or isinstance(momentum, bool)):
            raise TypeError(f"{type(self).__name__}: momentum must be a number or None, got {momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _register_affine(self, num_features, affine, affine and bias, device, dtype)
        dev = device or default_device()
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, device=dev, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, device=dev, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.zeros((), device=dev, dtype=dtypes.int64))
            self._mirror_count(0)
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
            self._mirror_count(0)

    def _mirror_count(self, count: int) -> None:
        """Remember on the host that num_batches_tracked, as it is now (this tensor, this version), holds ``count``."""
        nbt = self.num_batches_tracked
        self.__dict__["_nbt_mirror"] = (nbt, nbt._vc[0], count)

    def reset_parameters(self) -> None:
        """Running statistics reset; weight 1, bias 0."""
        self.reset_running_stats()
        _reset_affine(self)

    def _upgrade_state_dict(self, state_dict: dict[str, Any], prefix: str, version: int | None) -> None:
        # a state dict without version 2 (a plain dict, or an old PyTorch one) may lack the counter: keep ours
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats and key not in state_dict:
            state_dict[key] = self.num_batches_tracked

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    _dims: tuple[int, ...] = ()

    def _count_batch(self) -> float:
        """Count a training batch in num_batches_tracked (on the device) and return the running statistics' factor:
        ``momentum``, or 1 / count for ``momentum=None`` (a cumulative average). The count comes from a host mirror
        of the buffer; the buffer is read back (a sync) only when something else changed it since (a load, a reset,
        a new tensor), as the mirror then no longer knows its value."""
        nbt = self.num_batches_tracked
        with no_grad():
            nbt.add_(1)  # on the device: no host read
        if self.momentum is not None:
            return self.momentum
        mirror = self.__dict__.get("_nbt_mirror")
        if mirror is not None and mirror[0] is nbt and mirror[1] == nbt._vc[0] - 1:
            count = mirror[2] + 1
        else:  # after a load_state_dict, .to(), or a write to the buffer: read it once
            count = int(nbt.item())  # .item() waits for the device (PyTorch reads the count here every batch)
        self._mirror_count(count)
        return 1.0 / count

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise InputError(
                f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._dims)} input with "
                f"{self.num_features} channels in dim 1, got shape {x.shape}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            factor = self._count_batch()
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats  # training without tracking leaves the buffers alone
        return F.batch_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L)."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W)."""

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W)."""

    _dims = (5,)


class _InstanceNorm(_NormBase):
    _no_batch_dim = 0  # the ndim of an unbatched input: (C, L) for InstanceNorm1d

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        dims = (self._no_batch_dim, self._no_batch_dim + 1)
        if not isinstance(x, Tensor) or x.ndim not in dims:  # PyTorch: ValueError
            got = f"{x.ndim}D input" if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}: expected {dims[0]}D or {dims[1]}D input (got {got})")
        feature_dim = x.ndim - self._no_batch_dim
        if x.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(
                    f"{type(self).__name__}: expected input's size at dim={feature_dim} to match num_features "
                    f"({self.num_features}), but got: {x.shape[feature_dim]}."
                )
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. You can silence this warning by "
                "not passing in num_features, which is not used because affine=False",
                stacklevel=2,
            )
        unbatched = x.ndim == self._no_batch_dim
        y = F.instance_norm(
            x.unsqueeze(0) if unbatched else x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,  # PyTorch: no cumulative average here
            self.eps,
        )
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization over (N, C, L) or unbatched (C, L): each sample's channel over its length."""

    _no_batch_dim = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization over (N, C, H, W) or unbatched (C, H, W)."""

    _no_batch_dim = 3


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization over (N, C, D, H, W) or unbatched (C, D, H, W)."""

    _no_batch_dim = 4


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
        _register_affine(self, self.normalized_shape, elementwise_affine, elementwise_affine and bias, device, dtype)

    def reset_parameters(self) -> None:
        """Weight 1, bias 0."""
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalize each sample's groups of channels over the group and the spatial dims; per-channel affine."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        num_groups = _int_arg("GroupNorm", "num_groups", num_groups, 1)
        num_channels = _int_arg("GroupNorm", "num_channels", num_channels, 0)
        if num_channels % num_groups:  # PyTorch: ValueError
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _register_affine(self, num_channels, affine, affine and bias, device, dtype)

    def reset_parameters(self) -> None:
        """Weight 1, bias 0."""
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """Root-mean-square normalization over the last dims (normalized_shape), with a learned scale."""

    def __init__(
        self,
        normalized_shape: Any,
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        elif not isinstance(normalized_shape, (tuple, list)):
            raise TypeError(f"RMSNorm: normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}")
        self.normalized_shape = tuple(_int_arg("RMSNorm", "normalized_shape", n, 0) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dev, shape = device or default_device(), self.normalized_shape
        weight = Parameter(creation.ones(shape, device=dev, dtype=dtype)) if elementwise_affine else None
        self.register_parameter("weight", weight)

    def reset_parameters(self) -> None:
        """Weight 1."""
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    """Divide each value by (k + alpha * mean of the squares over ``size`` neighbouring channels) ** beta."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = _int_arg("LocalResponseNorm", "size", size, 1)
        self.alpha, self.beta, self.k = alpha, beta, k

    def forward(self, x: Tensor) -> Tensor:
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
