"""Learning-rate schedules with PyTorch's names and formulas. Call ``step()`` once per epoch
(or per batch for OneCycleLR); each computes the rate in closed form from the step count."""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .optimizer import Optimizer

__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "OneCycleLR",
    "SequentialLR",
    "ReduceLROnPlateau",
]


def _int(who: str, name: str, value: Any, low: int) -> int:
    """An integer argument >= ``low``: TypeError for a non-number, ValueError for 1.5 or too small (as PyTorch)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{who}: {name} must be an integer, got {type(value).__name__} {value!r}")
    if not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{who}: expected an integer {name} >= {low}, but got {value!r}")
    return int(value)


def _real(who: str, name: str, value: Any, ok: Callable[[float], bool], expected: str) -> float:
    """A real argument for which ``ok`` holds (NaN fails every comparison, so ``ok`` refuses it too)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{who}: {name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not ok(v):
        raise ValueError(f"{who}: {name} must be {expected}, but got {v}")
    return v


def _gamma(who: str, value: Any) -> float:
    return _real(who, "gamma", value, lambda v: v >= 0, "a number >= 0 (the factor the rate is multiplied by)")


def _check_optimizer(who: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}")


def _load_state(obj: Any, state: Any) -> None:
    """``load_state_dict`` of a schedule: a dict of this schedule's own attributes, checked before any is set."""
    who = f"{type(obj).__name__}.load_state_dict"
    if not isinstance(state, Mapping):
        raise TypeError(f"{who}: expected a dict, got {type(state).__name__}")
    unknown = sorted(map(str, set(state) - set(obj.__dict__) - {"optimizer"}))
    if unknown or "optimizer" in state:
        raise ValueError(
            f"{who}: the state dict has {unknown or ['optimizer']}, which a {type(obj).__name__} does not keep "
            f"(a state dict of another schedule?); expected keys among {sorted(obj.state_dict())}"
        )
    obj.__dict__.update(state)


class LRScheduler:
    """Base class: sets every group's ``lr`` to ``_lr(base_lr, step)`` on each ``step()``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(type(self).__name__, optimizer)
        last_epoch = _int(type(self).__name__, "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def _lr(self, base_lr: float, step: int) -> float:
        return base_lr

    def step(self) -> None:
        self.last_epoch += 1
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self._lr(base, self.last_epoch)
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group after the last step()."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _load_state(self, state)


class StepLR(LRScheduler):
    """lr = base * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size, self.gamma = _int("StepLR", "step_size", step_size, 1), _gamma("StepLR", gamma)
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, step: int) -> float:
        return base_lr * self.gamma ** (step // self.step_size)


class MultiStepLR(LRScheduler):
    """lr = base * gamma ** (number of milestones passed)."""

    def __init__(
        self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
            raise TypeError(f"MultiStepLR: milestones must be a list of epochs, got {type(milestones).__name__}")
        self.milestones = sorted(_int("MultiStepLR", f"milestones[{i}]", m, 0) for i, m in enumerate(milestones))
        self.gamma = _gamma("MultiStepLR", gamma)
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, step: int) -> float:
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, step)


