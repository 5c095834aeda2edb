"""Gradient cases of the decomp family, in tests/test_ops_grad.py's format (its CASES takes them in).

Inputs are made well conditioned inside the lambdas (a + 3I, SPD a a^T + 3I, symmetric a + a^T), and the
eigenvector / singular-vector losses are gauge invariant (V f(lambda) V^T, U f(S) Vh), as PyTorch's own tests do."""

from __future__ import annotations

import math

from conftest import torch

import gpubp
import gpubp.linalg as GL

TL = torch.linalg if torch is not None else None


def _geye(a, c=3.0):  # c * I on a's device and dtype, batched like a's matrices
    return gpubp.eye(a.shape[-1], dtype=a.dtype, device=a.device) * c


def _teye(a, c=3.0):
    return torch.eye(a.shape[-1], dtype=a.dtype) * c


def gw(a):  # well conditioned
    return a + _geye(a)


def tw(a):
    return a + _teye(a)


def gspd(a):
    return a @ a.mT + _geye(a)


def tspd(a):
    return a @ a.mT + _teye(a)


def gsym(a):
    return a + a.mT


def tsym(a):
    return a + a.mT


def _spectral(w, v):  # V diag(sin(lambda)) V^T: invariant to the eigenvectors' signs
    return (v * w.sin().unsqueeze(-2)) @ v.mT


def _usv(u, s, vh):  # U diag(sin S) Vh and the projector U U^T
    return (u * s.sin().unsqueeze(-2)) @ vh, u @ u.mT


