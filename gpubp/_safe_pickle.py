"""The allow-list unpickler behind ``gpubp.load(..., weights_only=True)``, and the safe-globals registry.

A pickle can call any function it names: that is how it rebuilds objects, and how a malicious file runs code. Under
``weights_only=True`` every name a pickle asks for must be on an allow-list (gpubp's own, for what checkpoints hold,
plus the user's ``add_safe_globals``), and, as PyTorch's weights-only unpickler, the opcodes that call methods on what
was built (BUILD, APPEND, SETITEM, ...) only work on the plain containers they are for. This is the pure-Python
unpickler of the standard library with those opcodes replaced: checkpoints keep their tensor data outside the pickle,
so the pickle itself is small and its speed does not matter.
"""

from __future__ import annotations

import collections
import contextlib
import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals"]

# Never allowed, even when a user lists them: they are how pickles run commands
_BLOCKED_MODULES = {"os", "posix", "nt", "sys", "subprocess", "shutil", "socket", "importlib", "runpy", "pty"}
_BLOCKED_BUILTINS = {
    "eval", "exec", "compile", "getattr", "setattr", "delattr", "__import__", "open", "globals", "locals", "vars",
    "input", "breakpoint", "exit", "quit", "help",
}  # fmt: skip

_user_globals: list[Any] = []


def _name_of(entry: Any) -> str:
    """The dotted name a pickle uses for an allowed global (``(obj, 'module.name')`` entries name themselves)."""
    if isinstance(entry, tuple):
        return entry[1]
    return f"{entry.__module__}.{entry.__qualname__}"


def add_safe_globals(safe_globals: list[Callable | tuple[Callable, str]]) -> None:
    """Allow these classes and functions in files loaded with ``weights_only=True`` (as PyTorch's): each a class or
    function, or ``(obj, "module.name")`` where a file names it differently from ``obj.__module__``."""
    if isinstance(safe_globals, (str, bytes, tuple)) or not isinstance(safe_globals, Iterable):
        raise TypeError(f"add_safe_globals: expected a list of classes or functions, got {type(safe_globals).__name__}")
    entries = list(safe_globals)
    for e in entries:
        if isinstance(e, tuple):
            if len(e) != 2 or not isinstance(e[1], str):
                raise TypeError(f"add_safe_globals: a tuple entry must be (obj, 'module.name'), got {e!r}"[:300])
        elif not callable(e) or not hasattr(e, "__qualname__"):
            raise TypeError(f"add_safe_globals: expected classes or functions, got {type(e).__name__} {e!r}"[:300])
    _user_globals.extend(e for e in entries if e not in _user_globals)


def get_safe_globals() -> list[Callable | tuple[Callable, str]]:
    """The classes and functions ``add_safe_globals`` allowed, in the order they were added."""
    return list(_user_globals)


def clear_safe_globals() -> None:
    """Forget every class and function ``add_safe_globals`` allowed."""
    _user_globals.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: list[Callable | tuple[Callable, str]]) -> Iterator[None]:
    """Allow these globals in ``weights_only=True`` loads inside the ``with`` block only, as PyTorch's."""
    before = list(_user_globals)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _user_globals[:] = before


def user_allowed() -> dict[str, Any]:
    """The user's allowed globals by the dotted name a pickle asks for."""
    out = {}
    for e in _user_globals:
        out[_name_of(e)] = e[0] if isinstance(e, tuple) else e
    return out


