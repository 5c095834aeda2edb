"""Autograd: grad mode, the tape and its engine, hooks, custom Functions, anomaly detection, and the functional
API (``gpubp.autograd.functional``), under PyTorch's names."""

from __future__ import annotations

from typing import Any

from . import graph
from .anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .api import backward, grad
from .engine import CONSTANT, OUT, Node
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import _mode, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "inference_mode",
    "backward",
    "grad",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
    "Function",
    "FunctionCtx",
    "once_differentiable",
    "graph",
    "functional",
    "gradcheck",
    "gradgradcheck",
]


def __getattr__(name: str) -> Any:
    # gpubp.autograd.functional, gradcheck and gradgradcheck sit above the engine: imported on first use
    if name == "functional":
        from . import functional

        return functional
    if name in ("gradcheck", "gradgradcheck"):
        from .. import testing

        return getattr(testing, name)
    raise AttributeError(f"module 'gpubp.autograd' has no attribute {name!r}")
