"""Fetchers: one batch (or sample) of a dataset from the indices a sampler gave, collated; shared by the DataLoader's
main process and its workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..tensor import Tensor
from .collate import _collate, default_collate
from .dataset import Subset, TensorDataset


def _fast_source(dataset: Any) -> tuple[TensorDataset, np.ndarray | None] | None:
    """``(tensor_dataset, index_map)`` when batches of ``dataset`` are rows of a TensorDataset (itself or through
    plain Subsets): one fancy index per tensor then gives what default_collate of the samples would."""
    kind = type(dataset)
    if kind.__getitem__ is TensorDataset.__getitem__ and getattr(kind, "__getitems__", None) is None:
        return dataset, None
    if kind.__getitem__ is Subset.__getitem__ and kind.__getitems__ is Subset.__getitems__:
        inner = _fast_source(dataset.dataset)
        if inner is None:
            return None
        ind = dataset.indices
        try:
            ind = ind._be.to_numpy(ind._data) if isinstance(ind, Tensor) else np.asarray(ind)
        except (TypeError, ValueError):
            return None
        if ind.ndim != 1 or (ind.dtype.kind not in "iu" and ind.size):
            return None
        ind = ind.astype(np.int64)
        return inner[0], ind if inner[1] is None else inner[1][ind]
    return None


class MapFetcher:
    """Batches of a map-style dataset: ``fetch(indices)`` with automatic batching, ``fetch(index)`` without."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.fast = _fast_source(dataset) if auto_collation and collate_fn is default_collate else None

    def fetch(self, index: Any) -> Any:
        """The collated batch of the samples at ``index`` (or the converted sample, without auto-batching)."""
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.fast is not None:
            source, remap = self.fast
            idx = np.asarray(index, dtype=np.int64)
            try:
                return source._rows(idx if remap is None else remap[idx])
            except IndexError:
                raise IndexError(
                    f"TensorDataset: indices {list(index)} are out of range for {len(source)} examples"
                ) from None
        getitems = getattr(self.dataset, "__getitems__", None)
        items = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        if self.collate_fn is default_collate:
            return _collate(items, lambda j: f"dataset item {index[j]}")
        return self.collate_fn(items)


class IterFetcher:
    """Batches of an iterable dataset, read from one iterator of it; StopIteration when it is used up."""

    def __init__(
        self, dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool, batch_size: int | None
    ) -> None:
        self.it = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last, self.batch_size = (
            auto_collation,
            collate_fn,
            drop_last,
            batch_size,
        )
        self.ended = False

    def fetch(self, index: Any = None) -> Any:
        """The next batch (or sample, without auto-batching)."""
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.it))
        items = []
        for _ in range(self.batch_size):
            try:
                items.append(next(self.it))
            except StopIteration:
                self.ended = True
                break
        if not items or (self.drop_last and len(items) < self.batch_size):
            raise StopIteration
        if self.collate_fn is default_collate:
            return _collate(items, lambda j: f"sample {j} of the batch")
        return self.collate_fn(items)


def make_fetcher(
    iterable: bool, dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool, batch_size: int | None
) -> MapFetcher | IterFetcher:
    """The fetcher for a dataset of either kind."""
    if iterable:
        return IterFetcher(dataset, auto_collation, collate_fn, drop_last, batch_size)
    return MapFetcher(dataset, auto_collation, collate_fn, drop_last)
