"""Module.load_state_dict's work: match keys module by module as PyTorch, check every value, then copy."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dtypes
from ..autograd import no_grad
from ..errors import InputError, InputTypeError, StateDictError
from ..tensor import Tensor
from .parameter import Parameter

if TYPE_CHECKING:
    from .module import Module


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it missed and the keys it did not use, as PyTorch."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _typename(obj: Any) -> str:
    """A value's kind for error messages: ``Tensor``, ``int``, ``numpy.ndarray``."""
    if isinstance(obj, Tensor):
        return type(obj).__name__
    kind = type(obj)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def load_state_dict(
    module: Module, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
) -> _IncompatibleKeys:
    """``Module.load_state_dict``: missing and unexpected keys found module by module (PyTorch's order); with
    ``strict`` they are an error; a bad value is an error; nothing changes unless everything fits."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"load_state_dict: expected state_dict to be dict-like, got {type(state_dict).__name__}")
    metadata = getattr(state_dict, "_metadata", None) or {}
    missing: list[str] = []
    unexpected: list[str] = []
    errors: list[Exception] = []
    plan: list[tuple[Module, str, Tensor, Tensor]] = []

    def load(m: Module, local: dict[str, Any], prefix: str) -> None:
        m._upgrade_state_dict(local, prefix, metadata.get(prefix[:-1], {}).get("version"))
        own = m._local_state()
        for name, t in own.items():
            key = prefix + name
            if key not in local:
                missing.append(key)
                continue
            try:
                plan.append((m, name, t, _checked_value(key, local[key], t, assign)))
            except (TypeError, ValueError) as e:
                errors.append(e)
        for key in local:
            head = key[len(prefix) :].split(".", 1)[0]
            if head not in m._modules and head not in own:
                unexpected.append(key)
        for name, child in m._modules.items():
            if child is not None:
                cp = f"{prefix}{name}."
                load(child, {k: v for k, v in local.items() if k.startswith(cp)}, cp)

    load(module, dict(state_dict), "")
    if strict and (missing or unexpected):
        lines = [f"Error(s) in loading state_dict for {type(module).__name__}:"]
        if missing:
            lines.append("\tMissing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if unexpected:
            lines.append("\tUnexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
        lines.extend(f"\t{e}" for e in errors)
        lines.append(
            f"load_state_dict: missing keys {missing}, unexpected keys {unexpected} (strict=False loads the "
            "keys that match)"
        )
        raise StateDictError("\n".join(lines))
    if errors:
        raise errors[0]
    with no_grad():
        for m, name, t, v in plan:
            if not assign:
                t.copy_(v)
            elif isinstance(t, Parameter):
                m._parameters[name] = v if isinstance(v, Parameter) else Parameter(v, t.requires_grad)
                m._parameters[name].requires_grad_(t.requires_grad)
            else:
                m._buffers[name] = v
    return _IncompatibleKeys(missing, unexpected)


def _checked_value(key: str, v: Any, t: Tensor, assign: bool) -> Tensor:
    """State-dict value ``v`` for tensor ``t`` as a Tensor of t's shape (and, unless ``assign``, t's dtype), or
    the error saying why it cannot be."""
    expected = f"expected a Tensor (or an array) of shape {t.shape} and dtype {t.dtype}"
    if isinstance(v, np.ndarray) or hasattr(v, "__cuda_array_interface__"):
        if np.dtype(v.dtype) not in dtypes.SUPPORTED:
            raise InputTypeError(
                f"load_state_dict: '{key}' is an array of dtype {v.dtype} in the state dict, {expected}"
            )
        v = Tensor(v, device=t.device)  # arrays are welcome too (a NumPy copy of the weights)
    elif not isinstance(v, Tensor):
        raise InputTypeError(f"load_state_dict: '{key}' is a {_typename(v)} in the state dict, {expected}")
    if v.shape != t.shape:
        raise InputError(
            f"load_state_dict: size mismatch: '{key}' has shape {v.shape} in the state dict, expected {t.shape} "
            "(its shape in the current model)"
        )
    if not assign and v.dtype != t.dtype:
        v = v.detach().to(dtype=t.dtype)  # cast before anything is copied, so a failure changes nothing
    return v
