"""Lazy modules (LazyLinear, LazyConv*, LazyBatchNorm*, LazyInstanceNorm*): shapes inferred at the first forward.

A lazy module holds UninitializedParameters (and UninitializedBuffers) until its first call: a forward pre-hook
reads in_features / in_channels / num_features from the input, materializes the tensors on their own device with
their dtype, initializes them as the eager layer's constructor would, and turns the module into that eager class
(``cls_to_become``), as PyTorch. ``load_state_dict`` into a lazy module materializes from the state dict's shapes."""

from __future__ import annotations

from collections import OrderedDict
from itertools import chain
from typing import Any

from .. import creation, dtypes
from ..autograd import no_grad
from ..backend import default_device
from ..errors import InputError
from ..tensor import Tensor
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .layers import Linear, _reset_fan_in
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .parameter import UninitializedBuffer, UninitializedParameter, is_lazy

__all__ = [
    "LazyBatchNorm1d",
    "LazyBatchNorm2d",
    "LazyBatchNorm3d",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyConvTranspose1d",
    "LazyConvTranspose2d",
    "LazyConvTranspose3d",
    "LazyInstanceNorm1d",
    "LazyInstanceNorm2d",
    "LazyInstanceNorm3d",
    "LazyLinear",
    "LazyModuleMixin",
    "UninitializedBuffer",
    "UninitializedParameter",
]


