"""Module and Parameter: the containers layers are built from, with PyTorch's API."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import no_grad
from ..errors import InputError, InputTypeError, StateDictError
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that a Module registers as trainable: a leaf that requires grad."""

    __slots__ = ()

    def __init__(self, data: Tensor, requires_grad: bool = True) -> None:
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__}")
        self._data = data._data
        self._be = data._be
        self._requires_grad = False
        self._grad = None
        self._node = None
        self._vc = [0]
        self._base = None
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer: holds Parameters, buffers and sub-Modules as attributes."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ----------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if name in self._buffers and (
            value is None or (isinstance(value, Tensor) and not isinstance(value, Parameter))
        ):
            self._buffers[name] = value  # assigning to a buffer's name updates the buffer, as PyTorch
            return
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """A tensor saved in the state dict but not trained (running statistics)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        self._check_new_name("register_buffer", name, self._buffers)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None: an absent optional parameter, like a disabled bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: cannot assign a {type(param).__name__} to parameter '{name}' (a Parameter or "
                f"None is required; wrap a tensor as nn.Parameter(t))"
            )
        self._check_new_name("register_parameter", name, self._parameters)
        if param is None:
            self._parameters[name] = None
            self.__dict__.pop(name, None)
        else:
            setattr(self, name, param)

    def _check_new_name(self, op: str, name: Any, table: dict) -> None:
        """``name`` is a string that no other attribute holds (a registered one of the same kind is replaced)."""
        if not isinstance(name, str):
            raise TypeError(f"{op}: name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{op}: name must be a non-empty string without '.', got {name!r}")
        if name not in table and hasattr(self, name):
            raise KeyError(f"{op}: attribute '{name}' already exists")

    # ---- traversal -------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, with dotted names."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for k, m in self._modules.items():
            if m is not None:
                yield k, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs, each parameter once."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for k, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{k}" if mname else k), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for mname, m in self.named_modules(prefix):
            for k, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{k}" if mname else k), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    # ---- modes, devices, gradients ---------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics)."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode."""
        return self.train(False)

    def to(self, device: Any = None, dtype: Any = None) -> Module:
        """Move (and/or cast) every parameter and buffer in place; Parameters keep their identity."""
        from .. import dtypes

        if dtype is not None and dtypes.to_dtype(dtype).kind != "f":
            raise TypeError(f"Module.to: dtype must be floating point, got {dtype}")
        with no_grad():
            for m in self.modules():
                for table in (m._parameters, m._buffers):
                    for t in table.values():
                        if t is None:
                            continue
                        moved = t.to(device) if device is not None else t
                        if dtype is not None and t.dtype.kind == "f":
                            moved = moved.to(dtype)
                        t._data, t._be = moved._data, moved._be
                        if t._grad is not None:
                            t._grad = t._grad.to(t.device).to(t.dtype)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Module:
        return self.to(f"cuda:{index}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter."""
        for p in self.parameters():
            if set_to_none:
                p._grad = None
            elif p._grad is not None:
                p._grad.zero_()

    # ---- state -----------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Every parameter and buffer by dotted name (detached; they share memory with the module)."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = p.detach()
        for name, b in self.named_buffers():
            out[name] = b.detach()
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy values in; with ``strict``, missing or unexpected keys are an error. Shapes must match; a value of
        another dtype is cast on copy, as PyTorch. Everything is checked before anything is copied."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected state_dict to be dict-like, got {type(state_dict).__name__}")
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(
                f"load_state_dict: {type(self).__name__} state dict mismatch: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        plan = []
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            expected = f"expected a Tensor (or an array) of shape {t.shape} and dtype {t.dtype}"
            if isinstance(v, np.ndarray) or hasattr(v, "__cuda_array_interface__"):
                if np.dtype(v.dtype) not in dtypes.SUPPORTED:
                    raise InputTypeError(
                        f"load_state_dict: '{k}' is an array of dtype {v.dtype} in the state dict, {expected}"
                    )
                v = Tensor(v, device=t.device)  # arrays are welcome too (a NumPy copy of the weights)
            elif not isinstance(v, Tensor):
                kind = (
                    type(v).__qualname__
                    if type(v).__module__ == "builtins"
                    else f"{type(v).__module__}.{type(v).__qualname__}"
                )
                raise InputTypeError(f"load_state_dict: '{k}' is a {kind} in the state dict, {expected}")
            if v.shape != t.shape:
                raise InputError(f"load_state_dict: '{k}' has shape {v.shape} in the state dict, expected {t.shape}")
            if v.dtype != t.dtype:
                v = v.detach().to(dtype=t.dtype)  # cast before anything is copied, so a failure changes nothing
            plan.append((t, v))
        with no_grad():
            for t, v in plan:
                t.copy_(v)
        return missing, unexpected

    # ---- calling ---------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} has no forward(): a Module subclass must define it")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        """One line of this module's settings, shown by repr()."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({k}): " + repr(m).replace("\n", "\n  ") for k, m in self._modules.items() if m is not None]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            for k, m in modules[0].items():
                self._add(k, m)
        else:
            for i, m in enumerate(modules):
                self._add(str(i), m)

    def _add(self, name: str, m: Module) -> None:
        if not isinstance(m, Module):
            raise TypeError(f"Sequential: element '{name}' is a {type(m).__name__}, expected a Module")
        self._modules[name] = m

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i: int | slice) -> Any:
        mods = list(self._modules.values())
        return Sequential(*mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, m: Module) -> Sequential:
        self._add(str(len(self._modules)), m)
        return self


class ModuleList(Module):
    """A list of Modules whose parameters are registered."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, m: Module) -> ModuleList:
        if not isinstance(m, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(m).__name__}")
        self._modules[str(len(self._modules))] = m
        return self

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())
