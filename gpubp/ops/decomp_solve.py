"""Square systems (the decomp family): inv, solve, det, slogdet, logdet, cholesky, each batched over leading dims.

Every gradient rule is written with ``m.matmul``, ``m.swapaxes`` and this module's own differentiable ops
(``linalg_inv``, ``linalg_solve``), so it is recorded under ``create_graph=True`` and differentiates again.
Singular or non-positive-definite inputs raise ``LinAlgError`` on the CPU, as PyTorch; on a GPU CuPy does not check
(a check would synchronize) and the results hold inf or NaN instead.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

import numpy as np

from ..autograd import OUT
from ..errors import InputError, InputTypeError
from ..tensor import Tensor
from . import arith
from ._core import check_same_device, make, spec, write_out

Slogdet = namedtuple("slogdet", ["sign", "logabsdet"])


class LinAlgError(InputError):
    """``torch.linalg.LinAlgError``: the matrix is singular or not positive-definite (raised on the CPU)."""


def check_matrix(op: str, A: Any, square: bool = True, name: str = "A") -> None:
    """A float32/float64 tensor of at least 2 dims (square ones when ``square``), or PyTorch's error."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}: expected a Tensor as {name}, got {type(A).__name__}")
    if A._data.dtype.kind != "f" or A._data.dtype.itemsize < 4:
        raise InputTypeError(f"{op}: Expected a floating point tensor (float32 or float64) as input. Got {A.dtype}")
    if A.ndim < 2:
        raise InputError(f"{op}: The input tensor {name} must have at least 2 dimensions, got shape {tuple(A.shape)}")
    if square and A.shape[-1] != A.shape[-2]:
        raise InputError(
            f"{op}: {name} must be batches of square matrices, but they are {A.shape[-2]} by {A.shape[-1]} matrices"
        )


def mT(m: Any, x: Any) -> Any:
    """The matrices of ``x`` transposed, in either namespace."""
    return m.swapaxes(x, -1, -2)


def inv_in(m: Any, a: Any) -> Any:
    """inv(a) inside a rule: the differentiable op in a graph, ``xp.linalg.inv`` on arrays."""
    return linalg_inv(a) if m.graph else m.xp.linalg.inv(a)


def solve_in(m: Any, a: Any, b: Any) -> Any:
    """solve(a, b) for a batch of matrices ``b`` whose batch dims contain ``a``'s, in either namespace."""
    if m.graph:
        return linalg_solve(a, b)
    return m.xp.linalg.solve(m.xp.broadcast_to(a, b.shape[:-2] + a.shape[-2:]), b)


def _lapack(op: str, fn: Any, *args: Any, what: str = "the input matrix is singular") -> Any:
    try:
        return fn(*args)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"{op}: the computation could not be completed because {what}") from None