class LazyModuleMixin:
    """Mixin for modules whose parameters' shapes come from their first input: subclasses define
    ``initialize_parameters(*args)`` (materialize and initialize) and may set ``cls_to_become``."""

    cls_to_become: type | None = None
    _parameters: OrderedDict
    _buffers: OrderedDict
    _non_persistent_buffers_set: set

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters, with_kwargs=True)

    def _lazy_tensors(self) -> list[tuple[str, Tensor]]:
        return [(n, t) for n, t in chain(self._parameters.items(), self._buffers.items()) if is_lazy(t)]

    def _name_placeholders(self) -> None:
        """Tell each placeholder whose it is, so that using it too early names the module and the tensor."""
        for name, t in self._lazy_tensors():
            t._data.owner = f"{type(self).__name__}.{name}"

    def has_uninitialized_params(self) -> bool:
        """Whether any parameter or buffer of this module is still uninitialized."""
        return bool(self._lazy_tensors())

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        """Materialize and initialize the parameters from the first input (each lazy module defines it)."""
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    def _infer_parameters(self, module: Any, args: tuple, kwargs: dict | None = None) -> None:
        """The forward pre-hook of the first call: initialize, then become the eager class."""
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise InputError(f"module {self._get_name()} has not been fully initialized")
        module._remove_initialize_hook()
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _remove_initialize_hook(self) -> None:
        handle = self.__dict__.pop("_initialize_hook", None)
        if handle is not None:
            handle.remove()
            return
        # a copied or unpickled module has no handle (it holds weak references): find the hook in the tables
        d = self.__dict__
        for i, hook in list(d["_forward_pre_hooks"].items()):
            if getattr(hook, "__func__", None) is LazyModuleMixin._infer_parameters and hook.__self__ is self:
                for table in ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_hook_ids"):
                    d[table].pop(i, None)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_initialize_hook", None)  # the hook itself travels in the hook tables
        return state

    def _sizes_from_loaded(self) -> None:
        """Set in_features / in_channels / num_features from tensors materialized by load_state_dict."""

    def state_dict(
        self, *, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict[str, Tensor]:
        """As Module's, with each uninitialized tensor itself (not detached), as PyTorch."""
        out = super().state_dict(destination=destination, prefix=prefix, keep_vars=keep_vars)  # type: ignore[misc]
        for name, t in self._lazy_tensors():
            if prefix + name in out:
                out[prefix + name] = t
        return out

    def _upgrade_state_dict(self, state_dict: dict[str, Any], prefix: str, version: int | None) -> None:
        # load_state_dict's first look at this module: materialize each placeholder from the state dict's shape, as
        # PyTorch's lazy load hook; an uninitialized value for a placeholder has nothing to copy (it is skipped)
        skip, loaded = set(), False
        for name, t in self._lazy_tensors():
            key = prefix + name
            if key not in state_dict:
                continue
            v = state_dict[key]
            if is_lazy(v):
                skip.add(name)
                del state_dict[key]
                continue
            shape = getattr(v, "shape", None)
            if shape is not None:  # otherwise load_state_dict reports the bad value
                with no_grad():
                    t.materialize(tuple(shape))
                loaded = True
        self.__dict__["_lazy_skip"] = skip
        if loaded:
            self._sizes_from_loaded()
        super()._upgrade_state_dict(state_dict, prefix, version)  # type: ignore[misc]

    def _local_state(self) -> dict[str, Tensor]:
        state = super()._local_state()  # type: ignore[misc]
        for name in self.__dict__.pop("_lazy_skip", ()):
            state.pop(name, None)
        return state


def _placeholders(module: Any, bias: bool, device: Any, dtype: Any) -> None:
    """A lazy weight (and bias) in place of the eager constructor's empty ones."""
    module.weight = UninitializedParameter(device=device, dtype=dtype)
    if bias:
        module.bias = UninitializedParameter(device=device, dtype=dtype)
    module._name_placeholders()


class LazyLinear(LazyModuleMixin, Linear):
    """A Linear whose in_features is the last size of its first input; becomes a Linear then."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__(0, out_features, False, device, dtype)
        _placeholders(self, bias, device, dtype)

    def reset_parameters(self) -> None:
        """Linear's initialization (kaiming-uniform weight, U(+-1/sqrt(in_features)) bias), once materialized."""
        if not self.has_uninitialized_params() and self.in_features != 0:
            _reset_fan_in(self.weight, self.bias)

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Materialize weight (out_features, input.shape[-1]) and bias, then initialize them."""
        if not self.has_uninitialized_params():
            return
        if not isinstance(input, Tensor) or input.ndim == 0:
            got = f"shape {input.shape}" if isinstance(input, Tensor) else type(input).__name__
            raise InputError(
                f"LazyLinear: expected an input of shape (..., in_features) to infer in_features, got {got}"
            )
        with no_grad():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()

    def _sizes_from_loaded(self) -> None:
        if not is_lazy(self.weight):
            self.in_features = self.weight.shape[1]


class _LazyConvXdMixin(LazyModuleMixin):
    """What the lazy convolutions share: in_channels from dim 1 of a batched input (dim 0 of an unbatched one)."""

    _dims: int
    _transposed: bool
    in_channels: int
    out_channels: int
    groups: int
    kernel_size: tuple[int, ...]
    weight: Any
    bias: Any

    def reset_parameters(self) -> None:
        """The eager convolution's initialization, once materialized."""
        if not self.has_uninitialized_params() and self.in_channels != 0:
            _reset_fan_in(self.weight, self.bias)

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Materialize weight and bias for the input's channels, then initialize them."""
        if not self.has_uninitialized_params():
            return
        in_channels = self._get_in_channels(input)
        if in_channels % self.groups:
            raise ValueError(
                f"{type(self).__name__}: in_channels ({in_channels}, from the input) must be divisible by groups "
                f"({self.groups})"
            )
        with no_grad():
            self.in_channels = in_channels
            if self._transposed:
                self.weight.materialize((in_channels, self.out_channels // self.groups, *self.kernel_size))
            else:
                self.weight.materialize((self.out_channels, in_channels // self.groups, *self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()

    def _get_in_channels(self, input: Tensor) -> int:
        unbatched = self._dims + 1
        if not isinstance(input, Tensor) or input.ndim not in (unbatched, unbatched + 1):
            got = f"input of size: {input.shape}" if isinstance(input, Tensor) else type(input).__name__
            raise InputError(
                f"Expected {unbatched}D (unbatched) or {unbatched + 1}D (batched) input to {type(self).__name__}, "
                f"but got {got}"
            )
        return input.shape[1] if input.ndim == unbatched + 1 else input.shape[0]

    def _sizes_from_loaded(self) -> None:
        if not is_lazy(self.weight):
            w = self.weight.shape
            self.in_channels = w[0] if self._transposed else w[1] * self.groups


class _LazyConvNd(_LazyConvXdMixin):
    def __init__(
        self,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(0, out_channels, kernel_size, stride, padding, dilation, groups, False, padding_mode,
                         device, dtype)  # fmt: skip
        _placeholders(self, bias, device, dtype)


class _LazyConvTransposeNd(_LazyConvXdMixin):
    def __init__(
        self,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(0, out_channels, kernel_size, stride, padding, output_padding, groups, False, dilation,
                         padding_mode, device, dtype)  # fmt: skip
        _placeholders(self, bias, device, dtype)


class LazyConv1d(_LazyConvNd, Conv1d):
    """A Conv1d whose in_channels comes from its first input; becomes a Conv1d then."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvNd, Conv2d):
    """A Conv2d whose in_channels comes from its first input; becomes a Conv2d then."""

    cls_to_become = Conv2d


class LazyConv3d(_LazyConvNd, Conv3d):
    """A Conv3d whose in_channels comes from its first input; becomes a Conv3d then."""

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTransposeNd, ConvTranspose1d):
    """A ConvTranspose1d whose in_channels comes from its first input; becomes a ConvTranspose1d then."""

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTransposeNd, ConvTranspose2d):
    """A ConvTranspose2d whose in_channels comes from its first input; becomes a ConvTranspose2d then."""

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTransposeNd, ConvTranspose3d):
    """A ConvTranspose3d whose in_channels comes from its first input; becomes a ConvTranspose3d then."""

    cls_to_become = ConvTranspose3d


class _LazyNormBase(LazyModuleMixin):
    """What lazy batch and instance norm share: num_features from the input's channel dim. PyTorch's defaults
    (affine and running statistics on) hold for the lazy instance norms too."""

    num_features: int
    affine: bool
    track_running_stats: bool
    weight: Any
    bias: Any
    running_mean: Any
    running_var: Any

    def __init__(
        self,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        # the eager constructor with one feature and no tensors; the tensors are placeholders until the first input
        super().__init__(1, eps, momentum, False, False, device, dtype, bias=False)
        self.num_features, self.affine, self.track_running_stats = 0, affine, track_running_stats
        if affine:
            _placeholders(self, bias, device, dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            dev = device if device is not None else default_device()
            self.num_batches_tracked = creation.zeros((), device=dev, dtype=dtypes.int64)
            self._mirror_count(0)  # type: ignore[attr-defined]
        self._name_placeholders()

    def reset_parameters(self) -> None:
        """The eager layer's reset (weight 1, bias 0, fresh running statistics), once materialized."""
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()  # type: ignore[misc]

    def _feature_dim(self, input: Tensor) -> int:
        return 1

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Materialize weight, bias and running statistics for the input's channels, then reset them."""
        if not self.has_uninitialized_params():
            return
        if not isinstance(input, Tensor) or input.ndim < 2:
            got = f"shape {input.shape}" if isinstance(input, Tensor) else type(input).__name__
            raise InputError(f"{type(self).__name__}: expected an input with channels in dim 1, got {got}")
        num_features = input.shape[self._feature_dim(input)]
        with no_grad():
            self.num_features = num_features
            for _, t in self._lazy_tensors():
                t.materialize((num_features,))
            self.reset_parameters()

    def _sizes_from_loaded(self) -> None:
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None and not is_lazy(t):
                self.num_features = t.shape[0]
                return


class _LazyBatchNorm(_LazyNormBase):
    _dims: tuple[int, ...]

    def _feature_dim(self, input: Tensor) -> int:
        if input.ndim not in self._dims:  # the eager layer's check, before anything is materialized
            raise InputError(
                f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._dims)} input, got shape "
                f"{input.shape}"
            )
        return 1


class _LazyInstanceNorm(_LazyNormBase):
    _no_batch_dim: int

    def _feature_dim(self, input: Tensor) -> int:
        # PyTorch reads dim 1 even of an unbatched (C, ...) input; the channels are dim 0 there
        return 0 if input.ndim == self._no_batch_dim else 1


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """A BatchNorm1d whose num_features comes from its first input; becomes a BatchNorm1d then."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """A BatchNorm2d whose num_features comes from its first input; becomes a BatchNorm2d then."""

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    """A BatchNorm3d whose num_features comes from its first input; becomes a BatchNorm3d then."""

    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyInstanceNorm, InstanceNorm1d):
    """An InstanceNorm1d whose num_features comes from its first input; becomes an InstanceNorm1d then."""

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNorm, InstanceNorm2d):
    """An InstanceNorm2d whose num_features comes from its first input; becomes an InstanceNorm2d then."""

    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNorm, InstanceNorm3d):
    """An InstanceNorm3d whose num_features comes from its first input; becomes an InstanceNorm3d then."""

    cls_to_become = InstanceNorm3d
