"""The decomp family: linear algebra decompositions, solves and norms, with PyTorch's ``torch.linalg`` semantics.

Registered in ``gpubp.ops`` as ``linalg_<name>`` (``gpubp.linalg`` exports them under torch.linalg's names), plus
the top-level aliases PyTorch keeps (``det``, ``inverse``, ``svd``, ...), which are also Tensor methods. The square
solvers live in ``decomp_solve``, the multi-output factorizations in ``decomp_factor``; the norms and the
composites (pinv, matrix_power) are here, written from differentiable ops so every order of derivative comes free.
"""

from __future__ import annotations

import math
import numbers
from collections import namedtuple
from typing import Any

import numpy as np

from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import arith, linalg, reduce, shape
from ._core import make, norm_dims, write_out
from .decomp_factor import (
    QR,
    SVD,
    Eigh,
    linalg_eigh,
    linalg_eigvalsh,  # noqa: F401  (registered by name, from DIFFERENTIABLE)
    linalg_qr,
    linalg_svd,
    linalg_svdvals,
)
from .decomp_solve import (
    LinAlgError,
    Slogdet,
    check_matrix,
    cholesky_inverse,  # noqa: F401
    cholesky_solve,  # noqa: F401
    linalg_cholesky,
    linalg_det,
    linalg_inv,
    linalg_slogdet,
    linalg_solve,  # noqa: F401  (registered by name)
    linalg_solve_triangular,  # noqa: F401
    logdet,  # noqa: F401
)

SvdV = namedtuple("svd", ["U", "S", "V"])
QRPair = namedtuple("qr", ["Q", "R"])

_LINALG = (
    "linalg_vector_norm", "linalg_matrix_norm", "linalg_norm", "linalg_inv", "linalg_solve", "linalg_det",
    "linalg_slogdet", "linalg_cholesky", "linalg_qr", "linalg_svd", "linalg_svdvals", "linalg_eigh",
    "linalg_eigvalsh", "linalg_pinv", "linalg_matrix_power", "linalg_matrix_exp", "linalg_solve_triangular",
    "linalg_cond",
)  # fmt: skip
_ALIASES = (
    "det", "logdet", "slogdet", "inverse", "cholesky", "svd", "qr", "pinverse", "matrix_power", "matrix_exp",
    "cholesky_solve", "cholesky_inverse",
)  # fmt: skip

DIFFERENTIABLE: tuple[str, ...] = _LINALG + _ALIASES
NON_DIFFERENTIABLE: tuple[str, ...] = ("linalg_matrix_rank",)  # an integer count
METHODS: tuple[str, ...] = _ALIASES
TOP_LEVEL: tuple[str, ...] = _ALIASES
__all__ = ["LinAlgError", "QR", "SVD", "Eigh", "Slogdet", "SvdV", "QRPair", *DIFFERENTIABLE]


