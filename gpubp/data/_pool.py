"""The main process's side of multi-process loading: start the workers, hand out tasks round-robin with
``prefetch_factor`` batches in flight per worker, deliver results in sampler order, and shut everything down
(when the epoch ends, when the iterator is dropped, or at interpreter exit).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import weakref
from typing import Any

from ..generator import default_generator
from ..tensor import Tensor
from . import _worker
from .fetch import _fast_source

# how long a stopping worker may take before it is terminated
JOIN_S = 5.0


def draw_base_seed(loader: Any) -> int:
    """The workers' base seed, drawn from the loader's generator (or the default one) by every new iterator, with
    or without workers, as PyTorch's: the sampler's draws then follow, so ``num_workers`` never changes the order."""
    gen = loader.generator if loader.generator is not None else default_generator
    return int(gen._rng.integers(0, 2**63))


class _Pool:
    """The workers and queues of one iterator; ``shutdown`` is idempotent and holds no reference to the iterator,
    so a weakref finalizer can call it."""

    def __init__(self) -> None:
        self.workers: list[Any] = []
        self.index_queues: list[Any] = []
        self.data_queue: Any = None
        self.done: Any = None
        self.closed = False

    def shutdown(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.done is not None:
            self.done.set()
        for q in self.index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass  # a queue already closed
        for w in self.workers:
            w.join(timeout=JOIN_S)
        for w in self.workers:
            if w.is_alive():
                w.terminate()
                w.join()
        for q in [*self.index_queues, self.data_queue]:
            if q is not None:
                q.cancel_join_thread()
                q.close()


def _check_host_dataset(dataset: Any) -> None:
    """Workers are forked processes, which must not use the parent's CUDA context: a TensorDataset they read from
    must hold CPU tensors."""
    fast = _fast_source(dataset)
    if fast is None:
        return
    for i, t in enumerate(fast[0].tensors):
        if isinstance(t, Tensor) and t._be.xp.__name__ != "numpy":
            raise RuntimeError(
                f"DataLoader: num_workers > 0 needs the dataset's tensors on the CPU, but tensor {i} is on {t.device}; "
                "keep the dataset on the CPU and pass device= (or move each batch), or use num_workers=0"
            )


class MultiProcessIter:
    """Batches from ``loader.num_workers`` worker processes, in the order the sampler gave them."""

    def __init__(self, loader: Any) -> None:
        _check_host_dataset(loader.dataset)
        self.loader = loader
        self.n = loader.num_workers
        self.prefetch = loader.prefetch_factor
        self.timeout = loader.timeout
        self.iterable = loader._iterable
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        base_seed = draw_base_seed(loader)
        self.pool = pool = _Pool()
        pool.done = ctx.Event()
        pool.data_queue = ctx.Queue()
        self._finalizer = weakref.finalize(self, pool.shutdown)
        for wid in range(self.n):
            iq = ctx.Queue()
            iq.cancel_join_thread()  # tasks left unread at shutdown must not block the main process's exit
            w = ctx.Process(
                target=_worker.worker_loop,
                args=(
                    self.iterable,
                    loader.dataset,
                    iq,
                    pool.data_queue,
                    pool.done,
                    loader._auto_collation,
                    loader.collate_fn,
                    loader.drop_last,
                    loader.batch_size,
                    base_seed,
                    loader.worker_init_fn,
                    wid,
                    self.n,
                    os.getpid(),
                ),
                daemon=True,
            )
            w.start()
            pool.index_queues.append(iq)
            pool.workers.append(w)
        self._start_epoch()

    def _start_epoch(self) -> None:
        self.indices = iter(self.loader._index_sampler) if not self.iterable else itertools.count()
        self.send_idx = 0  # the next task's number
        self.rcvd_idx = 0  # the next task to hand out
        self.tasks: dict[int, list] = {}  # task -> [worker] while pending, [worker, result] once it arrived
        self.outstanding = 0
        self.active = [True] * self.n
        self.cycle = itertools.cycle(range(self.n))
        for _ in range(self.prefetch * self.n):
            self._put_task()

    def restart(self) -> None:
        """A new epoch on the same workers: each acknowledges after its last old task, so no stale batch remains."""
        if self.pool.closed:
            raise RuntimeError("DataLoader: the persistent workers were shut down (after a worker failed)")
        for q in self.pool.index_queues:
            q.put(_worker.Resume())
        acks = 0
        while acks < self.n:
            idx, _ = self._get()
            if isinstance(idx, _worker.Resume):
                acks += 1
        self._start_epoch()

    def _put_task(self) -> None:
        if self.outstanding >= self.prefetch * self.n:
            return
        for _ in range(self.n):
            wid = next(self.cycle)
            if self.active[wid]:
                break
        else:
            return  # every worker's iterable dataset is used up
        try:
            index = next(self.indices)
        except StopIteration:
            return
        self.pool.index_queues[wid].put((self.send_idx, index))
        self.tasks[self.send_idx] = [wid]
        self.outstanding += 1
        self.send_idx += 1

    def _get(self) -> tuple:
        """The next message from any worker; raises if one died or ``timeout`` passed."""
        waited = 0.0
        while True:
            step = _worker.POLL_S if self.timeout <= 0 else min(_worker.POLL_S, self.timeout - waited)
            try:
                return _worker.loads(self.pool.data_queue.get(timeout=max(step, 1e-3)))
            except queue.Empty:
                waited += step
            dead = [w.pid for w in self.pool.workers if w.exitcode is not None]
            if dead:
                self.shutdown()
                raise RuntimeError(
                    f"DataLoader worker (pid(s) {', '.join(map(str, dead))}) exited unexpectedly"
                ) from None
            if self.timeout > 0 and waited >= self.timeout:
                raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds") from None

    def next_batch(self) -> Any:
        if self.pool.closed:
            raise StopIteration
        while True:
            # tasks sent to a worker whose iterable ended never come back: skip them
            while self.rcvd_idx < self.send_idx:
                info = self.tasks[self.rcvd_idx]
                if len(info) == 2 or self.active[info[0]]:
                    break
                del self.tasks[self.rcvd_idx]
                self.rcvd_idx += 1
                self.outstanding -= 1
            else:
                if not self.loader.persistent_workers:
                    self.shutdown()
                raise StopIteration
            info = self.tasks[self.rcvd_idx]
            if len(info) == 2:
                del self.tasks[self.rcvd_idx]
                self.rcvd_idx += 1
                self._put_task()
                data = info[1]
                if data is _SKIP:
                    continue
                if isinstance(data, _worker.WorkerError):
                    data.reraise()
                return data
            idx, data = self._get()
            if isinstance(idx, _worker.Resume):
                continue
            self.outstanding -= 1
            if isinstance(data, _worker.IterEnd):
                self.active[data.worker_id] = False
                data = _SKIP
            self.tasks[idx].append(data)

    def shutdown(self) -> None:
        """Stop the workers and close the queues."""
        self._finalizer()


# the result of a task whose worker found its iterable dataset used up: no batch
_SKIP = object()
