"""Parameter initialization, in place, with PyTorch's names and formulas (``torch.nn.init``), including the
deprecated names without the trailing underscore, which warn as PyTorch's do."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..backend import get_backend
from ..generator import Generator, _rng, draws
from ..tensor import Tensor

_LINEAR_FNS = (
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid",
)  # fmt: skip


def _fans(t: Tensor) -> tuple[int, int]:
    if t.ndim < 2:
        raise ValueError(f"init: fan in and fan out need a tensor with at least 2 dims, got shape {t.shape}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (PyTorch's table: linear and conv layers, sigmoid, tanh, relu,
    leaky_relu with ``param`` as its negative slope, selu)."""
    if nonlinearity in _LINEAR_FNS:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # found empirically (pytorch/pytorch#50664)
    raise ValueError(f"calculate_gain: Unsupported nonlinearity {nonlinearity}")


def _fill(t: Tensor, data: object) -> Tensor:
    with no_grad():
        t._data[...] = data
        t._vc[0] += 1
    return t


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with U(a, b): ``Tensor.uniform_`` under no_grad."""
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std^2): ``Tensor.normal_`` under no_grad."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Generator | None = None,
) -> Tensor:
    """Fill with N(mean, std^2) truncated to [a, b].

    Drawn by the inverse CDF (uniform in [cdf(a), cdf(b)], then erfinv) on the tensor's device: no rejection loop,
    so nothing is read back; far in a tail (both bounds many std from the mean) it is less precise than PyTorch's
    rejection sampler."""
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=3,  # past the on_device wrapper
        )
    lo = (1.0 + math.erf((a - mean) / (std * math.sqrt(2.0)))) / 2.0
    hi = (1.0 + math.erf((b - mean) / (std * math.sqrt(2.0)))) / 2.0
    be = tensor._be
    with no_grad(), be.enter():
        dt = tensor._data.dtype
        u = draws(generator, be, "trunc_normal_").rand(tensor.shape, np.float64)
        u = u * (2 * hi - 2 * lo) + (2 * lo - 1)  # U(2 cdf(a) - 1, 2 cdf(b) - 1), in float64 for the tails
        z = Tensor._wrap(u, be).erfinv()._data * (std * math.sqrt(2.0)) + mean
        return _fill(tensor, be.xp.clip(z, a, b).astype(dt))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix in a 2-D tensor (ones on the main diagonal of a rectangle)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: Only tensors with 2 dimensions are supported, got shape {tensor.shape}")
    with tensor._be.enter():
        return _fill(tensor, tensor._be.xp.eye(*tensor.shape, dtype=tensor._data.dtype))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """The Dirac delta in a 3-, 4- or 5-D conv weight: each output channel of each group passes one input channel
    through at the kernel's centre, so the convolution is the identity on as many channels as it can be."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: Only tensors with 3, 4, or 5 dimensions are supported, got shape {tensor.shape}")
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"dirac_: groups must be a positive int, got {groups!r}")
    out_per_group = tensor.shape[0] // groups
    if tensor.shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 must be divisible by groups, got size {tensor.shape[0]} and groups {groups}")
    n = min(out_per_group, tensor.shape[1])
    values = np.zeros(tensor.shape, tensor._data.dtype)
    centre = tuple(s // 2 for s in tensor.shape[2:])
    for g in range(groups):
        for d in range(n):
            values[(g * out_per_group + d, d) + centre] = 1
    return _fill(tensor, tensor._be.from_host(values))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Generator | None = None) -> Tensor:
    """N(0, std^2) in a 2-D tensor, with ceil(sparsity * rows) elements of each column (chosen at random) zero."""
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: Only tensors with 2 dimensions are supported, got shape {tensor.shape}")
    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    normal_(tensor, 0.0, std, generator=generator)
    order = np.argsort(_rng(generator, "sparse_").random((rows, cols)), axis=0)  # a random permutation per column
    keep = np.ones((rows, cols), tensor._data.dtype)
    np.put_along_axis(keep, order[:num_zeros], 0, axis=0)
    with no_grad(), tensor._be.enter():
        tensor._data *= tensor._be.from_host(keep)
        tensor._vc[0] += 1
    return tensor


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def _empty_noop(tensor: Tensor) -> bool:
    if 0 in tensor.shape:
        # stacklevel: this helper, the initializer, its on_device wrapper, then the caller
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=4)
        return True
    return False


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan)."""
    if _empty_noop(tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if _empty_noop(tensor):
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator: Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, times ``gain`` (computed on the host:
    initialization, not a training step)."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: Only tensors with 2 or more dimensions are supported, got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    rows, cols = tensor.shape[0], math.prod(tensor.shape[1:])
    cpu = get_backend("cpu")
    flat = draws(generator, cpu, "orthogonal_").randn((max(rows, cols), min(rows, cols)), np.float64)
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # a unique, uniformly distributed Q
    if rows < cols:
        q = q.T
    values = (gain * q[:rows, :cols]).reshape(tensor.shape).astype(tensor._data.dtype)
    return _fill(tensor, tensor._be.from_host(np.ascontiguousarray(values)))


def _enter_devices() -> None:
    """Each initializer fills its tensor on the tensor's device (``ops._core.on_device``)."""
    from ..ops._core import on_device

    for name, fn in list(globals().items()):
        if name.endswith("_") and not name.startswith("_") and callable(fn):
            globals()[name] = on_device(fn)


_enter_devices()


def _deprecated(new: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """PyTorch's old name (``uniform`` for ``uniform_``): the same function, with its FutureWarning."""
    old_name = new.__name__[:-1]

    def deprecated_init(*args: Any, **kwargs: Any) -> Tensor:
        warnings.warn(
            f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new.__name__}`.", FutureWarning, stacklevel=2
        )
        return new(*args, **kwargs)

    deprecated_init.__name__ = deprecated_init.__qualname__ = old_name
    deprecated_init.__doc__ = f"Deprecated: use ``nn.init.{new.__name__}``."
    return deprecated_init


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
