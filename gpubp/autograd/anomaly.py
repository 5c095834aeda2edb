"""Anomaly detection: find the op whose gradient first went NaN.

While it is on, every recorded op remembers where user code called it, and backward checks each gradient a rule
returns: the first with a NaN raises, naming the op and that line. Checking reads every gradient back to the host,
so this is a debugging mode: it synchronizes with the GPU once per op and slows training down.
"""

from __future__ import annotations

import functools
import os
import threading
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]

_GPUBP_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _State(threading.local):
    enabled = False
    check_nan = True


_state = _State()


def _activate() -> None:
    from .graph import activate

    activate()


def is_enabled() -> bool:
    return _state.enabled


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()`` or after ``set_detect_anomaly(True)``."""
    return _state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly mode checks gradients for NaN (``check_nan=True``, the default)."""
    return _state.enabled and _state.check_nan


class set_detect_anomaly:
    """Turn anomaly detection on or off, as a call, a context manager or a decorator."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = (_state.enabled, _state.check_nan)
        _state.enabled = bool(mode)
        _state.check_nan = bool(check_nan)
        _activate()

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _state.enabled, _state.check_nan = self.prev


class detect_anomaly:
    """Context manager (and decorator) that records where each op was called and makes backward raise at the first
    op whose gradient holds a NaN, naming the op and the line of user code that created it. It synchronizes with
    the GPU after every op of backward: for debugging only."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = bool(check_nan)
        self.prev = (False, True)

    def __enter__(self) -> None:
        self.prev = (_state.enabled, _state.check_nan)
        _state.enabled = True
        _state.check_nan = self.check_nan
        _activate()

    def __exit__(self, *exc: object) -> None:
        _state.enabled, _state.check_nan = self.prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


def user_stack() -> str:
    """The call stack outside gpubp, innermost last: where user code created the op."""
    frames = [f for f in traceback.extract_stack()[:-1] if not f.filename.startswith(_GPUBP_DIR)]
    return "".join(traceback.format_list(frames[-6:]))


def _where(node: Any) -> str:
    if node.stack is None:
        return " (it was created before anomaly detection was turned on, so where is not known)"
    lines = node.stack.rstrip().splitlines()
    last = next((ln.strip() for ln in reversed(lines) if ln.strip().startswith("File ")), "")
    return f", created at {last}\nTraceback of the forward call that created it:\n{node.stack}"


def check(node: Any, grads: Any) -> None:
    """Raise RuntimeError if a gradient ``node``'s rule returned holds a NaN. Reads each back: a sync."""
    if not _state.check_nan:
        return
    import numpy as np

    for i, g in enumerate(grads):
        if g is None:
            continue
        data = getattr(g, "_data", g)
        if getattr(data, "dtype", None) is None or data.dtype.kind not in "fc":
            continue
        if bool(node.be.xp.isnan(data).any()) if node.be is not None else bool(np.isnan(data).any()):
            raise RuntimeError(
                f"Function '{node.op}' returned nan values in its {i}th output (the gradient of input {i} of op "
                f"'{node.op}'){_where(node)}"
            )
