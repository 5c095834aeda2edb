"""Stochastic weight averaging and EMA models, as ``torch.optim.swa_utils``: AveragedModel, the averaging functions,
SWALR (anneal to a constant SWA rate) and update_bn (recompute BatchNorm statistics for the averaged weights)."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import no_grad
from ..creation import tensor as _tensor
from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from ..tensor import Tensor
from .lr_scheduler import LRScheduler, _load_state, _per_group, _real
from .optimizer import Optimizer

__all__ = [
    "AveragedModel",
    "update_bn",
    "SWALR",
    "get_ema_multi_avg_fn",
    "get_swa_multi_avg_fn",
    "get_ema_avg_fn",
    "get_swa_avg_fn",
]

ParamList = Sequence[Tensor]


def _decay(who: str, decay: Any) -> float:
    d = _real(who, "decay", decay, lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
    return d


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[[ParamList, ParamList, Any], None]:
    """An in-place EMA over lists: ema = decay * ema + (1 - decay) * current (lerp towards current)."""
    decay = _decay("get_ema_multi_avg_fn", decay)

    def ema_update(ema_param_list: ParamList, current_param_list: ParamList, _: Any) -> None:
        with no_grad():
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                if p_ema.dtype.kind == "f":
                    p_ema.lerp_(p_model, 1 - decay)
                else:
                    p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn() -> Callable[[ParamList, ParamList, Any], None]:
    """An in-place running mean over lists: avg += (current - avg) / (num_averaged + 1)."""

    def swa_update(averaged_param_list: ParamList, current_param_list: ParamList, num_averaged: Any) -> None:
        with no_grad():
            weight = 1 / (num_averaged + 1)  # a 0-d tensor stays on the device: no host read (as PyTorch)
            for p_avg, p_model in zip(averaged_param_list, current_param_list):
                if p_avg.dtype.kind == "f":
                    p_avg.lerp_(p_model, weight)
                else:
                    p_avg.copy_(p_avg + (p_model - p_avg) / (num_averaged + 1))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Tensor, Tensor, Any], Tensor]:
    """EMA of one tensor: returns decay * ema + (1 - decay) * current."""
    decay = _decay("get_ema_avg_fn", decay)

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable[[Tensor, Tensor, Any], Tensor]:
    """Running mean of one tensor: returns avg + (current - avg) / (num_averaged + 1)."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and with use_buffers, buffers) are the average of the models passed to
    ``update_parameters``: equal-weight SWA by default, or ``avg_fn`` (per tensor) / ``multi_avg_fn`` (per list),
    e.g. ``get_ema_multi_avg_fn(0.999)``. ``n_averaged`` counts the updates; forward calls the copy."""

    def __init__(
        self,
        model: Module,
        device: Any = None,
        avg_fn: Callable[[Tensor, Tensor, Any], Tensor] | None = None,
        multi_avg_fn: Callable[[ParamList, ParamList, Any], None] | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: expected an nn.Module to average, got {type(model).__name__}")
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: only one of avg_fn and multi_avg_fn should be provided")
        for name, fn in (("avg_fn", avg_fn), ("multi_avg_fn", multi_avg_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"AveragedModel: {name} must be a function, got {type(fn).__name__}")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", _tensor(0, dtype=dtypes.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = bool(use_buffers)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The averaged copy's forward."""
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters into the average (the first call copies them)."""
        if self.use_buffers:
            self_param = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            model_param = list(itertools.chain(model.parameters(), model.buffers()))
        else:
            self_param, model_param = list(self.parameters()), list(model.parameters())
        if len(self_param) != len(model_param):
            raise ValueError(
                f"AveragedModel.update_parameters: the model has {len(model_param)} tensors to average, the averaged "
                f"copy {len(self_param)} (another architecture?)"
            )
        # host read of the count: the first update copies instead of averaging (PyTorch reads it too)
        first = int(self.n_averaged.item()) == 0
        with no_grad():
            averaged = [p.detach() for p in self_param]
            current = [p.detach().to(a.device) for p, a in zip(model_param, averaged)]
            if first:
                for a, c in zip(averaged, current):
                    a.copy_(c)
            elif self.avg_fn is not None:
                for a, c in zip(averaged, current):
                    a.copy_(self.avg_fn(a, c, self.n_averaged.to(a.device)))
            else:
                groups: dict[tuple[str, Any], tuple[list[Tensor], list[Tensor]]] = {}
                for a, c in zip(averaged, current):
                    mine, theirs = groups.setdefault((str(a.device), a.dtype), ([], []))
                    mine.append(a)
                    theirs.append(c)
                for (device, _), (mine, theirs) in groups.items():
                    n = self.n_averaged.to(device)
                    if self.multi_avg_fn is not None:
                        self.multi_avg_fn(mine, theirs, n)
                    elif mine[0].device.type == "cuda":  # as PyTorch: a fused lerp where it has foreach kernels
                        get_swa_multi_avg_fn()(mine, theirs, n)
                    else:
                        swa = get_swa_avg_fn()
                        for a, c in zip(mine, theirs):
                            a.copy_(swa(a, c, n))
            if not self.use_buffers:  # the buffers (BatchNorm statistics) follow the latest model
                for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                    b_avg.detach().copy_(b_model.detach().to(b_avg.device))
            self.n_averaged.add_(1)


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute every BatchNorm's running statistics as the plain average over one pass of ``loader``
    (batches, or tuples/lists whose first item is the input), in train mode; the modes and momenta are restored."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    try:
        with no_grad():
            for k, batch in enumerate(loader, start=1):
                if isinstance(batch, (list, tuple)):
                    batch = batch[0]
                if device is not None:
                    batch = batch.to(device)
                # PyTorch sets momentum=None (a cumulative average, factor 1/num_batches_tracked); the count is k
                # here on the host, so 1/k gives the same average without reading the device counter
                for module in momenta:
                    module.momentum = 1.0 / k
                model(batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's rate from its current value to ``swa_lr`` over ``anneal_epochs`` epochs ('cos' or
    'linear'), then hold it there; use it after the SWA start."""

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr: float | list[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        who = "SWALR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}")
        swa_lrs = [_real(who, "swa_lr", v, lambda x: x >= 0, "a number >= 0") for v in
                   _per_group(who, "swa_lr", optimizer, swa_lr)]  # fmt: skip
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"SWALR: anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy!r}"
            )
        bad = isinstance(anneal_epochs, (bool, np.bool_)) or not isinstance(anneal_epochs, numbers.Integral)
        if bad or anneal_epochs < 0:  # ValueError for any bad value, as PyTorch
            raise ValueError(f"SWALR: anneal_epochs must be equal or greater than 0, got {anneal_epochs!r}")
        self.anneal_epochs = int(anneal_epochs)
        for lr, g in zip(swa_lrs, optimizer.param_groups):
            g["swa_lr"] = lr
        self._set_anneal_func(anneal_strategy)
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def get_lr(self) -> list[float]:
        self._warn_get_lr()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        groups = self.optimizer.param_groups
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, prev_lrs)]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _load_state(self, state)
        self._set_anneal_func(self._anneal_strategy)
