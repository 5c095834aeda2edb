"""Argument checks shared by the optimizers: each hyperparameter validated as PyTorch does (NaN refused too), with
messages that name the optimizer, the argument, the value and what was expected."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import InputError
from ..tensor import Tensor

REQUIRED = object()
FLAGS = ("amsgrad", "nesterov", "centered", "maximize", "capturable", "differentiable", "decoupled_weight_decay")
OPTIONAL_FLAGS = ("foreach", "fused")  # None (PyTorch picks), True or False: ours always take the fused path
# flags PyTorch added after gpubp's first state dicts: a state dict without them keeps this optimizer's values
LATER_FLAGS = frozenset({"maximize", "foreach", "fused", "capturable", "differentiable", "decoupled_weight_decay"})
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


def flags(opt: str, group: dict[str, Any], out: dict[str, Any]) -> None:
    """Check the boolean switches of ``group`` into ``out``: FLAGS True/False, OPTIONAL_FLAGS also None."""
    for k in FLAGS + OPTIONAL_FLAGS:
        if k not in group:
            continue
        v = group[k]
        if k in OPTIONAL_FLAGS and v is None:
            continue
        if not isinstance(v, (bool, np.bool_)):
            allowed = "None, True or False" if k in OPTIONAL_FLAGS else "True or False"
            raise TypeError(f"{opt}: {k} must be {allowed}, got {type(v).__name__} {v!r}")
        out[k] = bool(v)
    if out.get("foreach") and out.get("fused"):  # PyTorch's RuntimeError
        raise InputError(f"{opt}: `fused` and `foreach` cannot be `True` together")
    if out.get("differentiable"):
        raise ValueError(
            f"{opt}: differentiable=True (autograd through step()) is not supported by gpubp: its fused updates "
            "run outside the tape"
        )


def scalar_dtype() -> type:
    """The dtype PyTorch keeps step-dependent optimizer scalars in (0-d tensors): float32, or float64 when that is
    the default dtype."""
    from .. import get_default_dtype  # the top-level package, imported late: it imports optim

    return np.float64 if get_default_dtype() == np.float64 else np.float32


def scalar_state(value: float) -> float:
    """``value`` rounded as PyTorch keeps it (NaNs and all): NAdam's mu_product, ASGD's eta and mu."""
    return float(scalar_dtype()(value))


def scalar_times(a: float, b: float) -> float:
    """a * b as PyTorch's in-place product of a 0-d tensor of the scalar dtype and a Python float: in that dtype."""
    dt = scalar_dtype()
    return float(dt(a) * dt(b))


def pair(opt: str, name: str, value: Any) -> tuple[float, float]:
    """A pair of real numbers (Rprop's etas and step_sizes)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{opt}: {name} must be a pair of floats, got {type(value).__name__} {value!r}")
    return real(opt, f"{name}[0]", value[0]), real(opt, f"{name}[1]", value[1])


def state_index(key: Any) -> int | None:
    """A parameter index of a state dict: an int, or its string once a checkpoint's JSON has made it one."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return int(key)
    if isinstance(key, str) and key.isdigit():
        return int(key)
    return None