CASES = [
    ("linalg_vector_norm", lambda a: GL.vector_norm(a), lambda a: TL.vector_norm(a), [(3, 4)], "any"),
    ("linalg_vector_norm", lambda a: GL.vector_norm(a, 1.5, dim=(0, -1), keepdim=True),
     lambda a: TL.vector_norm(a, 1.5, dim=(0, -1), keepdim=True), [(2, 3, 4)], "away"),
    ("linalg_vector_norm", lambda a: GL.vector_norm(a, math.inf, dim=-1), lambda a: TL.vector_norm(a, math.inf, dim=-1),
     [(3, 4)], "any"),
    ("linalg_matrix_norm", lambda a: GL.matrix_norm(a), lambda a: TL.matrix_norm(a), [(2, 3, 4)], "any"),
    ("linalg_matrix_norm", lambda a: GL.matrix_norm(a, "nuc") + GL.matrix_norm(a, -2),
     lambda a: TL.matrix_norm(a, "nuc") + TL.matrix_norm(a, -2), [(2, 4, 3)], "any"),
    ("linalg_matrix_norm", lambda a: GL.matrix_norm(a, 2, dim=(2, 0), keepdim=True) + GL.matrix_norm(a, -1, dim=(2, 0), keepdim=True),
     lambda a: TL.matrix_norm(a, 2, dim=(2, 0), keepdim=True) + TL.matrix_norm(a, -1, dim=(2, 0), keepdim=True),
     [(3, 2, 4)], "any"),
    ("linalg_matrix_norm", lambda a: GL.matrix_norm(a, math.inf) * GL.matrix_norm(a, 1),
     lambda a: TL.matrix_norm(a, math.inf) * TL.matrix_norm(a, 1), [(3, 4)], "away"),
    ("linalg_norm", lambda a: GL.norm(a), lambda a: TL.norm(a), [(2, 3, 2)], "any"),
    ("linalg_norm", lambda a: GL.norm(a, 2), lambda a: TL.norm(a, 2), [(3, 4)], "any"),
    ("linalg_norm", lambda a: GL.norm(a, 3, dim=1), lambda a: TL.norm(a, 3, dim=1), [(3, 4)], "away"),
    ("linalg_inv", lambda a: GL.inv(gw(a)), lambda a: TL.inv(tw(a)), [(2, 3, 3)], "any"),
    ("linalg_solve", lambda a, b: GL.solve(gw(a), b), lambda a, b: TL.solve(tw(a), b), [(2, 3, 3), (3, 2)], "any"),
    ("linalg_solve", lambda a, b: GL.solve(gw(a), b), lambda a, b: TL.solve(tw(a), b), [(2, 3, 3), (2, 3)], "any"),
    ("linalg_solve", lambda a, b: GL.solve(gw(a), b, left=False), lambda a, b: TL.solve(tw(a), b, left=False),
     [(3, 3), (2, 4, 3)], "any"),
    ("linalg_det", lambda a: GL.det(gw(a)), lambda a: TL.det(tw(a)), [(2, 3, 3)], "any"),
    ("linalg_det", lambda a: GL.det(a), lambda a: TL.det(a), [(4, 4)], "any"),
    ("linalg_slogdet", lambda a: GL.slogdet(a).logabsdet, lambda a: TL.slogdet(a).logabsdet, [(2, 3, 3)], "any"),
    ("linalg_cholesky", lambda a: GL.cholesky(gspd(a)), lambda a: TL.cholesky(tspd(a)), [(2, 3, 3)], "any"),
    ("linalg_cholesky", lambda a: GL.cholesky(gspd(a), upper=True), lambda a: TL.cholesky(tspd(a), upper=True),
     [(4, 4)], "any"),
    ("linalg_qr", lambda a: GL.qr(a), lambda a: TL.qr(a), [(2, 4, 3)], "any"),
    ("linalg_qr", lambda a: GL.qr(a), lambda a: TL.qr(a), [(3, 5)], "any"),
    ("linalg_qr", lambda a: GL.qr(a, "complete"), lambda a: TL.qr(a, "complete"), [(3, 3)], "any"),
    ("linalg_svd", lambda a: _usv(*GL.svd(a, full_matrices=False)), lambda a: _usv(*TL.svd(a, full_matrices=False)),
     [(2, 4, 3)], "any"),
    ("linalg_svd", lambda a: _usv(*GL.svd(a, full_matrices=False)), lambda a: _usv(*TL.svd(a, full_matrices=False)),
     [(3, 5)], "any"),
    ("linalg_svd", lambda a: GL.svd(a).S, lambda a: TL.svd(a).S, [(4, 3)], "any"),
    ("linalg_svdvals", GL.svdvals, lambda a: TL.svdvals(a), [(2, 3, 4)], "any"),
    ("linalg_eigh", lambda a: _spectral(*GL.eigh(gsym(a))), lambda a: _spectral(*TL.eigh(tsym(a))), [(2, 3, 3)], "any"),
    ("linalg_eigh", lambda a: GL.eigh(gsym(a), UPLO="U").eigenvalues, lambda a: TL.eigh(tsym(a), UPLO="U").eigenvalues,
     [(4, 4)], "any"),
    ("linalg_eigvalsh", lambda a: GL.eigvalsh(gsym(a)), lambda a: TL.eigvalsh(tsym(a)), [(2, 3, 3)], "any"),
    ("linalg_pinv", GL.pinv, lambda a: TL.pinv(a), [(4, 3)], "any"),
    ("linalg_pinv", lambda a: GL.pinv(gspd(a), hermitian=True), lambda a: TL.pinv(tspd(a), hermitian=True),
     [(3, 3)], "any"),
    ("linalg_matrix_power", lambda a: GL.matrix_power(a, 3), lambda a: TL.matrix_power(a, 3), [(2, 3, 3)], "any"),
    ("linalg_matrix_power", lambda a: GL.matrix_power(gw(a), -2), lambda a: TL.matrix_power(tw(a), -2), [(3, 3)], "any"),
    ("linalg_matrix_exp", lambda a: GL.matrix_exp(a * 0.5), lambda a: TL.matrix_exp(a * 0.5), [(2, 3, 3)], "any"),
    ("linalg_matrix_exp", lambda a: GL.matrix_exp(a * 2), lambda a: TL.matrix_exp(a * 2), [(3, 3)], "any"),
    ("linalg_solve_triangular", lambda a, b: GL.solve_triangular(gw(a), b, upper=True),
     lambda a, b: TL.solve_triangular(tw(a), b, upper=True), [(2, 3, 3), (3, 2)], "any"),
    ("linalg_solve_triangular", lambda a, b: GL.solve_triangular(a, b, upper=False, left=False, unitriangular=True),
     lambda a, b: TL.solve_triangular(a, b, upper=False, left=False, unitriangular=True), [(3, 3), (2, 3)], "any"),
    ("linalg_cond", lambda a: GL.cond(a), lambda a: TL.cond(a), [(2, 4, 3)], "any"),
    # torch.linalg.cond(A, "fro")'s backward fails (it writes in place into a saved inverse): its definition instead
    ("linalg_cond", lambda a: GL.cond(gw(a), "fro") + GL.cond(gw(a), -2),
     lambda a: TL.matrix_norm(tw(a)) * TL.matrix_norm(TL.inv(tw(a))) + TL.cond(tw(a), -2), [(3, 3)], "any"),
    ("cholesky_solve", lambda b, a: gpubp.cholesky_solve(b, GL.cholesky(gspd(a))),
     lambda b, a: torch.cholesky_solve(b, TL.cholesky(tspd(a))), [(3, 2), (2, 3, 3)], "any"),
    ("cholesky_solve", lambda b, a: b.cholesky_solve(a.triu() + _geye(a), upper=True),
     lambda b, a: b.cholesky_solve(a.triu() + _teye(a), upper=True), [(3, 2), (3, 3)], "any"),
    ("cholesky_inverse", lambda a: gpubp.cholesky_inverse(a.tril() + _geye(a)),
     lambda a: torch.cholesky_inverse(a.tril() + _teye(a)), [(3, 3)], "any"),
    ("det", lambda a: gw(a).det(), lambda a: tw(a).det(), [(3, 3)], "any"),
    ("logdet", lambda a: gpubp.logdet(gspd(a)), lambda a: torch.logdet(tspd(a)), [(2, 3, 3)], "any"),
    ("slogdet", lambda a: gpubp.slogdet(a)[1], lambda a: torch.slogdet(a)[1], [(3, 3)], "any"),
    ("inverse", lambda a: gw(a).inverse(), lambda a: tw(a).inverse(), [(3, 3)], "any"),
    ("cholesky", lambda a: gpubp.cholesky(gspd(a), True), lambda a: TL.cholesky(tspd(a), upper=True), [(3, 3)], "any"),
    ("svd", lambda a: (lambda u, s, v: (u * s.sin().unsqueeze(-2)) @ v.mT)(*a.svd()),
     lambda a: (lambda u, s, v: (u * s.sin().unsqueeze(-2)) @ v.mT)(*a.svd()), [(4, 3)], "any"),
    ("qr", lambda a: gpubp.qr(a), lambda a: TL.qr(a), [(4, 3)], "any"),
    ("pinverse", lambda a: a.pinverse(), lambda a: a.pinverse(), [(3, 4)], "any"),
    ("matrix_power", lambda a: a.matrix_power(2), lambda a: a.matrix_power(2), [(3, 3)], "any"),
    ("matrix_exp", lambda a: a.matrix_exp(), lambda a: a.matrix_exp(), [(2, 2)], "any"),
]  # fmt: skip
