"""The tape: graph nodes, grad mode, and the reverse-mode engine shared by every backend.

Each differentiable op that sees an input requiring grad records one ``Node``: its VJP
closure, the graph entries of its inputs, and the versions of the tensors it saved.
Nodes get increasing sequence numbers, so recording order is a topological order and
backward simply walks the reachable nodes from the newest to the oldest: no recursion.

The engine only moves arrays around (calls VJPs, adds gradients); it never reads device
data back to the host, so a CUDA backward runs without a single synchronization.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .backend import SWITCHING
from .errors import InputError

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "backward", "grad"]


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when ops record the tape (the default)."""
    return _mode.enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns recording on or off."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = _mode.enabled

    def __enter__(self) -> None:
        self.prev = _mode.enabled
        _mode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self.prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper


class _NoParamDecorator(set_grad_enabled):
    """A mode usable as ``with m():``, ``@m()`` and, as PyTorch's, the bare ``@m``."""

    _MODE = False

    def __new__(cls, orig_func: Callable | None = None, *args: Any, **kwargs: Any) -> Any:
        if orig_func is not None and callable(orig_func):
            return cls()(orig_func)
        return super().__new__(cls)

    def __init__(self, orig_func: Callable | None = None) -> None:
        super().__init__(self._MODE)


class no_grad(_NoParamDecorator):
    """Ops inside record nothing: for evaluation and in-place parameter updates."""

    _MODE = False


class enable_grad(_NoParamDecorator):
    """Turn recording back on inside a ``no_grad`` block."""

    _MODE = True