def linalg_inv(A: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The inverse of each square matrix of ``A`` (..., n, n); raises LinAlgError for a singular one (CPU)."""
    check_matrix("linalg.inv", A)
    y = _lapack("linalg.inv", A._be.xp.linalg.inv, A._data)

    def rule(m: Any, g: Any, y: Any) -> tuple:
        yt = mT(m, y)
        return (-m.matmul(m.matmul(yt, g), yt),)  # -A^-T G A^-T

    return write_out(make("linalg_inv", y, A._be, (A,), rule, saved=(OUT,)), out, "linalg.inv")


def _is_vector_rhs(A: Tensor, B: Tensor) -> bool:
    """PyTorch's rule: B is a (batch of) vector(s) when 1-D or of shape A.shape[:-1]."""
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def linalg_solve(A: Tensor, B: Tensor, *, left: bool = True, out: Tensor | None = None) -> Tensor:
    """X with A X = B (or X A = B when ``left=False``); B a vector or matrix batch, batch dims broadcast."""
    check_matrix("linalg.solve", A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.solve: expected a Tensor as B, got {type(B).__name__}")
    check_same_device("linalg.solve", A, B)
    if B._data.dtype != A._data.dtype:
        raise InputTypeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type {A.dtype} "
                             f"and B of type {B.dtype} instead")  # fmt: skip
    if B.ndim == 0:
        raise InputError("linalg.solve: B must be a vector or a batch of matrices, got a 0-d tensor")
    vector = _is_vector_rhs(A, B)
    if not left:
        if vector:
            raise InputError(
                "linalg.solve: Vector broadcasting of the left hand side is not supported for left=False. In this "
                "case linalg.solve is equivalent to B / A.squeeze(-1)"
            )
        from .shape import transpose

        x = transpose(linalg_solve(transpose(A, -1, -2), transpose(B, -1, -2)), -1, -2)  # X A = B: A^T X^T = B^T
        return write_out(x, out, "linalg.solve")
    xp = A._be.xp
    n = A.shape[-1]
    b = B._data[..., None] if vector else B._data
    if b.shape[-2] != n:
        raise InputError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                         f"({A.shape[-2]}x{n} and {b.shape[-2]}x{b.shape[-1]})")  # fmt: skip
    try:
        batch = np.broadcast_shapes(A.shape[:-2], b.shape[:-2])
    except ValueError:
        raise InputError(
            f"linalg.solve: the batch dims of A {tuple(A.shape)} and B {tuple(B.shape)} cannot be broadcast"
        ) from None
    a = xp.broadcast_to(A._data, batch + (n, n))
    b = xp.broadcast_to(b, batch + b.shape[-2:])
    x = _lapack("linalg.solve", xp.linalg.solve, a, b)
    x_out = x[..., 0] if vector else x
    sa, sb = spec(A), spec(B)

    def rule(m: Any, g: Any, a: Any, x: Any) -> tuple:
        if vector:
            g = g.reshape(tuple(g.shape) + (1,))
            x = x.reshape(tuple(x.shape) + (1,))
        gb = solve_in(m, mT(m, a), g)  # A^-T G
        ga = None if sa is None else m.unbroadcast(-m.matmul(gb, mT(m, x)), sa)
        if sb is not None:
            gb = m.unbroadcast(gb.reshape(tuple(gb.shape)[:-1]) if vector else gb, sb)
        else:
            gb = None
        return ga, gb

    return write_out(make("linalg_solve", x_out, A._be, (A, B), rule, saved=(A, OUT)), out, "linalg.solve")


def _det_grad_singular(xp: Any, a: Any) -> Any:
    """The cofactor matrix adj(A)^T = det(U) det(V) U diag(prod_{j != i} s_j) V^T, exact for singular A too."""
    u, s, vh = xp.linalg.svd(a)
    ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    left = xp.cumprod(xp.concatenate([ones, s[..., :-1]], -1), -1)  # prod of s_j, j < i
    right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(s, -1)[..., :-1]], -1), -1), -1)  # j > i
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return xp.matmul(u * (left * right)[..., None, :], vh) * sign[..., None, None]


