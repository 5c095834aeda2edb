"""Gradient clipping and regularization penalties."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

from ...autograd import no_grad
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "l1_penalty", "l2_penalty"]


def _check_real(op: str, name: str, x: object) -> None:
    if not isinstance(x, numbers.Real) or isinstance(x, bool):
        raise TypeError(f"{op}: {name} must be a real number, got {type(x).__name__} {x!r}")


def _grads(parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0) -> Tensor:
    """Scale all gradients together so their global norm is at most ``max_norm``.

    The 2-norm is one fused reduction over every gradient; the scale is applied on the device.
    Returns the total norm as a 0-d tensor: nothing is read back unless the caller asks (.item()).
    """
    _check_real("clip_grad_norm_", "max_norm", max_norm)
    _check_real("clip_grad_norm_", "norm_type", norm_type)
    if not max_norm > 0:  # written so that NaN fails too
        raise ValueError(f"clip_grad_norm_: max_norm must be positive, got {max_norm!r}")
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be a positive number or math.inf, got {norm_type!r}")
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    be = grads[0]._be
    xp = be.xp
    with no_grad(), be.enter():
        if norm_type == 2.0:
            total = xp.sqrt(be.sq_norm([g._data for g in grads]))
        elif norm_type == math.inf:
            total = xp.max(xp.stack([xp.abs(g._data).max() for g in grads]))
        else:
            total = sum((xp.abs(g._data) ** norm_type).sum() for g in grads) ** (1.0 / norm_type)
        scale = xp.minimum(max_norm / (total + 1e-6), 1.0)  # stays on the device
        for g in grads:
            g._data *= scale.astype(g.dtype)
            g._vc[0] += 1
        return Tensor._wrap(xp.asarray(total), be)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    _check_real("clip_grad_value_", "clip_value", clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value!r}")
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)


def l1_penalty(parameters: Iterable[Tensor]) -> Tensor:
    """sum |p| over the parameters: add ``lam * l1_penalty(model.parameters())`` to a loss."""
    terms = [p.abs().sum() for p in parameters]
    if not terms:
        raise ValueError("l1_penalty: no parameters given")
    return sum(terms[1:], terms[0])


def l2_penalty(parameters: Iterable[Tensor]) -> Tensor:
    """sum p^2 over the parameters (what weight_decay adds, as a loss term)."""
    terms = [(p * p).sum() for p in parameters]
    if not terms:
        raise ValueError("l2_penalty: no parameters given")
    return sum(terms[1:], terms[0])