def _float_input(op: str, x: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        raise InputTypeError(f"{op}: Expected a floating point tensor as input. Got {x.dtype}")


def linalg_vector_norm(
    x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, out: Tensor | None = None
) -> Tensor:
    """The vector ``ord``-norm of ``x`` over ``dim`` (all elements when None): ord a number, inf or -inf."""
    if dtype is not None:
        _float_input("linalg.vector_norm", x)
        x = shape.astype(x, dtype)
    _float_input("linalg.vector_norm", x)
    if isinstance(ord, bool) or not isinstance(ord, numbers.Real):
        raise InputTypeError(f"linalg.vector_norm: Expected a real number (or inf) for ord, got {ord!r}")
    return write_out(reduce.norm(x, ord, dim, keepdim), out, "linalg.vector_norm")


def _matrix_dims(op: str, A: Tensor, dim: Any) -> tuple[int, int]:
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise InputError(f"{op}: dim must be a 2-tuple of ints, got {dim!r}")
    d0, d1 = (norm_dims(d, A.ndim, op)[0] for d in dim)
    if d0 == d1:
        raise InputError(f"{op}: dims must be different, got {tuple(dim)}")
    return d0, d1


def _kept(shp: tuple, dims: tuple) -> tuple:
    return tuple(1 if i in dims else n for i, n in enumerate(shp))


def linalg_matrix_norm(
    A: Tensor,
    ord: Any = "fro",
    dim: Any = (-2, -1),
    keepdim: bool = False,
    *,
    dtype: Any = None,
    out: Tensor | None = None,
) -> Tensor:
    """The matrix norm over the two dims ``dim``: ord 'fro', 'nuc' (sum of singular values), 2 / -2 (largest /
    smallest singular value), 1 / -1 (max / min column abs sum), inf / -inf (max / min row abs sum)."""
    return write_out(_matrix_norm(A, ord, dim, keepdim, dtype), out, "linalg.matrix_norm")


def _matrix_norm(A: Tensor, ord: Any, dim: Any, keepdim: bool, dtype: Any) -> Tensor:
    op = "linalg.matrix_norm"
    _float_input(op, A)
    if A.ndim < 2:
        raise InputError(f"{op}: The input tensor A must have at least 2 dimensions, got shape {tuple(A.shape)}")
    if dtype is not None:
        A = shape.astype(A, dtype)
    d0, d1 = _matrix_dims(op, A, dim)
    full = tuple(A.shape)
    if ord == "fro":
        return reduce.norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        rest = [i for i in range(A.ndim) if i not in (d0, d1)]
        s = linalg_svdvals(shape.permute(A, *rest, d0, d1))
        out = reduce.sum(s, -1) if ord == "nuc" else (reduce.amax(s, -1) if ord == 2 else reduce.amin(s, -1))
        return shape.reshape(out, _kept(full, (d0, d1))) if keepdim else out
    if ord in (1, -1, math.inf, -math.inf):
        summed, pick = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = reduce.sum(arith.abs(A), summed, True)
        out = reduce.amax(sums, pick, True) if ord > 0 else reduce.amin(sums, pick, True)
        if keepdim:
            return out
        return shape.reshape(out, tuple(n for i, n in enumerate(full) if i not in (d0, d1)))
    raise InputError(f"{op}: Order {ord!r} not supported: expected 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2")


def linalg_norm(
    A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, out: Tensor | None = None
) -> Tensor:
    """A vector norm (``dim`` an int or 1-tuple, or a 1-D input) or a matrix norm (``dim`` a 2-tuple, or a 2-D
    input), as PyTorch dispatches; ord None and dim None: the 2-norm of all elements."""
    return write_out(_norm(A, ord, dim, keepdim, dtype), out, "linalg.norm")


def _norm(A: Tensor, ord: Any, dim: Any, keepdim: bool, dtype: Any) -> Tensor:
    op = "linalg.norm"
    _float_input(op, A)
    if isinstance(dim, numbers.Integral) and not isinstance(dim, bool):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return linalg_vector_norm(A, 2, None, keepdim, dtype=dtype)
        if A.ndim not in (1, 2):
            raise InputError(f"{op}: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D.")
        dim = tuple(range(A.ndim))
    if not isinstance(dim, (tuple, list)) or len(dim) not in (1, 2):
        raise InputError(f"{op}: If dim is specified, it must be of length 1 or 2. Got {dim!r}")
    if len(dim) == 2:
        return linalg_matrix_norm(A, "fro" if ord is None else ord, tuple(dim), keepdim, dtype=dtype)
    if isinstance(ord, str):
        raise InputError(f"{op}: Order {ord!r} is a matrix norm, but dim {tuple(dim)} selects a vector")
    return linalg_vector_norm(A, 2 if ord is None else ord, tuple(dim), keepdim, dtype=dtype)


def linalg_pinv(
    A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False, out: Tensor | None = None
) -> Tensor:
    """The pseudo-inverse from an SVD (an eigendecomposition when ``hermitian``), singular values at or below
    max(atol, rtol * largest) dropped; rtol defaults to eps * max(m, n) when atol is unset, as PyTorch.

    Differentiable through the factorization: exact where the kept singular values are distinct."""
    return write_out(_pinv(A, atol, rtol, hermitian), out, "linalg.pinv")


def _rank_tolerances(A: Tensor, atol: Any, rtol: Any) -> tuple[Any, Any]:
    """(atol, rtol) of pinv and matrix_rank: rtol defaults to eps * max(m, n) when atol is unset, as PyTorch."""
    if rtol is None:
        rtol = np.finfo(A._data.dtype).eps * max(A.shape[-2:]) if not atol else 0.0
    return 0.0 if atol is None else atol, rtol


def _pinv(A: Tensor, atol: Any, rtol: Any, hermitian: bool) -> Tensor:
    op = "linalg.pinv"
    check_matrix(op, A, square=hermitian)
    xp = A._be.xp
    atol, rtol = _rank_tolerances(A, atol, rtol)
    if hermitian:
        w, v = linalg_eigh(A)
        mag = xp.abs(w._data)
        tol = xp.maximum(atol, rtol * mag.max(axis=-1, keepdims=True)) if mag.size else 0.0
        keep = Tensor._wrap(mag > tol, A._be)
        inv = arith.where(keep, 1.0 / arith.where(keep, w, 1.0), 0.0)
        return linalg.matmul(v * shape.unsqueeze(inv, -2), shape.transpose(v, -1, -2))
    u, s, vh = linalg_svd(A, full_matrices=False)
    tol = xp.maximum(atol, rtol * s._data[..., :1]) if s._data.size else 0.0
    keep = Tensor._wrap(s._data > tol, A._be)
    inv = arith.where(keep, 1.0 / arith.where(keep, s, 1.0), 0.0)
    return linalg.matmul(shape.transpose(vh, -1, -2) * shape.unsqueeze(inv, -2), shape.transpose(u, -1, -2))


def linalg_matrix_power(A: Tensor, n: int, *, out: Tensor | None = None) -> Tensor:
    """A^n for square matrices by repeated squaring; n = 0 gives the identity, n < 0 powers of inv(A)."""
    return write_out(_matrix_power(A, n), out, "linalg.matrix_power")


def _matrix_power(A: Tensor, n: int) -> Tensor:
    op = "linalg.matrix_power"
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{op}: n must be an int, got {type(n).__name__}")
    check_matrix(op, A)
    if n == 0:
        xp = A._be.xp
        eye = xp.broadcast_to(xp.eye(A.shape[-1], dtype=A._data.dtype), tuple(A.shape))
        return Tensor._wrap(xp.ascontiguousarray(eye), A._be)
    base = linalg_inv(A) if n < 0 else A
    n = abs(int(n))
    result = None
    while n:
        if n & 1:
            result = base if result is None else linalg.matmul(result, base)
        n >>= 1
        if n:
            base = linalg.matmul(base, base)
    return result if result is not A else shape.clone(A)


_EXP_THETA = 0.5  # the 1-norm the scaled matrix is brought under: Taylor's remainder 0.5^19 / 19! < 1e-22
_EXP_DEGREE = 18


def _expm_array(xp: Any, a: Any) -> Any:
    """exp(a) for a batch of matrices: scaling (one 2^-s for the batch) and squaring around a degree-18 Taylor
    polynomial in Horner's form. Choosing s reads the largest 1-norm on the host: on a GPU it synchronizes."""
    n = a.shape[-1]
    if a.size == 0:
        return xp.zeros(a.shape, dtype=a.dtype)
    norm = float(xp.abs(a).sum(axis=-2).max())  # host read: the number of squarings (PyTorch's reads it too)
    s = max(0, math.ceil(math.log2(norm / _EXP_THETA))) if math.isfinite(norm) and norm > 0 else 0
    x = a * (0.5**s) if s else a
    eye = xp.eye(n, dtype=a.dtype)
    e = eye + x / _EXP_DEGREE
    for k in range(_EXP_DEGREE - 1, 0, -1):
        e = eye + xp.matmul(x, e) / k
    for _ in range(s):
        e = xp.matmul(e, e)
    return e


def linalg_matrix_exp(A: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The matrix exponential of square matrices (..., n, n); synchronizes on a GPU (it reads the largest norm).

    Gradient (PyTorch's): the upper-right block of exp([[A^T, G], [0, A^T]]), itself this op, so it differentiates
    again."""
    check_matrix("linalg.matrix_exp", A)
    n = A.shape[-1]

    def rule(m: Any, g: Any, a: Any) -> tuple:
        at = m.swapaxes(a, -1, -2)
        zeros = m.zeros(tuple(g.shape), g.dtype, g)
        meta = m.concatenate([m.concatenate([at, g], -1), m.concatenate([zeros, at], -1)], -2)
        big = linalg_matrix_exp(meta) if m.graph else _expm_array(m.xp, meta)
        return (big[..., :n, n:],)

    result = make("linalg_matrix_exp", _expm_array(A._be.xp, A._data), A._be, (A,), rule, saved=(A,))
    return write_out(result, out, "linalg.matrix_exp")


def linalg_cond(A: Tensor, p: Any = None, *, out: Tensor | None = None) -> Tensor:
    """The condition number in norm ``p``: s_max / s_min for None or 2 (s_min / s_max for -2), else
    norm(A, p) * norm(inv(A), p) for 'fro', 'nuc', inf, -inf, 1, -1."""
    op = "linalg.cond"
    check_matrix(op, A, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = linalg_svdvals(A)
        big, small = s[..., 0], s[..., -1]
        result = big / small if p != -2 else small / big
    else:
        result = linalg_matrix_norm(A, p) * linalg_matrix_norm(linalg_inv(A), p)
    return write_out(result, out, op)


def linalg_matrix_rank(
    A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False, out: Tensor | None = None
) -> Tensor:
    """The number of singular values (|eigenvalues| when ``hermitian``) above max(atol, rtol * largest), int64;
    rtol defaults to eps * max(m, n) when atol is unset, as PyTorch."""
    op = "linalg.matrix_rank"
    check_matrix(op, A, square=hermitian)
    xp = A._be.xp
    atol, rtol = _rank_tolerances(A, atol, rtol)
    a = A._data
    s = xp.abs(xp.linalg.eigh(a)[0]) if hermitian else xp.linalg.svd(a, compute_uv=False)
    if s.shape[-1] == 0:
        return write_out(Tensor._wrap(xp.zeros(s.shape[:-1], dtype=np.int64), A._be), out, op)
    tol = xp.maximum(atol, rtol * s.max(axis=-1, keepdims=True))
    return write_out(Tensor._wrap((s > tol).sum(axis=-1).astype(np.int64), A._be), out, op)


# the top-level aliases PyTorch keeps


def det(input: Tensor) -> Tensor:
    """torch.det: ``linalg.det``."""
    return linalg_det(input)


def slogdet(input: Tensor) -> Slogdet:
    """torch.slogdet: ``linalg.slogdet`` (sign, logabsdet)."""
    return linalg_slogdet(input)


def inverse(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """torch.inverse: ``linalg.inv``."""
    return linalg_inv(input, out=out)


def cholesky(input: Tensor, upper: bool = False, *, out: Tensor | None = None) -> Tensor:
    """torch.cholesky (deprecated in PyTorch): ``linalg.cholesky``."""
    return linalg_cholesky(input, upper=upper, out=out)


def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> SvdV:
    """torch.svd: (U, S, V) with V = Vh^T (reduced when ``some``); without ``compute_uv``, U and V are zeros."""
    if not compute_uv:
        check_matrix("svd", input, square=False)
        xp, be = input._be.xp, input._be
        rows, cols = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        zeros = [Tensor._wrap(xp.zeros(batch + (k, k), dtype=input._data.dtype), be) for k in (rows, cols)]
        return SvdV(zeros[0], linalg_svdvals(input), zeros[1])
    u, s, vh = linalg_svd(input, full_matrices=not some)
    return SvdV(u, s, shape.transpose(vh, -1, -2))


def qr(input: Tensor, some: bool = True) -> QRPair:
    """torch.qr: ``linalg.qr`` in mode 'reduced' (``some``) or 'complete'."""
    q, r = linalg_qr(input, "reduced" if some else "complete")
    return QRPair(q, r)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: ``linalg.pinv`` with rtol ``rcond``."""
    return linalg_pinv(input, rtol=rcond)


def matrix_power(input: Tensor, n: int, *, out: Tensor | None = None) -> Tensor:
    """torch.matrix_power: ``linalg.matrix_power``."""
    return linalg_matrix_power(input, n, out=out)


def matrix_exp(A: Tensor) -> Tensor:
    """torch.matrix_exp: ``linalg.matrix_exp``."""
    return linalg_matrix_exp(A)


def attach(cls: type) -> None:
    """The methods from ``gpubp.ops`` (wrapped to run on their tensor's device; this module's own names are not)."""
    from .. import ops

    for name in METHODS:
        setattr(cls, name, getattr(ops, name))
