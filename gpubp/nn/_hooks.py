"""nn.Module hooks, as PyTorch: forward pre-hooks and hooks, full backward pre-hooks and hooks, per module and global
(``gpubp.nn.modules.module.register_module_*``). ``Module.__call__`` comes here only when some hook is registered.

Backward hooks work as PyTorch's ``BackwardHook``: the module's positional tensor inputs and its tensor outputs each
pass through one multi-output identity Function. The output one's backward sees every grad_output at once (and runs
the backward pre-hooks); the input one's backward then sees every grad_input at once and runs the backward hooks."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from ..utils.hooks import RemovableHandle

__all__ = [
    "RemovableHandle",
    "register_module_backward_hook",
    "register_module_forward_hook",
    "register_module_forward_pre_hook",
    "register_module_full_backward_hook",
    "register_module_full_backward_pre_hook",
]

# Hooks common to all modules; they run before each module's own. The dicts are never rebound.
_global_backward_pre_hooks: dict[int, Callable] = OrderedDict()
_global_backward_hooks: dict[int, Callable] = OrderedDict()
_global_forward_pre_hooks: dict[int, Callable] = OrderedDict()
_global_forward_hooks: dict[int, Callable] = OrderedDict()
_global_forward_hooks_always_called: dict[int, bool] = OrderedDict()
_global_forward_hooks_with_kwargs: dict[int, bool] = OrderedDict()
GLOBAL_HOOKS = (_global_forward_pre_hooks, _global_forward_hooks, _global_backward_pre_hooks, _global_backward_hooks)
# The id of every global hook, whatever its kind (each handle removes its id here too): ``Module.__call__`` tests
# this one dict, and the module's ``_hook_ids``, to take its fast path when no hook is registered anywhere.
global_hook_ids: dict[int, bool] = OrderedDict()

# Each module's own hook tables (PyTorch's attribute names: code that inspects ``m._forward_hooks`` still works).
HOOK_DICTS = (
    "_backward_pre_hooks",
    "_backward_hooks",
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
)
_CALLED = ("_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_pre_hooks")


def init_hook_dicts(d: dict) -> None:
    """Give a module's ``__dict__`` its hook tables; ones already there are kept (``__setstate__``, where a
    PyTorch pickle may bring hooks along without gpubp's ``_hook_ids``)."""
    for name in HOOK_DICTS:
        if name not in d:
            d[name] = OrderedDict()
    d.setdefault("_is_full_backward_hook", None)
    if "_hook_ids" not in d:
        d["_hook_ids"] = OrderedDict((i, True) for name in _CALLED for i in d[name])


