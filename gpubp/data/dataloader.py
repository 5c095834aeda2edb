"""``DataLoader`` as ``torch.utils.data``'s: batches of a dataset, in the main process or in worker processes.

Batches are CPU tensors, as PyTorch's, unless gpubp's ``device=`` extra names a device: then each batch is sent
there, and the next batch is fetched and sent before the current one is handed out, so on a GPU its copy overlaps
the current step's kernels. ``seed=`` (gpubp's extra) seeds the shuffling generator.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.context
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import numpy as np

from .. import dtypes
from ..backend import get_backend
from ..generator import Generator
from ..tensor import Tensor
from ._pool import MultiProcessIter, draw_base_seed
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .fetch import make_fetcher
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _flag, _positive

__all__ = ["DataLoader"]

T_co = TypeVar("T_co", covariant=True)
_SUPPORTED = [str(d) for d in dtypes.SUPPORTED]
_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class _InfiniteConstantSampler(Sampler):
    """The sampler of an iterable dataset: None forever (its samples come from the dataset's own iterator)."""

    def __iter__(self) -> Any:
        while True:
            yield None


def _nonneg(name: str, value: Any, what: str) -> Any:
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        raise TypeError(f"DataLoader: {name} must be a number, got {type(value).__name__} ({value!r})")
    if value < 0:
        raise ValueError(f"DataLoader: {name} option should be non-negative, but got {name}={value!r}{what}")
    return value


class DataLoader(Generic[T_co]):
    """Batches of ``dataset``: sampled (``shuffle``, ``sampler``, ``batch_sampler``), collated (``collate_fn``),
    loaded in ``num_workers`` processes, as torch.utils.data.DataLoader. gpubp's extras: ``device=`` sends every
    batch there (prefetching one ahead), ``seed=`` seeds the shuffling. ``pin_memory`` is accepted and has no
    effect: CuPy stages host-to-device copies itself."""

    def __init__(
        self,
        dataset: Dataset[T_co],
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
        device: Any = None,
    ) -> None:
        self.__initialized = False
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: the dataset must have __len__ and __getitem__, got {type(dataset).__name__}")
        if not iterable and sampler is None and batch_sampler is None and not hasattr(dataset, "__len__"):
            raise TypeError(
                f"DataLoader: the dataset must have __len__ and __getitem__ (or give a sampler), got "
                f"{type(dataset).__name__}"
            )
        if not isinstance(num_workers, (int, np.integer)) or isinstance(num_workers, bool):
            raise TypeError(f"DataLoader: num_workers must be an int, got {type(num_workers).__name__}")
        if num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers option should be non-negative, but got num_workers={num_workers}; "
                "use num_workers=0 to disable multiprocessing"
            )
        _nonneg("timeout", timeout, "")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor option could only be specified in multiprocessing: let num_workers > 0 "
                "to enable multiprocessing, otherwise set prefetch_factor to None"
            )
        if num_workers > 0:
            prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
            _positive("DataLoader", "prefetch_factor", prefetch_factor, " (with workers, each keeps >= 1 batch ahead)")
        persistent_workers = _flag("DataLoader", "persistent_workers", persistent_workers)
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be callable, got {type(worker_init_fn).__name__}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
            raise TypeError(f"DataLoader: seed must be None or an integer >= 0, got {seed!r}")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give seed (gpubp's extra) or generator, not both")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DataLoader: generator must be a gpubp.Generator or None, got {type(generator).__name__}")
        if shuffle is not None and not isinstance(shuffle, (bool, np.bool_, int, np.integer)):
            raise ValueError(f"DataLoader: shuffle should be a boolean value, but got shuffle={shuffle!r}")
        drop_last = _flag("DataLoader", "drop_last", drop_last)
        context = self._context(multiprocessing_context, num_workers)
        if batch_size is not None:
            _positive("DataLoader", "batch_size", batch_size, " (batch_size must be >= 1)")
        if device is not None:
            get_backend(device)  # an unknown device fails here, not at the first batch
        if seed is not None:
            generator = Generator().manual_seed(seed)

        if iterable:
            if shuffle not in (None, False):
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler option, but got "
                    f"batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                    "drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "DataLoader: batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
            )
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = bool(pin_memory)
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = context
        self.in_order = in_order
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.collate_fn = collate_fn or (default_collate if batch_sampler is not None else default_convert)
        self.persistent_workers = persistent_workers
        self.device = device
        self._iterable = iterable
        self._iterator: Any = None
        self.__initialized = True

    @staticmethod
    def _context(context: Any, num_workers: int) -> Any:
        if context is None:
            return None
        if num_workers == 0:
            raise ValueError(
                "DataLoader: multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
                f"but got num_workers={num_workers}"
            )
        if isinstance(context, str):
            methods = multiprocessing.get_all_start_methods()
            if context not in methods:
                raise ValueError(
                    f"DataLoader: multiprocessing_context option should specify a valid start method in {methods!r}, "
                    f"but got multiprocessing_context={context!r}"
                )
            context = multiprocessing.get_context(context)
        if not isinstance(context, multiprocessing.context.BaseContext):
            raise TypeError(
                "DataLoader: multiprocessing_context option should be a valid context object or a string specifying "
                f"the start method, but got multiprocessing_context={context!r}"
            )
        return context

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr in _FROZEN and self.__dict__.get("_DataLoader__initialized"):
            raise ValueError(f"{attr} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
            return n
        return len(self._index_sampler)

    def __iter__(self) -> _LoaderIter:
        if self.num_workers == 0:
            return _LoaderIter(self, _SingleProcessSource(self))
        if self.persistent_workers:
            if self._iterator is None:
                self._iterator = _LoaderIter(self, MultiProcessIter(self))
            else:
                self._iterator.restart()
            return self._iterator
        return _LoaderIter(self, MultiProcessIter(self))


class _SingleProcessSource:
    """Batches fetched in the main process, one per call."""

    def __init__(self, loader: DataLoader) -> None:
        draw_base_seed(loader)  # unused here; drawn so that the sampler's draws are those of a loader with workers
        self.fetcher = make_fetcher(
            loader._iterable,
            loader.dataset,
            loader._auto_collation,
            loader.collate_fn,
            loader.drop_last,
            loader.batch_size,
        )
        self.indices = iter(loader._index_sampler)

    def next_batch(self) -> Any:
        return self.fetcher.fetch(next(self.indices))

    def restart(self) -> None:
        raise AssertionError("single-process iterators are never restarted")


class _LoaderIter:
    """The iterator a DataLoader gives: batches from its source, sent to the loader's ``device=`` if given, one
    batch ahead (so a GPU copy overlaps the step that uses the current batch)."""

    def __init__(self, loader: DataLoader, source: Any) -> None:
        self._loader = loader
        self._source = source
        self._be = None if loader.device is None else get_backend(loader.device)
        self._ahead: tuple | None = None

    def __iter__(self) -> _LoaderIter:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def restart(self) -> None:
        """A new epoch over the same workers (persistent_workers)."""
        self._ahead = None
        self._source.restart()

    def _fetch(self) -> tuple:
        try:
            return "ok", _to_device(self._source.next_batch(), self._be)
        except StopIteration:
            return "end", None
        except Exception as e:
            return "error", e

    def __next__(self) -> Any:
        if self._be is None:
            return self._source.next_batch()
        if self._ahead is None:
            self._ahead = self._fetch()
        kind, value = self._ahead
        if kind == "end":
            raise StopIteration
        if kind == "error":
            self._ahead = None
            raise value
        self._ahead = self._fetch()  # prefetch: its copy overlaps this step on a GPU
        return value


def _to_device(node: Any, be: Any) -> Any:
    """The batch with every tensor (and NumPy array a custom collate_fn returned) a Tensor on ``be``'s device."""
    if isinstance(node, np.ndarray):
        if node.dtype not in dtypes.SUPPORTED:
            raise TypeError(
                f"DataLoader: the collate_fn returned an array of dtype {node.dtype}; gpubp tensors support "
                f"{_SUPPORTED}"
            )
        return Tensor._wrap(be.from_host(np.ascontiguousarray(node)), be)
    if isinstance(node, Tensor):
        if node._be is be:
            return node
        if node.requires_grad:
            return node.to(be.device)
        host = node._be.to_numpy(node._data)
        return Tensor._wrap(be.from_host(np.ascontiguousarray(host)), be)
    if isinstance(node, Mapping):
        out = {k: _to_device(v, be) for k, v in node.items()}
        try:
            return out if type(node) is dict else type(node)(out)
        except TypeError:
            return out
    if isinstance(node, (tuple, list)) and not all(isinstance(x, (str, bytes)) for x in node):
        out = [_to_device(v, be) for v in node]
        if hasattr(node, "_fields"):
            return type(node)(*out)
        return type(node)(out) if isinstance(node, tuple) else out
    return node
