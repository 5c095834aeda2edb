"""Activation checkpointing, as ``torch.utils.checkpoint``: trade compute for memory.

``checkpoint(fn, *args)`` runs ``fn`` recording its graph as usual, but every tensor its ops save for backward
is dropped (``saved_tensors_hooks`` packs it into a slot number). When backward first needs one, ``fn`` runs again
on the same inputs, with the random state it saw the first time, and its saved tensors fill the slots in
recording order. So the gradients are exactly those without checkpointing (``autograd.grad``, parameters inside
``fn``, double backward and nested checkpoints included), while between forward and backward only ``fn``'s inputs,
outputs and the graph's bookkeeping stay in memory.

gpubp has one implementation for both of PyTorch's variants: ``use_reentrant=True`` is accepted and computes the
same (it is the non-reentrant algorithm, which PyTorch recommends and which supports everything the reentrant
one does).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable
from typing import Any

from ..autograd.grad_mode import enable_grad
from ..autograd.graph import saved_tensors_hooks

__all__ = ["checkpoint", "checkpoint_sequential"]


def _backends(args: Iterable[Any]) -> list:
    from ..backend import get_backend
    from ..tensor import Tensor

    seen = [get_backend("cpu")]
    for a in args:
        if isinstance(a, Tensor) and a._be not in seen:
            seen.append(a._be)
    return seen


def _rng_states(backends: list) -> list:
    """Each backend's random stream, copied, so the recomputation draws the same dropout masks."""
    from ..generator import default_generator

    states = [(default_generator, copy.deepcopy(default_generator._rng))]
    for be in backends:
        rng = getattr(be, "_rng", None)
        if rng is not None:
            states.append((be, copy.deepcopy(rng)))
    return states


@contextlib.contextmanager
def _replaying(states: list) -> Any:
    """Run with the saved random streams, then give each its own stream back."""
    now = [(owner, owner._rng) for owner, _ in states]
    for owner, rng in states:
        owner._rng = copy.deepcopy(rng)
    try:
        yield
    finally:
        for owner, rng in now:
            owner._rng = rng


class _Frame:
    """One checkpointed call: its inputs, and the slots of what its ops saved (filled by recomputation)."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, states: list | None) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.states = states
        self.count = 0  # slots handed out by the first forward
        self.values: list | None = None  # the recomputed saved tensors, slot by slot
        self.left = 0  # slots not yet unpacked by this backward

    def pack(self, t: Any) -> int:
        slot = self.count
        self.count += 1
        return slot

    def unpack(self, slot: int) -> Any:
        if self.values is None:
            self._recompute()
        value = self.values[slot]
        self.left -= 1
        if self.left == 0:  # every slot used: free the recomputed tensors
            self.values = None
        return value

    def _recompute(self) -> None:
        values: list = []

        def keep(t: Any) -> int:
            values.append(t)
            return len(values) - 1

        replay = _replaying(self.states) if self.states is not None else contextlib.nullcontext()
        with replay, enable_grad(), saved_tensors_hooks(keep, lambda i: values[i]):
            self.fn(*self.args, **self.kwargs)
        if len(values) != self.count:
            raise RuntimeError(
                f"checkpoint: recomputing the checkpointed function saved {len(values)} tensors for backward, but "
                f"its first run saved {self.count}; the function must do the same operations when run again "
                "(no data-dependent branches on tensors' values, no changing global state)"
            )
        self.values = values
        self.left = self.count


def checkpoint(
    function: Callable,
    *args: Any,
    use_reentrant: bool | None = None,
    context_fn: Callable | None = None,
    determinism_check: str = "default",
    debug: bool = False,
    preserve_rng_state: bool = True,
    **kwargs: Any,
) -> Any:
    """``function(*args, **kwargs)``, keeping none of the tensors its ops save for backward: they are recomputed
    when backward needs them. Same results and gradients; less memory between forward and backward."""
    if not callable(function):
        raise TypeError(f"checkpoint: function must be callable, got {type(function).__name__}")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"checkpoint: determinism_check must be 'default' or 'none', got {determinism_check!r}")
    if context_fn is not None:
        raise ValueError("checkpoint: context_fn is not supported in gpubp; leave it unset")
    states = _rng_states(_backends((*args, *kwargs.values()))) if preserve_rng_state else None
    frame = _Frame(function, args, kwargs, states)
    with saved_tensors_hooks(frame.pack, frame.unpack):
        return function(*args, **kwargs)


def checkpoint_sequential(
    functions: Any,
    segments: int,
    input: Any,
    use_reentrant: bool | None = None,
    **kwargs: Any,  # noqa: A002
) -> Any:
    """Run a Sequential (or a list of modules) in ``segments`` chunks, each checkpointed but the last, as PyTorch."""
    from ..nn import Sequential

    if isinstance(functions, Sequential):
        functions = list(functions.children())
    functions = list(functions)
    if not isinstance(segments, int) or segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be a positive int, got {segments!r}")
    size = len(functions) // segments if len(functions) >= segments else 1

    def run(start: int, end: int) -> Callable:
        def forward(x: Any) -> Any:
            for f in functions[start : end + 1]:
                x = f(x)
            return x

        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)  # noqa: A001
    return run(end + 1, len(functions) - 1)(input)
