"""The tape: graph nodes and the reverse-mode engine shared by every backend.

Each differentiable op that sees an input requiring grad records one ``Node``: its gradient rule, the graph
entries of its inputs, and the values the rule reads (``vals``) with where each came from (``srcs``). Nodes get
increasing sequence numbers, so recording order is a topological order and backward walks the reachable nodes
from the newest to the oldest: no recursion.

A rule is written once, ``rule(m, g, *vals) -> one gradient per input``, over a math namespace ``m``:
- first-order backward (the default) calls it with the backend's array namespace and the saved arrays, so it
  runs on raw arrays and fused kernels, as fast as a hand-written VJP;
- ``create_graph=True`` calls it with the tensor namespace and the saved values as tensors connected to the
  graph, so the backward pass is itself recorded and can be differentiated again, to any order.

The engine never reads device data back to the host (anomaly mode aside), so a CUDA backward runs without a
single synchronization.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..backend import SWITCHING
from ..errors import InputError
from . import anomaly
from .grad_mode import set_grad_enabled

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["Node", "OUT", "CONSTANT"]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


OUT = _Marker("OUT")  # a saved value that is the op's own output
CONSTANT = _Marker("CONSTANT")  # a saved input tensor that needs no gradient: a constant tensor in graph mode

_seq = itertools.count()

# The math namespaces rules run on, registered by gpubp.ops (which sits above the engine): a function giving a
# backend's array namespace, and the tensor namespace.
_MATHS: list = [None, None]


def set_maths(array_math: Callable[[Any], Any], tensor_math: Any) -> None:
    _MATHS[0], _MATHS[1] = array_math, tensor_math


class Node:
    """One recorded op: ``rule(m, g, *vals)`` maps the output's gradient to one gradient per input.

    ``inputs`` holds, per op input, the Node that produced it, the leaf Tensor itself (when it requires grad), or
    None (no gradient wanted). ``vals`` are the values the rule reads (arrays, or anything constant), ``srcs``
    says for each where it came from (a Node or leaf Tensor: an input in the graph; OUT: the output; CONSTANT: an
    input tensor without a gradient; None: a constant the rule gets as it is), ``saved`` the version of each saved
    tensor at record time.
    """

    __slots__ = ("op", "rule", "inputs", "saved", "seq", "be", "vals", "srcs", "hooks", "stack", "unpack", "nout")

    def __init__(
        self,
        name: str,
        rule: Callable | None,
        inputs: tuple,
        saved: tuple = (),
        be: Any = None,
        vals: tuple = (),
        srcs: tuple = (),
    ) -> None:
        self.op = name
        self.rule = rule
        self.inputs = inputs
        self.saved = saved  # ((version_box, version_at_save), ...)
        self.seq = next(_seq)
        self.be = be  # the backend of the op's output: its rule runs with that device current
        self.vals = vals
        self.srcs = srcs
        self.hooks: list | None = None  # gradient hooks of the output (Tensor.register_hook on a non-leaf)
        self.stack: str | None = None  # where the op was called, in anomaly mode
        self.unpack: Callable | None = None  # saved_tensors_hooks: turns packed vals back into arrays
        self.nout = 1  # a custom Function's joint node gathers the gradients of its several outputs

    def name(self) -> str:
        """The op's name, as PyTorch's ``grad_fn.name()``."""
        return self.op

    @property
    def next_functions(self) -> tuple:
        """One (node, 0) pair per input, as PyTorch's: the producing Node, a leaf's accumulator, or (None, 0)."""
        return tuple((None if e is None else e if type(e) is Node else _Accumulate(e), 0) for e in self.inputs)

    def __repr__(self) -> str:
        return f"<{self.op} node>"

    def _tensors(self, vals: tuple) -> list:
        """The saved values as tensors in the graph (create_graph=True): inputs with their graph entries, the
        output re-attached to this node (held as an array, so the node does not keep its own output alive)."""
        from ..tensor import Tensor

        out = []
        for v, s in zip(vals, self.srcs):
            if s is None:
                out.append(v)
            elif s is OUT or type(s) is Node:
                t = Tensor._wrap(v, self.be)
                t._node = self if s is OUT else s
                t._requires_grad = True
                out.append(t)
            elif s is CONSTANT:
                out.append(Tensor._wrap(v, self.be))
            else:
                out.append(s)  # a leaf tensor that requires grad: itself, so gradients reach it
        return out


class _Accumulate:
    """Where a leaf's gradient goes, as PyTorch's AccumulateGrad (``.variable`` is the leaf)."""

    def __init__(self, leaf: Tensor) -> None:
        self.variable = leaf

    def name(self) -> str:
        return "AccumulateGrad"

    next_functions = ()


class _Part:
    """One output's gradient on its way to a multi-output node."""

    __slots__ = ("index", "g")

    def __init__(self, index: int, g: Any) -> None:
        self.index = index
        self.g = g


