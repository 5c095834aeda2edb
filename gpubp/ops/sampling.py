"""Random sampling: ``multinomial``, ``bernoulli``, ``normal``, ``poisson``, and ``one_hot``; the in-place samplers
(``uniform_``, ``bernoulli_``, ``random_``, ...) live in ``sampling_inplace`` and become Tensor methods here.

Samplers have no gradient. They draw from the device's own stream (seeded by ``gpubp.manual_seed``, reproducible
per device) or, with ``generator=``, from a ``gpubp.Generator``'s host stream copied to the device.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import InputError, InputTypeError
from ..generator import draws
from ..tensor import Tensor
from ._core import check_same_device, make, spec, write_out
from .sampling_inplace import METHODS as _INPLACE_METHODS
from .sampling_inplace import (  # noqa: F401 - Tensor methods, registered below
    bernoulli_,
    cauchy_,
    exponential_,
    geometric_,
    log_normal_,
    normal_,
    random_,
    uniform_,
)

# normal and poisson have PyTorch's zero gradient: their results require grad when an input does
DIFFERENTIABLE: tuple[str, ...] = ("normal", "poisson")
NON_DIFFERENTIABLE: tuple[str, ...] = ("multinomial", "bernoulli", "one_hot")
METHODS: tuple[str, ...] = ("multinomial", "bernoulli", "type_as", *_INPLACE_METHODS)
# one_hot is torch.nn.functional.one_hot, not torch.one_hot: it stays gpubp.ops.one_hot
TOP_LEVEL = ("multinomial", "bernoulli", "normal", "poisson")


def _tensor(x: Any, op: str, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor, not {type(x).__name__}")
    return x


def _float_input(x: Tensor, op: str, name: str = "input") -> None:
    if x.dtype.kind != "f":
        raise InputTypeError(f"{op}: {name} must be a floating-point tensor, got dtype {x.dtype}")


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _zero_gradient(name: str, data: Any, be: Any, inputs: tuple) -> Tensor:
    """A sample as PyTorch records one: it requires grad when an input does, and its gradient is zero (no
    reparameterization: the draw is not a function of the parameters)."""
    specs = tuple(spec(t) for t in inputs)

    def rule(m: Any, g: Any) -> tuple:
        return tuple(None if sp is None else m.zeros(sp[0], sp[1]) for sp in specs)

    return make(name, data, be, inputs, rule)


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator: Any = None, out: Tensor | None = None
) -> Tensor:
    """Category indices (int64) drawn from each row of non-negative weights ``input`` (1-D or 2-D, need not sum to
    1). Without replacement: the Gumbel-top-k trick (the k largest p / E, E ~ Exp(1)), as PyTorch. Validating the
    weights (finite, >= 0, a positive sum per row) reads one flag back: it synchronizes on a GPU, as PyTorch's."""
    op = "multinomial"
    _tensor(input, op)
    if input.dtype.kind != "f":
        raise InputTypeError(f"{op}: only supports floating-point dtypes for input, got: {input.dtype}")
    if input.ndim not in (1, 2):
        raise InputError(f"{op}: prob_dist must be 1 or 2 dim, got a {input.ndim}-d input of shape {input.shape}")
    if not _is_int(num_samples):
        raise TypeError(f"{op}: num_samples must be an int, not {type(num_samples).__name__}")
    k = input.shape[-1]
    if num_samples <= 0:
        raise InputError(f"{op}: cannot sample n_sample <= 0 samples (num_samples={num_samples})")
    if not replacement and num_samples > k:
        raise InputError(
            f"{op}: cannot sample n_sample > prob_dist.size(-1) samples without replacement "
            f"(num_samples={num_samples}, {k} categories)"
        )
    if k > 2**24:
        raise InputError(f"{op}: number of categories cannot exceed 2^24, got {k}")
    be, xp = input._be, input._be.xp
    rows = input._data.reshape(-1, k).astype(xp.float64)
    n_rows = rows.shape[0]
    shape = (*input.shape[:-1], num_samples)
    if n_rows == 0:
        return write_out(Tensor._wrap(xp.zeros(shape, dtype=np.int64), be), out, op)
    flags = be.to_numpy(
        xp.stack([(~xp.isfinite(rows)).any(), (rows < 0).any(), (rows.sum(axis=-1) <= 0).any()])
    )  # one device-to-host read of three flags
    if flags[0]:
        raise InputError(f"{op}: invalid multinomial distribution (encountering probability entry = infinity or NaN)")
    if flags[1]:
        raise InputError(f"{op}: invalid multinomial distribution (encountering probability entry < 0)")
    if flags[2]:
        raise InputError(f"{op}: invalid multinomial distribution (sum of probabilities <= 0)")
    src = draws(generator, be, op)
    if replacement and num_samples > 1:
        idx = _with_replacement(xp, src, rows, num_samples)
    else:
        keys = rows / src.exponential(rows.shape, np.float64)  # zero weights give key 0: drawn last, as PyTorch
        if num_samples == 1:  # one draw per row (sampling a token): argmax, not a sort
            idx = xp.argmax(keys, axis=-1)[:, None]
        else:
            idx = xp.argsort(-keys, axis=-1)[:, :num_samples]
    return write_out(Tensor._wrap(idx.astype(np.int64).reshape(shape), be), out, op)


