"""Samplers as ``torch.utils.data``'s: which indices a DataLoader fetches, in which order, in which batches.

Random samplers draw on the host from a ``gpubp.Generator`` (or, without one, from a stream seeded by
``gpubp.manual_seed``'s default generator each epoch, as PyTorch's).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

import numpy as np

from ..backend import get_backend
from ..errors import InputError
from ..generator import Generator, _rng
from ..tensor import Tensor

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]

T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """The base of samplers: ``__iter__`` yields indices (or batches of them); ``__len__`` is optional."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass  # PyTorch ignores data_source here (kept for subclasses that pass it up)

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError("Subclasses of Sampler should implement __iter__.")


class SequentialSampler(Sampler[int]):
    """Indices ``0 .. len(data_source) - 1`` in order."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _indices(self) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _flag(op: str, name: str, value: Any, exc: type = ValueError) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise exc(f"{op}: {name} should be a boolean value, but got {name}={value!r}")
    return bool(value)


def _positive(op: str, name: str, value: Any, hint: str = "") -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or value <= 0:
        raise ValueError(f"{op}: {name} should be a positive integer value, but got {name}={value!r}{hint}")
    return int(value)


class RandomSampler(Sampler[int]):
    """A random permutation of the indices each epoch; with ``replacement``, ``num_samples`` independent draws."""

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = _flag("RandomSampler", "replacement", replacement, TypeError)
        self._num_samples = num_samples
        self.generator = generator
        _positive("RandomSampler", "num_samples", self.num_samples)
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(
                f"RandomSampler: generator must be a gpubp.Generator or None, got {type(generator).__name__}"
            )

    @property
    def num_samples(self) -> int:
        """How many indices one epoch yields (the dataset's length unless given)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _indices(self) -> np.ndarray:
        """One epoch's indices: whole permutations (and part of one) without replacement, as PyTorch."""
        n, k = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError(f"RandomSampler: cannot draw num_samples={k} from an empty data_source")
        rng = _rng(self.generator, "RandomSampler")
        if self.replacement:
            return rng.integers(0, n, k, dtype=np.int64)
        parts = [rng.permutation(n) for _ in range(k // n)]
        parts.append(rng.permutation(n)[: k % n])
        return np.concatenate(parts)

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in a random order each epoch, without replacement."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in _rng(self.generator, "SubsetRandomSampler").permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (with or without replacement)."""

    def __init__(
        self, weights: Sequence[float], num_samples: int, replacement: bool = True, generator: Generator | None = None
    ) -> None:
        self.num_samples = _positive("WeightedRandomSampler", "num_samples", num_samples)
        self.replacement = _flag("WeightedRandomSampler", "replacement", replacement)
        w = weights._be.to_numpy(weights._data) if isinstance(weights, Tensor) else weights
        try:
            w = np.asarray(w, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"WeightedRandomSampler: weights must be a sequence of numbers: {e}") from None
        if w.ndim != 1:
            raise ValueError(
                f"WeightedRandomSampler: weights should be a 1d sequence but given weights have shape {w.shape}"
            )
        self.weights = Tensor._wrap(w, get_backend("cpu"))
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        w = self.weights._data
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InputError("WeightedRandomSampler: probability tensor contains either inf, nan or element < 0")
        if w.sum() <= 0:
            raise InputError("WeightedRandomSampler: invalid multinomial distribution (sum of probabilities <= 0)")
        if not self.replacement and self.num_samples > len(w):
            raise InputError(
                f"WeightedRandomSampler: cannot sample num_samples={self.num_samples} > {len(w)} weights without "
                "replacement"
            )
        rng = _rng(self.generator, "WeightedRandomSampler")
        k, nonzero = self.num_samples, np.count_nonzero(w)
        if self.replacement or k <= nonzero:
            yield from rng.choice(len(w), k, replace=self.replacement, p=w / w.sum()).tolist()
            return
        # as torch.multinomial: every index of non-zero weight (weighted order), then zero-weight ones at random
        yield from rng.choice(len(w), nonzero, replace=False, p=w / w.sum()).tolist()
        yield from rng.permutation(np.flatnonzero(w == 0))[: k - nonzero].tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list]):
    """Batches of ``batch_size`` indices from ``sampler``; ``drop_last`` drops a short final batch."""

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.batch_size = _positive("BatchSampler", "batch_size", batch_size, " (batch_size must be >= 1)")
        self.drop_last = _flag("BatchSampler", "drop_last", drop_last)
        self.sampler = sampler

    def __iter__(self) -> Iterator[list[int]]:
        bs = self.batch_size
        if type(self.sampler) in (SequentialSampler, RandomSampler):
            # gpubp's own samplers give the epoch as one array: batches are slices of it, no per-index Python
            order = self.sampler._indices()
            stop = len(order) - len(order) % bs if self.drop_last else len(order)
            for s in range(0, stop, bs):
                yield order[s : s + bs].tolist()
            return
        it = iter(self.sampler)
        batch = list(itertools.islice(it, bs))
        while batch:
            if len(batch) < bs and self.drop_last:
                return
            yield batch
            batch = list(itertools.islice(it, bs))

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
