"""Optimizers with PyTorch's API. Each ``step()`` hands all parameters of a group (per device
and dtype) to one fused backend primitive: a single kernel launch per step on the GPU, the
NumPy reference on the CPU. Nothing in ``step()`` reads device data back to the host."""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ._checks import AT_LEAST_ZERO, LATER_FLAGS, REQUIRED, at_least_zero, betas_pair, flags, real, state_index

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop"]


class Optimizer(ABC):
    """Base class: parameter groups, per-parameter state, zero_grad, state_dict."""

    _state_names: frozenset[str] | None = None  # the per-parameter state a subclass keeps (None: not checked)
    _added_later: frozenset[str] = LATER_FLAGS  # hyperparameters older state dicts lack: ours are kept for them
    _scalar_state: frozenset[str] = frozenset()  # state kept as host floats (PyTorch: 0-d tensors), not arrays

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, (Tensor, set, frozenset, dict)):
            raise TypeError(
                f"{name}: params must be an ordered iterable (a list) of Tensors or of parameter group dicts, "
                f"got {type(params).__name__}"
            )
        # hyperparameters first, as PyTorch: a bad lr is reported even before the parameters are looked at
        self.defaults = {**defaults, **self._check({k: v for k, v in defaults.items() if v is not REQUIRED})}
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for g in groups:
            self.add_param_group(g)

    def _check(self, group: dict[str, Any]) -> dict[str, Any]:
        """``group`` with every hyperparameter checked and normalized (floats, bools, a betas pair);
        raises ValueError/TypeError naming the optimizer, the hyperparameter and the value."""
        name = type(self).__name__
        out = dict(group)
        for k, label in AT_LEAST_ZERO.items():
            if k in group:
                out[k] = at_least_zero(name, k, group[k], label)
        flags(name, group, out)
        if "betas" in group:
            out["betas"] = betas_pair(name, group["betas"])
        return out

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key, got {type(group).__name__}")
        if "params" not in group:  # KeyError, as PyTorch
            raise KeyError(f"{name}: the parameter group {sorted(map(str, group))} has no 'params' key")
        params = group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{type(self).__name__}: a group's params must be ordered (a list): a set's order changes between runs"
            )
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: params[{i}] is a {type(p).__name__}, expected a Tensor")
            if not p.is_leaf:  # a leaf that does not require grad is fine: it has no gradient, step() skips it
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor: params[{i}] is the result of an op; a parameter "
                    "must be a leaf tensor that requires grad"
                )
            if id(p) in seen:
                raise ValueError(f"{name}: params[{i}] appears in more than one parameter group")
        unique = list({id(p): p for p in params}.values())
        if len(unique) != len(params):  # kept once: twice would update it twice (a race in one fused launch)
            warnings.warn(f"{name}: a parameter group lists a parameter more than once; it is kept once", stacklevel=2)
            params = unique
        full = {k: v for k, v in group.items() if k != "params"}
        for k, v in self.defaults.items():
            if v is REQUIRED and k not in full:
                raise ValueError(f"{type(self).__name__}: parameter group is missing the required '{k}'")
            full.setdefault(k, v)
        full = self._check(full)
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

    @staticmethod
    def _grads(group: dict[str, Any], params: list[Tensor]) -> list[Any]:
        """The gradients an update takes: negated for ``maximize`` (one elementwise pass each, as PyTorch's)."""
        if group.get("maximize"):
            return [-p.grad._data for p in params]
        return [p.grad._data for p in params]

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
        """{'state': {param index: {name: value}}, 'param_groups': [hyperparameters + param indices]}, PyTorch's
        layout: steps (and NAdam's mu_product, ASGD's eta and mu) are Python numbers, which torch.optim accepts;
        for ``torch_opt.load_state_dict`` turn the state Tensors into torch's, ``torch.tensor(t.cpu().numpy())``
        (a copy: ``as_tensor`` would share the arrays, and both optimizers would update them)."""
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

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and state saved by ``state_dict``; checked fully before anything changes.
        Saved parameter ids map in order onto this optimizer's parameters, group by group, as PyTorch."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{name}: expected a dict with 'state' and 'param_groups', got {type(state_dict).__name__}")
        absent = [k for k in ("state", "param_groups") if k not in state_dict]
        if absent:  # KeyError, as PyTorch
            raise KeyError(f"{name}: the state dict has no {absent} (keys: {sorted(map(str, state_dict))})")
        groups, state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or len(groups) != len(self.param_groups):
            got = len(groups) if isinstance(groups, (list, tuple)) else type(groups).__name__
            raise ValueError(f"{name}: expected {len(self.param_groups)} parameter groups, got {got}")
        if not isinstance(state, Mapping):
            raise TypeError(f"{name}: 'state' must be a dict of parameter index -> state, got {type(state).__name__}")
        owner: dict[int, Tensor] = {}
        new_groups = []
        for i, (ours, theirs) in enumerate(zip(self.param_groups, groups)):
            ids = theirs.get("params") if isinstance(theirs, Mapping) else None
            if not isinstance(ids, (list, tuple)):
                raise ValueError(f"{name}: parameter group {i} of the state dict is not a dict with a 'params' list")
            if len(ours["params"]) != len(ids):
                raise ValueError(f"{name}: group {i} has {len(ours['params'])} parameters, the state dict {len(ids)}")
            lacking = sorted(k for k in self.defaults if k not in theirs and k not in self._added_later)
            if lacking:
                raise ValueError(
                    f"{name}: parameter group {i} of the state dict has no {lacking} (a state dict of another "
                    f"optimizer? it has {sorted(k for k in theirs if k != 'params')})"
                )
            for pid, p in zip(ids, ours["params"]):
                idx = state_index(pid)
                if idx is None or idx in owner:
                    raise ValueError(f"{name}: group {i} lists parameter id {pid!r}: expected distinct integers")
                owner[idx] = p
            new_groups.append(self._check({k: copy.deepcopy(v) for k, v in theirs.items() if k != "params"}))
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, st in state.items():
            idx = state_index(key)
            if idx not in owner:
                raise ValueError(
                    f"{name}: state for unknown parameter {key!r}: the groups list parameters {sorted(owner)}"
                )
            if not isinstance(st, Mapping):
                raise ValueError(f"{name}: the state of parameter {idx} is a {type(st).__name__}, expected a dict")
            unknown = sorted(set(st) - self._state_names) if self._state_names is not None else []
            if unknown:
                raise ValueError(
                    f"{name}: the state of parameter {idx} has {unknown}, which {type(self).__name__} does not keep "
                    f"(it keeps {sorted(self._state_names)})"
                )
            new_state[owner[idx]] = {
                k: self._loaded_state(name, idx, k, v, owner[idx])
                for k, v in st.items()
                if not (v is None and k == "momentum_buffer")  # PyTorch's SGD keeps None without momentum
            }
        for ours, new in zip(self.param_groups, new_groups):  # all checked: now change things
            ours.update(new)
        self.state = new_state

    def _loaded_state(self, name: str, idx: int, key: str, value: Any, p: Tensor) -> Any:
        """One state entry checked against its parameter: 'step' a count, the scalars floats, the rest tensors shaped
        like ``p``, copied to its device and cast to the dtype ``_state_tensor`` makes (as PyTorch casts). PyTorch's
        tensors are taken too (read through NumPy, at load time)."""
        where = f"{name}: state '{key}' of parameter {idx}"
        if not isinstance(value, (Tensor, np.ndarray, numbers.Real)) and hasattr(value, "__array__"):
            if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):  # a torch.Tensor
                value = value.detach().cpu().numpy()  # perhaps from a GPU
            value = np.array(value)  # a copy: the state must not share memory with the other library's
        if isinstance(value, np.ndarray) and key in self._scalar_state | {"step"} and value.size == 1:
            value = value.item()
        if key in self._scalar_state:
            if isinstance(value, Tensor) and value.numel() == 1:
                value = value.item()  # a host read at load time, not in step()
            if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{where} is a {type(value).__name__}, expected a number")
            return float(value)
        if key == "step":
            if isinstance(value, Tensor) and value.numel() == 1:
                value = value.item()  # a host read at load time, not in step()
            ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            if not ok or not math.isfinite(value) or value < 0 or value != int(value):
                raise ValueError(f"{where} is {value!r}: expected a step count, an integer >= 0")
            return int(value)
        if isinstance(value, np.ndarray):
            value = Tensor(value) if value.dtype.kind in "iuf" else value
        if not isinstance(value, Tensor):
            raise TypeError(f"{where} is a {type(value).__name__}, expected a Tensor of shape {p.shape}")
        if value.shape != p.shape:
            raise ValueError(f"{where} has shape {value.shape}, expected {p.shape}")
        if value.dtype.kind not in "iuf":
            raise TypeError(f"{where} has dtype {value.dtype}, expected a floating-point Tensor")
        return Tensor(value, dtype="float32" if p.dtype.itemsize < 4 else p.dtype, device=p.device)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay:

    g = -grad if maximize else grad;  g = g + weight_decay * p
    buf = g on the first step, else momentum * buf + (1 - dampening) * g
    g = g + momentum * buf (nesterov) or buf (momentum > 0)
    p = p - lr * g
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay}
        defaults |= {"nesterov": nesterov, "maximize": maximize, "foreach": foreach}
        super().__init__(params, {**defaults, "differentiable": differentiable, "fused": fused})

    _state_names = frozenset({"momentum_buffer"})

    def _check(self, group: dict[str, Any]) -> dict[str, Any]:
        out = super()._check(group)
        if "dampening" in group:
            out["dampening"] = real("SGD", "dampening", group["dampening"])
            if math.isnan(out["dampening"]):
                raise ValueError("SGD: invalid dampening nan: expected a number")
        if out.get("nesterov") and (out.get("momentum", 0.0) <= 0 or out.get("dampening", 0.0) != 0):
            raise ValueError(
                f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum "
                f"{out.get('momentum')} and dampening {out.get('dampening')}"
            )
        return out

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        be = params[0]._be
        kw = {k: group[k] for k in ("lr", "momentum", "dampening", "nesterov", "weight_decay")}
        if not group["momentum"]:
            be.sgd_update([p._data for p in params], self._grads(group, params), [], **kw)
            return
        fresh = [p for p in params if "momentum_buffer" not in self.state.get(p, {})]
        old = [p for p in params if "momentum_buffer" in self.state.get(p, {})]
        for subset, first in ((fresh, True), (old, False)):
            if subset:
                bufs = [self._state_tensor(p, "momentum_buffer")._data for p in subset]
                grads = self._grads(group, subset)
                be.sgd_update([p._data for p in subset], grads, bufs, first_step=first, **kw)