def _collect(roots: Iterable[Node], capture: dict | None = None) -> tuple[list[Node], set[Node]]:
    """The nodes backward visits, newest first, and those of them it only takes a gradient from without running
    them; checked before anything runs, so that a failing backward changes no gradient.

    With ``capture`` (autograd.grad, backward(inputs=...)) only the nodes on a path to a captured entry run, as
    PyTorch's: the rest of the graph is neither computed nor freed."""
    seen: set[Node] = set()
    stack = list(roots)
    order = []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        for inp in node.inputs:
            if type(inp) is Node and inp not in seen:
                stack.append(inp)
    order.sort(key=lambda n: n.seq, reverse=True)
    only: set[Node] = set()
    if capture is not None:
        order, only = _leading_to(order, capture)
    for node in order:
        if node in only:
            continue
        if node.vals is None:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time (op '{node.op}'); "
                "its saved buffers were freed by the first backward. "
                "Pass retain_graph=True to the first backward to keep them."
            )
        for box, version in node.saved:
            if box[0] != version:
                raise RuntimeError(
                    f"backward: a tensor saved by op '{node.op}' was modified in place after it was "
                    f"saved (version {version}, now {box[0]}); its gradient would be wrong. "
                    "Use an out-of-place op (x = x + y instead of x += y), or clone() before modifying."
                )
    return order, only


def _leading_to(order: list[Node], capture: dict) -> tuple[list[Node], set[Node]]:
    """The nodes of ``order`` (newest first) that are captured or have an input that is captured or leads to a
    captured entry, and the captured ones among them that lead to nothing captured (their gradient is taken, their
    rule not run)."""
    leads: set[Node] = set()  # nodes that are captured or feed one
    kept = []
    only: set[Node] = set()
    for node in reversed(order):  # oldest first: a node's inputs are decided before it
        feeds = any(inp is not None and (inp in capture or inp in leads) for inp in node.inputs)
        if feeds or node in capture:
            leads.add(node)
            kept.append(node)
            if not feeds:
                only.add(node)
    kept.reverse()
    return kept, only


def _run(roots: Sequence[tuple[Any, Any]], retain_graph: bool, capture: dict | None, graph: bool = False) -> dict:
    """Propagate gradients from ``roots`` ((graph entry, gradient) pairs).

    With ``capture`` None, gradients accumulate into leaves' ``.grad``. Otherwise ``capture`` maps graph entries
    (Nodes or leaf Tensors) to slots, and only their gradients are returned, in a dict slot -> gradient; no
    ``.grad`` changes. ``graph``: gradients are tensors and every rule is recorded (create_graph=True); otherwise
    they are arrays.
    """
    pending: dict[Node, Any] = {}
    leaf_grads: dict[Tensor, Any] = {}
    owned: set[int] = set()  # ids of sums the engine made itself: safe to add into in place
    add = _add_tensor if graph else _add
    for entry, g in roots:
        add(pending if type(entry) is Node else leaf_grads, entry, g, owned)
    order, only = _collect([e for e, _ in roots if type(e) is Node], capture)

    found: dict = {}
    maths: dict = {}  # backend -> the namespace its rules run on, looked up once per backward
    pick = _MATHS[1] if graph else _MATHS[0]
    check = anomaly.is_enabled()
    with set_grad_enabled(graph):
        for node in order:
            g = pending.pop(node, None)
            owned.discard(id(g))  # handed to a rule, which may pass it on to several inputs
            if g is not None and node.hooks is not None:
                g = _run_hooks(node.hooks, g, node.be, graph)
            if capture is not None and node in capture:
                found[capture[node]] = g
                if node in only:
                    continue  # nothing asked for lies beyond it
            rule = node.rule
            vals = node.vals if node.unpack is None or g is None else node.unpack(node.vals)
            if not retain_graph and node.vals:  # a node that saved nothing can run again, as PyTorch's
                node.vals = None  # frees every value the rule saved
                node.saved = ()
                node.unpack = None  # and what it was packed with (a checkpoint's inputs)
            if g is None:
                continue  # reachable, but no gradient reached it
            m = maths.get(node.be)
            if m is None:
                m = maths[node.be] = pick(node.be)
            if graph:
                vals = node._tensors(vals)
            if SWITCHING[0] and node.be is not None:  # several GPUs: run the rule and its sums on the node's device
                with node.be.enter():
                    _apply(node, rule, m, g, vals, pending, leaf_grads, owned, add, check)
            else:
                _apply(node, rule, m, g, vals, pending, leaf_grads, owned, add, check)

        for leaf in list(leaf_grads):
            hooks = leaf._hooks
            if hooks is not None and hooks.pre:
                leaf_grads[leaf] = _run_hooks(hooks.pre, leaf_grads[leaf], leaf._be, graph)
    if capture is not None:
        for leaf, g in leaf_grads.items():
            if leaf in capture:
                found[capture[leaf]] = g
        return found
    stored: set[int] = set()
    for leaf, g in leaf_grads.items():
        _accumulate(leaf, g, stored, graph)
    return {}


