"""Dataset, TensorDataset and DataLoader."""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .. import dtypes
from ..backend import get_backend
from ..tensor import Tensor

_SUPPORTED = [str(d) for d in dtypes.SUPPORTED]
_FOUND = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


class Dataset(ABC):
    """Anything with ``__len__`` and ``__getitem__(i)`` returning one example (a tuple of arrays)."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of examples."""

    @abstractmethod
    def __getitem__(self, i: int) -> Any:
        """Example ``i``, a tuple of arrays or numbers."""


class TensorDataset(Dataset):
    """Examples are the i-th rows of equally long arrays or tensors (kept on the host); a 1-D array
    of strings is allowed too, and batches as a list of str."""

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = []
        for i, a in enumerate(arrays):
            try:
                arr = a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)
            except ValueError as e:  # a ragged nested list
                raise ValueError(f"TensorDataset: array {i} is not a rectangular array: {e}") from None
            if arr.ndim == 0:  # IndexError, as PyTorch's tensor.size(0)
                raise IndexError(f"TensorDataset: array {i} is 0-dimensional; each array needs one row per example")
            if arr.dtype.kind in "US" and arr.ndim != 1:
                raise TypeError(
                    f"TensorDataset: array {i} holds strings ({arr.dtype}) in shape {arr.shape}: a string array must "
                    "be 1-D, one string per example"
                )
            if arr.dtype.kind not in "US" and arr.dtype not in dtypes.SUPPORTED:
                hint = " (strings? give them as np.asarray(x, dtype=str))" if arr.dtype.kind == "O" else ""
                raise TypeError(
                    f"TensorDataset: array {i} has dtype {arr.dtype}, which gpubp tensors do not support{hint}; "
                    f"expected one of {_SUPPORTED} or a 1-D array of strings"
                )
            self.arrays.append(arr)
        n = len(self.arrays[0])
        for i, a in enumerate(self.arrays):
            if len(a) != n:
                raise ValueError(
                    f"TensorDataset: array {i} has {len(a)} rows, array 0 has {n}: the first dimension (the number "
                    "of examples) must be the same for every array"
                )

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, i: Any) -> tuple:
        try:
            return tuple(a[i] for a in self.arrays)
        except IndexError:
            raise IndexError(f"TensorDataset: index {i} is out of range for {len(self)} examples") from None


def _collate(batch: Sequence[Any], where: Callable[[int], str]) -> Any:
    """PyTorch's default_collate on the host: arrays and numbers stack into one NumPy array, strings
    stay a list, dicts and sequences collate field by field; ``where(j)`` names element j in errors."""
    elem = batch[0]
    if isinstance(elem, (str, bytes)):  # np.str_ is a str: a string array's items land here too
        return [x.item() if isinstance(x, np.generic) else x for x in batch]
    arrayish = (Tensor, np.ndarray, np.generic, numbers.Number)
    if isinstance(elem, arrayish):
        arrays = []
        for j, x in enumerate(batch):
            if not isinstance(x, arrayish):
                raise TypeError(f"{_FOUND.format(type(x))} at {where(j)} (and {type(elem)} at {where(0)})")
            a = x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
            if a.dtype not in dtypes.SUPPORTED:
                raise TypeError(f"{_FOUND.format(a.dtype)} at {where(j)}; gpubp tensors support {_SUPPORTED}")
            if arrays and a.shape != arrays[0].shape:
                raise RuntimeError(
                    f"default_collate: stack expects each example to be of equal size, but got {arrays[0].shape} "
                    f"at {where(0)} and {a.shape} at {where(j)}"
                )
            arrays.append(a)
        return np.stack(arrays)
    if isinstance(elem, Mapping):
        for j, d in enumerate(batch):
            if not isinstance(d, Mapping) or set(d) != set(elem):
                got = sorted(map(str, d)) if isinstance(d, Mapping) else type(d).__name__
                raise RuntimeError(
                    f"default_collate: {where(j)} has keys {got}, {where(0)} has {sorted(map(str, elem))}"
                )
        return {k: _collate([d[k] for d in batch], where) for k in elem}
    if isinstance(elem, (tuple, list)):
        for j, x in enumerate(batch):
            if not isinstance(x, (tuple, list)) or len(x) != len(elem):
                got = len(x) if isinstance(x, (tuple, list)) else type(x).__name__
                raise RuntimeError(
                    f"default_collate: each element in list of batch should be of equal size, but {where(0)} has "
                    f"{len(elem)} fields and {where(j)} {got}"
                )
        fields = [_collate(list(samples), where) for samples in zip(*batch)]
        if hasattr(elem, "_fields"):  # a namedtuple keeps its type
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"{_FOUND.format(type(elem))} at {where(0)}")


