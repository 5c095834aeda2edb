"""Optimizers with PyTorch's API. Each ``step()`` hands all parameters of a group (per device
and dtype) to one fused backend primitive: a single kernel launch per step on the GPU, the
NumPy reference on the CPU. Nothing in ``step()`` reads device data back to the host."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from ..autograd import no_grad
from ..tensor import Tensor

_REQUIRED = object()


class Optimizer(ABC):
    """Base class: parameter groups, per-parameter state, zero_grad, state_dict."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for g in groups:
            self.add_param_group(g)

    def _validate(self, group: dict[str, Any]) -> None:
        lr = group["lr"]
        if not isinstance(lr, (int, float)) or lr < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr!r}: expected a number >= 0")
        if group.get("weight_decay", 0.0) < 0:
            raise ValueError(f"{type(self).__name__}: invalid weight_decay {group['weight_decay']}: expected >= 0")
        if group.get("eps", 0.0) < 0:
            raise ValueError(f"{type(self).__name__}: invalid eps {group['eps']}: expected >= 0")

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{type(self).__name__}: a parameter group must be a dict with a 'params' key")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: params[{i}] is a {type(p).__name__}, expected a Tensor")
            if not p.is_leaf or not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: params[{i}] must be a leaf tensor that requires grad")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: params[{i}] appears in more than one parameter group")
            seen.add(id(p))
        full = {k: v for k, v in group.items() if k != "params"}
        for k, v in self.defaults.items():
            if v is _REQUIRED and k not in full:
                raise ValueError(f"{type(self).__name__}: parameter group is missing the required '{k}'")
            full.setdefault(k, v)
        self._validate(full)
        full["params"] = params
        self.param_groups.append(full)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (drop it, or fill it with zeros)."""
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        with no_grad():
            for group in self.param_groups:
                by_kind: dict[tuple, list[Tensor]] = {}
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.grad.shape != p.shape or p.grad._be is not p._be:
                        raise ValueError(
                            f"{type(self).__name__}.step: a gradient of shape {p.grad.shape} on {p.grad.device} does "
                            f"not match its parameter of shape {p.shape} on {p.device}"
                        )
                    by_kind.setdefault((id(p._be), p.dtype), []).append(p)
                for params in by_kind.values():
                    with params[0]._be.enter():  # state tensors are allocated on the parameters' device
                        self._update(group, params)
                    for p in params:
                        p._vc[0] += 1

    @abstractmethod
    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """Update ``params`` (one device and dtype, all with gradients) with ``group``'s settings."""

    def _count_steps(self, params: list[Tensor]) -> dict[int, list[Tensor]]:
        """Advance each parameter's step count (host integers: no device read); group the
        parameters by it, since one that joined late has its own count and bias correction."""
        by_step: dict[int, list[Tensor]] = {}
        for p in params:
            st = self.state.setdefault(p, {})
            st["step"] = st.get("step", 0) + 1
            by_step.setdefault(st["step"], []).append(p)
        return by_step

    def _step_on_device(self, params: list[Tensor], step: int) -> Any:
        """``step`` as the update primitive takes it: on a GPU a counter kept and advanced on the device."""
        return params[0]._be.step_counter((id(self), tuple(id(p) for p in params)), step)

    def _state_tensor(self, p: Tensor, name: str) -> Tensor:
        """A zero state tensor like ``p`` (float32 for half-precision parameters), made on first use."""
        st = self.state.setdefault(p, {})
        if name not in st:
            dt = "float32" if p.dtype.itemsize < 4 else p.dtype
            st[name] = Tensor._wrap(p._be.xp.zeros(p.shape, dtype=dt), p._be)
        return st[name]

    def state_dict(self) -> dict[str, Any]:
        """{'state': {param index: {name: value}}, 'param_groups': [hyperparameters + param indices]}."""
        index = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index[p] = len(index)
                ids.append(index[p])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        state = {index[p]: dict(s) for p, s in self.state.items() if p in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by ``state_dict``; checked fully before anything changes."""
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: expected {len(self.param_groups)} parameter groups, "
                f"got {None if not isinstance(groups, list) else len(groups)}"
            )
        params = [p for g in self.param_groups for p in g["params"]]
        for i, (ours, theirs) in enumerate(zip(self.param_groups, groups)):
            if len(ours["params"]) != len(theirs["params"]):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: group {i} has {len(ours['params'])} parameters, "
                    f"the state dict {len(theirs['params'])}"
                )
        new_state: dict[Tensor, dict[str, Any]] = {}
        for idx, st in state_dict.get("state", {}).items():
            idx = int(idx)
            if not 0 <= idx < len(params):
                raise ValueError(f"{type(self).__name__}.load_state_dict: state for unknown parameter {idx}")
            p = params[idx]
            entry = {}
            for k, v in st.items():
                if isinstance(v, Tensor):
                    if v.shape != p.shape:
                        raise ValueError(
                            f"{type(self).__name__}.load_state_dict: state '{k}' of parameter {idx} has shape "
                            f"{v.shape}, expected {p.shape}"
                        )
                    v = Tensor(v, device=p.device)  # a copy on the parameter's device
                entry[k] = v
            new_state[p] = entry
        for ours, theirs in zip(self.param_groups, groups):
            hyper = {k: copy.deepcopy(v) for k, v in theirs.items() if k != "params"}
            self._validate({**ours, **hyper})
        for ours, theirs in zip(self.param_groups, groups):
            ours.update({k: copy.deepcopy(v) for k, v in theirs.items() if k != "params"})
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay:

    g = grad + weight_decay * p
    buf = g on the first step, else momentum * buf + (1 - dampening) * g
    g = g + momentum * buf (nesterov) or buf (momentum > 0)
    p = p - lr * g
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "dampening": dampening,
                "weight_decay": weight_decay,
                "nesterov": nesterov,
            },
        )

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["momentum"] < 0:
            raise ValueError(f"SGD: invalid momentum {group['momentum']}: expected >= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        be = params[0]._be
        kw = {k: group[k] for k in ("lr", "momentum", "dampening", "nesterov", "weight_decay")}
        if not group["momentum"]:
            be.sgd_update([p.data for p in params], [p.grad.data for p in params], [], **kw)
            return
        fresh = [p for p in params if "momentum_buffer" not in self.state.get(p, {})]
        old = [p for p in params if "momentum_buffer" in self.state.get(p, {})]
        for subset, first in ((fresh, True), (old, False)):
            if subset:
                bufs = [self._state_tensor(p, "momentum_buffer").data for p in subset]
                be.sgd_update([p.data for p in subset], [p.grad.data for p in subset], bufs, first_step=first, **kw)


class Adam(Optimizer):
    """Adam (Kingma & Ba), with L2 weight decay added to the gradient:

    g = grad + weight_decay * p
    m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2   (amsgrad: v_max = max(v_max, v))
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad}
        )

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        b1, b2 = group["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"{type(self).__name__}: invalid betas {group['betas']}: each must be in [0, 1)")

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        b1, b2 = group["betas"]
        for step, ps in self._count_steps(params).items():
            vmax = [self._state_tensor(p, "max_exp_avg_sq").data for p in ps] if group["amsgrad"] else None
            ps[0]._be.adam_update(
                [p.data for p in ps],
                [p.grad.data for p in ps],
                [self._state_tensor(p, "exp_avg").data for p in ps],
                [self._state_tensor(p, "exp_avg_sq").data for p in ps],
                step=self._step_on_device(ps, step),
                lr=group["lr"],
                beta1=b1,
                beta2=b2,
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                decoupled=self._decoupled,
                max_exp_avg_sqs=vmax,
            )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p = p * (1 - lr * weight_decay) before
    the Adam step, instead of adding weight_decay * p to the gradient."""

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """RMSprop:

    g = grad + weight_decay * p;  v = alpha * v + (1 - alpha) * g^2
    avg = sqrt(v - gbar^2) + eps with gbar = alpha * gbar + (1 - alpha) * g (centered), else sqrt(v) + eps
    momentum > 0: buf = momentum * buf + g / avg, p = p - lr * buf;  else p = p - lr * g / avg
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "alpha": alpha,
                "eps": eps,
                "weight_decay": weight_decay,
                "momentum": momentum,
                "centered": centered,
            },
        )

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if not 0.0 <= group["alpha"] <= 1.0 or group["momentum"] < 0:
            raise ValueError(f"RMSprop: invalid alpha {group['alpha']} or momentum {group['momentum']}")

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        bufs = [self._state_tensor(p, "momentum_buffer").data for p in params] if group["momentum"] else None
        gavg = [self._state_tensor(p, "grad_avg").data for p in params] if group["centered"] else None
        params[0]._be.rmsprop_update(
            [p.data for p in params],
            [p.grad.data for p in params],
            [self._state_tensor(p, "square_avg").data for p in params],
            lr=group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            bufs=bufs,
            grad_avgs=gavg,
        )


class Adagrad(Optimizer):
    """Adagrad:  g = grad + weight_decay * p;  s = s + g^2;
    p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay, "eps": eps})

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["lr_decay"] < 0:
            raise ValueError(f"Adagrad: invalid lr_decay {group['lr_decay']}: expected >= 0")

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        for step, ps in self._count_steps(params).items():
            ps[0]._be.adagrad_update(
                [p.data for p in ps],
                [p.grad.data for p in ps],
                [self._state_tensor(p, "sum").data for p in ps],
                step=self._step_on_device(ps, step),
                lr=group["lr"],
                lr_decay=group["lr_decay"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
            )
