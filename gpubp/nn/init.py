"""Parameter initialization, in place, with PyTorch's names and formulas."""

from __future__ import annotations

import math

from ..autograd import no_grad
from ..backend import get_backend
from ..tensor import Tensor


def _fans(t: Tensor) -> tuple[int, int]:
    if t.ndim < 2:
        raise ValueError(f"init: fan in and fan out need a tensor with at least 2 dims, got shape {t.shape}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (PyTorch's table)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity '{nonlinearity}'")


def _fill(t: Tensor, data: object) -> Tensor:
    with no_grad():
        t._data[...] = data
        t._vc[0] += 1
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b): ``Tensor.uniform_`` under no_grad."""
    with no_grad():
        return t.uniform_(a, b)


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std^2): ``Tensor.normal_`` under no_grad."""
    with no_grad():
        return t.normal_(mean, std)


def zeros_(t: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(t, 0)


def ones_(t: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(t, 1)


def constant_(t: Tensor, value: float) -> Tensor:
    """Fill with ``value``."""
    return _fill(t, value)


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan)."""
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity))


def orthogonal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, times ``gain``."""
    import numpy as np

    if t.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dims, got shape {t.shape}")
    rows, cols = t.shape[0], math.prod(t.shape[1:])
    be = get_backend("cpu")
    flat = be.randn((max(rows, cols), min(rows, cols)), np.float64)
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # a unique, uniformly distributed Q
    if rows < cols:
        q = q.T
    values = (gain * q[:rows, :cols]).reshape(t.shape).astype(t.dtype)
    return _fill(t, get_backend(t.device).asarray(values))


def _enter_devices() -> None:
    """Each initializer fills its tensor on the tensor's device (``ops._core.on_device``)."""
    from ..ops._core import on_device

    for name, fn in list(globals().items()):
        if name.endswith("_") and not name.startswith("_") and callable(fn):
            globals()[name] = on_device(fn)


_enter_devices()