def default_collate(items: Sequence[Any]) -> Any:
    """Stack a list of examples into a batch as PyTorch's default_collate does, with NumPy arrays in
    place of tensors: a tuple example gives a tuple of stacked fields; strings give a list of str."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not items:
        raise TypeError(f"default_collate: expected a non-empty list of examples, got {items!r}"[:200])
    return _collate(items, lambda j: f"batch element {j}")


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"DataLoader: {name} should be a boolean value, but got {name}={value!r}")
    return bool(value)


class DataLoader:
    """Batches of a dataset as tensors on ``device``.

    ``shuffle`` draws a new order every epoch from ``seed`` (reproducible); ``drop_last`` drops a
    short final batch. The next batch is converted and sent to the device before the current one
    is handed out, so on a GPU its copy overlaps the current step's kernels.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        device: Any = None,
        collate_fn: Callable | None = None,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: the dataset must have __len__ and __getitem__, got {type(dataset).__name__}")
        if batch_size is None:
            raise ValueError("DataLoader: batch_size=None (no automatic batching) is not supported; give an int >= 1")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(
                f"DataLoader: batch_size should be a positive integer value, but got batch_size={batch_size!r} "
                "(batch_size must be >= 1)"
            )
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
            raise TypeError(f"DataLoader: seed must be None or an integer >= 0, got {seed!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        if device is not None:
            get_backend(device)  # an unknown device fails here, not at the first batch
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = _flag("shuffle", shuffle), _flag("drop_last", drop_last)
        self.collate_fn = collate_fn or default_collate
        self.device = device
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _batch(self, idx: np.ndarray) -> Any:
        own_getitem = type(self.dataset).__getitem__ is TensorDataset.__getitem__
        if self.collate_fn is default_collate and isinstance(self.dataset, TensorDataset) and own_getitem:
            # one fancy-index per array, no per-example Python; string arrays batch as lists of str
            fields = tuple(f.tolist() if f.dtype.kind in "US" else f for f in self.dataset[idx])
        else:
            items = [self.dataset[int(i)] for i in idx]
            if self.collate_fn is default_collate:
                fields = _collate(items, lambda j: f"dataset item {idx[j]}")
            else:
                fields = self.collate_fn(items)
        return self._to_device(fields, get_backend(self.device))

    def _to_device(self, node: Any, be: Any) -> Any:
        """The collated batch with every array a Tensor on the loader's device (lists of str stay)."""
        if isinstance(node, np.ndarray):
            if node.dtype not in dtypes.SUPPORTED:
                raise TypeError(
                    f"DataLoader: the collate_fn returned an array of dtype {node.dtype}; gpubp tensors support "
                    f"{_SUPPORTED}"
                )
            return Tensor._wrap(be.from_host(np.ascontiguousarray(node)), be)
        if isinstance(node, Tensor):
            return node if node._be is be else node.to(be.device)
        if isinstance(node, Mapping):
            return {k: self._to_device(v, be) for k, v in node.items()}
        if isinstance(node, (tuple, list)) and not all(isinstance(x, (str, bytes)) for x in node):
            out = [self._to_device(v, be) for v in node]
            if hasattr(node, "_fields"):
                return type(node)(*out)
            return type(node)(out) if isinstance(node, tuple) else out
        return node

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        stops = range(self.batch_size, n + (0 if self.drop_last else self.batch_size), self.batch_size)
        batches = [order[s - self.batch_size : min(s, n)] for s in stops if s - self.batch_size < n]
        if not batches:
            return
        nxt = self._batch(batches[0])
        for k in range(len(batches)):
            cur = nxt
            if k + 1 < len(batches):
                nxt = self._batch(batches[k + 1])  # prefetch: its copy overlaps this step on a GPU
            yield cur
