"""Gradient clipping and regularization penalties."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable

import numpy as np

from ...autograd import no_grad
from ...tensor import Tensor

__all__ = [
    "clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "l1_penalty",
    "l2_penalty",
]  # fmt: skip


def _check_real(op: str, name: str, x: object) -> None:
    if not isinstance(x, numbers.Real) or isinstance(x, bool):
        raise TypeError(f"{op}: {name} must be a real number, got {type(x).__name__} {x!r}")


def _check_foreach(op: str, foreach: object) -> None:
    """``foreach`` chooses PyTorch's multi-tensor kernels; here every path is already one pass per tensor group."""
    if foreach is not None and not isinstance(foreach, bool):
        raise TypeError(f"{op}: foreach must be a bool or None, got {type(foreach).__name__}")


def _tensors(op: str, tensors: Iterable[Tensor] | Tensor) -> list[Tensor]:
    ts = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    for t in ts:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    return ts


def _grads(op: str, parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    return [p.grad for p in _tensors(op, parameters) if p.grad is not None]


def _check_norm_type(op: str, norm_type: object) -> float:
    _check_real(op, "norm_type", norm_type)
    if not norm_type > 0:
        raise ValueError(f"{op}: norm_type must be a positive number or math.inf, got {norm_type!r}")
    return float(norm_type)


def _total_norm(tensors: list[Tensor], norm_type: float, error_if_nonfinite: bool, op: str) -> Tensor:
    """The norm of all ``tensors`` together, as a 0-d tensor on the first one's device (in their promoted dtype)."""
    if not tensors:
        return Tensor(0.0)
    be = tensors[0]._be
    xp = be.xp
    with no_grad(), be.enter():
        datas = [(t if t._be is be else t.to(tensors[0].device))._data for t in tensors]  # on the first's device
        dtype = xp.result_type(*datas)
        if norm_type == 2.0:
            total = xp.sqrt(be.sq_norm(datas))  # one fused reduction over every tensor
        elif norm_type == math.inf:
            total = xp.max(xp.stack([xp.abs(d).max() if d.size else xp.zeros((), d.dtype) for d in datas]))
        else:
            total = sum((xp.abs(d.astype(dtype)) ** norm_type).sum() for d in datas) ** (1.0 / norm_type)
        total = xp.asarray(total).astype(dtype)
        if error_if_nonfinite and not bool(xp.isfinite(total)):  # PyTorch reads the norm back here too (a host sync)
            raise RuntimeError(
                f"{op}: The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                "cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
                "`error_if_nonfinite=False`"
            )
        return Tensor._wrap(total, be)


def get_total_norm(
    tensors: Iterable[Tensor] | Tensor,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together, as if concatenated into one vector (a 0-d tensor; nothing
    is read back unless ``error_if_nonfinite``)."""
    norm_type = _check_norm_type("get_total_norm", norm_type)
    _check_foreach("get_total_norm", foreach)
    return _total_norm(_tensors("get_total_norm", tensors), norm_type, error_if_nonfinite, "get_total_norm")


def clip_grads_with_norm_(
    parameters: Iterable[Tensor] | Tensor, max_norm: float, total_norm: Tensor, foreach: bool | None = None
) -> None:
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)), on the device."""
    _check_real("clip_grads_with_norm_", "max_norm", max_norm)
    _check_foreach("clip_grads_with_norm_", foreach)
    if not isinstance(total_norm, Tensor):
        raise TypeError(f"clip_grads_with_norm_: total_norm must be a Tensor, got {type(total_norm).__name__}")
    grads = _grads("clip_grads_with_norm_", parameters)
    if not grads:
        return
    with no_grad():
        be = total_norm._be
        with be.enter():
            scale = be.xp.minimum(float(max_norm) / (total_norm._data + 1e-6), 1.0)  # stays on the device
        for g in grads:
            s = scale if g._be is be else Tensor._wrap(scale, be).to(g.device)._data
            with g._be.enter(), np.errstate(invalid="ignore"):  # inf * 0 -> NaN, silently as PyTorch
                g._data *= s.astype(g._data.dtype)
            g._vc[0] += 1


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale all gradients together so their global norm is at most ``max_norm``.

    The 2-norm is one fused reduction over every gradient; the scale is applied on the device. Returns the total
    norm as a 0-d tensor: nothing is read back unless the caller asks (.item()) or ``error_if_nonfinite``.
    """
    _check_real("clip_grad_norm_", "max_norm", max_norm)
    norm_type = _check_norm_type("clip_grad_norm_", norm_type)
    _check_foreach("clip_grad_norm_", foreach)
    if not max_norm > 0:  # written so that NaN fails too
        raise ValueError(f"clip_grad_norm_: max_norm must be positive, got {max_norm!r}")
    params = _tensors("clip_grad_norm_", parameters)  # a generator is consumed once
    total = _total_norm(
        [p.grad for p in params if p.grad is not None], norm_type, error_if_nonfinite, "clip_grad_norm_"
    )
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_norm(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Deprecated: ``clip_grad_norm_``, with PyTorch's FutureWarning."""
    warnings.warn(
        "`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
        FutureWarning,
        stacklevel=2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    _check_real("clip_grad_value_", "clip_value", clip_value)
    _check_foreach("clip_grad_value_", foreach)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value!r}")
    with no_grad():
        for g in _grads("clip_grad_value_", parameters):
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