class Adam(Optimizer):
    """Adam (Kingma & Ba); L2 weight decay added to the gradient, or decoupled (AdamW) with decoupled_weight_decay:

    g = -grad if maximize else grad;  g = g + weight_decay * p  (decoupled: p = p * (1 - lr * weight_decay))
    m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2   (amsgrad: v_max = max(v_max, v))
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _state_names = frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad}
        defaults |= {"maximize": maximize, "foreach": foreach, "capturable": capturable}
        defaults |= {"differentiable": differentiable, "fused": fused}
        super().__init__(params, {**defaults, "decoupled_weight_decay": decoupled_weight_decay})

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        b1, b2 = group["betas"]
        for step, ps in self._count_steps(params).items():
            vmax = [self._state_tensor(p, "max_exp_avg_sq")._data for p in ps] if group["amsgrad"] else None
            ps[0]._be.adam_update(
                [p._data for p in ps],
                self._grads(group, ps),
                [self._state_tensor(p, "exp_avg")._data for p in ps],
                [self._state_tensor(p, "exp_avg_sq")._data for p in ps],
                step=self._step_on_device(ps, step),
                lr=group["lr"],
                beta1=b1,
                beta2=b2,
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                decoupled=group["decoupled_weight_decay"],
                max_exp_avg_sqs=vmax,
            )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p = p * (1 - lr * weight_decay) before
    the Adam step, instead of adding weight_decay * p to the gradient."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize, capturable=capturable,
            differentiable=differentiable, fused=fused, decoupled_weight_decay=True,
        )  # fmt: skip


class RMSprop(Optimizer):
    """RMSprop:

    g = -grad if maximize else grad;  g = g + weight_decay * p;  v = alpha * v + (1 - alpha) * g^2
    avg = sqrt(v - gbar^2) + eps with gbar = alpha * gbar + (1 - alpha) * g (centered), else sqrt(v) + eps
    momentum > 0: buf = momentum * buf + g / avg, p = p - lr * buf;  else p = p - lr * g / avg
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered}
        defaults |= {"weight_decay": weight_decay, "capturable": capturable, "foreach": foreach}
        super().__init__(params, {**defaults, "maximize": maximize, "differentiable": differentiable})

    _state_names = frozenset({"step", "square_avg", "momentum_buffer", "grad_avg"})

    def _check(self, group: dict[str, Any]) -> dict[str, Any]:
        out = super()._check(group)
        if "alpha" in group:
            out["alpha"] = real("RMSprop", "alpha", group["alpha"])
            if not out["alpha"] >= 0.0:  # as PyTorch (which lets alpha > 1 through too); NaN fails
                raise ValueError(f"RMSprop: invalid alpha {out['alpha']}: expected a number >= 0")
        return out

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        self._count_steps(params)  # kept as PyTorch keeps it (its state dicts have it); the update does not use it
        bufs = [self._state_tensor(p, "momentum_buffer")._data for p in params] if group["momentum"] else None
        gavg = [self._state_tensor(p, "grad_avg")._data for p in params] if group["centered"] else None
        params[0]._be.rmsprop_update(
            [p._data for p in params],
            self._grads(group, params),
            [self._state_tensor(p, "square_avg")._data for p in params],
            lr=group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            bufs=bufs,
            grad_avgs=gavg,
        )


