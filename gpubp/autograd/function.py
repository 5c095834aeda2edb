"""Custom differentiable functions: ``gpubp.autograd.Function``, PyTorch's API.

``forward`` runs without recording (on tensors, with any ops); ``apply`` records one node whose rule calls the
user's ``backward`` with the output gradients as tensors. In first-order backward those are plain tensors and
``backward`` runs under no_grad; with ``create_graph=True`` its ops are recorded, so a Function whose backward is
written with differentiable ops can be differentiated twice (``once_differentiable`` marks one that cannot).
Several outputs share one node: each output's gradient reaches it as a part, and ``backward`` gets them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..errors import InputError
from .engine import Node, _Part
from .grad_mode import _mode, no_grad

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """What ``forward`` (or ``setup_context``) hands to ``backward``: saved tensors and flags."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple = ()
        self._dirty: tuple = ()
        self._non_differentiable: tuple = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep tensors (or None) for backward; ``saved_tensors`` gives them back, checked for in-place changes."""
        from ..tensor import Tensor

        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward can only save tensors or None, but argument {i} is a {type(t).__name__}; "
                    "keep other values as attributes of ctx"
                )
        self._saved = tuple((t, None if t is None else t._vc[0]) for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``; RuntimeError if one was changed in place since."""
        out = []
        for i, (t, version) in enumerate(self._saved):
            if t is not None and t._vc[0] != version:
                raise RuntimeError(
                    f"saved_tensors: tensor {i} saved for backward (shape {t.shape}) was modified in place after it "
                    f"was saved (version {version}, now {t._vc[0]}); its gradient would be wrong"
                )
            out.append(t)
        return tuple(out)

    def mark_dirty(self, *tensors: Any) -> None:
        """Say that ``forward`` changed these inputs in place (and returns them)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors: Any) -> None:
        """Say that these outputs have no gradient (indices, masks): they do not require grad."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` gets None (not zeros) for outputs that received no gradient."""
        self.materialize_grads = bool(value)


