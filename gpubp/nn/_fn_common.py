"""Small helpers the functional forms share."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor


def _arange(n: int, like: Tensor) -> Tensor:
    with like._be.enter():
        return Tensor._wrap(like._be.xp.arange(n), like._be)


def _channel_view(t: Tensor, ndim: int) -> Tensor:
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def _reduce(loss: Tensor, reduction: str, denom: Any = None) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / denom if denom is not None else loss.mean()
