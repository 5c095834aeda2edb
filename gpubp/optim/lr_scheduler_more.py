"""The schedules that drive other schedules (SequentialLR, ChainedScheduler), restart or cycle the rate
(CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR, which also cycle the momentum) or react to a metric
(ReduceLROnPlateau). Public at ``gpubp.optim.lr_scheduler``; PyTorch's formulas and state keys."""

from __future__ import annotations

import bisect
import math
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .lr_scheduler import LRScheduler, _check_optimizer, _int, _load_state, _lrs, _per_group, _real
from .optimizer import Optimizer

__all__ = [
    "SequentialLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
]


def _check_children(who: str, optimizer: Optimizer, schedulers: Sequence[Any]) -> None:
    if not schedulers:
        raise ValueError(f"{who}: expects at least one scheduler, but got none")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{who}: schedulers[{i}] is a {type(s).__name__}, expected an LRScheduler")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{who}: does not support ReduceLROnPlateau (schedulers[{i}]): its step needs a metric")
        if s.optimizer is not optimizer:
            raise ValueError(
                f"{who}: schedulers[{i}] ({type(s).__name__}) belongs to another optimizer; all must belong to the "
                "one given"
            )


class _Composite(LRScheduler):
    """state_dict with each child's state dict under ``_schedulers``, as PyTorch."""

    _schedulers: list[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = dict(state)
        children = state.pop("_schedulers", None)
        if not isinstance(children, (list, tuple)) or len(children) != len(self._schedulers):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: expected '_schedulers' with {len(self._schedulers)} states"
            )
        _load_state(self, state)
        for s, saved in zip(self._schedulers, children):
            s.load_state_dict(saved)


