"""Gradient checking: analytic VJPs against float64 central differences."""

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


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check fn's gradients for every input that requires grad; True or GradcheckError.

    Compares <v, J> from autograd with central differences of <v, fn(x)> for a random
    cotangent v, element by element. Inputs must be float64 for the differences to mean anything.
    """
    inputs = list(inputs)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    for t in wrt:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: inputs must be float64 for finite differences, got {t.dtype}")
        if not t.is_leaf:
            raise ValueError("gradcheck: inputs must be leaf tensors")
    outs = _outputs(fn(*inputs))
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(o.shape) for o in outs]

    def projected() -> float:
        with no_grad():
            res = _outputs(fn(*inputs))
        return float(sum(np.sum(o.detach().cpu().numpy() * v) for o, v in zip(res, vs)))

    cotangents = [Tensor(v, dtype=np.float64, device=o.device) for o, v in zip(outs, vs)]
    analytic = grad(outs, wrt, cotangents, allow_unused=True)
    for i, (t, a) in enumerate(zip(wrt, analytic)):
        a_np = np.zeros(t.shape) if a is None else a.detach().cpu().numpy()
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
        numeric = numeric.reshape(t.shape)
        if not np.allclose(a_np, numeric, atol=atol, rtol=rtol):
            k = np.unravel_index(np.argmax(np.abs(a_np - numeric)), t.shape)
            raise GradcheckError(
                f"gradcheck: input {i} (shape {t.shape}): analytic and numeric gradients differ; "
                f"worst at {tuple(int(c) for c in k)}: analytic {a_np[k]!r}, numeric {numeric[k]!r}"
            )
    return True


def _set(t: Tensor, flat: Any, j: int, value: Any) -> None:
    if t._be.xp.shares_memory(flat, t._data):
        flat[j] = value
    else:
        idx = np.unravel_index(j, t.shape)
        t._data[idx] = value
