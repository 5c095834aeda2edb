"""Packed sequences for the recurrent layers, as ``torch.nn.utils.rnn``: PackedSequence, pack_padded_sequence,
pad_packed_sequence, pad_sequence, pack_sequence, unpad_sequence, unpack_sequence.

A PackedSequence holds the steps of a batch of sequences of different lengths back to back: step t's rows are the
sequences still running at t, longest first. Lengths and batch sizes are host data (a list or a CPU tensor), as in
PyTorch; packing and padding are one gather each (``index_select``), so gradients flow through them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ... import creation, ops
from ...errors import InputError
from ...ops.recurrent import _take_rows
from ...tensor import Tensor

__all__ = [
    "PackedSequence",
    "PackedSequence_",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "pack_sequence",
    "unpad_sequence",
    "unpack_sequence",
]


class PackedSequence_(NamedTuple):  # noqa: N801 (PyTorch's name)
    """PackedSequence's NamedTuple base (data, batch_sizes, sorted_indices, unsorted_indices), as PyTorch's."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """(data (sum of lengths, *), batch_sizes (a CPU int64 tensor: sequences running at each step), sorted_indices,
    unsorted_indices): sequences packed for RNN/LSTM/GRU. Build it with pack_padded_sequence or pack_sequence."""

    def __new__(
        cls,
        data: Tensor,
        batch_sizes: Tensor | None = None,
        sorted_indices: Tensor | None = None,
        unsorted_indices: Tensor | None = None,
    ) -> PackedSequence:
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes is required (build one with pack_padded_sequence)")
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """data (and the index tensors) moved or cast like ``Tensor.to``; batch_sizes stays on the CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        idx = [None if t is None else t.to(device=data.device) for t in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *idx)

    @property
    def is_cuda(self) -> bool:
        """Whether data is on a CUDA device."""
        return self.data.is_cuda