def _latin1(text: Any, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes (only the latin-1 codec: no codec machinery)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode is allowed for latin-1 text only, got {encoding!r}")
    return text.encode("latin1")


def _bytearray(*args: Any) -> bytearray:
    """``bytearray`` of bytes or latin-1 text only (``bytearray(10**12)`` would be a memory bomb)."""
    if not args:
        return bytearray()
    if isinstance(args[0], (bytes, bytearray)) and len(args) == 1:
        return bytearray(args[0])
    return bytearray(_latin1(*args))


# What any checkpoint may hold besides tensors: the same plain types PyTorch's weights-only unpickler allows
BASE_GLOBALS: dict[str, Any] = {
    "collections.OrderedDict": collections.OrderedDict,
    "collections.Counter": collections.Counter,
    "builtins.set": set,
    "builtins.complex": complex,
    "builtins.bytearray": _bytearray,
    "_codecs.encode": _latin1,
}


def refusal(where: str, full: str) -> pickle.UnpicklingError:
    """The error for a global that weights_only=True does not allow: what it is and how to allow it."""
    return pickle.UnpicklingError(
        f"load: {where} asks for the global '{full}', which weights_only=True does not allow (unpickling it could "
        f"run code; nothing was run). If you trust this file, allow it with "
        f"gpubp.serialization.add_safe_globals([{full}]) or inside `with gpubp.serialization.safe_globals([{full}]):`"
        ", or load it with weights_only=False"
    )


class RestrictedUnpickler(pickle._Unpickler):  # the pure-Python unpickler: its opcodes can be replaced one by one
    """An unpickler that builds only allowed globals and fills only plain containers."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: Any, where: str, allowed: dict[str, Any], persistent_load: Callable[[Any], Any]) -> None:
        super().__init__(file)
        self._where = where
        self._user = user_allowed()
        self._allowed = {**BASE_GLOBALS, **allowed}
        self._callable_ids = {id(v) for v in self._allowed.values()} | {id(v) for v in self._user.values()}
        self._user_ids = {id(v) for v in self._user.values()}
        self._pload = persistent_load

    def persistent_load(self, pid: Any) -> Any:
        return self._pload(pid)

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":  # protocol 2 (PyTorch's default) spells builtins the Python 2 way
            module = "builtins"
        full = f"{module}.{name}"
        top = module.split(".")[0]
        if top in _BLOCKED_MODULES or (module == "builtins" and name in _BLOCKED_BUILTINS):
            raise pickle.UnpicklingError(
                f"load: {self._where} asks for '{full}', which can run commands; it is never allowed (nothing was run)"
            )
        if full in self._allowed:
            return self._allowed[full]
        if full in self._user:
            return self._user[full]
        raise refusal(self._where, full)

    def _refuse(self, what: str, target: Any) -> None:
        raise pickle.UnpicklingError(
            f"load: {self._where} is not a plain checkpoint: it applies {what} to a {type(target).__name__}, which "
            "weights_only=True does not allow (nothing was run)"
        )

    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if id(func) not in self._callable_ids or not isinstance(args, tuple):
            self._refuse("a call", func)
        self.stack[-1] = func(*args)

    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if id(cls) not in self._callable_ids or not isinstance(cls, type) or not isinstance(args, tuple):
            self._refuse("NEWOBJ", cls)
        self.append(cls.__new__(cls, *args))

    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if id(cls) not in self._callable_ids or not isinstance(cls, type) or type(kwargs) is not dict:
            self._refuse("NEWOBJ_EX", cls)
        self.append(cls.__new__(cls, *args, **kwargs))

    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def load_build(self) -> None:
        inst = self.stack[-2]  # the stack ends with: instance, state
        if type(inst) is collections.OrderedDict:
            state = self.stack.pop()
            if type(state) is not dict:
                self._refuse("BUILD with a non-dict state", inst)
            inst.__dict__.update(state)  # a state dict's _metadata (layer versions), as PyTorch
            return
        if id(type(inst)) not in self._user_ids:
            self._refuse("BUILD (setting attributes)", inst)
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def _container(self, target: Any, kinds: tuple[type, ...], what: str) -> None:
        if type(target) not in kinds:
            self._refuse(what, target)

    def load_append(self) -> None:
        value = self.stack.pop()
        self._container(self.stack[-1], (list,), "APPEND")
        self.stack[-1].append(value)

    dispatch[pickle.APPEND[0]] = load_append

    def load_appends(self) -> None:
        items = self.pop_mark()
        self._container(self.stack[-1], (list,), "APPENDS")
        self.stack[-1].extend(items)

    dispatch[pickle.APPENDS[0]] = load_appends

    _DICTS = (dict, collections.OrderedDict, collections.Counter)

    def load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._container(self.stack[-1], self._DICTS, "SETITEM")
        self.stack[-1][key] = value

    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self) -> None:
        items = self.pop_mark()
        self._container(self.stack[-1], self._DICTS, "SETITEMS")
        for i in range(0, len(items) - 1, 2):
            self.stack[-1][items[i]] = items[i + 1]

    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_additems(self) -> None:
        items = self.pop_mark()
        self._container(self.stack[-1], (set,), "ADDITEMS")
        self.stack[-1].update(items)

    dispatch[pickle.ADDITEMS[0]] = load_additems

    def load_inst(self) -> None:  # protocol 0/1 instantiation: PyTorch's weights-only unpickler has none either
        self._refuse("INST", None)

    dispatch[pickle.INST[0]] = load_inst
    dispatch[pickle.OBJ[0]] = load_inst