class inference_mode(set_grad_enabled):
    """``no_grad`` under PyTorch's name for inference (``mode=False`` leaves recording as it is); gpubp has no
    separate inference tensors, so tensors made inside can later be used with autograd."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        super().__init__(False)
        self._off = bool(mode)

    def __enter__(self) -> None:
        self.prev = _mode.enabled
        if self._off:
            _mode.enabled = False

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(self._off):
                return fn(*args, **kwargs)

        return wrapper


_seq = itertools.count()


class Node:
    """One recorded op: ``vjp(g)`` maps the output's gradient to one gradient per input.

    ``inputs`` holds, per op input, the Node that produced it, the leaf Tensor itself
    (when it requires grad), or None (no gradient wanted).
    """

    __slots__ = ("name", "vjp", "inputs", "saved", "seq", "be")

    def __init__(self, name: str, vjp: Callable, inputs: tuple, saved: tuple, be: Any = None) -> None:
        self.name = name
        self.vjp = vjp
        self.inputs = inputs
        self.saved = saved  # ((version_box, version_at_save), ...)
        self.seq = next(_seq)
        self.be = be  # the backend of the op's output: its VJP runs with that device current


def _collect(roots: Iterable[Node]) -> list[Node]:
    """Every node reachable from ``roots``, newest first, checked before anything runs.

    All checks happen here so that a failing backward changes no gradient.
    """
    seen: set[Node] = set()
    stack = list(roots)
    order = []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.vjp is None:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time (op '{node.name}'); "
                "its saved buffers were freed by the first backward. "
                "Pass retain_graph=True to the first backward to keep them."
            )
        for box, version in node.saved:
            if box[0] != version:
                raise RuntimeError(
                    f"backward: a tensor saved by op '{node.name}' was modified in place after it was "
                    f"saved (version {version}, now {box[0]}); its gradient would be wrong. "
                    "Use an out-of-place op (x = x + y instead of x += y), or clone() before modifying."
                )
        order.append(node)
        for inp in node.inputs:
            if type(inp) is Node and inp not in seen:
                stack.append(inp)
    order.sort(key=lambda n: n.seq, reverse=True)
    return order


def _run(
    roots: Sequence[tuple[Any, Any]],
    retain_graph: bool,
    capture: dict | None,
) -> dict:
    """Propagate gradients from ``roots`` ((graph entry, gradient array) pairs).

    With ``capture`` None, gradients accumulate into leaves' ``.grad``. Otherwise
    ``capture`` maps graph entries (Nodes or leaf Tensors) to slots, and only their
    gradients are returned, in a dict slot -> array; no ``.grad`` changes.
    """

    pending: dict[Node, Any] = {}
    leaf_grads: dict[Tensor, Any] = {}
    owned: set[int] = set()  # ids of sums the engine made itself: safe to add into in place
    for entry, g in roots:
        _add(pending if type(entry) is Node else leaf_grads, entry, g, owned)
    order = _collect([e for e, _ in roots if type(e) is Node])

    found: dict = {}
    for node in order:
        g = pending.pop(node, None)
        owned.discard(id(g))  # handed to a VJP, which may pass it on to several inputs
        if capture is not None and node in capture:
            found[capture[node]] = g
        vjp = node.vjp
        if not retain_graph:
            node.vjp = None  # frees the closure and every array it saved
            node.saved = ()
        if g is None:
            continue  # reachable, but no gradient reached it
        if SWITCHING[0] and node.be is not None:  # several GPUs: run the VJP and its sums on the node's device
            with node.be.enter():
                _apply(node, vjp, g, pending, leaf_grads, owned)
        else:
            _apply(node, vjp, g, pending, leaf_grads, owned)

    if capture is not None:
        for leaf, g in leaf_grads.items():
            if leaf in capture:
                found[capture[leaf]] = g
        return found
    stored: set[int] = set()
    for leaf, g in leaf_grads.items():
        with leaf._be.enter():
            _store(leaf, g, stored)
    return {}


def _apply(node: Node, vjp: Callable, g: Any, pending: dict, leaf_grads: dict, owned: set[int]) -> None:
    grads = vjp(g)
    for inp, gi in zip(node.inputs, grads):
        if inp is None or gi is None:
            continue
        _add(pending if type(inp) is Node else leaf_grads, inp, gi, owned)


def _store(leaf: Tensor, g: Any, stored: set[int]) -> None:
    """Accumulate ``g`` into ``leaf.grad``. A new ``.grad`` is always a C-contiguous array of the leaf's dtype
    that the leaf owns: a VJP may hand one array (or views of it, a transposed one for a weight used as ``w.T``) to
    several inputs, ``clip_grad_*_`` and accumulation change ``.grad`` in place, and the fused optimizer kernels
    read it as one flat run of memory."""
    from .tensor import Tensor

    if g.dtype != leaf._data.dtype:
        g = g.astype(leaf._data.dtype, order="C")
    elif g.base is not None or id(g) in stored or not g.flags.c_contiguous:
        g = leaf._be.xp.array(g, order="C")  # copy (also materializes a broadcast view)
    stored.add(id(g))
    if leaf._grad is None:
        leaf._grad = Tensor._wrap(g, leaf._be)
    else:
        leaf._grad._data += g
        leaf._grad._vc[0] += 1


def _add(table: dict, key: Any, g: Any, owned: set[int]) -> None:
    prev = table.get(key)
    if prev is None:
        table[key] = g  # may alias another gradient: never written into
    elif id(prev) in owned and prev.shape == g.shape and prev.dtype == g.dtype:
        prev += g  # a sum this engine allocated and still holds alone
    else:
        owned.discard(id(prev))  # prev may die now: its id must not vouch for a later array
        total = prev + g
        owned.add(id(total))
        table[key] = total


def _root_grad(t: Tensor, gradient: Any, op: str) -> Any:
    with t._be.enter():
        return _root_grad_here(t, gradient, op)


def _root_grad_here(t: Tensor, gradient: Any, op: str) -> Any:

    if gradient is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"{op}: grad can be created implicitly only for a single-element output, "
                f"got shape {tuple(t.shape)}; pass gradient= (a tensor of that shape)"
            )
        return t._be.xp.ones(t._data.shape, dtype=t._data.dtype)
    g = gradient._data
    if gradient._be is not t._be:
        raise InputError(f"{op}: gradient is on {gradient.device}, output on {t.device}")
    if tuple(g.shape) != tuple(t.shape):
        raise InputError(f"{op}: gradient has shape {tuple(g.shape)}, expected the output's shape {tuple(t.shape)}")
    return t._be.xp.array(g, dtype=t._data.dtype)  # our own copy: leaves may keep it


def _check_grads(grads: list, op: str, what: str) -> None:
    from .tensor import Tensor

    for g in grads:
        if g is not None and not isinstance(g, Tensor):
            raise TypeError(f"{op}: {what} can be Tensors or None, got {type(g).__name__}")


def _entry(t: Tensor, op: str, what: str) -> Any:
    if t._node is not None:
        return t._node
    if t._requires_grad:
        return t
    raise RuntimeError(
        f"{op}: {what} does not require grad and has no grad_fn; "
        "call requires_grad_() on the leaves you want gradients for"
    )


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None, retain_graph: bool = False) -> None:
    """Accumulate d(tensors)/d(leaf) into ``.grad`` of every leaf that requires grad."""
    from .tensor import Tensor

    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    elif isinstance(grad_tensors, (list, tuple)):
        grad_tensors = list(grad_tensors)  # a sequence, one gradient per tensor, as PyTorch
    else:
        raise TypeError(f"backward: gradients can be Tensors or None, got {type(grad_tensors).__name__}")
    _check_grads(grad_tensors, "backward", "gradients")
    if len(grad_tensors) != len(tensors):
        raise InputError(f"backward: got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    roots = [
        (_entry(t, "backward", f"element {i} of tensors"), _root_grad(t, g, "backward"))
        for i, (t, g) in enumerate(zip(tensors, grad_tensors))
    ]
    _run(roots, retain_graph, None)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned; no ``.grad`` changes."""
    from .tensor import Tensor

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    elif isinstance(grad_outputs, (list, tuple)):
        grad_outputs = list(grad_outputs)
    else:
        raise TypeError(f"grad: grad_outputs can be Tensors or None, got {type(grad_outputs).__name__}")
    _check_grads(grad_outputs, "grad", "grad_outputs")
    if len(grad_outputs) != len(outputs):
        raise InputError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    capture: dict = {}
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] is a {type(t).__name__}, expected a Tensor")
        capture.setdefault(_entry(t, "grad", f"inputs[{i}]"), []).append(i)
    roots = [
        (_entry(t, "grad", f"outputs[{i}]"), _root_grad(t, g, "grad"))
        for i, (t, g) in enumerate(zip(outputs, grad_outputs))
    ]
    slots = {entry: j for j, entry in enumerate(capture)}
    found = _run(roots, retain_graph, slots)
    result: list[Tensor | None] = [None] * len(inputs)
    for entry, j in slots.items():
        g = found.get(j)
        for i in capture[entry]:
            if g is None:
                if not allow_unused:
                    raise RuntimeError(
                        f"grad: inputs[{i}] was not used to compute the outputs; pass allow_unused=True "
                        "to get None for it"
                    )
                continue
            t = inputs[i]
            with t._be.enter():
                result[i] = Tensor._wrap(t._be.xp.array(g, dtype=t._data.dtype), t._be)
    return tuple(result)
