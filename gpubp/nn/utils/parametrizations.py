"""Weight and spectral normalization as parametrizations, as ``torch.nn.utils.parametrizations``: the originals live
under ``module.parametrizations.<name>`` and ``module.<name>`` is computed from them on each access."""

from __future__ import annotations

from typing import Any

from ... import ops
from ...autograd import no_grad
from ...tensor import Tensor
from ..module import Module
from . import parametrize
from .spectral_norm import _normalize
from .weight_norm import _norm_except_dim

__all__ = ["spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    """w = g * v / ||v|| (norm over every dim but ``dim``; dim -1: the whole tensor), from (g, v) = originals 0, 1."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        g = _norm_except_dim(weight, self.dim)
        with g._be.enter():  # a 0-d result can come back a NumPy scalar: an array takes in-place loads
            g = Tensor._wrap(g._be.xp.array(g._data), g._be)
        return g, weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Parametrize ``module.<name>`` as g * v / ||v||: ``parametrizations.<name>.original0`` is g (the norms, shape
    1 but along ``dim``), ``original1`` is v."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"weight_norm: module '{type(module).__name__}' has no parameter or buffer named '{name}'")
    if dim is not None and not -weight.ndim <= dim < max(weight.ndim, 1):
        raise IndexError(f"weight_norm: dim {dim} is out of range for a weight of shape {weight.shape}")
    if dim is not None and dim < -1:
        dim += weight.ndim  # as PyTorch: -1 alone means the whole tensor
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    """weight / sigma, sigma = u . W v by power iteration on the buffers ``_u``, ``_v`` (refined in training); a 1-D
    weight is just normalized."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(
                f"spectral_norm: dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got "
                f"{dim})"
            )
        if not isinstance(n_power_iterations, int) or n_power_iterations <= 0:
            raise ValueError(
                f"spectral_norm: expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with no_grad():
                mat = self._reshape_weight_to_matrix(weight.detach())
                h, w = mat.shape
                self.register_buffer("_u", _normalize(mat.new_empty(h).normal_(0, 1), eps))
                self.register_buffer("_v", _normalize(mat.new_empty(w).normal_(0, 1), eps))
                self._power_method(mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, mat: Tensor, n_power_iterations: int) -> None:
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(_normalize(ops.mv(mat, self._v), self.eps))  # in place, as PyTorch's out=
                self._v.copy_(_normalize(ops.mv(mat.t(), self._u), self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return weight / weight.norm().clamp_min(self.eps)
        mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(mat.detach(), self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        return weight / ops.dot(u, ops.mv(mat, v))

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None
) -> Module:
    """Parametrize ``module.<name>`` as weight / sigma (its largest singular value by power iteration; buffers
    ``parametrizations.<name>.0._u`` and ``._v``); ``dim`` defaults to 0, 1 for transposed convolutions."""
    weight: Any = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"spectral_norm: module '{type(module).__name__}' has no parameter or buffer named '{name}'")
    if dim is None:
        from ..conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d

        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