class Function:
    """Subclass with ``forward(ctx, *args)`` (or ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``)
    and ``backward(ctx, *grad_outputs)`` returning one gradient per forward input (None for non-tensors or inputs
    that need none), as static methods; call it through ``MyFunction.apply(*args)``."""

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        """The computation; a subclass defines it."""
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        """Optional: fill ``ctx`` from the inputs and output when ``forward`` does not take ``ctx``."""
        raise NotImplementedError("setup_context is not overridden")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        """The gradients of the inputs from those of the outputs; a subclass defines it."""
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            f"{type(self).__name__}: custom Functions are used through their static methods: call "
            f"{type(self).__name__}.apply(...), do not instantiate them"
        )

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` and record the node whose gradient is ``backward``."""
        from ..tensor import Tensor

        recording = _mode.enabled
        needs = tuple(isinstance(a, Tensor) and a._requires_grad and recording for a in args)
        ctx = FunctionCtx(needs)
        own_setup = cls.setup_context is not Function.setup_context
        with no_grad():
            if own_setup:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if not any(needs):
            return output
        single = isinstance(output, Tensor)
        outs = [output] if single else list(output) if isinstance(output, (tuple, list)) else None
        if outs is None:
            raise TypeError(
                f"{cls.__name__}.forward must return a Tensor or a tuple of Tensors, got {type(output).__name__}"
            )
        outs = _fresh_outputs(cls, ctx, args, outs)
        _record(cls, ctx, args, outs)
        if single:
            return outs[0]
        return type(output)(outs) if isinstance(output, tuple) else outs


def _fresh_outputs(cls: type, ctx: FunctionCtx, args: tuple, outs: list) -> list:
    """An output that is an input (unchanged) becomes a new tensor over the same memory, as PyTorch makes a view;
    a dirty input stays itself (its place in the graph is taken by this node)."""
    from ..tensor import Tensor

    dirty = {id(t) for t in ctx._dirty}
    inputs = {id(a) for a in args if isinstance(a, Tensor)}
    fresh = []
    for o in outs:
        if isinstance(o, Tensor) and id(o) in inputs and id(o) not in dirty:
            o = Tensor._wrap(o._data, o._be, o._vc)
        elif isinstance(o, Tensor) and id(o) in dirty:
            if o._node is None and o._requires_grad:
                raise RuntimeError(
                    f"{cls.__name__}: a leaf tensor that requires grad is being used in an in-place operation "
                    "(mark_dirty)"
                )
        fresh.append(o)
    return fresh


def _record(cls: type, ctx: FunctionCtx, args: tuple, outs: list) -> None:
    from ..tensor import Tensor

    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    entries = tuple(
        (args[i]._node if args[i]._node is not None else args[i]) if ctx.needs_input_grad[i] else None
        for i in positions
    )
    non_diff = {id(t) for t in ctx._non_differentiable}
    diff = [
        j for j, o in enumerate(outs) if isinstance(o, Tensor) and id(o) not in non_diff and o._data.dtype.kind == "f"
    ]
    specs = [(o._data.shape, o._data.dtype, o._be) if isinstance(o, Tensor) else None for o in outs]
    in_specs = [(args[i]._data.shape, args[i]._be) for i in positions]
    be = outs[diff[0]]._be if diff else args[positions[0]]._be
    # ctx is the node's one saved value: the first backward frees it (and the tensors it saved) unless retain_graph
    rule = functools.partial(_backward_rule, cls, specs, positions, in_specs, len(args))
    joint = Node(cls.__name__ + "Backward", rule, entries, (), be, (ctx,), (None,))
    joint.nout = len(outs) if len(outs) > 1 else 1
    for j in diff:
        o = outs[j]
        if joint.nout == 1:
            o._node = joint
        else:
            o._node = Node(f"{cls.__name__}Backward[{j}]", functools.partial(_select, j), (joint,), (), o._be)
        o._requires_grad = True
    for j, o in enumerate(outs):
        if isinstance(o, Tensor) and j not in diff:
            o._requires_grad = False


def _select(index: int, m: Any, g: Any) -> tuple:
    return (_Part(index, g),)


def _backward_rule(
    cls: type, specs: list, positions: list, in_specs: list, nargs: int, m: Any, g: Any, ctx: FunctionCtx
) -> tuple:
    from ..tensor import Tensor

    parts = g if isinstance(g, list) else [g]
    grads = []
    for p, sp in zip(parts, specs):
        if p is None:
            if sp is None or not ctx.materialize_grads:
                grads.append(None)
                continue
            shape, dtype, be = sp
            p = be.xp.zeros(shape, dtype=dtype)
            grads.append(Tensor._wrap(p, be))
        else:
            grads.append(p if m.graph else Tensor._wrap(p, sp[2]))
    result = cls.backward(ctx, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    if len(result) != nargs:
        if len(result) > nargs and all(r is None for r in result[nargs:]):
            result = result[:nargs]
        else:
            raise RuntimeError(
                f"function {cls.__name__}Backward returned an incorrect number of gradients "
                f"(expected {nargs}, got {len(result)})"
            )
    out = []
    for k, i in enumerate(positions):
        r = result[i]
        if r is None or not ctx.needs_input_grad[i]:
            out.append(None)
            continue
        if not isinstance(r, Tensor):
            raise TypeError(
                f"function {cls.__name__}Backward returned a {type(r).__name__} as gradient {i}; "
                "expected a Tensor or None"
            )
        shape, be = in_specs[k]
        if r.shape != shape:
            if r.numel() != _numel(shape):
                raise InputError(
                    f"function {cls.__name__}Backward returned an invalid gradient at index {i} - got {r.shape} but "
                    f"expected shape compatible with {shape}"
                )
            r = r.reshape(shape)
        out.append(r if m.graph else r._data)
    for i, a in enumerate(result[:nargs]):
        if a is not None and i not in positions:
            raise RuntimeError(
                f"function {cls.__name__}Backward returned a gradient different than None at position {i}, but the "
                "corresponding forward input was not a Tensor"
            )
    return tuple(out)


def _numel(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def once_differentiable(fn: Callable) -> Callable:
    """For ``backward``: run it without recording even under create_graph=True; differentiating its result again
    raises RuntimeError (the function is differentiable once)."""

    @functools.wraps(fn)
    def wrapper(ctx: Any, *grads: Any) -> Any:
        from ..tensor import Tensor

        with no_grad():
            result = fn(ctx, *grads)
        if not _mode.enabled:
            return result
        needing = [g for g in grads if isinstance(g, Tensor) and g._requires_grad]
        if not needing:
            return result
        single = not isinstance(result, tuple)
        items = (result,) if single else result
        out = tuple(_refuse_twice(r, needing) if isinstance(r, Tensor) else r for r in items)
        return out[0] if single else out

    return wrapper


def _refuse_twice(r: Any, grads: list) -> Any:
    from ..ops._core import make

    def rule(m: Any, g: Any) -> tuple:
        raise RuntimeError("trying to differentiate twice a function that was marked with @once_differentiable")

    return make("once_differentiable", r._data, r._be, grads, rule)
