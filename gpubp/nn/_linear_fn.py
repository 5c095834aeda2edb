"""Functional bilinear and embedding_bag, under ``torch.nn.functional``'s names.

Both are composed from differentiable ops (einsum; embedding, getitem, where, sum, max), so they get gradients and
gradients of gradients from those."""

from __future__ import annotations

import math

import numpy as np

from .. import creation, ops
from ..errors import InputError, InputTypeError
from ..tensor import Tensor

__all__ = ["bilinear", "embedding_bag"]


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]; both inputs share their leading
    (batch) dims exactly, as PyTorch (no broadcasting)."""
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"bilinear(): {name} must be a Tensor, got {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"bilinear(): bias must be a Tensor or None, got {type(bias).__name__}")
    if input1.ndim != input2.ndim:
        raise InputError(f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}")
    if input1.ndim == 0:
        raise InputError("bilinear(): inputs must have at least 1 dimension, got 0-D tensors")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise InputError(
            f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
            f"{list(input2.shape[:-1])}"
        )
    if weight.ndim != 3:
        raise InputError(f"bilinear(): weight must be three-dimensional, but got {weight.ndim} dimension(s)")
    if input1.shape[-1] != weight.shape[1]:
        raise InputError(
            f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but expected {weight.shape[1]}"
        )
    if input2.shape[-1] != weight.shape[2]:
        raise InputError(
            f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but expected {weight.shape[2]}"
        )
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        raise InputError(
            f"bilinear(): bias size does not match weight size: got {list(bias.shape)} but expected [{weight.shape[0]}]"
        )
    out = ops.einsum("...i,oij,...j->...o", input1, weight, input2)
    return out if bias is None else out + bias


def _check_offsets(offsets: np.ndarray, length: int, include_last_offset: bool) -> np.ndarray:
    """Bag bounds (B + 1 of them) from host offsets, validated as PyTorch does."""
    if offsets.size and offsets[0] != 0:
        raise InputError(
            f"embedding_bag: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
            f"position 0. However, got {int(offsets[0])}"
        )
    if offsets.size and offsets[-1] > length:
        raise InputError(
            f"embedding_bag: offsets[-1] can not be greater than input's length {length}, but got {int(offsets[-1])}"
        )
    if offsets.size and (np.diff(offsets) < 0).any():
        raise InputError(f"embedding_bag: offsets must be non-decreasing, got {offsets.tolist()}")
    if include_last_offset:
        if offsets.size == 0:
            raise InputError("embedding_bag: include_last_offset=True needs at least one offset (the end), got none")
        # the last offset closes the last bag in name only: PyTorch ends that bag at the input's end whatever it says
        offsets = offsets[:-1]
    return np.append(offsets, length)


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Sums, means or maxes of bags of rows of ``weight`` (num_embeddings, D): a 2-D ``input`` (B, N) is B bags of N
    indices; a 1-D ``input`` is cut into bags at ``offsets``. Entries equal to ``padding_idx`` are left out of their
    bag; an empty bag gives zeros. ``per_sample_weights`` (input's shape) scales each row, with mode='sum' only.

    As PyTorch's kernels, with ``include_last_offset`` the last bag still runs to the input's end.
    ``scale_grad_by_freq`` divides each row's gradient by its index's count in the whole input, the documented rule
    (PyTorch 2.13's CPU kernel divides by another index's count: pytorch/pytorch#190063).

    ``offsets`` are read on the host (the bags' sizes fix the output's layout), which waits for a GPU holding them;
    the indices themselves are not read back."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"embedding_bag: {name} must be a Tensor, got {type(t).__name__}")
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(
            f"embedding_bag: If per_sample_weights ({tuple(per_sample_weights.shape)}) is not None, then it must have "
            f"the same shape as the input ({tuple(input.shape)})"
        )
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.ndim}")
    if input.dtype.kind not in "iu":
        raise InputTypeError(f"embedding_bag: indices must be integers (int64 or int32), got {input.dtype}")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a mini-batch of fixed length "
                f"sequences. However, found offsets of type {type(offsets)}"
            )
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if not isinstance(offsets, Tensor) or offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        if offsets.dtype.kind not in "iu":
            raise InputTypeError(f"embedding_bag: offsets must be integers (int64 or int32), got {offsets.dtype}")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if sparse:  # gpubp's gradients are dense arrays
        raise ValueError("embedding_bag: sparse=True (a sparse gradient) is not supported in gpubp; use sparse=False")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for mode='sum' "
            f"(got mode='{mode}'). Please open a feature request on GitHub."
        )
    if per_sample_weights is not None and per_sample_weights.dtype != weight.dtype:
        raise InputTypeError(
            f"embedding_bag: per_sample_weights dtype {per_sample_weights.dtype} does not match weight dtype "
            f"{weight.dtype}"
        )
    n, dim = weight.shape
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise InputError(
                f"embedding_bag: padding_idx must be within the number of embeddings, -{n} through {n - 1}, but got "
                f"{padding_idx}"
            )
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx

    # every bag as one row of a (B, L) layout: positions into the flat input, and which of them are real entries
    flat = input.reshape(-1)
    if input.ndim == 2:
        bags, length = input.shape
        pos = np.arange(bags * length).reshape(bags, length)
        valid = np.ones((bags, length), dtype=bool)
    else:
        # offsets are host data in practice; on a GPU this read waits for it
        bounds = _check_offsets(np.asarray(offsets.tolist(), dtype=np.int64), flat.shape[0], include_last_offset)
        sizes = np.diff(bounds)
        bags, length = sizes.size, int(sizes.max()) if sizes.size else 0
        cols = np.arange(length)
        valid = cols[None, :] < sizes[:, None]
        pos = np.where(valid, bounds[:-1, None] + cols[None, :], 0)
    if length == 0 or flat.shape[0] == 0:  # no entries at all: every bag is empty
        return creation.zeros(bags, dim, dtype=weight.dtype, device=weight.device)

    # one lookup of the whole input, so max_norm and scale_grad_by_freq see it as PyTorch does
    from .functional import embedding  # functional gathers this file, so its own names come at call time

    rows = embedding(flat, weight, None, max_norm, norm_type, scale_grad_by_freq)  # (len, D)
    keep = creation.tensor(valid, device=input.device)  # (B, L)
    if input.ndim == 2:  # bags of equal size: already in the layout
        bag_idx, bag_rows, bag_w = input, rows.reshape(bags, length, dim), per_sample_weights
    else:
        pos_t = creation.tensor(pos, device=input.device)
        bag_idx, bag_rows = flat[pos_t], rows[pos_t]  # (B, L), (B, L, D)
        bag_w = None if per_sample_weights is None else per_sample_weights[pos_t]
    if padding_idx is not None:
        keep = keep & (bag_idx != padding_idx)
    if bag_w is not None:
        bag_rows = bag_rows * bag_w.unsqueeze(-1)
    keep3 = keep.unsqueeze(-1)
    if mode == "max":
        # max (not amax): a tie's gradient goes to the bag's first maximal entry, as PyTorch's max_indices
        best = ops.where(keep3, bag_rows, -math.inf).max(1).values
        return ops.where(keep.any(1, keepdim=True), best, 0.0)
    total = ops.where(keep3, bag_rows, 0.0).sum(1)
    if mode == "sum":
        return total
    count = keep.sum(1, keepdim=True).to(weight.dtype).clamp(min=1)  # an empty bag's mean is 0, as PyTorch
    return total / count
