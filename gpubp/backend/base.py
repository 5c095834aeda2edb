"""The backend interface, with reference implementations of every fused primitive on ``xp``.

The NumPy backend is this class with ``xp = numpy``; the CUDA backend overrides the fused
primitives with kernels from ``kernels/`` and is checked against these references.
All primitives take and return raw arrays (never Tensors) and never read device data
back to the host: no ``float()``, ``bool()`` or ``.item()`` here.
"""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from .attention_reference import AttentionReferences
from .norm_reference import NormReferences
from .optim_reference import OptimizerReferences

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715

# Which tensor each activation's derivative reads: its input or its output (the cheaper one).
ACTIVATION_SAVES = {
    "relu": "output",
    "leaky_relu": "input",
    "elu": "input",
    "sigmoid": "output",
    "tanh": "output",
    "softplus": "input",
    "gelu": "input",
    "gelu_tanh": "input",
    "silu": "input",
}


class Backend(OptimizerReferences, AttentionReferences, NormReferences, ABC):
    """One device's array library plus its fused primitives."""

    xp: Any = None
    device: Any = None
    _no_device = contextlib.nullcontext()

    def enter(self) -> Any:
        """A context manager making this backend's device the current one (CuPy runs every kernel, allocation and
        array method on the current device). Nothing to enter on the CPU."""
        return self._no_device

    def step_counter(self, key: Any, step: int) -> Any:
        """The optimizer step ``step`` as the update primitives take it (here the host int; a GPU backend keeps a
        counter on the device, keyed by ``key``, and increments it there)."""
        return step

    # ---- arrays -------------------------------------------------------------------------
    def asarray(self, data: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(data, dtype=dtype)

    def from_host(self, a: Any) -> Any:
        """A host NumPy array on this device (a GPU backend copies it asynchronously)."""
        return self.asarray(a)

    @abstractmethod
    def to_numpy(self, a: Any) -> Any:
        """A host NumPy array with the data of ``a`` (a copy on GPUs: it synchronizes)."""

    def scatter_add(self, target: Any, key: Any, values: Any) -> None:
        """target[key] += values, adding up repeated indices (the VJP of gathering)."""
        self.xp.add.at(target, key, values)

    @abstractmethod
    def erf(self, x: Any) -> Any:
        """The error function, elementwise (NumPy has none of its own)."""

    # ---- random -------------------------------------------------------------------------
    @abstractmethod
    def manual_seed(self, seed: int) -> None:
        """Reseed this device's generator."""

    @abstractmethod
    def randn(self, shape: tuple, dtype: Any) -> Any:
        """Standard normal samples."""

    @abstractmethod
    def rand(self, shape: tuple, dtype: Any) -> Any:
        """Uniform samples in [0, 1)."""

    @abstractmethod
    def randint(self, low: int, high: int, shape: tuple, dtype: Any) -> Any:
        """Uniform integers in [low, high)."""

    @abstractmethod
    def exponential(self, shape: tuple, dtype: Any) -> Any:
        """Standard exponential samples (rate 1), a float dtype."""

    @abstractmethod
    def poisson(self, lam: Any) -> Any:
        """Poisson counts with rates ``lam`` (an array of this backend), in ``lam``'s float dtype."""

    # ---- activations: forward, and derivative from grad_out + one saved tensor ------------
    def act_forward(self, name: str, x: Any, param: float = 0.0) -> Any:
        """y = act(x); ``param`` is the slope (leaky_relu), alpha (elu) or beta (softplus)."""
        xp = self.xp
        if name == "relu":
            return xp.maximum(x, 0)
        if name == "leaky_relu":
            return xp.where(x > 0, x, x * param)
        if name == "elu":
            # expm1 of min(x, 0) so the unused branch never overflows
            return xp.where(x > 0, x, param * xp.expm1(xp.minimum(x, 0)))
        if name == "sigmoid":
            return self._sigmoid(x)
        if name == "tanh":
            return xp.tanh(x)
        if name == "softplus":
            z = x * param
            soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / param
            return xp.where(z > 20.0, x, soft)  # PyTorch's threshold: linear above 20
        if name == "gelu":
            return 0.5 * x * (1.0 + self.erf(x * _SQRT_HALF))
        if name == "gelu_tanh":
            return 0.5 * x * (1.0 + xp.tanh(_GELU_K * (x + _GELU_C * x * x * x)))
        if name == "silu":
            return x * self._sigmoid(x)
        raise ValueError(f"act_forward: unknown activation '{name}'")

    def act_backward(self, name: str, g: Any, saved: Any, param: float = 0.0) -> Any:
        """grad_in from grad_out ``g`` and the saved tensor named in ACTIVATION_SAVES."""
        xp = self.xp
        if name == "relu":
            return g * (saved > 0)  # relu'(0) = 0, as PyTorch
        if name == "leaky_relu":
            return xp.where(saved > 0, g, g * param)
        if name == "elu":
            # x <= 0 selects the exp branch, so a NaN input takes the identity branch's g, as PyTorch
            return xp.where(saved <= 0, g * (param * xp.exp(xp.minimum(saved, 0))), g)
        if name == "sigmoid":
            return g * saved * (1.0 - saved)
        if name == "tanh":
            return g * (1.0 - saved * saved)
        if name == "softplus":
            z = saved * param
            return xp.where(z > 20.0, g, g * self._sigmoid(z))
        if name == "gelu":
            cdf = 0.5 * (1.0 + self.erf(saved * _SQRT_HALF))
            pdf = xp.exp(-0.5 * saved * saved) * _INV_SQRT_2PI
            return g * (cdf + saved * pdf)
        if name == "gelu_tanh":
            x = saved
            t = xp.tanh(_GELU_K * (x + _GELU_C * x * x * x))
            du = _GELU_K * (1.0 + 3.0 * _GELU_C * x * x)
            return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
        if name == "silu":
            s = self._sigmoid(saved)
            return g * (s * (1.0 + saved * (1.0 - s)))
        raise ValueError(f"act_backward: unknown activation '{name}'")

    def act_forward_keep(self, name: str, x: Any, param: float = 0.0) -> tuple[Any, Any]:
        """act(x) and what this backend keeps for the derivative besides the saved tensor: None here, where
        act_backward recomputes from that tensor (the CUDA kernels do, in registers: a second saved tensor would
        cost more bandwidth than the recompute). A backend may keep act'(x) instead (see act_derivative)."""
        return self.act_forward(name, x, param), None

    def act_backward_kept(self, name: str, g: Any, saved: Any, kept: Any, param: float = 0.0) -> Any:
        """grad_in from grad_out ``g`` and what act_forward_keep kept: g * act'(x), one pass; act_backward when it
        kept nothing."""
        if kept is None:
            return self.act_backward(name, g, saved, param)
        return g * kept

    def act_derivative(self, name: str, x: Any) -> tuple[Any, Any]:
        """(act(x), act'(x)) for the GELUs, sharing the work: Phi(x) (or the tanh) once, no erf left for backward.
        The same formulas as act_forward / act_backward, in x's dtype."""
        xp = self.xp
        if name == "gelu":
            cdf = self.erf(x * _SQRT_HALF)
            cdf += 1.0
            cdf *= 0.5
            pdf = xp.exp(-0.5 * x * x)
            pdf *= _INV_SQRT_2PI
            pdf *= x
            pdf += cdf  # Phi(x) + x phi(x)
            return x * cdf, pdf
        if name == "gelu_tanh":
            t = xp.tanh(_GELU_K * (x + _GELU_C * x * x * x))
            du = (3.0 * _GELU_K * _GELU_C) * (x * x)
            du += _GELU_K
            half = 0.5 * (1.0 + t)
            # 0.5 (1 + t) + 0.5 x (1 - t^2) du
            d = 1.0 - t * t
            d *= du
            d *= 0.5 * x
            d += half
            return x * half, d
        raise ValueError(f"act_derivative: no fused derivative for '{name}'")

    def _sigmoid(self, x: Any) -> Any:
        # exp(-|x|) never overflows; both branches are exact in their half of the line
        xp = self.xp
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    # ---- softmax family (row-wise along ``axis``) -------------------------------------------
    def softmax(self, x: Any, axis: int) -> Any:
        xp = self.xp
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def softmax_backward(self, g: Any, y: Any, axis: int) -> Any:
        """dx = y * (g - sum(g * y))."""
        return y * (g - self.xp.sum(g * y, axis=axis, keepdims=True))

    def log_softmax(self, x: Any, axis: int) -> Any:
        xp = self.xp
        shifted = x - x.max(axis=axis, keepdims=True)
        shifted -= xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        return shifted

    def log_softmax_backward(self, g: Any, y: Any, axis: int) -> Any:
        """dx = g - exp(y) * sum(g)."""
        return g - self.xp.exp(y) * self.xp.sum(g, axis=axis, keepdims=True)

    # ---- fused softmax cross-entropy over (N, C) logits and (N,) integer targets ------------
    def cross_entropy(
        self, logits: Any, target: Any, ignore_index: int = -100, label_smoothing: float = 0.0
    ) -> tuple[Any, Any]:
        """Per-row loss (0 on ignored rows, NaN where the target is outside [0, C): the op raises for that on
        the CPU first) and what backward needs (here: the softmax probabilities; a backend may save something
        else, the op passes it through).

        loss_i = (1 - eps) * -log p[i, t_i] + eps * mean_c(-log p[i, c])
        """
        xp = self.xp
        logp = self.log_softmax(logits, 1)
        valid = target != ignore_index
        inside = (target >= 0) & (target < logits.shape[1])
        safe_t = xp.where(valid & inside, target, 0)  # never an out-of-range (or wrapped negative) class
        nll = -xp.take_along_axis(logp, safe_t[:, None], axis=1)[:, 0]
        if label_smoothing:
            nll = (1.0 - label_smoothing) * nll - label_smoothing * logp.mean(axis=1)
        nll = xp.where(inside, nll, math.nan)
        return xp.where(valid, nll, 0), xp.exp(logp)

    def cross_entropy_reduce(self, rows: Any, target: Any, ignore_index: int, mean: bool) -> tuple[Any, Any]:
        """(the sum of the per-row losses, or their mean over rows whose target is not ``ignore_index``; the mean's
        divisor, a 0-d array kept for backward, or None for the sum). No rows counted: NaN, as PyTorch."""
        total = rows.sum()
        if not mean:
            return self.xp.asarray(total, dtype=rows.dtype), None
        count = (target != ignore_index).sum().astype(self._math_dtype(rows.dtype))
        return self.xp.asarray(total / count, dtype=rows.dtype), count

    def cross_entropy_backward(
        self,
        g_rows: Any,
        saved: Any,
        target: Any,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        divisor: Any = None,
    ) -> Any:
        """d logits = (probs - (1 - eps) * onehot(t) - eps / C) * g_row / divisor; ignored rows get 0, rows whose
        target is outside [0, C) (and not ignored) NaN."""
        xp = self.xp
        probs = saved
        valid = target != ignore_index
        inside = (target >= 0) & (target < probs.shape[1])
        if divisor is not None:
            g_rows = g_rows / divisor
        gr = xp.where(valid, g_rows, 0).astype(probs.dtype, copy=False)
        d = probs * gr[:, None]
        rows = xp.arange(probs.shape[0])
        d[rows, xp.where(valid & inside, target, 0)] -= xp.where(inside, (1.0 - label_smoothing) * gr, 0)
        if label_smoothing:
            d -= (label_smoothing / probs.shape[1]) * gr[:, None]
        return xp.where((valid & ~inside)[:, None], math.nan, d)

    # ---- reductions --------------------------------------------------------------------------
    @staticmethod
    def _math_dtype(dtype: Any) -> Any:
        """The type fused primitives compute in: float64 for float64, float32 for float32 and narrower floats."""
        return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)

    def sq_norm(self, arrays: Sequence[Any]) -> Any:
        """sum_i ||a_i||^2 over many arrays, as a 0-d array on the device (no host sync), in the math type:
        float32 for float16 data, whose squares overflow past a norm of 256."""
        xp = self.xp
        total = xp.zeros((), dtype=self._math_dtype(arrays[0].dtype) if arrays else xp.float32)
        for a in arrays:
            flat = a.reshape(-1).astype(total.dtype, copy=False)
            total = total + xp.dot(flat, flat)
        return total

    def moments(self, x: Any, axes: tuple[int, ...]) -> tuple[Any, Any]:
        """Mean and biased variance over ``axes`` (batch-norm statistics)."""
        mean = x.mean(axis=axes)
        return mean, x.var(axis=axes)
