"""The tape's public entry points, with PyTorch's signatures: ``backward`` (into ``.grad``) and ``grad`` (returned).

They check the outputs, inputs and given gradients, and hand (graph entry, gradient) roots to the engine's
``_run``: nothing changes before every check has passed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .engine import _accumulate, _run

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["backward", "grad"]


def _root_grad(t: Tensor, gradient: Any, op: str, graph: bool) -> Any:
    with t._be.enter():
        return _root_grad_here(t, gradient, op, graph)


def _root_grad_here(t: Tensor, gradient: Any, op: str, graph: bool) -> Any:
    from ..tensor import Tensor

    if gradient is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"{op}: grad can be created implicitly only for a single-element output, "
                f"got shape {tuple(t.shape)}; pass gradient= (a tensor of that shape)"
            )
        ones = t._be.xp.ones(t._data.shape, dtype=t._data.dtype)
        return Tensor._wrap(ones, t._be) if graph else ones
    g = gradient._data
    if gradient._be is not t._be:
        raise InputError(f"{op}: gradient is on {gradient.device}, output on {t.device}")
    if tuple(g.shape) != tuple(t.shape):
        raise InputError(f"{op}: gradient has shape {tuple(g.shape)}, expected the output's shape {tuple(t.shape)}")
    if graph:  # the gradient itself may be in a graph (a double-backward trick): keep it there
        if g.dtype == t._data.dtype:
            return gradient
        from ..ops import astype

        return astype(gradient, t._data.dtype)
    return t._be.xp.array(g, dtype=t._data.dtype)  # our own copy: leaves may keep it


def _check_grads(grads: list, op: str, what: str) -> None:
    from ..tensor import Tensor

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


def _as_list(x: Any, what: str, op: str) -> list:
    from ..tensor import Tensor

    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return list(x)
    raise TypeError(f"{op}: {what} must be a Tensor or a sequence of Tensors, got {type(x).__name__}")


def _grads_for(outputs: list, given: Any, op: str, what: str) -> list:
    from ..tensor import Tensor

    if given is None or isinstance(given, Tensor):
        given = [given] * len(outputs) if given is None else [given]
    elif isinstance(given, (list, tuple)):
        given = list(given)  # a sequence, one gradient per tensor, as PyTorch
    else:
        raise TypeError(f"{op}: {what} can be Tensors or None, got {type(given).__name__}")
    _check_grads(given, op, what)
    if len(given) != len(outputs):
        raise InputError(f"{op}: got {len(given)} {what} for {len(outputs)} tensors")
    return given


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Tensor | Sequence[Tensor] | None = None,
) -> None:
    """Accumulate d(tensors)/d(leaf) into ``.grad`` of every leaf that requires grad (or of ``inputs`` only).

    ``create_graph=True`` records the backward pass, so the gradients can be differentiated again;
    ``retain_graph`` defaults to ``create_graph``, as PyTorch."""
    tensors = _as_list(tensors, "tensors", "backward")
    grad_tensors = _grads_for(tensors, grad_tensors, "backward", "gradients")
    graph = bool(create_graph)
    retain = graph if retain_graph is None else bool(retain_graph)
    roots = [
        (_entry(t, "backward", f"element {i} of tensors"), _root_grad(t, g, "backward", graph))
        for i, (t, g) in enumerate(zip(tensors, grad_tensors))
    ]
    if inputs is None:
        _run(roots, retain, None, graph)
        return
    inputs = _as_list(inputs, "inputs", "backward")
    if not inputs:
        raise RuntimeError("backward: inputs= must be a non-empty sequence of tensors when given")
    slots = {}
    for i, t in enumerate(inputs):
        slots.setdefault(_entry(t, "backward", f"inputs[{i}]"), len(slots))
    found = _run(roots, retain, slots, graph)
    stored: set[int] = set()
    for i, t in enumerate(inputs):
        g = found.get(slots[_entry(t, "backward", f"inputs[{i}]")])
        if g is not None:
            _accumulate(t, g, stored, graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned; no ``.grad`` changes.

    ``create_graph=True`` records the computation, so the result can be differentiated again (Hessian-vector
    products, gradient penalties); ``materialize_grads`` gives zeros instead of None for unused inputs."""
    from ..tensor import Tensor

    if is_grads_batched:
        raise InputError("grad: is_grads_batched=True is not supported in gpubp; loop over the batch of grad_outputs")
    outputs = _as_list(outputs, "outputs", "grad")
    inputs = _as_list(inputs, "inputs", "grad")
    grad_outputs = _grads_for(outputs, grad_outputs, "grad", "grad_outputs")
    if allow_unused is None:
        allow_unused = materialize_grads
    graph = bool(create_graph)
    retain = graph if retain_graph is None else bool(retain_graph)
    capture: dict = {}
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] is a {type(t).__name__}, expected a Tensor")
        capture.setdefault(_entry(t, "grad", f"inputs[{i}]"), []).append(i)
    roots = [
        (_entry(t, "grad", f"outputs[{i}]"), _root_grad(t, g, "grad", graph))
        for i, (t, g) in enumerate(zip(outputs, grad_outputs))
    ]
    slots = {entry: j for j, entry in enumerate(capture)}
    found = _run(roots, retain, slots, graph)
    result: list[Tensor | None] = [None] * len(inputs)
    for entry, j in slots.items():
        g = found.get(j)
        for i in capture[entry]:
            t = inputs[i]
            if g is None:
                if not allow_unused:
                    raise RuntimeError(
                        f"grad: inputs[{i}] was not used to compute the outputs; pass allow_unused=True "
                        "to get None for it"
                    )
                if materialize_grads:
                    with t._be.enter():
                        result[i] = Tensor._wrap(t._be.xp.zeros(t._data.shape, t._data.dtype), t._be)
                continue
            with t._be.enter():
                if graph:
                    result[i] = g if g._data.dtype == t._data.dtype else g.astype(t._data.dtype)
                else:
                    result[i] = Tensor._wrap(t._be.xp.array(g, dtype=t._data.dtype), t._be)
    return tuple(result)
