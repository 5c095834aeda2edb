"""``gpubp.linalg``: PyTorch's ``torch.linalg`` names over gpubp's ops (``gpubp.ops.linalg_*``), one implementation.

Each function is batched over leading dims, takes float32 or float64, and is differentiable as PyTorch's
(decompositions where the eigenvalues or singular values are distinct). Singular or non-positive-definite inputs
raise ``LinAlgError`` on the CPU; on a GPU the results hold inf or NaN (checking would synchronize).
"""

from __future__ import annotations

from . import ops as _ops
from .ops.decomp import LinAlgError

vector_norm = _ops.linalg_vector_norm
matrix_norm = _ops.linalg_matrix_norm
norm = _ops.linalg_norm
inv = _ops.linalg_inv
solve = _ops.linalg_solve
det = _ops.linalg_det
slogdet = _ops.linalg_slogdet
cholesky = _ops.linalg_cholesky
qr = _ops.linalg_qr
svd = _ops.linalg_svd
svdvals = _ops.linalg_svdvals
eigh = _ops.linalg_eigh
eigvalsh = _ops.linalg_eigvalsh
pinv = _ops.linalg_pinv
matrix_power = _ops.linalg_matrix_power
matrix_exp = _ops.linalg_matrix_exp
solve_triangular = _ops.linalg_solve_triangular
cond = _ops.linalg_cond
matrix_rank = _ops.linalg_matrix_rank
matmul = _ops.matmul
cross = _ops.linalg_cross  # the products family's (gpubp/ops/products.py)
multi_dot = _ops.linalg_multi_dot

__all__ = [
    "LinAlgError", "vector_norm", "matrix_norm", "norm", "inv", "solve", "det", "slogdet", "cholesky", "qr", "svd",
    "svdvals", "eigh", "eigvalsh", "pinv", "matrix_power", "matrix_exp", "solve_triangular", "cond", "matrix_rank",
    "matmul", "cross", "multi_dot",
]  # fmt: skip
