"""Spectral normalization (Miyato et al.) by power iteration, as ``torch.nn.utils.spectral_norm``: the weight is
divided by its largest singular value sigma = u^T W v, with u, v kept as buffers and refined by
``n_power_iterations`` steps (without gradient) before each training forward."""

from __future__ import annotations

from typing import Any, TypeVar

from ... import ops
from ...autograd import no_grad
from ...tensor import Tensor
from ..module import Module
from ..parameter import Parameter

__all__ = ["remove_spectral_norm", "spectral_norm"]

T_module = TypeVar("T_module", bound=Module)


def _normalize(x: Tensor, eps: float) -> Tensor:
    """x / max(||x||, eps), PyTorch's F.normalize of a vector."""
    return x / (x * x).sum().sqrt().clamp_min(eps)


class SpectralNorm:
    """The forward pre-hook: sets ``module.<name>`` to ``<name>_orig`` / sigma before each forward."""

    _version = 1

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        if not isinstance(n_power_iterations, int) or isinstance(n_power_iterations, bool):
            raise TypeError(f"spectral_norm: n_power_iterations must be an int, got {n_power_iterations!r}")
        if n_power_iterations <= 0:
            raise ValueError(
                f"spectral_norm: expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        self.name, self.dim, self.n_power_iterations, self.eps = name, dim, n_power_iterations, eps

    def reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        """(size of ``dim``, everything else): ``dim`` moved to the front, the rest flattened."""
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.ndim) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        """weight_orig / (u . W v), after the power iteration's in-place update of the buffers u, v in training."""
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(_normalize(ops.mv(mat.t(), u), self.eps))  # in place, as PyTorch's out=v
                    u.copy_(_normalize(ops.mv(mat, v), self.eps))
                u = u.clone()  # the graph keeps these values, not the buffers the next iteration overwrites
                v = v.clone()
        sigma = ops.dot(u, ops.mv(mat, v))
        return weight / sigma

    def remove(self, module: Module) -> None:
        """Fold the normalized weight back into one parameter ``name``; drop ``_orig``, ``_u`` and ``_v``."""
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module: Module, name: str, n_power_iterations: int, dim: int, eps: float) -> SpectralNorm:
        """Move parameter ``name`` to ``name_orig``, add random unit buffers ``name_u``, ``name_v``, register the
        hook."""
        if not isinstance(module, Module):
            raise TypeError(f"spectral_norm: module must be an nn.Module, got {type(module).__name__}")
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:  # PyTorch: RuntimeError
                raise RuntimeError(
                    f"spectral_norm: cannot register two spectral_norm hooks on the same parameter {name}"
                )
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"spectral_norm: cannot be applied as parameter `{name}` is None or absent")
        if not -weight.ndim <= dim < max(weight.ndim, 1):
            raise IndexError(f"spectral_norm: dim {dim} is out of range for a weight of shape {weight.shape}")
        fn = SpectralNorm(name, n_power_iterations, dim % max(weight.ndim, 1), eps)
        with no_grad():
            h, w = fn.reshape_weight_to_matrix(weight).shape
            u = _normalize(weight.new_empty(h).normal_(0, 1), fn.eps)
            v = _normalize(weight.new_empty(w).normal_(0, 1), fn.eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.detach())
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(
    module: T_module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None
) -> T_module:
    """Divide ``module.<name>`` by its spectral norm, estimated by power iteration before each forward (in training);
    ``dim`` (default 0, 1 for transposed convolutions) is the output dim of the weight's matrix view."""
    if dim is None:
        from ..conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d

        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module: T_module, name: str = "weight") -> T_module:
    """Undo ``spectral_norm``: ``module.<name>`` becomes one parameter again, holding the normalized weight."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            for table in (module._forward_pre_hooks, module._forward_pre_hooks_with_kwargs, module._hook_ids):
                table.pop(key, None)
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
