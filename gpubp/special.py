"""``torch.special``'s names: each the gpubp op it re-exports (one implementation, in ``gpubp.ops``)."""

from __future__ import annotations

from typing import Any

from . import ops as _ops
from .tensor import Tensor

erf = _ops.erf
erfc = _ops.erfc
erfinv = _ops.erfinv
expm1 = _ops.expm1
exp2 = _ops.exp2
log1p = _ops.log1p
gammaln = _ops.lgamma
multigammaln = _ops.mvlgamma
digamma = _ops.digamma
psi = _ops.digamma
polygamma = _ops.polygamma
xlogy = _ops.xlogy
xlog1py = _ops.xlog1py
sinc = _ops.sinc
logit = _ops.logit
round = _ops.round
expit = _ops.sigmoid
i0 = _ops.i0
i1 = _ops.special_i1
logsumexp = _ops.logsumexp


def softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """softmax along ``dim`` (cast to ``dtype`` first when given), as torch.special.softmax."""
    return _ops.softmax(input if dtype is None else _ops.astype(input, dtype), dim)


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """log_softmax along ``dim`` (cast to ``dtype`` first when given), as torch.special.log_softmax."""
    return _ops.log_softmax(input if dtype is None else _ops.astype(input, dtype), dim)


def entr(input: Tensor) -> Tensor:
    """-x log x for x > 0, 0 at 0, -inf for x < 0 (composed from xlogy and where)."""
    return _ops.where(input < 0, float("-inf"), -_ops.xlogy(input, input))


def ndtr(input: Tensor) -> Tensor:
    """The standard normal CDF, (1 + erf(x / sqrt 2)) / 2."""
    return (_ops.erf(input * 0.7071067811865476) + 1.0) * 0.5


__all__ = [
    "digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i1", "log1p", "log_softmax",
    "logit", "logsumexp", "multigammaln", "ndtr", "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy",
]  # fmt: skip
