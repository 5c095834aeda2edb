"""DataLoader worker processes: the loop each worker runs, what it knows of itself (``get_worker_info``), how it
seeds its random streams, and how its batches and errors travel back to the main process.

A worker fetches and collates whole batches and sends them pickled: its tensors travel as NumPy arrays (the
reducer below) and are wrapped again in the main process. Errors travel as their type and formatted traceback and
are raised again in the main process, at the batch that failed.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import pickle
import queue
import random
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np

from ..backend import get_backend, set_default_device
from ..generator import default_generator
from ..tensor import Tensor
from .fetch import make_fetcher

__all__ = ["WorkerInfo", "get_worker_info"]

# how often a waiting worker checks that its parent is alive, and a waiting main process that its workers are
POLL_S = 1.0


@dataclass(frozen=True)
class WorkerInfo:
    """What a DataLoader worker knows of itself: its ``id``, ``num_workers``, its ``seed`` and its copy of the
    ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's WorkerInfo inside a DataLoader worker process; None in the main process."""
    return _worker_info


def _rebuild_tensor(arr: np.ndarray, device: str, requires_grad: bool) -> Tensor:
    be = get_backend(device)
    t = Tensor._wrap(arr if device == "cpu" else be.from_host(arr), be)
    if requires_grad:
        t.requires_grad = True
    return t


def _reduce_tensor(t: Tensor) -> tuple:
    return _rebuild_tensor, (t._be.to_numpy(t._data), str(t.device), t.requires_grad)


# tensors in anything a worker sends (or any multiprocessing queue carries) pickle as their NumPy array
ForkingPickler.register(Tensor, _reduce_tensor)


class _KeyErrorMessage(str):
    """A KeyError's message that prints as written (KeyError would quote it and escape its newlines)."""

    def __repr__(self) -> str:
        return str(self)


class WorkerError:
    """An exception raised in a worker: its type and traceback, raised again in the main process."""

    def __init__(self, exc_type: type, where: str, text: str) -> None:
        self.exc_type, self.where, self.text = exc_type, where, text

    @classmethod
    def capture(cls, worker_id: int) -> WorkerError:
        """The exception being handled now, in worker ``worker_id``."""
        exc_type, exc, tb = sys.exc_info()
        return cls(exc_type, f"in DataLoader worker process {worker_id}", "".join(traceback.format_exception(exc)))

    def reraise(self) -> None:
        """Raise it again: the same type, a message naming the worker and holding the original traceback."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None  # a type whose constructor wants more than a message
        raise exc


@dataclass
class IterEnd:
    """A worker's iterable dataset is used up."""

    worker_id: int


class Resume:
    """A new epoch for persistent workers: rebuild the fetcher, and acknowledge."""


def _pickle(obj: Any) -> bytes:
    buf = io.BytesIO()
    ForkingPickler(buf, pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


def _dumps(msg: tuple, worker_id: int) -> bytes:
    """``msg`` pickled here, so a batch or exception that cannot be pickled is reported instead of lost (the queue's
    own feeder thread would drop it and leave the main process waiting)."""
    try:
        return _pickle(msg)
    except Exception as e:
        idx, data = msg
        if isinstance(data, WorkerError):  # e.g. an exception class defined inside a function
            text = f"{data.text}\n(the exception's type {data.exc_type.__qualname__} could not be pickled: {e})"
            return _pickle((idx, WorkerError(RuntimeError, data.where, text)))
        err = WorkerError(
            TypeError,
            f"in DataLoader worker process {worker_id}",
            f"the batch could not be pickled to send it to the main process: {type(e).__name__}: {e}\n",
        )
        return _pickle((idx, err))


def loads(payload: bytes) -> tuple:
    """A message from a worker."""
    return pickle.loads(payload)


def generate_state(base_seed: int, worker_id: int) -> list[int]:
    """Four 32-bit words to seed NumPy's legacy global stream in worker ``worker_id``: PyTorch's mix (after NumPy's
    SeedSequence), so that it differs from ``random``'s seed ``base_seed + worker_id``."""
    mask = 0xFFFFFFFF
    entropy = [worker_id, base_seed & mask, base_seed >> 32, 0]
    hash_const = [0x43B0D7E5]

    def hash32(value: int) -> int:
        value = (value ^ hash_const[0]) & mask
        hash_const[0] = (hash_const[0] * 0x931E8875) & mask
        value = (value * hash_const[0]) & mask
        return (value ^ (value >> 16)) & mask

    def mix(x: int, y: int) -> int:
        result = (((0xCA01F9DD * x) & mask) - ((0x4973F715 * y) & mask)) & mask
        return (result ^ (result >> 16)) & mask

    pool = [hash32(e) for e in entropy]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hash32(pool[src]))
    state, const_b = [], 0x8B51F9DD
    for value in pool:
        value = (value ^ const_b) & mask
        const_b = (const_b * 0x58F38DED) & mask
        value = (value * const_b) & mask
        state.append((value ^ (value >> 16)) & mask)
    return state


def _seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed ``random``, NumPy's global stream and gpubp's CPU streams as PyTorch seeds a worker's."""
    seed = base_seed + worker_id
    random.seed(seed)
    np.random.seed(generate_state(base_seed, worker_id))
    # only the CPU: a forked child must not touch a CUDA context its parent made
    get_backend("cpu").manual_seed(seed % 2**64)
    default_generator.manual_seed(seed % 2**64)
    return seed


def worker_loop(
    iterable: bool,
    dataset: Any,
    index_queue: Any,
    data_queue: Any,
    done_event: Any,
    auto_collation: bool,
    collate_fn: Callable,
    drop_last: bool,
    batch_size: int | None,
    base_seed: int,
    init_fn: Callable[[int], None] | None,
    worker_id: int,
    num_workers: int,
    parent_pid: int,
) -> None:
    """A worker's life: take ``(idx, indices)`` tasks, send back ``(idx, batch)``; stop at None or if orphaned."""
    global _worker_info
    try:
        seed = _seed_worker(base_seed, worker_id)
        set_default_device("cpu")  # workers make host data; the main process moves batches to the device
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last, batch_size)
        except Exception:
            init_error = WorkerError.capture(worker_id)
        ended = False
        parent = multiprocessing.parent_process()  # its sentinel works whatever the start method
        while parent.is_alive() if parent is not None else os.getppid() == parent_pid:
            try:
                task = index_queue.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if task is None:
                break
            if isinstance(task, Resume):
                ended = False
                if init_error is None:
                    try:
                        fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last, batch_size)
                    except Exception:
                        init_error = WorkerError.capture(worker_id)
                data_queue.put(_dumps((task, None), worker_id))
                continue
            if done_event.is_set() or ended:
                continue  # wait for the None that ends the loop
            idx, index = task
            if init_error is not None:
                data: Any = init_error
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if not iterable:
                        data = WorkerError.capture(worker_id)
                    else:
                        data, ended = IterEnd(worker_id), True
                except Exception:
                    data = WorkerError.capture(worker_id)
            data_queue.put(_dumps((idx, data), worker_id))
            del data, task
    except KeyboardInterrupt:
        pass  # the main process has it too, and shuts the workers down
    if done_event.is_set():
        data_queue.cancel_join_thread()  # exit without flushing to a main process that no longer reads
        data_queue.close()
