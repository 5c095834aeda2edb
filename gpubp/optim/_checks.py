"""Argument checks shared by the optimizers: each hyperparameter validated as PyTorch does (NaN refused too), with
messages that name the optimizer, the argument, the value and what was expected."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..tensor import Tensor

REQUIRED = object()
FLAGS = ("amsgrad", "nesterov", "centered")
AT_LEAST_ZERO = {"lr": "learning rate", "eps": "eps", "weight_decay": "weight_decay", "momentum": "momentum"}


def real(opt: str, name: str, value: Any) -> float:
    """``value`` as a Python float: a real number or a one-element Tensor, which is read here,
    once, when the group is made (a sync on a GPU, but never in step())."""
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.dtype.kind not in "iuf":
            raise ValueError(f"{opt}: Tensor {name} must be 1-element and numeric, got {value.shape} {value.dtype}")
        return float(value.item())
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{opt}: {name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def at_least_zero(opt: str, name: str, value: Any, label: str) -> float:
    v = real(opt, name, value)
    if not v >= 0.0:  # written so that NaN fails too
        raise ValueError(f"{opt}: invalid {label} {v}: expected a number >= 0")
    return v


def betas_pair(opt: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{opt}: betas must be a pair of floats (beta1, beta2), got {type(value).__name__} {value!r}")
    if len(value) != 2:  # IndexError for one value, as PyTorch's betas[1]
        error = IndexError if len(value) < 2 else ValueError
        raise error(f"{opt}: betas must be a pair of floats (beta1, beta2), got {len(value)} values: {value!r}")
    out = []
    for i, b in enumerate(value):
        v = real(opt, f"betas[{i}]", b)
        if not 0.0 <= v < 1.0:
            raise ValueError(f"{opt}: invalid betas[{i}] {v} in betas {tuple(value)}: each must be in [0, 1)")
        out.append(v)
    return out[0], out[1]


def state_index(key: Any) -> int | None:
    """A parameter index of a state dict: an int, or its string once a checkpoint's JSON has made it one."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return int(key)
    if isinstance(key, str) and key.isdigit():
        return int(key)
    return None
