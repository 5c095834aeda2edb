"""Removable hook handles, as ``torch.utils.hooks``."""

from __future__ import annotations

import itertools
import weakref
from typing import Any

__all__ = ["RemovableHandle"]

_ids = itertools.count()


def _ref(d: Any) -> Any:
    """A weak reference to ``d`` where it can have one (an OrderedDict), else a strong one (a plain dict)."""
    try:
        return weakref.ref(d)
    except TypeError:
        return lambda: d


class RemovableHandle:
    """What ``register_*hook`` returns: ``handle.remove()`` takes the hook out again (also as a context manager).

    It holds its dicts weakly (OrderedDicts; a plain dict strongly), so a handle kept around does not keep a module
    or tensor alive."""

    def __init__(self, hooks_dict: Any, *, extra_dict: Any = None) -> None:
        self.hooks_dict_ref = _ref(hooks_dict)
        self.id = next(_ids)
        extras = [] if extra_dict is None else (extra_dict if isinstance(extra_dict, list) else [extra_dict])
        self.extra_dict_ref = tuple(_ref(d) for d in extras)

    def remove(self) -> None:
        """Take the hook out (a second call does nothing)."""
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
