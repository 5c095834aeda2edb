"""Gradient checking: analytic VJPs against float64 central differences, first and second order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with finite differences."""


def _outputs(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    return [o for o in out if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _differentiable(inputs: Sequence[Any], name: str) -> list[Tensor]:
    """The float64 leaf inputs that require grad: the ones checked."""
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError(f"{name}: no input requires grad")
    for t in wrt:
        if t.dtype != np.float64:
            raise TypeError(f"{name}: inputs must be float64 for finite differences, got {t.dtype}")
        if not t.is_leaf:
            raise ValueError(f"{name}: inputs must be leaf tensors")
    return wrt


def _numeric(t: Tensor, projected: Callable[[], float], eps: float) -> np.ndarray:
    """Central differences of ``projected()`` with respect to each element of ``t``, perturbed in place."""
    flat = t._data.reshape(-1)  # a view when contiguous; otherwise perturb through a copy
    numeric = np.zeros(t.numel())
    with t._be.enter():  # the perturbations write raw arrays of t's device
        for j in range(t.numel()):
            orig = flat[j].copy()
            _set(t, flat, j, orig + eps)
            plus = projected()
            _set(t, flat, j, orig - eps)
            minus = projected()
            _set(t, flat, j, orig)
            numeric[j] = (plus - minus) / (2 * eps)
    return numeric.reshape(t.shape)


def _compare(name: str, what: str, t: Tensor, a: Tensor | None, numeric: np.ndarray, atol: float, rtol: float) -> None:
    a_np = np.zeros(t.shape) if a is None else a.detach().cpu().numpy()
    if not np.allclose(a_np, numeric, atol=atol, rtol=rtol):
        k = np.unravel_index(np.argmax(np.abs(a_np - numeric)), t.shape)
        raise GradcheckError(
            f"{name}: {what} (shape {t.shape}): analytic and numeric gradients differ; "
            f"worst at {tuple(int(c) for c in k)}: analytic {float(a_np[k])!r}, numeric {float(numeric[k])!r}"
        )


def _dot(tensors: Sequence[Tensor | None], arrays: Sequence[np.ndarray]) -> float:
    return float(sum(np.sum(t.detach().cpu().numpy() * a) for t, a in zip(tensors, arrays) if t is not None))


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Tensor] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check fn's gradients for every input that requires grad; True or GradcheckError.

    Compares <v, J> from autograd with central differences of <v, fn(x)> for a random
    cotangent v, element by element. Inputs must be float64 for the differences to mean anything.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    wrt = _differentiable(inputs, "gradcheck")
    outs = _outputs(fn(*inputs))
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(o.shape) for o in outs]

    def projected() -> float:
        with no_grad():
            return _dot(_outputs(fn(*inputs)), vs)

    cotangents = [Tensor(v, dtype=np.float64, device=o.device) for o, v in zip(outs, vs)]
    analytic = grad(outs, wrt, cotangents, allow_unused=True)
    for i, (t, a) in enumerate(zip(wrt, analytic)):
        _compare("gradcheck", f"input {i}", t, a, _numeric(t, projected, eps), atol, rtol)
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Tensor] | Tensor,
    grad_outputs: Sequence[Tensor] | Tensor | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check fn's second derivatives: the gradient of <u, d<v, fn(x)>/dx> w.r.t. x and v; True or GradcheckError.

    The first-order gradient is recorded with ``create_graph=True`` and differentiated again, then compared with
    central differences of the (plain) first-order gradient. ``grad_outputs`` (v) default to random float64
    tensors that require grad; given ones are checked when they require grad. Like torch.autograd.gradgradcheck.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    wrt = _differentiable(inputs, "gradgradcheck")
    outs = _outputs(fn(*inputs))
    rng = np.random.default_rng(seed)
    if grad_outputs is None:
        vs = [Tensor(rng.standard_normal(o.shape), dtype=np.float64, device=o.device, requires_grad=True) for o in outs]
    else:
        vs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
        if len(vs) != len(outs):
            raise ValueError(f"gradgradcheck: got {len(vs)} grad_outputs for {len(outs)} differentiable outputs")
        for i, (v, o) in enumerate(zip(vs, outs)):
            if not isinstance(v, Tensor) or tuple(v.shape) != tuple(o.shape):
                raise ValueError(
                    f"gradgradcheck: grad_outputs[{i}] must be a Tensor of shape {tuple(o.shape)}, "
                    f"got {getattr(v, 'shape', type(v).__name__)}"
                )
        if any(v.requires_grad for v in vs):
            _differentiable([v for v in vs if v.requires_grad], "gradgradcheck (grad_outputs)")
    wrt_v = [v for v in vs if v.requires_grad]
    us = [rng.standard_normal(t.shape) for t in wrt]

    # retain_graph: fn may reuse graph pieces built outside it (a view of an input), backpropagated every call
    def projected() -> float:  # <u, J(x)^T v> by a plain first-order backward at the perturbed point
        res = _outputs(fn(*inputs))
        return _dot(grad(res, wrt, vs, retain_graph=True, allow_unused=True), us)

    first = grad(outs, wrt, vs, create_graph=True, allow_unused=True)
    live = [(g, u) for g, u in zip(first, us) if g is not None and g.requires_grad]
    if live:
        cot = [Tensor(u, dtype=np.float64, device=g.device) for g, u in live]
        analytic = grad([g for g, _ in live], wrt + wrt_v, cot, retain_graph=True, allow_unused=True)
    else:  # the first-order gradient is a constant: every second derivative is zero
        analytic = (None,) * (len(wrt) + len(wrt_v))
    for i, (t, a) in enumerate(zip(wrt, analytic)):
        _compare("gradgradcheck", f"input {i}", t, a, _numeric(t, projected, eps), atol, rtol)
    for i, (v, a) in enumerate(zip(wrt_v, analytic[len(wrt) :])):
        _compare("gradgradcheck", f"grad_outputs {i}", v, a, _numeric(v, projected, eps), atol, rtol)
    return True


def _set(t: Tensor, flat: Any, j: int, value: Any) -> None:
    if t._be.xp.shares_memory(flat, t._data):
        flat[j] = value
    else:
        idx = np.unravel_index(j, t.shape)
        t._data[idx] = value
