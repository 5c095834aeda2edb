"""Tensor hooks: ``register_hook`` (may replace the gradient), ``retain_grad`` and
``register_post_accumulate_grad_hook``. A leaf keeps its hooks on itself; a non-leaf on the node that made it,
so the engine calls them as the gradient passes."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..utils.hooks import RemovableHandle

if TYPE_CHECKING:
    from ..tensor import Tensor


class LeafHooks:
    """A leaf's hooks: ``pre`` see (and may replace) its gradient, ``post`` run after ``.grad`` is updated."""

    __slots__ = ("pre", "post")

    def __init__(self) -> None:
        self.pre: OrderedDict[int, Callable] = OrderedDict()
        self.post: OrderedDict[int, Callable] = OrderedDict()


def _leaf_hooks(t: Tensor) -> LeafHooks:
    if t._hooks is None:
        t._hooks = LeafHooks()
    return t._hooks


def register_hook(self: Tensor, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
    """Call ``hook(grad)`` each time a gradient with respect to this tensor is computed; a tensor it returns
    replaces the gradient. Returns a handle whose ``remove()`` takes the hook out."""
    if not callable(hook):
        raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
    if not self._requires_grad:
        raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
    node = self._node
    if node is None:
        hooks = _leaf_hooks(self).pre
    else:
        if node.hooks is None:
            node.hooks = OrderedDict()
        hooks = node.hooks
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def register_post_accumulate_grad_hook(self: Tensor, hook: Callable[[Tensor], None]) -> RemovableHandle:
    """Call ``hook(tensor)`` after backward has accumulated into this leaf's ``.grad`` (an optimizer step per
    parameter, for instance). Leaves only, as PyTorch."""
    if not callable(hook):
        raise TypeError(f"register_post_accumulate_grad_hook: hook must be callable, got {type(hook).__name__}")
    if not self._requires_grad:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't require gradient"
        )
    if self._node is not None:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered on non-leaf tensors"
        )
    hooks = _leaf_hooks(self).post
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


class _Retain:
    """The hook ``retain_grad`` puts on a non-leaf: it accumulates each gradient into the tensor's ``.grad``."""

    LAST = True  # runs after the other hooks, as PyTorch's

    def __init__(self, t: Tensor) -> None:
        self.ref = weakref.ref(t)

    def __call__(self, g: Tensor) -> None:
        t = self.ref()
        if t is None:
            return
        from ..ops import clone

        if g._node is None:  # first-order: a plain copy, the tensor owns it
            with g._be.enter():
                g = type(g)._wrap(g._be.xp.array(g._data, order="C"), g._be)
        else:
            g = clone(g)
        t._grad = g if t._grad is None else t._grad + g


def retain_grad(self: Tensor) -> None:
    """Keep this non-leaf tensor's gradient in ``.grad`` after backward (a leaf keeps its own anyway)."""
    if not self._requires_grad:
        raise RuntimeError("retain_grad: can't retain_grad on a tensor that has requires_grad=False")
    node = self._node
    if node is None or retains_grad(self):
        return
    if node.hooks is None:
        node.hooks = OrderedDict()
    handle = RemovableHandle(node.hooks)
    node.hooks[handle.id] = _Retain(self)


def retains_grad(self: Tensor) -> bool:
    """True for a non-leaf tensor whose gradient ``retain_grad()`` keeps."""
    node = self._node
    if node is None or not node.hooks:
        return False
    return any(isinstance(h, _Retain) and h.ref() is self for h in node.hooks.values())


def attach(cls: type) -> None:
    """Make the hooks Tensor methods (``retains_grad`` a property), as PyTorch's."""
    cls.register_hook = register_hook
    cls.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook
    cls.retain_grad = retain_grad
    cls.retains_grad = property(retains_grad)