def _with_replacement(xp: Any, src: Any, rows: Any, n: int) -> Any:
    """Inverse-CDF draws for every row at once: the rows' normalized CDFs, shifted by the row number, form one
    sorted array that one searchsorted serves (float64; the shift costs log2(rows) bits of each CDF's precision)."""
    n_rows, k = rows.shape
    cdf = xp.cumsum(rows, axis=-1)
    cdf = cdf / cdf[:, -1:]  # each row ends at exactly 1
    shift = xp.arange(n_rows, dtype=np.float64)[:, None]
    u = src.rand((n_rows, n), np.float64) + shift
    flat = xp.searchsorted((cdf + shift).reshape(-1), u.reshape(-1), side="right")
    idx = flat.reshape(n_rows, n) - (xp.arange(n_rows, dtype=np.int64) * k)[:, None]
    # a draw that rounds up to its row's end takes the row's last category of non-zero weight, never a zero one
    last = k - 1 - xp.argmax(rows[:, ::-1] > 0, axis=-1)
    return xp.minimum(idx, last[:, None])


def bernoulli(input: Tensor, p: float | None = None, *, generator: Any = None, out: Tensor | None = None) -> Tensor:
    """1 with probability ``input`` (elementwise, floating point), else 0, in ``input``'s dtype; with a number
    ``p``, every element's probability is ``p``. Probabilities outside [0, 1] are refused on the CPU only (checking
    them on a GPU would synchronize; PyTorch's CUDA kernel asserts there)."""
    op = "bernoulli"
    _tensor(input, op)
    xp = input._be.xp
    if p is None:
        _float_input(input, op)
        probs = input._data
        if input._be.device.type == "cpu" and probs.size and not bool(((probs >= 0) & (probs <= 1)).all()):
            raise InputError(f"{op}: expects all probabilities in input to be in [0, 1] (p_in >= 0 && p_in <= 1)")
        dt = input.dtype if input.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    else:
        if isinstance(p, Tensor) or not isinstance(p, numbers.Real):
            raise TypeError(f"{op}: p must be a number, not {type(p).__name__} (use Tensor.bernoulli_ for a tensor p)")
        if not 0 <= p <= 1:
            raise InputError(f"{op}: bernoulli_ expects p to be in [0, 1], but got p={p}")
        probs = float(p)
        dt = np.dtype(np.float64) if input.dtype == np.float64 else np.dtype(np.float32)
    u = draws(generator, input._be, op).rand(input.shape, dt)
    # PyTorch has no derivative for bernoulli (its backward raises): the sample is a constant here
    return write_out(Tensor._wrap(xp.less(u, probs).astype(input.dtype), input._be), out, op)


