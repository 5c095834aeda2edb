"""Factorizations with several outputs (the decomp family): qr, svd, eigh, batched over leading dims.

An op records one node with one output, so a factorization that needs a gradient packs its factors into one array
(..., size of each factor, concatenated): the factors the user gets are differentiable slices of it, and the rule
unpacks the gradient the same way. Without autograd the factors come back as they are, with no packing.
The rules are PyTorch's (``FunctionsManual.cpp``), written with ``m.matmul``, masks and ``linalg_inv``, so double
backward works; they hold where the eigenvalues (singular values) are distinct and, for qr, R is invertible.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

from ..autograd import OUT, _mode
from ..errors import InputError
from ..tensor import Tensor
from . import index, shape
from ._core import make, write_out
from .decomp_solve import _lapack, check_matrix, inv_in, mT

QR = namedtuple("linalg_qr", ["Q", "R"])
SVD = namedtuple("linalg_svd", ["U", "S", "Vh"])
Eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])


def _factors(name: str, A: Tensor, parts: Sequence[Any], rule: Callable, keep_input: bool = False) -> list[Tensor]:
    """``parts`` (arrays with A's batch dims) as tensors; when A needs a gradient, slices of one recorded output
    whose rule is ``rule(m, a, gradients..., factors...)`` (one gradient per factor, then the factors; ``a`` is the
    input when ``keep_input``, else None, so that it is not kept alive for nothing)."""
    be = A._be
    if not (_mode.enabled and A._requires_grad):
        return [Tensor._wrap(p, be) for p in parts]
    batch = tuple(A.shape[:-2])
    shapes = [tuple(p.shape) for p in parts]
    sizes = [math.prod(s[len(batch) :]) for s in shapes]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    packed = be.xp.concatenate([p.reshape(batch + (n,)) for p, n in zip(parts, sizes)], axis=-1)

    def unpack(v: Any) -> list:
        return [v[..., o : o + n].reshape(s) for o, n, s in zip(starts, sizes, shapes)]

    def packed_rule(m: Any, g: Any, out: Any, a: Any) -> tuple:
        return (rule(m, a, *unpack(g), *unpack(out)),)

    out = make(name, packed, be, (A,), packed_rule, saved=(OUT, A if keep_input else None))
    return [shape.reshape(index.getitem(out, (Ellipsis, slice(o, o + n))), s) for o, n, s in zip(starts, sizes, shapes)]


def _eye(m: Any, n: int, dtype: Any) -> Any:
    return m.const(m.xp.eye(n, dtype=dtype))


def _diag_embed(m: Any, v: Any, dtype: Any) -> Any:
    n = v.shape[-1]
    return v.reshape(tuple(v.shape)[:-1] + (1, n)) * _eye(m, n, dtype)


def _row(v: Any) -> Any:  # (..., n) -> (..., 1, n)
    return v.reshape(tuple(v.shape)[:-1] + (1, v.shape[-1]))


def _col(v: Any) -> Any:  # (..., n) -> (..., n, 1)
    return v.reshape(tuple(v.shape) + (1,))


def linalg_eigh(A: Tensor, UPLO: str = "L") -> Eigh:
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices, reading the ``UPLO`` triangle.

    Gradient: V (diag(g_lambda) + skew(V^T gV) / 2 / E) V^T with E_ij = lambda_j - lambda_i (distinct eigenvalues);
    a loss that depends on the eigenvectors' signs has no gradient, as PyTorch says."""
    check_matrix("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise InputError(f"linalg.eigh: Expected UPLO argument to be 'L' or 'U', but got {UPLO!r}")
    w, v = _lapack("linalg.eigh", A._be.xp.linalg.eigh, A._data, UPLO, what="the eigenvalues did not converge")
    dt = w.dtype
    n = A.shape[-1]

    def rule(m: Any, a: Any, gw: Any, gv: Any, w: Any, v: Any) -> Any:
        vt = mT(m, v)
        vgv = m.matmul(vt, gv)
        skew = (vgv - mT(m, vgv)) * 0.5
        e = _row(w) - _col(w) + _eye(m, n, dt)
        return m.matmul(m.matmul(v, skew / e + _diag_embed(m, gw, dt)), vt)

    return Eigh(*_factors("linalg_eigh", A, (w, v), rule))


def linalg_eigvalsh(A: Tensor, UPLO: str = "L", *, out: Tensor | None = None) -> Tensor:
    """The eigenvalues (ascending) of symmetric matrices; gradient V diag(g) V^T."""
    return write_out(linalg_eigh(A, UPLO).eigenvalues, out, "linalg.eigvalsh")


def linalg_svd(A: Tensor, full_matrices: bool = True) -> SVD:
    """A = U diag(S) Vh for matrices (..., m, n): S descending, U (..., m, m or k), Vh (..., n or k, n), k = min(m, n).

    Gradient: PyTorch's (distinct non-zero singular values); with ``full_matrices`` the columns past k get none."""
    check_matrix("linalg.svd", A, square=False)
    u, s, vh = _lapack("linalg.svd", A._be.xp.linalg.svd, A._data, bool(full_matrices), what="the SVD did not converge")
    rows, cols = A.shape[-2:]
    k = min(rows, cols)
    dt = s.dtype

    def rule(m: Any, a: Any, gu: Any, gs: Any, gvh: Any, u: Any, s: Any, vh: Any) -> Any:
        if full_matrices:
            u, gu = u[..., :k], gu[..., :k]
            vh, gvh = vh[..., :k, :], gvh[..., :k, :]
        v, gv = mT(m, vh), mT(m, gvh)
        ugu = m.matmul(mT(m, u), gu)
        vgv = m.matmul(vh, gv)
        s2 = s * s
        e = _row(s2) - _col(s2) + _eye(m, k, dt)  # E_jk = s_k^2 - s_j^2, 1 on the diagonal
        inner = ((ugu - mT(m, ugu)) * _row(s) + _col(s) * (vgv - mT(m, vgv))) / e + _diag_embed(m, gs, dt)
        ga = m.matmul(m.matmul(u, inner), vh)
        if rows > k:  # (I - U U^T) gU S^-1 Vh
            ga = ga + m.matmul((gu - m.matmul(u, ugu)) / _row(s), vh)
        if cols > k:  # U S^-1 gV^T (I - V V^T)
            ga = ga + m.matmul(u, mT(m, (gv - m.matmul(v, vgv)) / _row(s)))
        return ga

    return SVD(*_factors("linalg_svd", A, (u, s, vh), rule))


def linalg_svdvals(A: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The singular values of matrices (..., m, n), descending; gradient U diag(g) Vh."""
    return write_out(linalg_svd(A, full_matrices=False).S, out, "linalg.svdvals")


def _copyltu(m: Any, x: Any, n: int, dt: Any) -> Any:
    """tril(x) mirrored onto the upper triangle."""
    low = x * m.const(m.xp.tril(m.xp.ones((n, n), dtype=dt)))
    return low + mT(m, x * m.const(m.xp.tril(m.xp.ones((n, n), dtype=dt), -1)))


def _qr_square_r(m: Any, gq: Any, gr: Any, q: Any, r: Any, dt: Any) -> Any:
    """gA for A = QR with R square (m >= n): (gQ + Q copyltu(R gR^T - gQ^T Q)) R^-T."""
    n = r.shape[-1]
    mm = m.matmul(r, mT(m, gr)) - m.matmul(mT(m, gq), q)
    b = gq + m.matmul(q, _copyltu(m, mm, n, dt))
    return m.matmul(b, mT(m, inv_in(m, r)))


def linalg_qr(A: Tensor, mode: str = "reduced") -> QR:
    """A = QR, Q with orthonormal columns, R upper triangular; ``mode`` 'reduced', 'complete' or 'r' (Q empty).

    Differentiable for 'reduced', and for 'complete' when m <= n, as PyTorch; R's diagonal must be non-zero."""
    check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise InputError(f"linalg.qr: qr received unrecognized mode '{mode}' but expected one of 'reduced' "
                         "(default), 'r', or 'complete'")  # fmt: skip
    xp = A._be.xp
    rows, cols = A.shape[-2:]
    dt = A._data.dtype
    if mode == "r":
        r = xp.linalg.qr(A._data, mode="r")

        def no_rule(m: Any, g: Any) -> tuple:
            raise RuntimeError(
                "linalg.qr: The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please "
                "use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr."
            )

        return QR(Tensor._wrap(xp.zeros((0,), dtype=dt), A._be), make("linalg_qr", r, A._be, (A,), no_rule))
    q, r = xp.linalg.qr(A._data, mode=mode)

    def rule(m: Any, a: Any, gq: Any, gr: Any, q: Any, r: Any) -> Any:
        if mode == "complete" and rows > cols:
            raise RuntimeError("linalg.qr: The QR decomposition is not differentiable when mode='complete' and "
                               "nrows > ncols.")  # fmt: skip
        if rows >= cols:
            return _qr_square_r(m, gq, gr, q, r, dt)
        # wide: A = [X | Y], X = Q U with U = R[:, :rows] square, and Y = Q D
        gd = gr[..., rows:]
        gx = _qr_square_r(m, gq + m.matmul(a[..., rows:], mT(m, gd)), gr[..., :rows], q, r[..., :rows], dt)
        return m.concatenate([gx, m.matmul(q, gd)], -1)

    return QR(*_factors("linalg_qr", A, (q, r), rule, keep_input=rows < cols))