class Adagrad(Optimizer):
    """Adagrad:  g = -grad if maximize else grad;  g = g + weight_decay * p;  s = s + g^2 (s starts at
    initial_accumulator_value);  p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)."""

    _state_names = frozenset({"step", "sum"})
    _added_later = LATER_FLAGS | {"initial_accumulator_value"}

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay}
        defaults |= {"initial_accumulator_value": initial_accumulator_value, "foreach": foreach}
        super().__init__(params, {**defaults, "maximize": maximize, "differentiable": differentiable, "fused": fused})

    def _check(self, group: dict[str, Any]) -> dict[str, Any]:
        out = super()._check(group)
        for k in ("lr_decay", "initial_accumulator_value"):
            if k in group:
                out[k] = at_least_zero("Adagrad", k, group[k], k)
        return out

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        for p in params:
            if "sum" not in self.state.get(p, {}) and group["initial_accumulator_value"]:
                self._state_tensor(p, "sum")._data[...] = group["initial_accumulator_value"]  # a fill: no host read
        for step, ps in self._count_steps(params).items():
            ps[0]._be.adagrad_update(
                [p._data for p in ps],
                self._grads(group, ps),
                [self._state_tensor(p, "sum")._data for p in ps],
                step=self._step_on_device(ps, step),
                lr=group["lr"],
                lr_decay=group["lr_decay"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
            )
