"""parameters_to_vector and vector_to_parameters, as ``torch.nn.utils``."""

from __future__ import annotations

from collections.abc import Iterable

from ...errors import InputError
from ...ops import cat
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _same_device(param: Tensor, device: object) -> object:
    """The device of the first parameter; a later one elsewhere is PyTorch's TypeError."""
    if not isinstance(param, Tensor):
        raise TypeError(f"expected gpubp.Tensor parameters, but got: {type(param).__name__}")
    if device is not None and param.device != device:
        raise TypeError(
            f"Found two parameters on different devices ({device} and {param.device}), this is currently not supported."
        )
    return param.device


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one vector (differentiable, as PyTorch's)."""
    device = None
    flat = []
    for p in parameters:
        device = _same_device(p, device)
        flat.append(p.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Slice ``vec`` into the parameters' shapes and make each slice its parameter's ``.data`` (they then share
    memory with ``vec``, as in PyTorch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected gpubp.Tensor, but got: {type(vec).__name__}")
    device = None
    pointer = 0
    for p in parameters:
        device = _same_device(p, device)
        n = p.numel()
        piece = vec[pointer : pointer + n]
        if piece.numel() != n:
            raise InputError(
                f"vector_to_parameters: shape {list(p.shape)} is invalid for input of size {piece.numel()}: the vector "
                f"of {vec.numel()} elements is too short for the parameters (needed at least {pointer + n})"
            )
        p.data = piece.detach().view(p.shape)
        pointer += n
