"""Functional forms of layers and losses, under ``torch.nn.functional``'s names.

Layers with their own VJP live in ``gpubp.ops`` (linear, conv2d, pools, the fused cross-entropy);
the rest are compositions of ops, so their gradients come from the tape. Each family has its own file
(``_activation_fn``, ``_conv_fn``, ``_pool_fn``, ``_norm_fn``, ``_loss_fn``, ``_loss_margin_fn``, ...); this module
gathers them.
"""

from __future__ import annotations

import math

from .. import ops
from ..autograd import no_grad
from ..errors import InputError, InputTypeError
from ..ops import (
    linear,
    one_hot,
    pad,
)
from ..ops import nn_fold as fold
from ..ops import nn_unfold as unfold
from ..ops.loss import (
    host_values,
)
from ..tensor import Tensor
from . import (
    _activation_fn,
    _attention_fn,
    _conv_fn,
    _distance_fn,
    _dropout_fn,
    _linear_fn,
    _loss_fn,
    _loss_margin_fn,
    _mha_fn,
    _norm_fn,
    _pool_fn,
    _pool_more_fn,
    _resample_fn,
)
from ._activation_fn import *  # noqa: F403
from ._attention_fn import *  # noqa: F403
from ._conv_fn import *  # noqa: F403
from ._distance_fn import *  # noqa: F403
from ._dropout_fn import *  # noqa: F403
from ._linear_fn import *  # noqa: F403
from ._loss_fn import *  # noqa: F403
from ._loss_margin_fn import *  # noqa: F403
from ._mha_fn import *  # noqa: F403
from ._norm_fn import *  # noqa: F403
from ._pool_fn import *  # noqa: F403
from ._pool_more_fn import *  # noqa: F403
from ._resample_fn import *  # noqa: F403

__all__ = (
    ["embedding", "linear", "one_hot", "pad", "unfold", "fold"]
    + _activation_fn.__all__
    + _attention_fn.__all__
    + _conv_fn.__all__
    + _pool_fn.__all__
    + _pool_more_fn.__all__
    + _resample_fn.__all__
    + _dropout_fn.__all__
    + _linear_fn.__all__
    + _norm_fn.__all__
    + _loss_fn.__all__
    + _loss_margin_fn.__all__
    + _distance_fn.__all__
    + _mha_fn.__all__
)


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` (num_embeddings, D) picked by integer ``input``; the padding_idx row (negative counts from
    the end, as PyTorch) gets no gradient. ``max_norm`` first rescales, in place, each looked-up row whose
    ``norm_type``-norm exceeds it; ``scale_grad_by_freq`` divides each row's gradient by the count of its index in
    ``input``. An index outside [0, num_embeddings) raises IndexError on the CPU; on a GPU (not read back) its row
    comes out NaN, never wrapped or read out of bounds."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(
            f"embedding: input and weight must be Tensors, got {type(input).__name__} and {type(weight).__name__}"
        )
    if input.dtype.kind not in "iu":  # PyTorch: a RuntimeError ("Expected tensor for argument #1 'indices' ...")
        raise InputTypeError(f"embedding: indices must be integers (int64 or int32), got {input.dtype}")
    if weight.ndim != 2:
        raise InputError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    if sparse:  # gpubp's gradients are dense arrays
        raise ValueError("embedding: sparse=True (a sparse gradient) is not supported in gpubp; use sparse=False")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings, in [{-n}, {n}), got {padding_idx}")
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
    be, xp = input._be, input._be.xp
    idx = host_values(input)
    if idx is not None:
        bad = (idx < 0) | (idx >= n)
        if bad.any():
            raise IndexError(
                f"embedding: index {int(idx[bad][0])} is out of range in self: indices must be in [0, {n}) "
                f"(num_embeddings)"
            )
        rows = weight[input]
    else:
        # On a GPU the indices are not read back: clamp them to a safe row and make those rows NaN (noticed in the
        # loss), rather than wrap a negative index or read past the table.
        with be.enter():
            inside = (input._data >= 0) & (input._data < n)
            safe = Tensor._wrap(xp.where(inside, input._data, 0), be)
        rows = ops.where(Tensor._wrap(inside[..., None], be), weight[safe], math.nan)
    if max_norm is not None:
        rows = _embedding_renorm(input, weight, rows, max_norm, norm_type)
    if scale_grad_by_freq:
        # the forward value is rows exactly; the gradient is scaled by 1 / count (counted on the device)
        with be.enter():
            flat = xp.clip(input._data.reshape(-1), 0, n - 1)
            counts = xp.bincount(flat, minlength=n)[flat].reshape(input.shape + (1,))
            inv = Tensor._wrap((1.0 / counts).astype(weight.dtype), be)
        rows = rows.detach() + (rows - rows.detach()) * inv
    if padding_idx is not None:
        # detach only the looked-up padding rows: no gradient reaches weight[padding_idx] (O(len(input) D), not O(n D))
        pad_rows = (input == padding_idx).unsqueeze(-1)
        rows = ops.where(pad_rows, rows.detach(), rows)
    return rows


def _embedding_renorm(input: Tensor, weight: Tensor, rows: Tensor, max_norm: float, norm_type: float) -> Tensor:
    """PyTorch's embedding_renorm_: each looked-up row of ``weight`` whose norm exceeds ``max_norm`` is scaled, in
    place and without gradient, by max_norm / (norm + 1e-7); the lookup then reads the rescaled rows."""
    with no_grad():
        norms = rows.detach().norm(norm_type, -1, keepdim=True)
        scale = ops.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[input.reshape(-1)] = (rows.detach() * scale).reshape(-1, weight.shape[1])
    return weight[input]