def _accumulate(leaf: Tensor, g: Any, stored: set[int], graph: bool) -> None:
    """Add ``g`` into ``leaf.grad``, then run the leaf's post-accumulate hooks."""
    with leaf._be.enter():
        if graph:
            _store_tensor(leaf, g, stored)
        else:
            _store(leaf, g, stored)
    hooks = leaf._hooks
    if hooks is not None and hooks.post:
        for hook in list(hooks.post.values()):
            hook(leaf)


def _apply(
    node: Node,
    rule: Callable,
    m: Any,
    g: Any,
    vals: Any,
    pending: dict,
    leaf_grads: dict,
    owned: set,
    add: Callable,
    check: bool,
) -> None:
    grads = rule(m, g, *vals)
    if check:
        anomaly.check(node, grads)
    for inp, gi in zip(node.inputs, grads):
        if inp is None or gi is None:
            continue
        add(pending if type(inp) is Node else leaf_grads, inp, gi, owned)


def _run_hooks(hooks: Any, g: Any, be: Any, graph: bool) -> Any:
    """Call each gradient hook with the gradient as a tensor; one that returns a tensor replaces it."""
    from ..tensor import Tensor

    items = hooks.values() if isinstance(hooks, dict) else hooks
    gt = g if graph else Tensor._wrap(g, be)
    for hook in sorted(items, key=lambda h: getattr(h, "LAST", False)):  # retain_grad's hook sees the final value
        r = hook(gt)
        if r is not None:
            if not isinstance(r, Tensor):
                raise TypeError(f"hook: a gradient hook must return a Tensor or None, got {type(r).__name__}")
            if r.shape != gt.shape:
                raise InputError(f"hook: a gradient hook returned shape {r.shape}, expected {gt.shape}")
            gt = r
    return gt if graph else gt._data


def _store(leaf: Tensor, g: Any, stored: set[int]) -> None:
    """Accumulate ``g`` into ``leaf.grad``. A new ``.grad`` is always a C-contiguous array of the leaf's dtype
    that the leaf owns: a rule may hand one array (or views of it, a transposed one for a weight used as ``w.T``) to
    several inputs, ``clip_grad_*_`` and accumulation change ``.grad`` in place, and the fused optimizer kernels
    read it as one flat run of memory."""
    from ..tensor import Tensor

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


def _store_tensor(leaf: Tensor, g: Tensor, stored: set[int]) -> None:
    """create_graph=True: ``.grad`` becomes a tensor in the graph (accumulation is out of place, recorded)."""
    from ..ops import astype, clone

    if g._data.dtype != leaf._data.dtype:
        g = astype(g, leaf._data.dtype)
    elif id(g) in stored or not g._data.flags.c_contiguous or g._data.base is not None:
        g = clone(g)  # each leaf owns its gradient's memory, as in first-order backward
    stored.add(id(g))
    if leaf._grad is None:
        leaf._grad = g
    else:
        leaf._grad = leaf._grad + g


def _add(table: dict, key: Any, g: Any, owned: set[int]) -> None:
    if type(g) is _Part:
        _add_part(table, key, g, owned, _add)
        return
    prev = table.get(key)
    if prev is None:
        table[key] = g  # may alias another gradient: never written into
    elif id(prev) in owned and prev.ndim > 0 and prev.shape == g.shape and prev.dtype == g.dtype:
        prev += g  # a sum this engine allocated and still holds alone (NumPy's 0-d sums are immutable scalars)
    else:
        owned.discard(id(prev))  # prev may die now: its id must not vouch for a later array
        total = prev + g
        owned.add(id(total))
        table[key] = total


def _add_tensor(table: dict, key: Any, g: Any, owned: set[int]) -> None:
    if type(g) is _Part:
        _add_part(table, key, g, owned, _add_tensor)
        return
    prev = table.get(key)
    table[key] = g if prev is None else prev + g


def _add_part(table: dict, key: Node, part: _Part, owned: set[int], add: Callable) -> None:
    parts = table.get(key)
    if parts is None:
        parts = table[key] = [None] * key.nout
    slot: dict = {}
    if parts[part.index] is not None:
        slot[0] = parts[part.index]
    add(slot, 0, part.g, owned)
    parts[part.index] = slot[0]
