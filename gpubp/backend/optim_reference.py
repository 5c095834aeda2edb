"""The reference implementations of the fused optimizer updates, on ``xp``: in place, over lists of arrays.

``Backend`` inherits them (the NumPy backend runs them as they are); the CUDA backend overrides each with one
multi-tensor kernel of ``kernels/optim.cu`` and is checked against them. Like every primitive they never read
device data back to the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class OptimizerReferences:
    """The fused optimizer updates of a backend (``self.xp`` is its array namespace)."""

    xp: Any

    # ---- fused optimizer updates: in place, over lists of arrays -------------------------------
    def sgd_update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        bufs: Sequence[Any],
        *,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        first_step: bool = False,
    ) -> None:
        """g += wd*p; buf = momentum*buf + (1-dampening)*g (buf = g on the first step);
        g = g + momentum*buf if nesterov else buf; p -= lr*g."""
        for i, (p, g) in enumerate(zip(params, grads)):
            if weight_decay:
                g = g + weight_decay * p
            if momentum:
                buf = bufs[i]
                if first_step:
                    buf[...] = g
                else:
                    buf *= momentum
                    buf += (1.0 - dampening) * g
                g = g + momentum * buf if nesterov else buf
            p -= lr * g

    def adam_update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        exp_avgs: Sequence[Any],
        exp_avg_sqs: Sequence[Any],
        *,
        step: Any,
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
        max_exp_avg_sqs: Sequence[Any] | None = None,
    ) -> None:
        """Adam (AdamW when ``decoupled``): m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
        p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). ``step`` (t) may be a device array."""
        xp = self.xp
        bc1 = 1.0 - beta1**step
        bc2_sqrt = xp.sqrt(xp.asarray(1.0 - beta2**step))
        for i, (p, g) in enumerate(zip(params, grads)):
            if weight_decay and decoupled:
                p *= 1.0 - lr * weight_decay
            elif weight_decay:
                g = g + weight_decay * p
            m, v = exp_avgs[i], exp_avg_sqs[i]
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += ((1.0 - beta2) * g) * g  # as PyTorch's addcmul: g * g alone overflows float32 above ~1.8e19
            if max_exp_avg_sqs is not None:
                xp.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])
                v = max_exp_avg_sqs[i]
            denom = xp.sqrt(v) / bc2_sqrt.astype(p.dtype) + eps
            p -= ((lr / bc1) * (m / denom)).astype(p.dtype, copy=False)

    def rmsprop_update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        square_avgs: Sequence[Any],
        *,
        lr: float,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        bufs: Sequence[Any] | None = None,
        grad_avgs: Sequence[Any] | None = None,
    ) -> None:
        """v = a*v + (1-a)*g^2; centered: avg = sqrt(v - gbar^2) + eps else sqrt(v) + eps;
        with momentum: buf = mu*buf + g/avg, p -= lr*buf; else p -= lr*g/avg."""
        xp = self.xp
        for i, (p, g) in enumerate(zip(params, grads)):
            if weight_decay:
                g = g + weight_decay * p
            v = square_avgs[i]
            v *= alpha
            v += ((1.0 - alpha) * g) * g
            if grad_avgs is not None:
                ga = grad_avgs[i]
                ga *= alpha
                ga += (1.0 - alpha) * g
                avg = xp.sqrt(v - ga * ga) + eps
            else:
                avg = xp.sqrt(v) + eps
            if momentum:
                buf = bufs[i]
                buf *= momentum
                buf += g / avg
                p -= lr * buf
            else:
                p -= lr * (g / avg)

    def adagrad_update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        sums: Sequence[Any],
        *,
        step: Any,
        lr: float,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        """s += g^2; p -= lr / (1 + (t-1)*lr_decay) * g / (sqrt(s) + eps)."""
        xp = self.xp
        clr = lr / (1.0 + (step - 1) * lr_decay)
        for i, (p, g) in enumerate(zip(params, grads)):
            if weight_decay:
                g = g + weight_decay * p
            s = sums[i]
            s += g * g
            p -= (clr * (g / (xp.sqrt(s) + eps))).astype(p.dtype, copy=False)

    def adadelta_update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        square_avgs: Sequence[Any],
        acc_deltas: Sequence[Any],
        *,
        lr: float,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ) -> None:
        """v = rho*v + (1-rho)*g^2; d = sqrt(u + eps) / sqrt(v + eps) * g; u = rho*u + (1-rho)*d^2; p -= lr*d."""
        xp = self.xp
        for p, g, v, u in zip(params, grads, square_avgs, acc_deltas):
            if weight_decay:
                g = g + weight_decay * p
            v *= rho
            v += ((1.0 - rho) * g) * g
            delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g
            u *= rho
            u += ((1.0 - rho) * delta) * delta
            p -= (lr * delta).astype(p.dtype, copy=False)

    def adamax_update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        exp_avgs: Sequence[Any],
        exp_infs: Sequence[Any],
        *,
        step: int,
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        """m = lerp(m, g, 1-b1); u = max(b2*u, |g| + eps); p -= lr / (1-b1^t) * m / u (``step`` t: a host int)."""
        xp = self.xp
        clr = lr / (1.0 - beta1**step)
        for p, g, m, u in zip(params, grads, exp_avgs, exp_infs):
            if weight_decay:
                g = g + weight_decay * p
            _lerp(m, g, 1.0 - beta1)
            xp.maximum(u * beta2, xp.abs(g) + eps, out=u)
            p -= (clr * (m / u)).astype(p.dtype, copy=False)

    def nadam_update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        exp_avgs: Sequence[Any],
        exp_avg_sqs: Sequence[Any],
        *,
        step: int,
        mu_product: float,
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled: bool = False,
    ) -> None:
        """NAdam with host scalars from ``step`` and ``mu_product`` (the product of mu_1..mu_t):
        m = lerp(m, g, 1-b1); v = b2*v + (1-b2)*g^2; d = sqrt(v / (1-b2^t)) + eps;
        p += -lr*(1-mu_t)/(1-mu_product) * g/d - lr*mu_{t+1}/(1-mu_product*mu_{t+1}) * m/d."""
        xp = self.xp
        bc2, coef_g, coef_m = nadam_scalars(step, mu_product, lr, beta1, beta2, momentum_decay)
        for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
            if weight_decay and decoupled:
                p *= 1.0 - lr * weight_decay
            elif weight_decay:
                g = g + weight_decay * p
            _lerp(m, g, 1.0 - beta1)
            v *= beta2
            v += ((1.0 - beta2) * g) * g
            denom = xp.sqrt(v / bc2) + eps
            p += (coef_g * (g / denom)).astype(p.dtype, copy=False)
            p += (coef_m * (m / denom)).astype(p.dtype, copy=False)

    def radam_update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        exp_avgs: Sequence[Any],
        exp_avg_sqs: Sequence[Any],
        *,
        step: int,
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        """RAdam: m, v as Adam; rho_t = rho_inf - 2t b2^t / (1-b2^t). rho_t > 5: p -= lr * m/(1-b1^t) * r_t *
        sqrt(1-b2^t) / (sqrt(v) + eps) with the rectification r_t; else p -= lr * m/(1-b1^t) (SGD with momentum)."""
        xp = self.xp
        bc1, bc2_sqrt, rect = radam_scalars(step, beta1, beta2)
        for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
            if weight_decay and decoupled:
                p *= 1.0 - lr * weight_decay
            elif weight_decay:
                g = g + weight_decay * p
            _lerp(m, g, 1.0 - beta1)
            v *= beta2
            v += ((1.0 - beta2) * g) * g
            update = (m / bc1) * lr
            if rect is not None:
                update = update * (bc2_sqrt / (xp.sqrt(v) + eps)) * rect
            p -= update.astype(p.dtype, copy=False)

    def asgd_update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        axs: Sequence[Any],
        *,
        eta: float,
        mu: float,
        lambd: float = 1e-4,
        weight_decay: float = 0.0,
    ) -> None:
        """p *= 1 - lambd*eta; p -= eta*g; ax += mu*(p - ax) (ax = p when mu = 1). ``eta`` and ``mu``: host floats."""
        for p, g, ax in zip(params, grads, axs):
            if weight_decay:
                g = g + weight_decay * p
            p *= 1.0 - lambd * eta
            p -= (eta * g).astype(p.dtype, copy=False)
            if mu != 1.0:
                ax += (p - ax) * mu
            else:
                ax[...] = p

    def rprop_update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        prevs: Sequence[Any],
        step_sizes: Sequence[Any],
        *,
        etaminus: float = 0.5,
        etaplus: float = 1.2,
        step_size_min: float = 1e-6,
        step_size_max: float = 50.0,
    ) -> None:
        """s = sign(g*prev); step_size = clamp(step_size * (etaplus if s > 0, etaminus if s < 0, else 1), min, max);
        g = 0 where s < 0; p -= sign(g) * step_size; prev = g."""
        xp = self.xp
        for p, g, prev, size in zip(params, grads, prevs, step_sizes):
            s = xp.sign(g * prev)
            factor = xp.where(s > 0, etaplus, xp.where(s < 0, etaminus, xp.where(s == 0, 1.0, s)))
            size *= factor.astype(size.dtype, copy=False)
            xp.clip(size, step_size_min, step_size_max, out=size)
            g = xp.where(s < 0, 0, g).astype(prev.dtype, copy=False)
            p -= (xp.sign(g) * size).astype(p.dtype, copy=False)
            prev[...] = g


def _lerp(m: Any, g: Any, w: float) -> None:
    """m = lerp(m, g, w) in place, as PyTorch's lerp: m + w*(g - m) for w < 0.5, else g - (g - m)*(1 - w)."""
    if w < 0.5:
        m += w * (g - m)
    else:
        m[...] = g - (g - m) * (1.0 - w)


def nadam_scalars(
    step: int, mu_product: float, lr: float, beta1: float, beta2: float, momentum_decay: float
) -> tuple[float, float, float]:
    """NAdam's host scalars for step t: (1 - b2^t, the gradient's and the average's coefficients)."""
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    coef_g = -lr * (1.0 - mu) / (1.0 - mu_product)
    coef_m = (-lr * mu_next) / (1.0 - mu_product * mu_next)
    return 1.0 - beta2**step, coef_g, coef_m


def radam_scalars(step: int, beta1: float, beta2: float) -> tuple[float, float, float | None]:
    """RAdam's host scalars for step t: (1 - b1^t, sqrt(1 - b2^t), the rectification r_t, or None when
    rho_t <= 5 and the step is unrectified)."""
    bc1 = 1.0 - beta1**step
    bc2 = 1.0 - beta2**step
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * step * (beta2**step) / bc2
    if rho_t <= 5.0:
        return bc1, bc2**0.5, None
    rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5
    return bc1, bc2**0.5, rect