def normal(
    mean: Any,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Any = None,
    out: Tensor | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Samples from N(mean, std^2): tensor means and/or stds (broadcast together, floating point), or numbers with
    a ``size`` (and ``dtype``/``device``/``requires_grad``). A tensor ``std`` is checked to be >= 0, which reads one
    flag back (synchronizes on a GPU), as PyTorch's."""
    op = "normal"
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    for name, v in (("mean", mean), ("std", std)):
        if not isinstance(v, (Tensor, numbers.Real)):
            raise TypeError(f"{op}: {name} must be a Tensor or a number, not {type(v).__name__}")
        if isinstance(v, Tensor):
            _float_input(v, op, name)
    if not tensors:
        from ..creation import randn

        if size is None:
            raise TypeError(f"{op}() with a number mean and std needs a size: normal(mean, std, size)")
        if not std >= 0:
            raise InputError(f"{op}: normal expects std >= 0.0, but found std {std}")
        z = randn(size, generator=generator, dtype=dtype, device=device)
        t = z.mul_(std).add_(mean)
        t.requires_grad = requires_grad
        return write_out(t, out, op)
    if size is not None:
        raise TypeError(f"{op}(): size is only taken with a number mean and std, got a Tensor {tensors[0].shape}")
    if dtype is not None or device is not None:
        raise TypeError(f"{op}(): dtype= and device= are only taken with a number mean and std (size=...)")
    if len(tensors) == 2:
        check_same_device(op, mean, std)
    be = tensors[0]._be
    try:
        shape = np.broadcast_shapes(*(t.shape for t in tensors))
    except ValueError:
        raise InputError(
            f"{op}: the shapes of mean {getattr(mean, 'shape', ())} and std {getattr(std, 'shape', ())} do not "
            "broadcast"
        ) from None
    if isinstance(std, Tensor):
        if std._data.size and not bool(be.to_numpy((std._data >= 0).all())):  # one flag back: a sync on a GPU
            raise InputError(f"{op}: normal expects all elements of std >= 0.0")
    elif not std >= 0:
        raise InputError(f"{op}: normal expects std >= 0.0, but found std {std}")
    dt = dtypes.promote(*(t.dtype for t in tensors)) if len(tensors) == 2 else tensors[0].dtype
    work = dt if dt in (np.float32, np.float64) else np.dtype(np.float32)
    z = draws(generator, be, op).randn(shape, work)
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    sample = (z * s + m).astype(dt, copy=False)
    inputs = (mean if isinstance(mean, Tensor) else None, std if isinstance(std, Tensor) else None)
    return write_out(_zero_gradient(op, sample, be, inputs), out, op)


def poisson(input: Tensor, generator: Any = None) -> Tensor:
    """Poisson counts with rates ``input`` (floating point), in ``input``'s dtype. Negative rates are refused on
    the CPU only (checking them on a GPU would synchronize)."""
    op = "poisson"
    _tensor(input, op)
    _float_input(input, op)
    lam = input._data
    if input._be.device.type == "cpu" and lam.size and not bool((lam >= 0).all()):
        raise InputError(f"{op}: invalid Poisson rate, expected rate to be non-negative")
    try:
        counts = draws(generator, input._be, op).poisson(lam)
    except ValueError as e:  # NumPy refuses NaN and rates beyond ~1e19
        raise InputError(f"{op}: invalid Poisson rate ({e})") from None
    return _zero_gradient(op, counts.astype(input.dtype, copy=False), input._be, (input,))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows, ``tensor.shape + (num_classes,)``, of an int64 index tensor. ``num_classes=-1`` infers
    max + 1 (a data-dependent shape: synchronizes on a GPU). Out-of-range classes are refused on the CPU, and on any
    device while inferring; with ``num_classes`` given on a GPU they are not checked (that would synchronize:
    PyTorch's CUDA kernel asserts instead) and give rows of zeros."""
    op = "one_hot"
    _tensor(tensor, op, "tensor")
    if tensor.dtype != np.int64:
        raise InputTypeError(
            f"{op}: one_hot is only applicable to index tensor of type LongTensor (int64), got {tensor.dtype}"
        )
    if not _is_int(num_classes):
        raise TypeError(f"{op}: num_classes must be an int, not {type(num_classes).__name__}")
    be, xp = tensor._be, tensor._be.xp
    x = tensor._data
    if num_classes == -1:
        if x.size == 0:
            raise InputError(f"{op}: Can not infer total number of classes from empty tensor.")
        lo, hi = (int(v) for v in be.to_numpy(xp.stack([x.min(), x.max()])))  # the shape depends on the data
        if lo < 0:
            raise InputError(f"{op}: Class values must be non-negative (got {lo}).")
        num_classes = hi + 1
    elif x.size and (num_classes < 0 or be.device.type == "cpu"):
        lo, hi = int(x.min()), int(x.max())
        if lo < 0:
            raise InputError(f"{op}: Class values must be non-negative (got {lo}).")
        if hi >= num_classes:
            raise InputError(
                f"{op}: Class values must be smaller than num_classes (got {hi}, num_classes={num_classes})."
            )
    elif num_classes < 0:
        raise InputError(f"{op}: num_classes must be -1 or non-negative, got {num_classes}")
    return Tensor._wrap((x[..., None] == xp.arange(num_classes, dtype=np.int64)).astype(np.int64), be)


def type_as(self: Tensor, other: Tensor) -> Tensor:
    """This tensor cast to ``other``'s dtype (and moved to its kind of device), as ``self.type(other.type())``."""
    if not isinstance(other, Tensor):
        raise TypeError(f"type_as: argument 'other' must be a Tensor, not {type(other).__name__}")
    if self.is_cuda == other.is_cuda:
        return self.to(other.dtype)
    return self.type(other.type())
