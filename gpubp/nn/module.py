"""Module: the base class layers are built from, with PyTorch's API (registration, traversal, devices and dtypes,
state dicts, repr). Parameter and Buffer live in ``parameter``, the containers in ``container``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import no_grad
from ..backend import Device
from ..errors import InputTypeError
from ..tensor import Tensor, backend_for
from . import _hooks
from ._hooks import RemovableHandle, global_hook_ids
from ._state_dict import _typename, load_state_dict
from .parameter import Buffer, Parameter

__all__ = ["Buffer", "Module", "Parameter"]


def _addindent(s: str, spaces: int) -> str:
    """Indent every line of ``s`` but the first (a child module's repr inside its parent's), as PyTorch."""
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _is_device(a: Any) -> bool:
    return isinstance(a, (str, Device)) or (isinstance(a, int) and not isinstance(a, bool))


def _parse_to(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """(device, dtype) from ``to``'s forms: to(device, dtype, non_blocking), to(dtype, non_blocking),
    to(tensor, non_blocking); non_blocking is accepted (gpubp's copies are ordered on the stream anyway)."""
    kwargs = dict(kwargs)
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs.pop("memory_format", None) is not None:
        raise TypeError("Module.to: memory_format is not supported: gpubp tensors have one (contiguous) layout")
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):
        device, dtype = rest[0].device, rest[0].dtype
        rest = rest[1:]
    elif rest and _is_device(rest[0]):
        device = rest.pop(0)
        if rest and not isinstance(rest[0], bool):
            dtype = rest.pop(0)
    elif rest and not isinstance(rest[0], bool):
        dtype = rest.pop(0)
    if rest and isinstance(rest[0], bool):  # non_blocking
        rest.pop(0)
    if kwargs or rest:
        got = ", ".join([_typename(a) for a in args] + [f"{k}={_typename(v)}" for k, v in kwargs.items()])
        raise TypeError(
            f"to() received an invalid combination of arguments - got ({got}), but expected one of: "
            "(device=None, dtype=None, non_blocking=False), (dtype, non_blocking=False), (tensor, non_blocking=False)"
        )
    if isinstance(device, int):
        device = f"cuda:{device}"  # a bare int is a GPU index, as PyTorch
    return device, (None if dtype is None else dtypes.to_dtype(dtype))