def linalg_det(A: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The determinant of each square matrix of ``A`` (..., n, n).

    Gradient g det(A) A^-T; on the CPU an exactly singular matrix takes the cofactor matrix from an SVD instead
    (first order only: the double backward goes through ``linalg_inv`` and needs a non-singular matrix)."""
    check_matrix("linalg.det", A)
    d = A._be.xp.linalg.det(A._data)

    def rule(m: Any, g: Any, a: Any, d: Any) -> tuple:
        if m.graph:
            return ((g * d).reshape(tuple(g.shape) + (1, 1)) * mT(m, linalg_inv(a)),)
        try:
            cof = mT(m, m.xp.linalg.inv(a)) * d[..., None, None]
        except np.linalg.LinAlgError:
            cof = _det_grad_singular(m.xp, a)
        return (g.reshape(tuple(g.shape) + (1, 1)) * cof,)

    return write_out(make("linalg_det", d, A._be, (A,), rule, saved=(A, OUT)), out, "linalg.det")


def linalg_slogdet(A: Tensor) -> Slogdet:
    """(sign, log|det|) of each square matrix of ``A``; log|det| has the gradient g A^-T (sign has none)."""
    check_matrix("linalg.slogdet", A)
    sign, logabs = A._be.xp.linalg.slogdet(A._data)

    def rule(m: Any, g: Any, a: Any) -> tuple:
        return (g.reshape(tuple(g.shape) + (1, 1)) * mT(m, inv_in(m, a)),)

    return Slogdet(Tensor._wrap(sign, A._be), make("linalg_slogdet", logabs, A._be, (A,), rule, saved=(A,)))


def logdet(input: Tensor) -> Tensor:
    """log det(A): NaN where the determinant is negative, -inf where it is 0, as PyTorch (via slogdet)."""
    check_matrix("logdet", input)
    sign, logabs = linalg_slogdet(input)
    return arith.where(sign < 0, math.nan, logabs)


def _tril_mask(xp: Any, n: int, dtype: Any, k: int = 0) -> Any:
    return xp.tril(xp.ones((n, n), dtype=dtype), k)


def linalg_cholesky(A: Tensor, *, upper: bool = False, out: Tensor | None = None) -> Tensor:
    """L with A = L L^T reading A's lower triangle, or U with A = U^T U reading its upper one (``upper``).

    Gradient (PyTorch's): Phi = tril(L^T gL) with its diagonal halved, symmetrized; gA = L^-T Phi L^-1."""
    check_matrix("linalg.cholesky", A)
    if not isinstance(upper, bool):
        raise TypeError(f"linalg.cholesky: upper must be a bool, got {type(upper).__name__}")
    xp = A._be.xp
    a = xp.swapaxes(A._data, -1, -2) if upper else A._data  # upper reads A's upper triangle, as PyTorch
    low = _lapack("linalg.cholesky", xp.linalg.cholesky, a, what="the input is not positive-definite")
    y = xp.ascontiguousarray(xp.swapaxes(low, -1, -2)) if upper else low
    n = A.shape[-1]
    lower = _tril_mask(xp, n, low.dtype)
    strict = _tril_mask(xp, n, low.dtype, -1)

    def rule(m: Any, g: Any, y: Any) -> tuple:
        L, gL = (mT(m, y), mT(m, g)) if upper else (y, g)
        t = m.matmul(mT(m, L), gL) * m.const(lower)
        phi = (t + mT(m, t * m.const(strict))) * 0.5
        linv = inv_in(m, L)
        ga = m.matmul(m.matmul(mT(m, linv), phi), linv)
        return (mT(m, ga) if upper else ga,)

    return write_out(make("linalg_cholesky", y, A._be, (A,), rule, saved=(OUT,)), out, "linalg.cholesky")


def _const(A: Tensor, a: Any) -> Tensor:
    return Tensor._wrap(a, A._be)


def linalg_solve_triangular(
    A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False, out: Tensor | None = None
) -> Tensor:
    """X with A X = B (X A = B when ``left=False``) reading only A's upper or lower triangle (and taking its diagonal
    as ones when ``unitriangular``); B a batch of matrices. Written as ``linalg_solve`` of the masked triangle (CuPy
    has no batched triangular solve), so A's gradient lies in that triangle, as PyTorch's."""
    op = "linalg.solve_triangular"
    check_matrix(op, A)
    check_matrix(op, B, square=False, name="B")
    if not isinstance(upper, bool):
        raise TypeError(f"{op}: upper must be a bool, got {type(upper).__name__}")
    xp = A._be.xp
    n = A.shape[-1]
    ones = xp.ones((n, n), dtype=A._data.dtype)
    keep = xp.triu(ones, 1 if unitriangular else 0) if upper else xp.tril(ones, -1 if unitriangular else 0)
    tri = A * _const(A, keep)
    if unitriangular:
        tri = tri + _const(A, xp.eye(n, dtype=A._data.dtype))
    return write_out(linalg_solve(tri, B, left=left), out, op)


def _gram(L: Tensor, upper: bool) -> Tensor:
    """L L^T, or U^T U when ``upper``, as a differentiable product."""
    from .linalg import matmul
    from .shape import transpose

    return matmul(transpose(L, -1, -2), L) if upper else matmul(L, transpose(L, -1, -2))


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False, *, out: Tensor | None = None) -> Tensor:
    """X with (L L^T) X = B for a Cholesky factor L (U^T U with ``upper``). It reads all of L, so pass a triangular
    one, as PyTorch expects; the gradient is PyTorch's, -(C + C^T) L with C = G X^T, in the full matrix."""
    check_matrix("cholesky_solve", L, name="L")
    check_matrix("cholesky_solve", B, square=False, name="B")
    return write_out(linalg_solve(_gram(L, upper), B), out, "cholesky_solve")


def cholesky_inverse(L: Tensor, upper: bool = False, *, out: Tensor | None = None) -> Tensor:
    """inv(L L^T) for a Cholesky factor L (inv(U^T U) with ``upper``); reads all of L, as ``cholesky_solve``."""
    check_matrix("cholesky_inverse", L, name="L")
    return write_out(linalg_inv(_gram(L, upper)), out, "cholesky_inverse")
