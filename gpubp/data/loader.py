"""Dataset, TensorDataset and DataLoader."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..backend import get_backend
from ..tensor import Tensor


class Dataset(ABC):
    """Anything with ``__len__`` and ``__getitem__(i)`` returning one example (a tuple of arrays)."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of examples."""

    @abstractmethod
    def __getitem__(self, i: int) -> Any:
        """Example ``i``, a tuple of arrays or numbers."""


class TensorDataset(Dataset):
    """Examples are the i-th rows of equally long arrays or tensors (kept on the host)."""

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = [a.cpu().numpy() if isinstance(a, Tensor) else np.asarray(a) for a in arrays]
        n = len(self.arrays[0])
        for i, a in enumerate(self.arrays):
            if a.ndim == 0 or len(a) != n:
                raise ValueError(f"TensorDataset: array {i} has {len(a) if a.ndim else 0} rows, array 0 has {n}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, i: Any) -> tuple:
        return tuple(a[i] for a in self.arrays)


def default_collate(items: Sequence[tuple]) -> tuple:
    """Stack the i-th field of every example into one array."""
    return tuple(np.stack([np.asarray(it[k]) for it in items]) for k in range(len(items[0])))


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
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.collate_fn = collate_fn or default_collate
        self.device = device
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _batch(self, idx: np.ndarray) -> tuple:
        if isinstance(self.dataset, TensorDataset):
            fields = self.dataset[idx]  # one fancy-index per array, no per-example Python
        else:
            fields = self.collate_fn([self.dataset[int(i)] for i in idx])
        be = get_backend(self.device)
        return tuple(Tensor._wrap(be.from_host(np.ascontiguousarray(f)), be) for f in fields)

    def __iter__(self) -> Iterator[tuple]:
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
