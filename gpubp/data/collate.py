"""``default_collate`` and ``default_convert`` as ``torch.utils.data``'s: samples to batches of tensors.

Tensors stack; NumPy arrays and NumPy scalars become tensors of their dtype; Python floats float64, ints int64,
bools bool; strings and bytes stay as they are; mappings, namedtuples and sequences collate field by field (a tuple
sample gives a list of fields, as PyTorch's). Batches of host data are CPU tensors sharing the stacked array.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any

import numpy as np

from .. import dtypes
from ..backend import get_backend
from ..errors import InputError
from ..tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_SUPPORTED = [str(d) for d in dtypes.SUPPORTED]
_FOUND = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
_NOT_NUMERIC = "SaUO"  # NumPy dtype kinds of strings and objects: no tensor holds them


def _cpu_tensor(arr: np.ndarray) -> Tensor:
    if arr.dtype not in dtypes.SUPPORTED:
        raise TypeError(f"default_convert: found an array of dtype {arr.dtype}; gpubp tensors support {_SUPPORTED}")
    return Tensor._wrap(arr, get_backend("cpu"))


def _stack_tensors(batch: Sequence[Any], where: Callable[[int], str]) -> Tensor:
    elem = batch[0]
    for j, x in enumerate(batch):
        if not isinstance(x, Tensor):
            raise TypeError(f"default_collate: expected a Tensor at {where(j)} as at {where(0)}, got {type(x)}")
        if x._be is not elem._be:
            raise InputError(f"default_collate: {where(0)} is on {elem.device} but {where(j)} on {x.device}")
        if x.shape != elem.shape:
            raise RuntimeError(
                f"default_collate: stack expects each example to be of equal size, but got {elem.shape} at "
                f"{where(0)} and {x.shape} at {where(j)}"
            )
    if any(x.requires_grad for x in batch):
        from ..ops import stack

        return stack(list(batch))  # recorded, as torch.stack
    with elem._be.enter():
        return Tensor._wrap(elem._be.xp.stack([x._data for x in batch]), elem._be)


def _stack_arrays(batch: Sequence[Any], where: Callable[[int], str]) -> Tensor:
    arrays = []
    for j, x in enumerate(batch):
        if isinstance(x, Tensor):
            x = x._be.to_numpy(x._data)
        elif not isinstance(x, (np.ndarray, np.generic, numbers.Number)):
            raise TypeError(f"{_FOUND.format(type(x))} at {where(j)} (and {type(batch[0])} at {where(0)})")
        a = np.asarray(x)
        if a.dtype.kind in _NOT_NUMERIC or a.dtype not in dtypes.SUPPORTED:
            raise TypeError(f"{_FOUND.format(a.dtype)} at {where(j)}; gpubp tensors support {_SUPPORTED}")
        if arrays and a.shape != arrays[0].shape:
            raise RuntimeError(
                f"default_collate: stack expects each example to be of equal size, but got {arrays[0].shape} "
                f"at {where(0)} and {a.shape} at {where(j)}"
            )
        arrays.append(a)
    return Tensor._wrap(np.stack(arrays), get_backend("cpu"))


def _numbers(batch: Sequence[Any], where: Callable[[int], str]) -> Tensor:
    """Python numbers as torch.tensor(batch): floats float64; ints int64 (float32 once a float joins, bool if all
    are bools)."""
    for j, x in enumerate(batch):
        if not isinstance(x, (int, float, np.bool_, np.integer, np.floating)):
            raise TypeError(f"{_FOUND.format(type(x))} at {where(j)} (and {type(batch[0])} at {where(0)})")
    if isinstance(batch[0], float):
        return Tensor._wrap(np.asarray(batch, dtype=np.float64), get_backend("cpu"))
    arr = np.asarray(batch)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)  # torch.tensor's default dtype for a mix of ints and floats
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64)
    return Tensor._wrap(arr, get_backend("cpu"))


def _like_mapping(like: Mapping, fields: dict) -> Any:
    """``fields`` in a mapping of ``like``'s type (a copy of ``like`` updated, as PyTorch), or a dict if that fails."""
    try:
        if isinstance(like, MutableMapping):
            clone = copy.copy(like)
            clone.update(fields)
            return clone
        return type(like)(fields)
    except TypeError:
        return fields


def _like_sequence(like: Sequence, fields: list) -> Any:
    """``fields`` in a sequence of ``like``'s type (a copy of ``like`` refilled, as PyTorch), or a list."""
    try:
        if isinstance(like, MutableSequence):
            clone = copy.copy(like)
            for i, f in enumerate(fields):
                clone[i] = f
            return clone
        return type(like)(fields)
    except TypeError:
        return fields


def _collate(batch: Sequence[Any], where: Callable[[int], str]) -> Any:
    """default_collate's rule for the element type of ``batch[0]``; ``where(j)`` names element j in errors."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch, where)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in _NOT_NUMERIC:
            raise TypeError(f"{_FOUND.format(elem.dtype)} at {where(0)}")
        return _stack_arrays(batch, where)
    if isinstance(elem, (np.bool_, np.number)):
        return _stack_arrays(batch, where)
    if isinstance(elem, (str, bytes)):
        return batch  # np.str_ is a str: a string array's items land here too
    if isinstance(elem, (int, float)):
        return _numbers(batch, where)
    if isinstance(elem, Mapping):
        for j, d in enumerate(batch):
            missing = [k for k in elem if not isinstance(d, Mapping) or k not in d]
            if missing:
                got = sorted(map(str, d)) if isinstance(d, Mapping) else type(d).__name__
                raise KeyError(f"default_collate: {where(j)} lacks keys {missing} that {where(0)} has (it has {got})")
        fields = {k: _collate([d[k] for d in batch], where) for k in elem}
        return _like_mapping(elem, fields)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
        return type(elem)(*(_collate(samples, where) for samples in zip(*batch)))
    if isinstance(elem, Sequence):
        for j, x in enumerate(batch):
            if not isinstance(x, Sequence) or len(x) != len(elem):
                got = len(x) if isinstance(x, Sequence) else type(x).__name__
                raise RuntimeError(
                    f"default_collate: each element in list of batch should be of equal size, but {where(0)} has "
                    f"{len(elem)} fields and {where(j)} {got}"
                )
        fields = [_collate(samples, where) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return fields  # a list, as PyTorch's (its "backwards compatibility")
        return _like_sequence(elem, fields)
    raise TypeError(f"{_FOUND.format(type(elem))} at {where(0)}")


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, as PyTorch's default_collate: the structure of a sample, with every
    tensor, array and number stacked along a new first dimension."""
    if isinstance(batch, (str, bytes)) or not isinstance(batch, Sequence):
        raise TypeError(f"default_collate: expected a list of samples, got {type(batch).__name__}")
    if not batch:
        raise IndexError("default_collate: the batch is empty; expected a non-empty list of samples")
    return _collate(batch, lambda j: f"batch element {j}")


def default_convert(data: Any) -> Any:
    """One sample without batching, as PyTorch's default_convert: NumPy arrays and scalars become tensors (sharing
    memory), inside mappings and sequences too; everything else is left as it is."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        if data.dtype.kind in _NOT_NUMERIC:
            return data
        return _cpu_tensor(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return _cpu_tensor(np.asarray(data))
    if isinstance(data, Mapping):
        fields = {k: default_convert(data[k]) for k in data}
        return _like_mapping(data, fields)
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # a list, as PyTorch's
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        fields = [default_convert(d) for d in data]
        return _like_sequence(data, fields)
    return data
