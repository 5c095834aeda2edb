"""In-place samplers, as PyTorch's Tensor methods: ``uniform_``, ``normal_``, ``bernoulli_``, ``random_``,
``exponential_``, ``geometric_``, ``log_normal_``, ``cauchy_``.

Each checks its arguments before drawing, refuses (while autograd records) a leaf that requires grad, writes through
``inplace._setitem`` (which bumps the version counter; a non-leaf that requires grad gets a zero gradient for what
was overwritten, as PyTorch) and fills in the tensor's own dtype. Draws come from the device's stream (seeded by
``gpubp.manual_seed``) or, with ``generator=``, from that generator's host stream copied to the device.
Distributions CuPy's generator lacks are derived from uniforms and normals on the device (formulas below).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..errors import InputError, InputTypeError
from ..generator import draws
from ..tensor import Tensor
from . import inplace
from ._core import check_same_device

_UNSET = object()


def _check_tensor(t: Any, op: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")


def _floating(t: Tensor, op: str, what: str) -> None:
    """Continuous distributions fill floating-point tensors only, as PyTorch."""
    if t.dtype.kind != "f":
        raise InputTypeError(
            f"{op}: dtype must be floating point ({what} is a continuous probability distribution), got {t.dtype}"
        )


def _real(value: Any, op: str, name: str) -> float:
    if isinstance(value, Tensor) and value.ndim == 0:
        value = value.item()  # a host read of a 0-d argument, as PyTorch's Scalar arguments
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: argument '{name}' must be a number, not {type(value).__name__}")
    return float(value)


def _work(dt: np.dtype) -> np.dtype:
    """The float dtype to compute draws in: the tensor's own, float32 for float16 (whose math is coarse)."""
    return dt if dt in (np.float32, np.float64) else np.dtype(np.float32)


def _write(t: Tensor, values: Any, op: str) -> Tensor:
    inplace._setitem(t, Ellipsis, Tensor._wrap(values.astype(t.dtype, copy=False), t._be), op)
    return t


