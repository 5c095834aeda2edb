"""Datasets as ``torch.utils.data``'s: Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset,
ChainDataset, StackDataset and random_split."""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from .. import dtypes
from ..backend import get_backend
from ..generator import Generator, _rng, default_generator
from ..tensor import Tensor

__all__ = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "StackDataset",
    "ConcatDataset",
    "ChainDataset",
    "Subset",
    "random_split",
]

T_co = TypeVar("T_co", covariant=True)
_SUPPORTED = [str(d) for d in dtypes.SUPPORTED]


class Dataset(Generic[T_co]):
    """A map-style dataset: ``__getitem__(index)`` gives one sample; ``__len__`` is optional, as PyTorch's."""

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co], Iterable[T_co]):
    """A stream of samples: ``__iter__`` yields them. With workers, each worker iterates its own copy; shard it
    with ``get_worker_info()``."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: Dataset[T_co]) -> ChainDataset:
        return ChainDataset([self, other])


def _as_field(a: Any, i: int) -> Any:
    """A TensorDataset field: a Tensor kept as given, an array or list as a CPU tensor, or a 1-D array of str."""
    if isinstance(a, Tensor):
        if a.ndim == 0:  # IndexError, as PyTorch's tensor.size(0)
            raise IndexError(f"TensorDataset: array {i} is 0-dimensional; each tensor needs one row per example")
        return a
    try:
        arr = np.asarray(a)
    except ValueError as e:  # a ragged nested list
        raise ValueError(f"TensorDataset: array {i} is not a rectangular array: {e}") from None
    if arr.ndim == 0:
        raise IndexError(f"TensorDataset: array {i} is 0-dimensional; each array needs one row per example")
    if arr.dtype.kind in "US":
        if arr.ndim != 1:
            raise TypeError(
                f"TensorDataset: array {i} holds strings ({arr.dtype}) in shape {arr.shape}: a string array must "
                "be 1-D, one string per example"
            )
        return arr
    if arr.dtype not in dtypes.SUPPORTED:
        hint = " (strings? give them as np.asarray(x, dtype=str))" if arr.dtype.kind == "O" else ""
        raise TypeError(
            f"TensorDataset: array {i} has dtype {arr.dtype}, which gpubp tensors do not support{hint}; "
            f"expected one of {_SUPPORTED} or a 1-D array of strings"
        )
    return Tensor._wrap(arr, get_backend("cpu"))  # shares memory, as torch.from_numpy


class TensorDataset(Dataset[tuple]):
    """Sample ``i`` is ``tuple(t[i] for t in tensors)``. Tensors are kept as given (no copy); NumPy arrays and lists
    become CPU tensors sharing their memory; a 1-D array of strings (gpubp's extra) gives ``str`` samples."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        fields = tuple(_as_field(a, i) for i, a in enumerate(tensors))
        n = len(fields[0])
        for i, f in enumerate(fields):
            if len(f) != n:
                raise ValueError(
                    f"TensorDataset: array {i} has {len(f)} rows, array 0 has {n}: the first dimension (the number of "
                    "examples) must be the same for every tensor (size mismatch between tensors)"
                )
        self.tensors = fields

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """The fields as host NumPy arrays (gpubp's extra; a CPU tensor's is its own memory, not a copy)."""
        return tuple(f._be.to_numpy(f._data) if isinstance(f, Tensor) else f for f in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: Any) -> tuple:
        try:
            if isinstance(index, (int, np.integer)):
                i = operator.index(index)
                return tuple(_row(f, i) for f in self.tensors)
            return tuple(f[index] if isinstance(f, Tensor) else f[np.asarray(index)] for f in self.tensors)
        except IndexError:
            raise IndexError(f"TensorDataset: index {index} is out of range for {len(self)} examples") from None

    def _rows(self, idx: np.ndarray) -> list:
        """The collated batch of rows ``idx`` with one fancy index per field: what default_collate would give."""
        out: list = []
        for f in self.tensors:
            if isinstance(f, Tensor):
                sel = idx if f._be.xp is np else f._be.from_host(idx)
                out.append(Tensor._wrap(f._data[sel], f._be))
            else:
                out.append(tuple(f[idx].tolist()))  # str samples collate to the tuple of them, as PyTorch's
        return out


def _row(f: Any, i: int) -> Any:
    if not isinstance(f, Tensor):
        return f[i].item()  # a plain str, not np.str_
    if f.requires_grad:
        return f[i]  # recorded, as PyTorch's indexing
    if not -len(f) <= i < len(f):
        raise IndexError(i)
    return Tensor._wrap(f._data[i, ...], f._be, f._vc)  # a view sharing the version counter


class StackDataset(Dataset):
    """Samples of several equally long datasets side by side: a tuple (positional) or a dict (keywords)."""

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError(
                "StackDataset: supported either tuple- (via args) or dict- (via kwargs) like input/output, "
                "but both types are given"
            )
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        parts = list(args) if args else list(kwargs.values())
        self._length = len(parts[0])
        sizes = [len(d) for d in parts]
        if any(s != self._length for s in sizes):
            raise ValueError(f"StackDataset: size mismatch between datasets: lengths {sizes}")
        self.datasets: tuple | dict = args if args else kwargs

    def __getitem__(self, index: Any) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset[T_co]):
    """Map-style datasets one after another."""

    @staticmethod
    def cumsum(sequence: Iterable[Any]) -> list[int]:
        """The running totals of the datasets' lengths."""
        return list(itertools.accumulate(len(e) for e in sequence))

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for i, d in enumerate(self.datasets):
            if isinstance(d, IterableDataset):
                raise ValueError(f"ConcatDataset does not support IterableDataset (dataset {i}); use ChainDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> T_co:
        if idx < 0:
            if -idx > len(self):
                raise ValueError(f"ConcatDataset: absolute value of index {idx} should not exceed length {len(self)}")
            idx = len(self) + idx
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[k][idx - (self.cumulative_sizes[k - 1] if k else 0)]


class ChainDataset(IterableDataset):
    """Iterable datasets one after another, chained lazily."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for i, d in enumerate(self.datasets):
            if not isinstance(d, IterableDataset):
                raise ValueError(f"ChainDataset only supports IterableDataset; dataset {i} is {type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> T_co:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        """The samples at ``indices`` (the DataLoader's batch fetch)."""
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(
    dataset: Dataset, lengths: Sequence[int | float], generator: Generator | None = default_generator
) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping Subsets of the given lengths, or fractions summing to 1
    (each ``floor(n * frac)``, the remainder dealt out one by one from the first, as PyTorch)."""
    lengths = list(lengths)
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1 (got {frac})")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.", stacklevel=2
                )
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: Sum of input lengths does not equal the length of the input dataset! "
            f"lengths {lengths} sum to {sum(lengths)}, the dataset has {n}"
        )
    for i, size in enumerate(lengths):
        if not isinstance(size, (int, np.integer)) or size < 0:
            raise ValueError(f"random_split: length at index {i} must be a non-negative int, got {size!r}")
    order = _rng(generator, "random_split").permutation(n).tolist()
    bounds = list(itertools.accumulate(lengths))
    return [Subset(dataset, order[end - size : end]) for end, size in zip(bounds, lengths)]