class SequentialLR(_Composite):
    """Run schedulers one after another, switching at the given milestones (e.g. warm-up, then cosine)."""

    def __init__(
        self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1
    ) -> None:
        _check_optimizer("SequentialLR", optimizer)
        schedulers, milestones = list(schedulers), list(milestones)
        _check_children("SequentialLR", optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} milestones, "
                f"got {len(milestones)}"
            )
        milestones = [_int("SequentialLR", f"milestones[{i}]", m, 0) for i, m in enumerate(milestones)]
        if milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must be in increasing order, got {milestones}")
        last_epoch = _int("SequentialLR", "last_epoch", last_epoch, -1)
        self._schedulers, self._milestones = schedulers, milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # as PyTorch: undo the construction steps the children made, then make the first one's again
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"]
        self._undo(self)
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo(self, s: Any) -> None:
        if isinstance(s, _Composite):
            for child in s._schedulers:
                self._undo(child)
        else:
            s.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Step the schedule whose turn it is; at a milestone, the next one starts from its epoch 0."""
        self.last_epoch += 1
        i = bisect.bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            s._update_lr(0)
        else:
            s.step()
        self._last_lr = s.get_last_lr()


class ChainedScheduler(_Composite):
    """Step several schedules on one optimizer together; their (chainable) changes to the rate multiply."""

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler: expects at least one scheduler to be chained, but got none")
        if optimizer is None:
            optimizer = getattr(schedulers[0], "optimizer", None)
        _check_optimizer("ChainedScheduler", optimizer)
        _check_children("ChainedScheduler", optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = _lrs(optimizer)

    def step(self) -> None:  # type: ignore[override]
        """Step every chained schedule, in order."""
        for s in self._schedulers:
            s.step()
        self._last_lr = _lrs(self.optimizer)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric stops improving for ``patience`` epochs.
    ``step(metrics)`` takes a Python number (reading a device loss with .item() is the caller's sync)."""

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        who = "ReduceLROnPlateau"
        _check_optimizer(who, optimizer)
        self.factor = _real(who, "factor", factor, lambda v: 0 <= v < 1.0, "in [0, 1) (factor should be < 1.0)")
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"ReduceLROnPlateau: expected {n} min_lrs (one per param group), got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = [_real(who, "min_lr", v, lambda x: x >= 0, "a number >= 0") for v in min_lr]
        else:
            self.default_min_lr = _real(who, "min_lr", min_lr, lambda x: x >= 0, "a number >= 0")
            self.min_lrs = [self.default_min_lr] * n
        self.patience = _int(who, "patience", patience, 0)
        self.cooldown = _int(who, "cooldown", cooldown, 0)
        self.eps = _real(who, "eps", eps, lambda v: v >= 0, "a number >= 0")
        self.last_epoch = 0
        self._last_lr = _lrs(optimizer)
        self._init_is_better(
            mode, _real(who, "threshold", threshold, lambda v: v >= 0, "a number >= 0"), threshold_mode
        )
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode {mode!r} is unknown: expected 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: threshold mode {threshold_mode!r} is unknown: expected 'rel' or 'abs'"
            )
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < (best * (1 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (1 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics: float, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's metric; reduce the rates after ``patience`` epochs without improvement."""
        try:
            value = float(metrics)  # a device scalar is read here: the caller's sync, once per epoch
        except (TypeError, ValueError) as e:
            raise type(e)(f"ReduceLROnPlateau.step: the metric must be a number, got {metrics!r}") from None
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(value, self.best):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            if len(self.min_lrs) != len(self.optimizer.param_groups):
                if self.default_min_lr is None:
                    raise ValueError(
                        f"ReduceLROnPlateau.step: the optimizer has {len(self.optimizer.param_groups)} param groups "
                        f"but min_lrs has {len(self.min_lrs)} (a group was added?): set min_lrs to match"
                    )
                self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
            for g, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(g["lr"] * self.factor, min_lr)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _lrs(self.optimizer)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _load_state(self, state)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


def _set_momentum(group: dict[str, Any], use_beta1: bool, momentum: float) -> None:
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


def _cycle_momentum_setup(who: str, optimizer: Optimizer, base: Any, top: Any, last_epoch: int) -> tuple:
    """(use_beta1, base momentums, max momentums); at a fresh start each group gets max_momentum (as PyTorch)."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"{who}: optimizer must support momentum or beta1 with the cycle_momentum option enabled")
    use_beta1 = "betas" in optimizer.defaults
    bases = _per_group(who, "base_momentum", optimizer, base)
    tops = _per_group(who, "max_momentum", optimizer, top)
    for name, values in (("base_momentum", bases), ("max_momentum", tops)):
        for v in values:
            if use_beta1:  # the momentum becomes beta1
                _real(who, name, v, lambda x: 0 <= x < 1, "in [0, 1) (it becomes Adam's beta1)")
            else:
                _real(who, name, v, lambda x: x >= 0, "a number >= 0")
    if last_epoch == -1:
        for t, b, g in zip(tops, bases, optimizer.param_groups):
            _set_momentum(g, use_beta1, t)
            g["max_momentum"], g["base_momentum"] = t, b
    return use_beta1, bases, tops


class CyclicLR(LRScheduler):
    """Cyclical learning rate (Smith): the rate goes between base_lr and max_lr and back every
    step_size_up + step_size_down batches, scaled per cycle ('triangular', 'triangular2') or per
    iteration ('exp_range': gamma ** iteration) or by ``scale_fn``; momentum cycles the other way."""

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.8,
        max_momentum: float | list[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        who = "CyclicLR"
        _check_optimizer(who, optimizer)
        last_epoch = _int(who, "last_epoch", last_epoch, -1)
        base_lrs = [_real(who, "base_lr", v, lambda x: x >= 0, "a number >= 0") for v in
                    _per_group(who, "base_lr", optimizer, base_lr)]  # fmt: skip
        max_lrs = [_real(who, "max_lr", v, lambda x: x >= 0, "a number >= 0") for v in
                   _per_group(who, "max_lr", optimizer, max_lr)]  # fmt: skip
        up = _real(who, "step_size_up", step_size_up, lambda v: v > 0, "a number > 0")
        down = (
            up
            if step_size_down is None
            else _real(who, "step_size_down", step_size_down, lambda v: v >= 0, "a number >= 0")
        )
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"CyclicLR: mode {mode!r} is invalid and scale_fn is None")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"CyclicLR: scale_fn must be a function, got {type(scale_fn).__name__}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        if not isinstance(cycle_momentum, (bool, np.bool_)):
            raise TypeError(f"CyclicLR: cycle_momentum must be True or False, got {cycle_momentum!r}")
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:  # checked (and at a fresh start set) before the rates change
            self.use_beta1, self.base_momentums, self.max_momentums = _cycle_momentum_setup(
                who, optimizer, base_momentum, max_momentum, last_epoch
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            for lr, g in zip(base_lrs, optimizer.param_groups):
                g["lr"] = lr
        self.max_lrs = max_lrs
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.mode, self.gamma = mode, _real(who, "gamma", gamma, lambda v: v >= 0, "a number >= 0")
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        if self._scale_fn_custom is None:  # the built-in modes fix the scale mode, as PyTorch
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        """The amplitude's scale at cycle (or iteration) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        self._warn_get_lr()
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        scale = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        s = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * scale * s for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for g, base, top in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(g, self.use_beta1, top - (top - base) * scale * s)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None if fn is None or isinstance(fn, types.FunctionType) else fn.__dict__.copy()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = dict(state)
        fn = state.pop("_scale_fn_custom", None)
        _load_state(self, state)
        if fn is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn)
        self._init_scale_fn()


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: cosine annealing from base to eta_min over T_i epochs, then a restart, with T_i = T_0 * T_mult ** i;
    ``step(epoch)`` takes fractional epochs (e.g. epoch + batch / batches)."""

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,  # noqa: N803
        T_mult: int = 1,  # noqa: N803
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        who = "CosineAnnealingWarmRestarts"
        self.T_0 = _int(who, "T_0", T_0, 1)
        self.T_i = self.T_0
        self.T_mult = _int(who, "T_mult", T_mult, 1)
        self.eta_min = _real(who, "eta_min", eta_min, lambda v: v == v, "a number")
        self.T_cur = _int(who, "last_epoch", last_epoch, -1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_get_lr()
        c = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (fractional allowed) and find its cycle."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            epoch = _real("CosineAnnealingWarmRestarts.step", "epoch", epoch, lambda v: v >= 0, "a number >= 0")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._get_lr_called_within_step = True
        try:
            values = self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for g, lr in zip(self.optimizer.param_groups, values):
            g["lr"] = lr
        self._last_lr = _lrs(self.optimizer)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith): warm up from max_lr / div_factor to max_lr over pct_start of the
    steps, then anneal to max_lr / (div_factor * final_div_factor) (three_phase: back to the start
    first); momentum (or Adam's beta1) cycles the other way. Call step() after every batch."""

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
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        who = "OneCycleLR"
        _check_optimizer(who, optimizer)
        last_epoch = _int(who, "last_epoch", last_epoch, -1)
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)")
            total_steps = _int(who, "epochs", epochs, 1) * _int(who, "steps_per_epoch", steps_per_epoch, 1)
        total_steps = _int(who, "total_steps", total_steps, 2)  # 2: the warm-up and the annealing phase
        pct_start = _real(who, "pct_start", pct_start, lambda v: 0 < v < 1, "in (0, 1)")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be one of 'cos' or 'linear', got {anneal_strategy!r}")
        for name, flag in (("cycle_momentum", cycle_momentum), ("three_phase", three_phase)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"OneCycleLR: {name} must be True or False, got {flag!r}")
        for name, v in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            _real(who, name, v, lambda x: x > 0, "a number > 0")
        max_lrs = [_real(who, "max_lr", v, lambda x: x >= 0, "a number >= 0") for v in
                   _per_group(who, "max_lr", optimizer, max_lr)]  # fmt: skip
        self.optimizer = optimizer
        self.total_steps = total_steps
        warm_end = float(pct_start * total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                self._phase(warm_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                self._phase(
                    float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"
                ),
                self._phase(total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                self._phase(warm_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                self._phase(total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        self._anneal_func_type = anneal_strategy
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            self.use_beta1 = _cycle_momentum_setup(who, optimizer, base_momentum, max_momentum, last_epoch)[0]
        if last_epoch == -1:
            for g, top in zip(optimizer.param_groups, max_lrs):
                g["initial_lr"] = top / div_factor
                g["max_lr"] = top
                g["min_lr"] = g["initial_lr"] / final_div_factor
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _phase(end: float, start_lr: str, end_lr: str, start_mom: str, end_mom: str) -> dict[str, Any]:
        return {"end_step": end, "start_lr": start_lr, "end_lr": end_lr, "start_momentum": start_mom,
                "end_momentum": end_mom}  # fmt: skip

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        self._warn_get_lr()
        t = self.last_epoch
        if t > self.total_steps:  # as PyTorch: total_steps steps after the one at construction
            raise ValueError(f"OneCycleLR: stepped {t + 1} times, but total_steps is {self.total_steps}")
        lrs = []
        for g in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if t <= end or i == len(self._schedule_phases) - 1:
                    pct = (t - start) / (end - start)
                    lrs.append(self._anneal(g[phase["start_lr"]], g[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        mom = self._anneal(g[phase["start_momentum"]], g[phase["end_momentum"]], pct)
                        _set_momentum(g, self.use_beta1, mom)
                    break
                start = end
        return lrs