def _host(values: Any, what: str, device_ok: bool = False) -> np.ndarray:
    """Lengths as host ints: a list, a NumPy array or a CPU tensor (a device tensor, a sync, only if ``device_ok``)."""
    if isinstance(values, Tensor):
        if values.device.type != "cpu" and not device_ok:
            raise InputError(
                f"{what}: 'lengths' argument should be a 1D CPU int64 tensor, but got {values.ndim}D "
                f"{values.device} tensor; move it with .cpu()"
            )
        values = values._be.to_numpy(values._data)
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _index(arr: np.ndarray, like: Tensor) -> Tensor:
    """A host int64 index array as a tensor on ``like``'s device."""
    with like._be.enter():
        return Tensor._wrap(like._be.asarray(np.ascontiguousarray(arr, dtype=np.int64)), like._be)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation (None for None), on its device with no host read: the order that sorts it."""
    if permutation is None:
        return None
    return ops.argsort(permutation, stable=True)


_invert = invert_permutation


def _batch_sizes(lengths: np.ndarray) -> np.ndarray:
    """Sequences running at each step, for lengths sorted in decreasing order."""
    return (lengths[None, :] > np.arange(lengths[0])[:, None]).sum(1)


def pack_padded_sequence(
    input: Tensor,  # noqa: A002
    lengths: Any,
    batch_first: bool = False,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with batch_first) of sequences of the given lengths.
    enforce_sorted: lengths must be decreasing; otherwise they are sorted here and the order is kept to undo."""
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    lens = _host(lengths, op)
    if input.ndim < 2:
        raise InputError(f"{op}: input must have at least 2 dims (T, B, *), got shape {input.shape}")
    t_dim, b_dim = (1, 0) if batch_first else (0, 1)
    if lens.shape[0] != input.shape[b_dim]:
        raise InputError(
            f"{op}: Expected `len(lengths)` to be equal to batch_size, but got {lens.shape[0]} "
            f"(batch_size={input.shape[b_dim]})"
        )
    if lens.size and lens.min() <= 0:
        raise InputError(
            f"{op}: Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0"
        )
    sorted_idx = unsorted_idx = None
    if enforce_sorted:
        if np.any(lens[1:] > lens[:-1]):
            raise InputError(
                f"{op}: `lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can "
                "pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this "
                "requirement if you do not need ONNX exportability."
            )
        order = np.arange(lens.shape[0])
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_idx, unsorted_idx = _index(order, input), _index(np.argsort(order), input)
    lens_sorted = lens[order]
    if lens_sorted[0] > input.shape[t_dim]:
        raise InputError(
            f"{op}: a length ({lens_sorted[0]}) is longer than the input's sequence dim ({input.shape[t_dim]})"
        )
    sizes = _batch_sizes(lens_sorted)
    # row of packed step t, sequence k (sorted): element (t, order[k]) of the (T, B) grid, flattened
    t_idx = np.repeat(np.arange(sizes.shape[0]), sizes)
    k_idx = np.concatenate([np.arange(s) for s in sizes])
    b_idx = order[k_idx]
    flat = t_idx * input.shape[b_dim] + b_idx if not batch_first else b_idx * input.shape[t_dim] + t_idx
    rows = input.reshape(input.shape[0] * input.shape[1], *input.shape[2:])
    data = _take_rows(rows, 0, _index(flat, input))
    return PackedSequence(data, creation.tensor(sizes, device="cpu"), sorted_idx, unsorted_idx)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths (a CPU int64 tensor)), in the
    original batch order; total_length pads T to that length."""
    op = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{op}: sequence must be a PackedSequence, got {type(sequence).__name__}")
    data = sequence.data
    sizes = _host(sequence.batch_sizes, op)
    steps, batch = sizes.shape[0], int(sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"{op}: Expected total_length to be at least the length of the longest sequence in input, but got "
                f"total_length={total_length} and max sequence length being {steps}"
            )
        steps = int(total_length)
    lens_sorted = (sizes[None, :] > np.arange(batch)[:, None]).sum(1)  # (B,) in sorted order
    offs = np.concatenate([[0], np.cumsum(sizes)])
    pad_row = data.shape[0]  # a padding row appended after the data
    grid = np.full((steps, batch), pad_row, dtype=np.int64)  # (T, B sorted): the data row of each cell
    for t in range(sizes.shape[0]):
        grid[t, : sizes[t]] = offs[t] + np.arange(sizes[t])
    if sequence.unsorted_indices is not None:  # read on the host, as PyTorch (it reorders the lengths with it)
        unsorted = sequence.unsorted_indices._be.to_numpy(sequence.unsorted_indices._data)
        grid = grid[:, unsorted]  # original order: column b is sorted position unsorted[b]
        lens_sorted = lens_sorted[unsorted]
    if batch_first:
        grid = grid.T
    pad = creation.full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    rows = _take_rows(ops.cat([data, pad], 0), 0, _index(grid.reshape(-1), data))
    padded = rows.reshape(*grid.shape, *data.shape[1:])
    return padded, creation.tensor(lens_sorted, device="cpu")


def pad_sequence(
    sequences: Sequence[Tensor] | Tensor,
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack sequences (L_i, *) into (L_max, B, *) (or (B, L_max, *)), padding each on ``padding_side``."""
    op = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise InputError(f"{op}: Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    seqs = list(sequences)
    if not seqs:
        raise InputError(f"{op}: received an empty list of sequences")
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor):
            raise TypeError(f"{op}: sequences must be Tensors, got {type(s).__name__} at position {i}")
        if s.ndim == 0 or s.shape[1:] != seqs[0].shape[1:]:
            raise InputError(
                f"{op}: every sequence must be (L, *) with the same trailing dims {seqs[0].shape[1:]}, "
                f"got shape {s.shape} at position {i}"
            )
    longest = max(s.shape[0] for s in seqs)
    out = []
    for s in seqs:
        short = longest - s.shape[0]
        if short:
            fill = creation.full((short, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = ops.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        out.append(s)
    return ops.stack(out, 0 if batch_first else 1)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) (decreasing lengths unless enforce_sorted=False)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """The sequences of a padded batch, each cut to its length: a list of (L_i, *)."""
    lens = _host(lengths, "unpad_sequence", device_ok=True)  # as PyTorch, which reads them on the host
    seqs = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [seqs[i, : int(n)] for i, n in enumerate(lens)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The sequences of a PackedSequence, in their original order: a list of (L_i, *)."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
