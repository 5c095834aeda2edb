"""Adadelta, Adamax, NAdam, RAdam, ASGD and Rprop on fused backend primitives, as ``torch.optim``. Their
step-dependent scalars (bias corrections, NAdam's mu products, RAdam's rectification, ASGD's eta and mu) are
computed on the host from the host step count, so ``step()`` reads nothing back from the device."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from ._checks import at_least_zero, pair, real, scalar_state, scalar_times
from .optimizer import Optimizer

__all__ = ["ASGD", "Adadelta", "Adamax", "NAdam", "RAdam", "Rprop"]


def _by(params: list[Tensor], state: dict, keys: tuple[str, ...]) -> dict[tuple, list[Tensor]]:
    """``params`` grouped by the host values of their state ``keys``: one launch per distinct set."""
    out: dict[tuple, list[Tensor]] = {}
    for p in params:
        out.setdefault(tuple(state[p][k] for k in keys), []).append(p)
    return out


class Adadelta(Optimizer):
    """Adadelta (Zeiler):  g = -grad if maximize else grad;  g = g + weight_decay * p;  v = rho * v + (1 - rho) * g^2;
    delta = sqrt(u + eps) / sqrt(v + eps) * g;  u = rho * u + (1 - rho) * delta^2;  p = p - lr * delta."""

    _state_names = frozenset({"step", "square_avg", "acc_delta"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(
            params, {**defaults, "capturable": capturable, "foreach": foreach, "differentiable": differentiable}
        )

    def _check(self, group: dict[str, Any]) -> dict[str, Any]:
        out = super()._check(group)
        if "rho" in group:
            out["rho"] = real("Adadelta", "rho", group["rho"])
            if not 0.0 <= out["rho"] <= 1.0:
                raise ValueError(f"Adadelta: invalid rho {out['rho']}: expected a number in [0, 1]")
        return out

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        self._count_steps(params)  # kept as PyTorch keeps it; the update does not use it
        params[0]._be.adadelta_update(
            [p._data for p in params],
            self._grads(group, params),
            [self._state_tensor(p, "square_avg")._data for p in params],
            [self._state_tensor(p, "acc_delta")._data for p in params],
            lr=group["lr"],
            rho=group["rho"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
        )


class Adamax(Optimizer):
    """Adamax, Adam in the infinity norm:  g = -grad if maximize else grad;  g = g + weight_decay * p;
    m = beta1 * m + (1 - beta1) * g;  u = max(beta2 * u, |g| + eps);  p = p - lr / (1 - beta1^t) * m / u."""

    _state_names = frozenset({"step", "exp_avg", "exp_inf"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "foreach": foreach}
        super().__init__(
            params, {**defaults, "maximize": maximize, "differentiable": differentiable, "capturable": capturable}
        )

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        b1, b2 = group["betas"]
        for step, ps in self._count_steps(params).items():
            ps[0]._be.adamax_update(
                [p._data for p in ps],
                self._grads(group, ps),
                [self._state_tensor(p, "exp_avg")._data for p in ps],
                [self._state_tensor(p, "exp_inf")._data for p in ps],
                step=step,
                lr=group["lr"],
                beta1=b1,
                beta2=b2,
                eps=group["eps"],
                weight_decay=group["weight_decay"],
            )


class NAdam(Optimizer):
    """Adam with Nesterov momentum (Dozat):  g = -grad if maximize else grad;  g = g + weight_decay * p
    (decoupled_weight_decay: p = p * (1 - lr * weight_decay));  mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)),
    mu_product = mu_1 ... mu_t;  m, v as Adam;  d = sqrt(v / (1 - beta2^t)) + eps;
    p = p - lr * (1 - mu_t) / (1 - mu_product) * g / d - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / d."""

    _state_names = frozenset({"step", "mu_product", "exp_avg", "exp_avg_sq"})
    _scalar_state = frozenset({"mu_product"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        defaults |= {"momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay}
        defaults |= {"maximize": maximize, "foreach": foreach, "capturable": capturable}
        super().__init__(params, {**defaults, "differentiable": differentiable})

    def _check(self, group: dict[str, Any]) -> dict[str, Any]:
        out = super()._check(group)
        if "momentum_decay" in group:
            out["momentum_decay"] = at_least_zero("NAdam", "momentum_decay", group["momentum_decay"], "momentum_decay")
        return out

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        b1, b2 = group["betas"]
        steps = self._count_steps(params)
        for p in params:  # mu_product *= mu_t on the host, rounded as PyTorch's 0-d tensor keeps it
            st = self.state[p]
            mu = b1 * (1.0 - 0.5 * 0.96 ** (st["step"] * group["momentum_decay"]))
            st["mu_product"] = scalar_state(scalar_times(st.get("mu_product", 1.0), mu))
        for step, by_step in steps.items():
            for (mu_product,), ps in _by(by_step, self.state, ("mu_product",)).items():
                ps[0]._be.nadam_update(
                    [p._data for p in ps],
                    self._grads(group, ps),
                    [self._state_tensor(p, "exp_avg")._data for p in ps],
                    [self._state_tensor(p, "exp_avg_sq")._data for p in ps],
                    step=step,
                    mu_product=mu_product,
                    lr=group["lr"],
                    beta1=b1,
                    beta2=b2,
                    eps=group["eps"],
                    weight_decay=group["weight_decay"],
                    momentum_decay=group["momentum_decay"],
                    decoupled=group["decoupled_weight_decay"],
                )


class RAdam(Optimizer):
    """Rectified Adam (Liu et al.):  g, m, v as Adam (decoupled_weight_decay: p = p * (1 - lr * weight_decay));
    rho_inf = 2 / (1 - beta2) - 1,  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t);  m_hat = m / (1 - beta1^t);
    rho_t > 5: p = p - lr * m_hat * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps), with
    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t));  else p = p - lr * m_hat."""

    _state_names = frozenset({"step", "exp_avg", "exp_avg_sq"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        defaults |= {"maximize": maximize, "foreach": foreach, "capturable": capturable}
        super().__init__(
            params, {**defaults, "decoupled_weight_decay": decoupled_weight_decay, "differentiable": differentiable}
        )

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        b1, b2 = group["betas"]
        for step, ps in self._count_steps(params).items():
            ps[0]._be.radam_update(
                [p._data for p in ps],
                self._grads(group, ps),
                [self._state_tensor(p, "exp_avg")._data for p in ps],
                [self._state_tensor(p, "exp_avg_sq")._data for p in ps],
                step=step,
                lr=group["lr"],
                beta1=b1,
                beta2=b2,
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                decoupled=group["decoupled_weight_decay"],
            )


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky):  g = -grad if maximize else grad;  g = g + weight_decay * p;
    p = p * (1 - lambd * eta);  p = p - eta * g;  ax = ax + mu * (p - ax);  then, for the next step,
    eta = lr / (1 + lambd * lr * t)^alpha and mu = 1 / max(1, t - t0) (eta starts at lr, mu at 1)."""

    _state_names = frozenset({"step", "eta", "mu", "ax"})
    _scalar_state = frozenset({"eta", "mu"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay}
        defaults |= {"foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, {**defaults, "capturable": capturable})

    def _check(self, group: dict[str, Any]) -> dict[str, Any]:
        out = super()._check(group)
        for k in ("lambd", "alpha", "t0"):  # PyTorch checks none of them; NaN is refused here all the same
            if k in group:
                out[k] = real("ASGD", k, group[k])
                if out[k] != out[k]:
                    raise ValueError(f"ASGD: invalid {k} nan: expected a number")
        return out

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        for p in params:
            st = self.state.setdefault(p, {})
            if "eta" not in st:
                st["eta"], st["mu"] = scalar_state(group["lr"]), 1.0
        steps = self._count_steps(params)
        for ps in _by(params, self.state, ("eta", "mu")).values():
            ps[0]._be.asgd_update(
                [p._data for p in ps],
                self._grads(group, ps),
                [self._state_tensor(p, "ax")._data for p in ps],
                eta=self.state[ps[0]]["eta"],
                mu=self.state[ps[0]]["mu"],
                lambd=group["lambd"],
                weight_decay=group["weight_decay"],
            )
        lr, lambd = group["lr"], group["lambd"]
        for step, ps in steps.items():  # the next step's eta and mu, from this step's count and lr
            eta = scalar_state(lr / ((1 + lambd * lr * step) ** group["alpha"]))
            mu = scalar_state(1 / max(1, step - group["t0"]))
            for p in ps:
                self.state[p]["eta"], self.state[p]["mu"] = eta, mu


class Rprop(Optimizer):
    """Resilient backpropagation:  g = -grad if maximize else grad;  s = sign(g * prev);
    step_size = clamp(step_size * (etaplus if s > 0, etaminus if s < 0, else 1), *step_sizes) (it starts at lr);
    g = 0 where s < 0;  p = p - sign(g) * step_size;  prev = g."""

    _state_names = frozenset({"step", "prev", "step_size"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach, "maximize": maximize}
        super().__init__(params, {**defaults, "differentiable": differentiable, "capturable": capturable})

    def _check(self, group: dict[str, Any]) -> dict[str, Any]:
        out = super()._check(group)
        if "etas" in group:
            out["etas"] = pair("Rprop", "etas", group["etas"])
            if not 0.0 < out["etas"][0] < 1.0 < out["etas"][1]:
                raise ValueError(
                    f"Rprop: invalid etas {out['etas']}: expected 0 < etaminus < 1 < etaplus, as (etaminus, etaplus)"
                )
        if "step_sizes" in group:
            out["step_sizes"] = pair("Rprop", "step_sizes", group["step_sizes"])
        return out

    def _update(self, group: dict[str, Any], params: list[Tensor]) -> None:
        for p in params:
            if "step_size" not in self.state.get(p, {}):
                self._state_tensor(p, "step_size")._data[...] = group["lr"]  # a fill: no host read
        self._count_steps(params)
        (etaminus, etaplus), (lo, hi) = group["etas"], group["step_sizes"]
        params[0]._be.rprop_update(
            [p._data for p in params],
            self._grads(group, params),
            [self._state_tensor(p, "prev")._data for p in params],
            [self._state_tensor(p, "step_size")._data for p in params],
            etaminus=etaminus,
            etaplus=etaplus,
            step_size_min=lo,
            step_size_max=hi,
        )