def uniform_(t: Tensor, from_: float = 0.0, to: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill ``t`` in place with samples from U(from_, to)."""
    _check_tensor(t, "uniform_")
    _floating(t, "uniform_", "the uniform distribution")
    lo, hi = _real(from_, "uniform_", "from"), _real(to, "uniform_", "to")
    if lo > hi:
        raise InputError(f"uniform_: expects to return a [from, to) range, but found from={lo} > to={hi}")
    inplace._check_inplace(t, "uniform_")
    dt = _work(t.dtype)
    u = draws(generator, t._be, "uniform_").rand(t.shape, dt)
    return _write(t, u * dt.type(hi - lo) + dt.type(lo), "uniform_")


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill ``t`` in place with samples from N(mean, std^2)."""
    _check_tensor(t, "normal_")
    _floating(t, "normal_", "the normal distribution")
    mean, std = _real(mean, "normal_", "mean"), _real(std, "normal_", "std")
    if not std >= 0:
        raise InputError(f"normal_: expects std >= 0.0, but found std {std}")
    inplace._check_inplace(t, "normal_")
    dt = _work(t.dtype)
    z = draws(generator, t._be, "normal_").randn(t.shape, dt)
    return _write(t, z * dt.type(std) + dt.type(mean), "normal_")


def bernoulli_(t: Tensor, p: Any = 0.5, *, generator: Any = None) -> Tensor:
    """Fill ``t`` in place with 1 with probability ``p`` (a number, or a tensor broadcastable to ``t``), else 0;
    any dtype. A tensor ``p`` is checked to lie in [0, 1] on the CPU only (on a GPU that check would synchronize)."""
    _check_tensor(t, "bernoulli_")
    xp = t._be.xp
    if isinstance(p, Tensor):
        check_same_device("bernoulli_", t, p)
        if p.dtype.kind != "f":
            raise InputTypeError(f"bernoulli_: p must be a floating-point tensor, got dtype {p.dtype}")
        try:
            fits = p.ndim <= t.ndim and np.broadcast_shapes(p.shape, t.shape) == t.shape
        except ValueError:
            fits = False
        if not fits:
            raise InputError(f"bernoulli_: p of shape {p.shape} does not broadcast to the tensor's shape {t.shape}")
        probs = p._data
        if t._be.device.type == "cpu" and probs.size and not bool(((probs >= 0) & (probs <= 1)).all()):
            raise InputError("bernoulli_: expects all elements of p to be in [0, 1]")
        dt = _work(p.dtype)
    else:
        q = _real(p, "bernoulli_", "p")
        if not 0 <= q <= 1:
            raise InputError(f"bernoulli_: expects p to be in [0, 1], but got p={q}")
        probs = q
        dt = np.dtype(np.float64) if t.dtype == np.float64 else np.dtype(np.float32)
    inplace._check_inplace(t, "bernoulli_")
    u = draws(generator, t._be, "bernoulli_").rand(t.shape, dt)
    return _write(t, xp.less(u, probs), "bernoulli_")


def _bounds(dt: np.dtype) -> tuple[int, int]:
    """The integers a dtype holds exactly: [0, 1] for bool, its range for ints, [-2^digits, 2^digits] for floats."""
    if dt.kind == "b":
        return 0, 1
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return int(info.min), int(info.max)
    digits = np.finfo(dt).nmant + 1
    return -(2**digits), 2**digits


def check_int_range(lo: int, hi: int, dt: np.dtype, op: str) -> None:
    """[lo, hi) must be non-empty and, for an integer or bool dtype, fit it (PyTorch's random_ checks)."""
    if lo >= hi:
        raise InputError(f"{op}: random_ expects 'from' to be less than 'to', but got from={lo} >= to={hi}")
    if dt.kind in "biu":
        low, high = _bounds(dt)
        if not low <= lo <= high:
            raise InputError(f"{op}: from={lo} is out of bounds for {dt} (it holds [{low}, {high}])")
        if not low <= hi - 1 <= high:
            raise InputError(f"{op}: to - 1 = {hi - 1} is out of bounds for {dt} (it holds [{low}, {high}])")


def random_(t: Tensor, from_: Any = _UNSET, to: Any = _UNSET, *, generator: Any = None, **kwargs: Any) -> Tensor:
    """Fill ``t`` in place with integers uniform over [from_, to), as PyTorch's overloads: ``random_()`` spans
    what the dtype holds exactly ([0, 2^mantissa] for floats), ``random_(to)`` is [0, to), ``random_(from_, None)``
    runs up to the dtype's largest value. ``from`` is accepted as a keyword too (``random_(**{'from': 1})``)."""
    _check_tensor(t, "random_")
    if "from" in kwargs:
        if from_ is not _UNSET:
            raise TypeError("random_() got 'from' both as from_ and as the keyword 'from'")
        from_ = kwargs.pop("from")
    if kwargs:
        raise TypeError(f"random_() got unexpected keyword arguments {sorted(kwargs)}")
    top = _bounds(t.dtype)[1]
    if from_ is _UNSET and to is _UNSET:
        lo, hi = 0, top + 1
    elif to is _UNSET:  # random_(to)
        lo, hi = 0, from_
    else:
        lo = 0 if from_ is _UNSET else from_
        hi = top + 1 if to is None else to
    for name, v in (("from", lo), ("to", hi)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"random_: argument '{name}' must be an int, not {type(v).__name__}")
    lo, hi = int(lo), int(hi)
    check_int_range(lo, hi, t.dtype, "random_")
    inplace._check_inplace(t, "random_")
    # drawn as int64 (which holds every range above but [-2^63, 2^63) itself), then cast to the dtype
    values = draws(generator, t._be, "random_").randint(lo, hi, t.shape, np.int64)
    return _write(t, values, "random_")


def exponential_(t: Tensor, lambd: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill ``t`` in place with samples from the exponential distribution of rate ``lambd``."""
    _check_tensor(t, "exponential_")
    _floating(t, "exponential_", "the exponential distribution")
    rate = _real(lambd, "exponential_", "lambd")
    if not rate > 0:
        raise InputError(f"exponential_: expects lambda > 0.0, but found lambda={rate}")
    inplace._check_inplace(t, "exponential_")
    dt = _work(t.dtype)
    e = draws(generator, t._be, "exponential_").exponential(t.shape, dt)
    return _write(t, e / dt.type(rate), "exponential_")


def geometric_(t: Tensor, p: float, *, generator: Any = None) -> Tensor:
    """Fill ``t`` in place with the number of Bernoulli(p) trials up to the first success (1, 2, ...); any dtype.
    Derived from uniforms: ceil(log(1 - u) / log(1 - p)), u ~ U[0, 1), at least 1."""
    _check_tensor(t, "geometric_")
    q = _real(p, "geometric_", "p")
    if not 0 < q < 1:
        raise InputError(f"geometric_: expects p to be in (0, 1), but got p={q}")
    inplace._check_inplace(t, "geometric_")
    xp = t._be.xp
    u = draws(generator, t._be, "geometric_").rand(t.shape, np.float64)
    k = xp.maximum(xp.ceil(xp.log1p(-u) / math.log1p(-q)), 1.0)
    return _write(t, k, "geometric_")


def log_normal_(t: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Any = None) -> Tensor:
    """Fill ``t`` in place with exp(N(mean, std^2)) samples."""
    _check_tensor(t, "log_normal_")
    _floating(t, "log_normal_", "the log-normal distribution")
    mean, std = _real(mean, "log_normal_", "mean"), _real(std, "log_normal_", "std")
    if not std > 0:
        raise InputError(f"log_normal_: expects std > 0.0, but found std={std}")
    inplace._check_inplace(t, "log_normal_")
    dt = _work(t.dtype)
    z = draws(generator, t._be, "log_normal_").randn(t.shape, dt)
    return _write(t, t._be.xp.exp(z * dt.type(std) + dt.type(mean)), "log_normal_")


def cauchy_(t: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill ``t`` in place with Cauchy(median, sigma) samples, derived from uniforms:
    median + sigma tan(pi (u - 1/2))."""
    _check_tensor(t, "cauchy_")
    _floating(t, "cauchy_", "the Cauchy distribution")
    median, sigma = _real(median, "cauchy_", "median"), _real(sigma, "cauchy_", "sigma")
    if not sigma > 0:
        raise InputError(f"cauchy_: expects sigma > 0.0, but found sigma={sigma}")
    inplace._check_inplace(t, "cauchy_")
    u = draws(generator, t._be, "cauchy_").rand(t.shape, np.float64)
    return _write(t, median + sigma * t._be.xp.tan(math.pi * (u - 0.5)), "cauchy_")


METHODS = ("uniform_", "normal_", "bernoulli_", "random_", "exponential_", "geometric_", "log_normal_", "cauchy_")
