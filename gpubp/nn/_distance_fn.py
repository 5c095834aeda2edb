"""Functional distances (cosine_similarity, pairwise_distance, normalize, pdist), as ``torch.nn.functional``."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..errors import InputError
from ..ops._core import check_same_device, write_out
from ..tensor import Tensor

__all__ = ["cosine_similarity", "normalize", "pairwise_distance", "pdist"]


def _pair(op: str, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    """Two tensors broadcast to one shape (RuntimeError-like InputError when they cannot)."""
    if not isinstance(x1, Tensor) or not isinstance(x2, Tensor):
        raise TypeError(f"{op}: x1 and x2 must be Tensors, got {type(x1).__name__} and {type(x2).__name__}")
    check_same_device(op, x1, x2)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise InputError(f"{op}: x1 of shape {x1.shape} and x2 of shape {x2.shape} do not broadcast") from None
    return x1.expand(*shape), x2.expand(*shape)


def _clamped_norm(x: Tensor, dim: int, eps: float) -> Tensor:
    """||x|| over ``dim`` (kept), clamped below at ``eps`` without a gradient through the clamp, as PyTorch's in-place
    clamp under no_grad: the value is max(norm, eps), the gradient that of the norm."""
    n = x.norm(2, dim, keepdim=True)
    return n + (n.clamp_min(eps) - n).detach()


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) over ``dim``, after broadcasting x1 and x2 (PyTorch's
    formula: each norm clamped on its own, the clamp not differentiated)."""
    a, b = _pair("cosine_similarity", x1, x2)
    if a.ndim == 0:
        raise InputError("cosine_similarity: inputs must have at least one dimension, got 0-d tensors")
    return ((a / _clamped_norm(a, dim, eps)) * (b / _clamped_norm(b, dim, eps))).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dimension (of the broadcast shape), as PyTorch."""
    a, b = _pair("pairwise_distance", x1, x2)
    if a.ndim == 0:
        return (a - b + eps).abs()
    return (a - b + eps).norm(p, -1, keepdim=keepdim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p over ``dim``, eps); with ``out=`` the result is written there (no gradient)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"normalize: input must be a Tensor, got {type(input).__name__}")
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps)
    return write_out(input / denom, out, "normalize")


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The p-norm distances between the rows of an (N, M) input, for each pair i < j in row-major order:
    N (N - 1) / 2 values."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pdist: input must be a Tensor, got {type(input).__name__}")
    if input.ndim != 2:
        raise InputError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if input.dtype.kind != "f":
        raise InputError(f"pdist only supports floating-point dtypes, got {input.dtype}")
    if not p >= 0:
        raise InputError(f"pdist only supports non-negative p values, got {p}")
    n = input.shape[0]
    ij = ops.triu_indices(n, n, 1, device=input.device)
    return (input[ij[0]] - input[ij[1]]).norm(p, 1)
