"""Gradient cases of the products family, in tests/test_ops_grad.py's format (its CASES takes them in)."""

from __future__ import annotations

from conftest import torch

import gpubp

if torch is not None:
    tla = torch.linalg
else:
    tla = None

G = gpubp.ops

# (op, gpubp fn, torch fn, input shapes, input kinds[, gradcheck options])
CASES = [
    ("mv", lambda a, v: a.mv(v), lambda a, v: a.mv(v), [(3, 4), (4,)], "any"),
    ("addmm", gpubp.addmm, torch.addmm if torch else None, [(3, 2), (3, 4), (4, 2)], "any"),
    ("addmm", lambda i, a, b: i.addmm(a, b, beta=0.5, alpha=-2.0), lambda i, a, b: i.addmm(a, b, beta=0.5, alpha=-2.0),
     [(2,), (3, 4), (4, 2)], "any"),  # input broadcasts
    ("addmv", lambda i, a, v: gpubp.addmv(i, a, v, alpha=1.5), lambda i, a, v: torch.addmv(i, a, v, alpha=1.5),
     [(3,), (3, 4), (4,)], "any"),
    ("addmv", lambda i, a, v: i.addmv(a, v, beta=2), lambda i, a, v: i.addmv(a, v, beta=2), [(), (2, 3), (3,)], "any"),
    ("baddbmm", lambda i, a, b: gpubp.baddbmm(i, a, b, beta=-1, alpha=0.5),
     lambda i, a, b: torch.baddbmm(i, a, b, beta=-1, alpha=0.5), [(3, 1), (2, 3, 4), (2, 4, 2)], "any"),
    ("addbmm", lambda i, a, b: i.addbmm(a, b, alpha=2), lambda i, a, b: i.addbmm(a, b, alpha=2),
     [(3, 2), (2, 3, 4), (2, 4, 2)], "any"),
    ("outer", lambda a, b: a.outer(b), lambda a, b: a.outer(b), [(3,), (4,)], "any"),
    ("ger", gpubp.ger, torch.ger if torch else None, [(2,), (3,)], "any"),
    ("dot", lambda a, b: a.dot(b), lambda a, b: a.dot(b), [(5,), (5,)], "any"),
    ("vdot", gpubp.vdot, torch.vdot if torch else None, [(4,), (4,)], "any"),
    ("inner", lambda a, b: a.inner(b), lambda a, b: a.inner(b), [(2, 3), (4, 3)], "any"),
    ("inner", gpubp.inner, torch.inner if torch else None, [(3,), ()], "any"),
    ("tensordot", lambda a, b: gpubp.tensordot(a, b, 1), lambda a, b: torch.tensordot(a, b, 1),
     [(2, 3), (3, 4)], "any"),
    ("tensordot", lambda a, b: gpubp.tensordot(a, b, ([0, -1], [2, 0])),
     lambda a, b: torch.tensordot(a, b, ([0, -1], [2, 0])), [(2, 3, 4), (4, 3, 2)], "any"),
    ("tensordot", lambda a, b: gpubp.tensordot(a, b, 0), lambda a, b: torch.tensordot(a, b, 0), [(2,), (3, 2)], "any"),
    ("kron", lambda a, b: a.kron(b), lambda a, b: a.kron(b), [(2, 3), (2, 2)], "any"),
    # different ndims (torch.kron refuses some non-contiguous inputs: "view size is not compatible")
    ("kron", gpubp.kron, lambda a, b: torch.kron(a.contiguous(), b.contiguous()), [(3,), (2, 2)], "any"),
    ("cross", lambda a, b: a.cross(b, dim=0), lambda a, b: a.cross(b, dim=0), [(3, 2), (3, 2)], "any"),
    ("cross", lambda a, b: gpubp.cross(a, b, -1), lambda a, b: torch.cross(a, b, -1), [(2, 1, 3), (1, 4, 3)], "any"),
    ("linalg_cross", lambda a, b: G.linalg_cross(a, b), lambda a, b: tla.cross(a, b), [(4, 3), (1, 3)], "any"),
    ("linalg_cross", lambda a, b: G.linalg_cross(a, b, dim=1), lambda a, b: tla.cross(a, b, dim=1),
     [(2, 3, 2), (2, 3, 2)], "any"),
    ("chain_matmul", lambda a, b, c: gpubp.chain_matmul(a, b, c), lambda a, b, c: a @ b @ c,
     [(2, 3), (3, 4), (4, 1)], "any"),
    ("linalg_multi_dot", lambda a, b, c: G.linalg_multi_dot([a, b, c]), lambda a, b, c: tla.multi_dot([a, b, c]),
     [(3,), (3, 4), (4,)], "any"),
    ("linalg_multi_dot", lambda a, b: G.linalg_multi_dot([a, b]), lambda a, b: tla.multi_dot([a, b]),
     [(2, 3), (3, 2)], "any"),
    ("einsum", lambda a, b: gpubp.einsum("ij,jk->ik", a, b), lambda a, b: torch.einsum("ij,jk->ik", a, b),
     [(2, 3), (3, 4)], "any"),
    ("einsum", lambda a, b: gpubp.einsum("b...i,bi", [a, b]), lambda a, b: torch.einsum("b...i,bi", [a, b]),
     [(2, 3, 1, 4), (2, 4)], "any"),  # implicit output, ellipsis, list form
    ("einsum", lambda a: gpubp.einsum("iij->ji", a), lambda a: torch.einsum("iij->ji", a), [(3, 3, 2)], "any"),
    ("einsum", lambda a: gpubp.einsum("ii", a), lambda a: torch.einsum("ii", a), [(3, 3)], "any"),  # trace
    ("einsum", lambda a, b, c: gpubp.einsum("ij,ij,jk->ki", a, b, c),
     lambda a, b, c: torch.einsum("ij,ij,jk->ki", a, b, c), [(3, 1), (3, 4), (4, 2)], "any"),  # size-1 broadcasting
    ("einsum", lambda a, b: gpubp.einsum("i,->i", a, b) + gpubp.einsum("ij->", a[:, None] * b),
     lambda a, b: torch.einsum("i,->i", a, b) + torch.einsum("ij->", a[:, None] * b), [(3,), ()], "any"),  # 0-d
]  # fmt: skip
