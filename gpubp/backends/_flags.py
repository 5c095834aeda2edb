"""Settable backend flags as PyTorch's ``torch.backends`` has them: module attributes that check their value."""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator
from typing import Any

from ..errors import InputTypeError


def flag(key: str, setter: str, doc: str) -> property:
    """A bool attribute kept in the owner's ``_state[key]``; any other value raises as PyTorch's ``setter`` does."""

    def get(owner: Any) -> bool:
        return owner._state[key]

    def put(owner: Any, value: Any) -> None:
        if not isinstance(value, bool):
            raise InputTypeError(f"{setter} expects a bool, but got {type(value).__name__}")
        owner._state[key] = value

    return property(get, put, doc=doc)


def make_flag_module(name: str, **flags: property) -> None:
    """Turn module ``name`` into one whose ``flags`` are checked properties (``cudnn.benchmark = True`` works, and
    ``cudnn.benchmark = 1`` raises, as in PyTorch)."""
    module = sys.modules[name]
    cls = type(f"{name.rsplit('.', 1)[-1].capitalize()}Module", (types.ModuleType,), dict(flags))
    module.__class__ = cls


@contextlib.contextmanager
def set_flags(owner: Any, values: dict[str, Any]) -> Iterator[None]:
    """Set the given flags of ``owner`` for the block, then put the old values back."""
    old = {k: getattr(owner, k) for k in values}
    try:
        for k, v in values.items():
            setattr(owner, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(owner, k, v)