def _add(op: str, hooks: dict, ids: dict, hook: Callable, prepend: bool, extra: tuple = ()) -> RemovableHandle:
    """Put ``hook`` into ``hooks`` and its id into ``ids`` (and ``extra``, by the caller); the handle removes all."""
    if not callable(hook):
        raise TypeError(f"{op}: hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks, extra_dict=[ids, *extra])
    hooks[handle.id] = hook
    ids[handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)  # type: ignore[attr-defined]
    return handle


# ---- per-module registration (Module's register_* methods delegate here) ----------------------------------------
def register_forward_pre_hook(module: Any, hook: Callable, prepend: bool, with_kwargs: bool) -> RemovableHandle:
    """``hook(module, args)`` (or ``hook(module, args, kwargs)``) before each forward."""
    d = module.__dict__
    kw = d["_forward_pre_hooks_with_kwargs"]
    handle = _add("register_forward_pre_hook", d["_forward_pre_hooks"], d["_hook_ids"], hook, prepend, (kw,))
    if with_kwargs:
        kw[handle.id] = True
    return handle


def register_forward_hook(
    module: Any, hook: Callable, prepend: bool, with_kwargs: bool, always_call: bool
) -> RemovableHandle:
    """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) after each forward."""
    d = module.__dict__
    kw, always = d["_forward_hooks_with_kwargs"], d["_forward_hooks_always_called"]
    handle = _add("register_forward_hook", d["_forward_hooks"], d["_hook_ids"], hook, prepend, (kw, always))
    if with_kwargs:
        kw[handle.id] = True
    if always_call:
        always[handle.id] = True
    return handle


def register_full_backward_pre_hook(module: Any, hook: Callable, prepend: bool) -> RemovableHandle:
    """``hook(module, grad_output)`` once the gradients of the module's outputs are known."""
    d = module.__dict__
    return _add("register_full_backward_pre_hook", d["_backward_pre_hooks"], d["_hook_ids"], hook, prepend)


def register_full_backward_hook(module: Any, hook: Callable, prepend: bool) -> RemovableHandle:
    """``hook(module, grad_input, grad_output)`` once the gradients of the module's inputs are known."""
    d = module.__dict__
    handle = _add("register_full_backward_hook", d["_backward_hooks"], d["_hook_ids"], hook, prepend)
    d["_is_full_backward_hook"] = True
    return handle


# ---- global registration (gpubp.nn.modules.module.register_module_*) ---------------------------------------------
def register_module_forward_pre_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """A forward pre-hook ``hook(module, args) -> None or new args`` for every module, run before each module's own
    pre-hooks. Returns a handle whose ``remove()`` takes it out."""
    return _add("register_module_forward_pre_hook", _global_forward_pre_hooks, global_hook_ids, hook, False)


def register_module_forward_hook(
    hook: Callable[..., Any], *, with_kwargs: bool = False, always_call: bool = False
) -> RemovableHandle:
    """A forward hook ``hook(module, args, output) -> None or new output`` (``with_kwargs``: ``hook(module, args,
    kwargs, output)``) for every module, run before each module's own; ``always_call``: also when forward raises."""
    extra = (_global_forward_hooks_with_kwargs, _global_forward_hooks_always_called)
    handle = _add("register_module_forward_hook", _global_forward_hooks, global_hook_ids, hook, False, extra)
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_pre_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """A backward pre-hook ``hook(module, grad_output) -> None or new grad_output`` for every module, run before
    each module's own."""
    return _add("register_module_full_backward_pre_hook", _global_backward_pre_hooks, global_hook_ids, hook, False)


def register_module_full_backward_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """A backward hook ``hook(module, grad_input, grad_output) -> None or new grad_input`` for every module, run
    before each module's own."""
    return _add("register_module_full_backward_hook", _global_backward_hooks, global_hook_ids, hook, False)


def register_module_backward_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """Deprecated in PyTorch in favour of ``register_module_full_backward_hook``; here it is that function (the
    full hook's documented grad_input and grad_output)."""
    return _add("register_module_backward_hook", _global_backward_hooks, global_hook_ids, hook, False)


# ---- calling ------------------------------------------------------------------------------------------------------
def _run_pre_hooks(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    with_kwargs = module._forward_pre_hooks_with_kwargs
    for hook_id, hook in (*_global_forward_pre_hooks.items(), *module._forward_pre_hooks.items()):
        if hook_id in with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(
                        f"forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got {result}."
                    )
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    return args, kwargs


def _forward_hook_items(module: Any) -> list:
    """(hook, with_kwargs, always_call, id) for the global forward hooks, then the module's, in calling order."""
    own_kw, own_always = module._forward_hooks_with_kwargs, module._forward_hooks_always_called
    items = [
        (hook, i in _global_forward_hooks_with_kwargs, i in _global_forward_hooks_always_called, i)
        for i, hook in _global_forward_hooks.items()
    ]
    items += [(hook, i in own_kw, i in own_always, i) for i, hook in module._forward_hooks.items()]
    return items


def call_with_hooks(module: Any, args: tuple, kwargs: dict) -> Any:
    """``module(*args, **kwargs)`` with its hooks and the global ones, in PyTorch's order: forward pre-hooks,
    backward wrapping of the inputs, forward, forward hooks, backward wrapping of the outputs. Forward hooks
    registered with ``always_call`` also run when any of that raises."""
    result = None
    called: set[int] = set()
    try:
        backward_pre_hooks = [*_global_backward_pre_hooks.values(), *module._backward_pre_hooks.values()]
        backward_hooks = [*_global_backward_hooks.values(), *module._backward_hooks.values()]
        if _global_forward_pre_hooks or module._forward_pre_hooks:
            args, kwargs = _run_pre_hooks(module, args, kwargs)
        bw_hook = None
        if backward_hooks or backward_pre_hooks:
            bw_hook = BackwardHook(module, backward_hooks, backward_pre_hooks)
            args = bw_hook.setup_input_hook(args)
        result = module.forward(*args, **kwargs)
        if _global_forward_hooks or module._forward_hooks:
            for hook, with_kwargs, always, hook_id in _forward_hook_items(module):
                if always:
                    called.add(hook_id)
                r = hook(module, args, kwargs, result) if with_kwargs else hook(module, args, result)
                if r is not None:
                    result = r
        if bw_hook is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn(
                    "For backward hooks to be called, module output should be a Tensor or a tuple of Tensors but "
                    f"received {type(result)}",
                    stacklevel=3,
                )
            result = bw_hook.setup_output_hook(result)
        return result
    except Exception:
        for hook, with_kwargs, always, hook_id in _forward_hook_items(module):
            if not always or hook_id in called:
                continue
            try:
                r = hook(module, args, kwargs, result) if with_kwargs else hook(module, args, result)
                if r is not None:
                    result = r
            except Exception as e:  # the forward's own error is the one to raise
                warnings.warn(
                    "module forward hook with ``always_call=True`` raised an exception that was silenced as another "
                    f"error was raised in forward: {e}",
                    stacklevel=3,
                )
        raise


# ---- backward hooks -----------------------------------------------------------------------------------------------
class BackwardHookFunction(Function):
    """Identity on any number of tensors whose backward hands all their gradients to ``hook`` at once."""

    @staticmethod
    def forward(ctx: Any, hook: Callable, materialize: bool, *tensors: Tensor) -> tuple:  # type: ignore[override]
        ctx.hook = hook
        ctx.set_materialize_grads(materialize)
        outs = tuple(t.view_as(t) for t in tensors)  # new tensors: the inputs keep their own place in the graph
        ctx.mark_non_differentiable(*[o for o, t in zip(outs, tensors) if not t.requires_grad])
        return outs

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> tuple:  # type: ignore[override]
        return (None, None, *ctx.hook(grads))


def _pack_with_none(indices: list, values: Any, size: int) -> tuple:
    res: list = [None] * size
    for i, v in zip(indices, values):
        res[i] = v
    return tuple(res)


class BackwardHook:
    """One module call's backward hooks: captures grad_output at the outputs' wrapper, calls the hooks with
    grad_input at the inputs' wrapper, as PyTorch's ``torch.utils.hooks.BackwardHook``."""

    def __init__(self, module: Any, user_hooks: list, user_pre_hooks: list) -> None:
        self.module = module
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.grad_outputs: Any = None
        self.n_outputs = -1
        self.output_tensors_index: list | None = None
        self.n_inputs = -1
        self.input_tensors_index: list | None = None

    def _apply_on_tensors(self, hook: Callable, materialize: bool, args: tuple) -> tuple[Any, list | None]:
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if not (is_grad_enabled() and any(args[i].requires_grad for i in idx)):
            return args, None
        new = BackwardHookFunction.apply(hook, materialize, *(args[i] for i in idx))
        items = list(args)
        for i, t in zip(idx, new):
            items[i] = t
        return (tuple(items) if type(args) is tuple else type(args)(*items)), idx

    def setup_input_hook(self, args: tuple) -> tuple:
        """Wrap the positional tensor inputs; their wrapper's backward calls the backward hooks."""
        res, idx = self._apply_on_tensors(self._input_hook, True, args)
        self.n_inputs = len(args)
        self.input_tensors_index = idx
        return res

    def setup_output_hook(self, result: Any) -> Any:
        """Wrap the tensor outputs; their wrapper's backward records grad_output and calls the backward pre-hooks."""
        single = not isinstance(result, tuple)
        args = (result,) if single else result
        res, idx = self._apply_on_tensors(self._output_hook, False, args)
        self.n_outputs = len(args)
        self.output_tensors_index = idx
        return res[0] if single else res

    def _check_grads(self, what: str, new: Any, old: Any) -> None:
        for i, (n, o) in enumerate(zip(new, old)):
            if n is None:
                continue
            if not isinstance(n, Tensor):
                raise TypeError(
                    f"backward hook of {type(self.module).__name__}: {what}[{i}] must be a Tensor or None, got "
                    f"{type(n).__name__}"
                )
            if o is not None and n.shape != o.shape:
                raise RuntimeError(
                    f"backward hook of {type(self.module).__name__} has changed the size of {what}[{i}]: got "
                    f"{tuple(n.shape)}, expected {tuple(o.shape)}"
                )

    def _output_hook(self, grads: tuple) -> tuple:
        # runs only in the backward of the wrapper setup_output_hook made, so output_tensors_index is set
        self.grad_outputs = _pack_with_none(self.output_tensors_index, grads, self.n_outputs)
        for pre_hook in self.user_pre_hooks:
            r = pre_hook(self.module, self.grad_outputs)
            if r is None:
                continue
            if len(r) != len(self.grad_outputs):
                raise RuntimeError(
                    f"Backward pre hook returned an invalid number of grad_output, got {len(r)}, but expected "
                    f"{len(self.grad_outputs)}"
                )
            self._check_grads("grad_output", r, self.grad_outputs)
            self.grad_outputs = r
        local = self.grad_outputs
        if self.input_tensors_index is None:  # no input requires grad: the hooks fire now, with grad_input of Nones
            warnings.warn(
                "Full backward hook is firing when gradients are computed with respect to module outputs since no "
                "inputs require gradients. See https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                "#torch.nn.Module.register_full_backward_hook for more details.",
                stacklevel=2,
            )
            grad_inputs = (None,) * self.n_inputs
            for hook in self.user_hooks:
                r = hook(self.module, grad_inputs, self.grad_outputs)
                if r is not None and not (isinstance(r, tuple) and all(g is None for g in r)):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should always return None or "
                        "None for all gradients."
                    )
            self.grad_outputs = None
        return tuple(local[i] for i in self.output_tensors_index)

    def _input_hook(self, grads: tuple) -> tuple:
        if self.grad_outputs is None:
            # the gradient reached the inputs without passing the outputs' wrapper (a double backward): no hook
            return grads
        res = _pack_with_none(self.input_tensors_index, grads, self.n_inputs)
        for hook in self.user_hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(res):
                raise RuntimeError(
                    f"Backward hook returned an invalid number of grad_input, got {len(out)}, but expected {len(res)}"
                )
            self._check_grads("grad_input", [out[i] for i in self.input_tensors_index], grads)
            res = out
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_tensors_index)