class ExponentialLR(LRScheduler):
    """lr = base * gamma ** epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _gamma("ExponentialLR", gamma)
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, step: int) -> float:
        return base_lr * self.gamma**step


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:  # noqa: N803
        self.T_max = _int("CosineAnnealingLR", "T_max", T_max, 1)
        self.eta_min = _real("CosineAnnealingLR", "eta_min", eta_min, lambda v: v >= 0, "a number >= 0")
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, step: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * step / self.T_max)) / 2


class LinearLR(LRScheduler):
    """Linear warm-up (or decay): lr = base * factor, factor going from start_factor to end_factor
    over total_iters steps, then staying there."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        self.start_factor = _real("LinearLR", "start_factor", start_factor, lambda v: 0 < v <= 1, "in (0, 1]")
        self.end_factor = _real("LinearLR", "end_factor", end_factor, lambda v: 0 <= v <= 1, "in [0, 1]")
        self.total_iters = _int("LinearLR", "total_iters", total_iters, 0)
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, step: int) -> float:
        frac = min(step, self.total_iters) / self.total_iters if self.total_iters else 1.0
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class SequentialLR(LRScheduler):
    """Run schedulers one after another, switching at the given milestones (e.g. warm-up, then cosine)."""

    def __init__(
        self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1
    ) -> None:
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR: expects at least one scheduler, but got none")
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler):
                raise TypeError(f"SequentialLR: schedulers[{i}] is a {type(s).__name__}, expected an LRScheduler")
            if s.optimizer is not optimizer:
                raise ValueError(
                    f"SequentialLR: schedulers[{i}] ({type(s).__name__}) belongs to another optimizer; all must "
                    "belong to the one given"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} milestones, "
                f"got {len(milestones)}"
            )
        milestones = [_int("SequentialLR", f"milestones[{i}]", m, 0) for i, m in enumerate(milestones)]
        if milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must be in increasing order, got {milestones}")
        self.schedulers, self.milestones = schedulers, milestones
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, step: int) -> float:
        i = bisect.bisect_right(self.milestones, step)
        start = self.milestones[i - 1] if i else 0
        return self.schedulers[i]._lr(base_lr, step - start)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith): warm up from max_lr / div_factor to max_lr over pct_start of the
    steps, then anneal to max_lr / (div_factor * final_div_factor); momentum (or Adam's beta1) cycles
    the other way between max_momentum and base_momentum. Call step() after every batch."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        last_epoch: int = -1,
    ) -> None:
        who = "OneCycleLR"
        _check_optimizer(who, optimizer)
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)")
            total_steps = _int(who, "epochs", epochs, 1) * _int(who, "steps_per_epoch", steps_per_epoch, 1)
        total_steps = _int(who, "total_steps", total_steps, 2)  # 2: the warm-up and the annealing phase
        pct_start = _real(who, "pct_start", pct_start, lambda v: 0 < v < 1, "in (0, 1)")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be one of 'cos' or 'linear', got {anneal_strategy!r}")
        if not isinstance(cycle_momentum, (bool, np.bool_)):
            raise TypeError(f"OneCycleLR: cycle_momentum must be True or False, got {cycle_momentum!r}")
        for name, v in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            _real(who, name, v, lambda x: x > 0, "a number > 0")
        n = len(optimizer.param_groups)
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * n
        if len(max_lrs) != n:
            raise ValueError(f"OneCycleLR: max_lr has {len(max_lrs)} values, but the optimizer has {n} param_groups")
        max_lrs = [_real(who, "max_lr", v, lambda x: x >= 0, "a number >= 0") for v in max_lrs]
        if cycle_momentum:
            uses_betas = any("betas" in g for g in optimizer.param_groups)
            for name, v in (("base_momentum", base_momentum), ("max_momentum", max_momentum)):
                if uses_betas:  # the momentum becomes beta1
                    _real(who, name, v, lambda x: 0 <= x < 1, "in [0, 1) (it becomes Adam's beta1)")
                else:
                    _real(who, name, v, lambda x: x >= 0, "a number >= 0")
        self.total_steps, self.anneal = total_steps, anneal_strategy
        self.phase_end = [float(pct_start * total_steps) - 1, float(total_steps - 1)]
        self.cycle_momentum = cycle_momentum
        for g, top in zip(optimizer.param_groups, max_lrs):
            g["initial_lr"] = top / div_factor
            g["max_lr"] = top
            g["min_lr"] = g["initial_lr"] / final_div_factor
            if cycle_momentum:
                if "momentum" not in g and "betas" not in g:
                    raise ValueError("OneCycleLR: cycle_momentum needs an optimizer with momentum or betas")
                g["max_momentum"], g["base_momentum"] = max_momentum, base_momentum
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def step(self) -> None:
        self.last_epoch += 1
        t = self.last_epoch
        if t > self.total_steps:  # as PyTorch: total_steps steps after the one at construction
            raise ValueError(f"OneCycleLR: stepped {t + 1} times, but total_steps is {self.total_steps}")
        for g in self.optimizer.param_groups:
            if t <= self.phase_end[0]:
                pct = t / self.phase_end[0]
                lr = self._anneal(g["initial_lr"], g["max_lr"], pct)
                mom = self._anneal(g.get("max_momentum", 0), g.get("base_momentum", 0), pct)
            else:
                pct = (t - self.phase_end[0]) / (self.phase_end[1] - self.phase_end[0])
                lr = self._anneal(g["max_lr"], g["min_lr"], pct)
                mom = self._anneal(g.get("base_momentum", 0), g.get("max_momentum", 0), pct)
            g["lr"] = lr
            if self.cycle_momentum:
                if "betas" in g:
                    g["betas"] = (mom, g["betas"][1])
                else:
                    g["momentum"] = mom
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]


class ReduceLROnPlateau:
    """Multiply the learning rate by ``factor`` when a metric stops improving for ``patience`` epochs.
    ``step(metric)`` takes a Python number (reading a device loss with .item() is the caller's sync)."""

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        who = "ReduceLROnPlateau"
        _check_optimizer(who, optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"{who}: mode {mode!r} is unknown: expected 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{who}: threshold mode {threshold_mode!r} is unknown: expected 'rel' or 'abs'")
        self.factor = _real(who, "factor", factor, lambda v: 0 <= v < 1.0, "in [0, 1) (factor should be < 1.0)")
        self.patience = _int(who, "patience", patience, 0)
        self.cooldown = _int(who, "cooldown", cooldown, 0)
        self.threshold = _real(who, "threshold", threshold, lambda v: v >= 0, "a number >= 0")
        self.eps = _real(who, "eps", eps, lambda v: v >= 0, "a number >= 0")
        n = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(min_lrs) != n:
            raise ValueError(f"ReduceLROnPlateau: expected {n} min_lrs (one per param group), got {len(min_lrs)}")
        self.min_lrs = [_real(who, "min_lr", v, lambda x: x >= 0, "a number >= 0") for v in min_lrs]
        self.optimizer, self.mode, self.threshold_mode = optimizer, mode, threshold_mode
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def _better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < (best * (1 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (1 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metric: float) -> None:
        try:
            value = float(metric)  # a device scalar is read here: the caller's sync, once per epoch
        except (TypeError, ValueError) as e:
            raise type(e)(f"ReduceLROnPlateau.step: the metric must be a number, got {metric!r}") from None
        if self._better(value, self.best):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(g["lr"] * self.factor, min_lr)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _load_state(self, state)