class Module:
    """Base class of every layer: holds Parameters, buffers and sub-Modules as attributes."""

    _version: int = 1  # saved in a state dict's ``_metadata``; a layer whose state changed shape raises it
    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        _hooks.init_hook_dicts(d)

    # ---- registration ----------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params, modules, buffers = d.get("_parameters"), d.get("_modules"), d.get("_buffers")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as parameter '{name}' (nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as child module '{name}' (nn.Module or None expected)"
                )
            modules[name] = None
        elif isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as buffer '{name}' (nn.Buffer, Tensor or None expected)"
                )
            if buffers is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            persistent = value.persistent if isinstance(value, Buffer) else name not in self._non_persistent_buffers_set
            self._forget(name, keep="_buffers")
            self.register_buffer(name, value, persistent)
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Drop ``name`` from every table but ``keep`` (an attribute changes kind: a buffer becomes a module...)."""
        self.__dict__.pop(name, None)
        for table in ("_parameters", "_buffers", "_modules"):
            if table != keep:
                self.__dict__[table].pop(name, None)
        if keep != "_buffers":
            self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def _check_new_name(self, op: str, kind: str, name: Any, table: str) -> None:
        """``name`` is a string that no other attribute holds (a registered one of the same kind is replaced)."""
        if table not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{op}: {kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f'{op}: {kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{op}: {kind} name can\'t be empty string ""')
        if name not in self.__dict__[table] and hasattr(self, name):
            raise KeyError(f"{op}: attribute '{name}' already exists")

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor kept with the module but not trained (running statistics); ``persistent=False`` keeps it out of
        the state dict."""
        self._check_new_name("register_buffer", "buffer", name, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                "(a Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None: an absent optional parameter, like a disabled bias)."""
        self._check_new_name("register_parameter", "parameter", name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: cannot assign a {_typename(param)} to parameter '{name}' (nn.Parameter or "
                "None required; wrap a tensor as nn.Parameter(t))"
            )
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name`` (None: an absent optional child)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {_typename(module)} is not a Module subclass")
        self._check_new_name("add_module", "module", name, "_modules")
        self._modules[name] = module

    def register_module(self, name: str, module: Module | None) -> None:
        """Alias of ``add_module``."""
        self.add_module(name, module)

    # ---- traversal -------------------------------------------------------------------------
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and every descendant with dotted names, depth first; each once unless
        ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, each once."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct children with their names, each once."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and m not in seen:
                seen.add(m)
                yield name, m

    def children(self) -> Iterator[Module]:
        """The direct children, each once."""
        for _, m in self.named_children():
            yield m

    def _named_members(
        self, table: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mname, m in mods:
            for k, v in m.__dict__[table].items():
                if v is None or id(v) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield (f"{mname}.{k}" if mname else k), v

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs, module by module; a shared parameter once unless
        ``remove_duplicate=False``."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs, persistent or not."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer, each once."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The descendant at dotted path ``target`` ('' is this module)."""
        if target == "":
            return self
        mod: Any = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target``."""
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``."""
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return mod._buffers[name]

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every child (recursively), then on this module; returns self (e.g. to initialize weights)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes, gradients ------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics) for this module and its children."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: training mode is expected to be boolean, got {_typename(mode)} {mode!r}")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (False freezes the module); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None, or to zeros in place)."""
        for p in self.parameters():
            if p._grad is None:
                continue
            if set_to_none:
                p._grad = None
                continue
            g = p._grad
            if g._node is not None or g._requires_grad:  # a gradient from create_graph=True: cut it from its graph
                g = p._grad = g.detach()
            g.zero_()

    # ---- devices and dtypes ----------------------------------------------------------------
    def _convert(self, device: Any, dtype: np.dtype | None, op: str) -> Module:
        """Move every parameter and buffer to ``device`` and cast the floating-point ones to ``dtype``, in place:
        Parameters (and their gradients) keep their identity, so an optimizer built before still holds them."""
        if device is not None:
            device = backend_for(device, op).device  # an unknown device fails before anything moves
        with no_grad():
            for m in self.modules():
                for table in (m._parameters, m._buffers):
                    for t in table.values():
                        if t is None:
                            continue
                        cast = dtype if dtype is not None and t.dtype.kind == "f" else None
                        moved = t.to(device=device, dtype=cast)
                        t._data, t._be = moved._data, moved._be
                        if t._grad is not None:
                            t._grad = t._grad.to(device=t.device, dtype=t.dtype)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)``, in place; only floating-point
        parameters and buffers are cast (an int64 counter stays int64), as PyTorch."""
        device, dtype = _parse_to(args, kwargs)
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        return self._convert(device, dtype, "Module.to")

    def cpu(self) -> Module:
        """Move every parameter and buffer to the CPU."""
        return self._convert("cpu", None, "Module.cpu")

    def cuda(self, device: int | str | Device | None = None) -> Module:
        """Move every parameter and buffer to a GPU (the current one, or ``device``: an index or a name)."""
        if device is None:
            device = "cuda"
        elif isinstance(device, int) and not isinstance(device, bool):
            device = f"cuda:{device}"
        return self._convert(device, None, "Module.cuda")

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32."""
        return self._convert(None, dtypes.float32, "Module.float")

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64."""
        return self._convert(None, dtypes.float64, "Module.double")

    def half(self) -> Module:
        """Cast floating-point parameters and buffers to float16."""
        return self._convert(None, dtypes.float16, "Module.half")

    def bfloat16(self) -> Module:
        """Not available: gpubp has no bfloat16 dtype yet."""
        raise TypeError("Module.bfloat16: gpubp has no bfloat16 dtype yet; use half() (float16) or float()")

    def type(self, dst_type: Any) -> Module:
        """Cast floating-point parameters and buffers to the floating-point ``dst_type``."""
        dt = dtypes.to_dtype(dst_type)
        if dt.kind != "f":
            raise InputTypeError(
                f"Module.type: parameters must stay floating point (they require gradients), got dst_type {dt}"
            )
        return self._convert(None, dt, "Module.type")

    # ---- state -----------------------------------------------------------------------------
    def state_dict(
        self, *, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name, module by module (each module's parameters, then
        its buffers, then its children), as PyTorch; detached (sharing memory) unless ``keep_vars``."""
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()  # type: ignore[attr-defined]
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = {"version": self._version}
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=f"{prefix}{name}.", keep_vars=keep_vars)
        return destination

    def _upgrade_state_dict(self, state_dict: dict[str, Any], prefix: str, version: int | None) -> None:
        """Fill in what a state dict of an older version of this layer lacks (BatchNorm's num_batches_tracked)."""

    def _local_state(self) -> dict[str, Tensor]:
        state = {k: p for k, p in self._parameters.items() if p is not None}
        state.update(
            (k, b) for k, b in self._buffers.items() if b is not None and k not in self._non_persistent_buffers_set
        )
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """Copy values in (or, with ``assign``, take the given tensors as they are); with ``strict``, missing or
        unexpected keys are an error. Returns (missing_keys, unexpected_keys). A value of another dtype is cast on
        copy, as PyTorch; everything is checked before anything changes."""
        return load_state_dict(self, state_dict, strict, assign)

    # ---- calling, repr, pickling -----------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every Module subclass defines it."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._hook_ids or global_hook_ids):  # the ids of every hook of this module, of every global hook
            return self.forward(*args, **kwargs)  # the fast path: no hook anywhere
        return _hooks.call_with_hooks(self, args, kwargs)

    # ---- hooks (the machinery, with PyTorch's hook signatures, is in _hooks) -----------------
    def register_forward_pre_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, args)`` (may return new args) before each forward; returns a RemovableHandle."""
        return _hooks.register_forward_pre_hook(self, hook, prepend, with_kwargs)

    def register_forward_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False, always_call: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, args, output)`` (may return a new output) after each forward; returns a handle."""
        return _hooks.register_forward_hook(self, hook, prepend, with_kwargs, always_call)

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` (may return new grad_output) in backward; returns a handle."""
        return _hooks.register_full_backward_pre_hook(self, hook, prepend)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` (may return new grad_input) in backward; returns a handle."""
        return _hooks.register_full_backward_hook(self, hook, prepend)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        """Deprecated in PyTorch for ``register_full_backward_hook``; here it is that method."""
        return _hooks.register_full_backward_hook(self, hook, False)

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """This module's settings, shown by repr() (one line, or several)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"

    def __dir__(self) -> list[str]:
        keys = [*dir(type(self)), *self.__dict__, *self._parameters, *self._modules, *self._buffers]
        return sorted({k for k in keys if not k[0].isdigit()})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_non_persistent_buffers_set", set())
        _hooks.init_hook_dicts(self.__dict__)  # pickles from before hooks lack their tables
