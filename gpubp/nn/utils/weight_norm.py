"""Weight normalization (Salimans & Kingma) as a forward pre-hook, as ``torch.nn.utils.weight_norm``:
w = g * v / ||v||, the norm taken over every dim but ``dim`` (over all of v for ``dim=None``)."""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

from ...tensor import Tensor
from ..module import Module
from ..parameter import Parameter

__all__ = ["remove_weight_norm", "weight_norm"]

T_module = TypeVar("T_module", bound=Module)


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm of ``v`` over every dim but ``dim``, keeping v's ndim (size 1 there); dim -1: one 0-d norm."""
    if dim == -1:
        return (v * v).sum().sqrt()
    axes = tuple(d for d in range(v.ndim) if d != dim)
    return (v * v).sum(axes, keepdim=True).sqrt() if axes else v.abs()


def _hook_keys(module: Module, hook_type: type, name: str) -> list[Any]:
    return [k for k, h in module._forward_pre_hooks.items() if isinstance(h, hook_type) and h.name == name]


def _drop_pre_hook(module: Module, key: Any) -> None:
    """Take a forward pre-hook out of every table that knows its id (what its handle's remove() would do)."""
    for table in (module._forward_pre_hooks, module._forward_pre_hooks_with_kwargs, module._hook_ids):
        table.pop(key, None)


class WeightNorm:
    """The forward pre-hook: recomputes ``module.<name>`` from ``<name>_g`` and ``<name>_v`` before each forward."""

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Tensor:
        """g * v / ||v|| from the module's parameters (differentiable in both)."""
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    @staticmethod
    def apply(module: Module, name: str, dim: int | None) -> WeightNorm:
        """Replace parameter ``name`` by ``name_g`` and ``name_v`` and register the hook."""
        if not isinstance(module, Module):
            raise TypeError(f"weight_norm: module must be an nn.Module, got {type(module).__name__}")
        if _hook_keys(module, WeightNorm, name):  # PyTorch: RuntimeError
            raise RuntimeError(f"weight_norm: cannot register two weight_norm hooks on the same parameter {name}")
        weight = module._parameters.get(name)
        if not isinstance(weight, Parameter):
            raise ValueError(f"weight_norm: {type(module).__name__} has no parameter {name!r}")
        if dim is not None and not -weight.ndim <= dim < max(weight.ndim, 1):
            raise IndexError(f"weight_norm: dim {dim} is out of range for a weight of shape {weight.shape}")
        if dim is not None and dim < -1:
            dim += weight.ndim  # PyTorch: -1 alone means the whole tensor
        fn = WeightNorm(name, dim)
        del module._parameters[name]
        g = _norm_except_dim(weight.detach(), fn.dim)
        with g._be.enter():  # a 0-d result (dim=None) can come back a NumPy scalar: an array takes in-place loads
            g = Tensor._wrap(g._be.xp.array(g._data), g._be)
        module.register_parameter(name + "_g", Parameter(g))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        """Fold g and v back into one parameter ``name``."""
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: T_module, name: str = "weight", dim: int | None = 0) -> T_module:
    """Reparametrize ``module.<name>`` as g * v / ||v|| (parameters ``<name>_g``, ``<name>_v``), recomputed before
    every forward; the norm is per slice along ``dim`` (None: of the whole tensor). Deprecated, as PyTorch's."""
    warnings.warn(
        "`torch.nn.utils.weight_norm` is deprecated in favor of `torch.nn.utils.parametrizations.weight_norm`.",
        FutureWarning,
        stacklevel=2,
    )
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module: T_module, name: str = "weight") -> T_module:
    """Undo ``weight_norm``: ``module.<name>`` becomes one parameter again, with the current value."""
    for key in _hook_keys(module, WeightNorm, name):
        module._forward_pre_hooks[key].remove(module)
        _drop_pre_hook(module, key)
        return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
