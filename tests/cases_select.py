"""Gradient cases of the select family, in tests/test_ops_grad.py's format (its CASES takes them in)."""

from __future__ import annotations

import numpy as np

import gpubp

try:
    import torch
except ImportError:  # the torch sides are never called without it
    torch = None

_I34 = np.array([[0, 2, 2], [1, 0, 3], [3, 3, 1]])  # dim 1 of a (3, 4): repeats within rows
_I24 = np.array([[2, 0, 1, 1], [0, 0, 2, 1]])  # dim 0 of a (3, 4), smaller than it
_U = np.array([[3, 0], [1, 2]])  # no repeats within a row: scatter's writes are deterministic
_V = np.array([2, 0, 2])
_F = np.array([2, 0])
_T = np.array([[0, -1], [5, 11]])
_TAD = np.array([[1, 3], [0, 0], [3, -1]])
_TB = np.array([[[1, 0], [3, 2], [2, 2]]])  # (1, 3, 2), broadcasting against (2, 1, 4)
_M = np.array([True, False, True, True])
_P = np.array([[0, -1], [5, 0]])  # put: a repeat (accumulates) and a negative index
_M34 = np.random.default_rng(11).random((3, 4)) > 0.4


def _g(a: np.ndarray, like: gpubp.Tensor) -> gpubp.Tensor:
    return gpubp.tensor(a, device=like.device)


def T(a: np.ndarray):  # noqa: N802 - the torch twin of a constant
    return torch.tensor(a)


CASES = [
    ("gather", lambda a: gpubp.gather(a, 1, _g(_I34, a)), lambda a: torch.gather(a, 1, T(_I34)), [(3, 4)], "any"),
    ("gather", lambda a: a.gather(-2, _g(_I24, a)), lambda a: a.gather(-2, T(_I24)), [(3, 4)], "any"),
    ("scatter", lambda a, s: gpubp.scatter(a, 1, _g(_U, a), s), lambda a, s: torch.scatter(a, 1, T(_U), s),
     [(3, 4), (2, 2)], "any"),
    ("scatter", lambda a: a.scatter(-1, _g(_U, a), 1.5), lambda a: a.scatter(-1, T(_U), 1.5), [(2, 4)], "any"),
    ("scatter_add", lambda a, s: gpubp.scatter_add(a, 1, _g(_I34, a), s),
     lambda a, s: torch.scatter_add(a, 1, T(_I34), s), [(3, 4), (3, 3)], "any"),
    ("scatter_add", lambda a, s: a.scatter_add(0, _g(_I24, a), s), lambda a, s: a.scatter_add(0, T(_I24), s),
     [(3, 4), (2, 4)], "any"),
    ("scatter_reduce", lambda a, s: gpubp.scatter_reduce(a, 1, _g(_I34, a), s, "prod"),
     lambda a, s: torch.scatter_reduce(a, 1, T(_I34), s, "prod"), [(3, 4), (3, 3)], "away"),
    ("scatter_reduce", lambda a, s: a.scatter_reduce(0, _g(_I24, a), s, "mean", include_self=False),
     lambda a, s: a.scatter_reduce(0, T(_I24), s, "mean", include_self=False), [(3, 4), (2, 4)], "any"),
    ("scatter_reduce", lambda a, s: gpubp.scatter_reduce(a, 1, _g(_I34, a), s, "amax"),
     lambda a, s: torch.scatter_reduce(a, 1, T(_I34), s, "amax"), [(3, 4), (3, 3)], "any"),
    ("scatter_reduce", lambda a, s: gpubp.scatter_reduce(a, -1, _g(_I34, a), s, "amin", include_self=False),
     lambda a, s: torch.scatter_reduce(a, -1, T(_I34), s, "amin", include_self=False), [(3, 4), (3, 3)], "any"),
    ("index_select", lambda a: gpubp.index_select(a, 1, _g(_V, a)), lambda a: torch.index_select(a, 1, T(_V)),
     [(3, 4)], "any"),
    ("index_select", lambda a: a.index_select(-2, _g(_F, a)), lambda a: a.index_select(-2, T(_F)), [(2, 3, 2)], "any"),
    ("index_add", lambda a, s: gpubp.index_add(a, 1, _g(_V, a), s, alpha=2.0),
     lambda a, s: torch.index_add(a, 1, T(_V), s, alpha=2.0), [(3, 4), (3, 3)], "any"),
    ("index_add", lambda a, s: a.index_add(0, _g(_F, a), s), lambda a, s: a.index_add(0, T(_F), s),
     [(3, 2), (2, 2)], "any"),
    ("index_copy", lambda a, s: gpubp.index_copy(a, 1, _g(_F, a), s), lambda a, s: torch.index_copy(a, 1, T(_F), s),
     [(3, 4), (3, 2)], "any"),
    ("index_fill", lambda a, v: gpubp.index_fill(a, 0, _g(_V, a), v), lambda a, v: torch.index_fill(a, 0, T(_V), v),
     [(3, 4), ()], "any"),
    ("index_fill", lambda a: a.index_fill(-1, _g(_F, a), -2.0), lambda a: a.index_fill(-1, T(_F), -2.0),
     [(2, 3)], "any"),
    ("take", lambda a: gpubp.take(a, _g(_T, a)), lambda a: torch.take(a, T(_T)), [(3, 4)], "any"),
    ("take_along_dim", lambda a: gpubp.take_along_dim(a, _g(_TAD, a), 1),
     lambda a: torch.take_along_dim(a, T(_TAD), 1), [(3, 4)], "any"),
    ("take_along_dim", lambda a: a.take_along_dim(_g(_TB, a), -1), lambda a: a.take_along_dim(T(_TB), -1),
     [(2, 1, 4)], "any"),
    # torch's flattening take_along_dim views its input, which fails on a permuted one: it gets a contiguous copy
    ("take_along_dim", lambda a: gpubp.take_along_dim(a, _g(_T % 12, a)),
     lambda a: torch.take_along_dim(a.contiguous(), T(_T % 12)), [(3, 4)], "any"),
    ("masked_fill", lambda a, v: gpubp.masked_fill(a, _g(_M, a), v), lambda a, v: torch.masked_fill(a, T(_M), v),
     [(3, 4), ()], "any"),
    ("masked_fill", lambda a: a.masked_fill(_g(_M34, a), 0.5), lambda a: a.masked_fill(T(_M34), 0.5), [(4,)], "any"),
    ("masked_select", lambda a: gpubp.masked_select(a, _g(_M34, a)), lambda a: torch.masked_select(a, T(_M34)),
     [(3, 4)], "any"),
    ("masked_select", lambda a: a.masked_select(_g(_M34, a)), lambda a: a.masked_select(T(_M34)), [(1, 4)], "any"),
    ("masked_scatter", lambda a, s: gpubp.masked_scatter(a, _g(_M, a), s),
     lambda a, s: torch.masked_scatter(a, T(_M), s), [(3, 4), (10,)], "any"),
    ("select_index", lambda a: a.select(1, -1), lambda a: a.select(1, -1), [(3, 4)], "any"),
    ("select_index", lambda a: gpubp.select(a, 0, 1), lambda a: torch.select(a, 0, 1), [(2, 3, 2)], "any"),
    ("unbind", lambda a: gpubp.unbind(a, 1), lambda a: torch.unbind(a, 1), [(2, 3)], "any"),
    ("unbind", lambda a: a.unbind(), lambda a: a.unbind(), [(3,)], "any"),
    ("tril", lambda a: gpubp.tril(a, -1), lambda a: torch.tril(a, -1), [(2, 3, 4)], "any"),
    ("tril", lambda a: a.tril(), lambda a: a.tril(), [(4, 3)], "any"),
    ("triu", lambda a: gpubp.triu(a, 1), lambda a: torch.triu(a, 1), [(4, 3)], "any"),
    ("triu", lambda a: a.triu(-1), lambda a: a.triu(-1), [(2, 3, 3)], "any"),
    ("diag", lambda a: gpubp.diag(a, 1), lambda a: torch.diag(a, 1), [(3,)], "any"),
    ("diag", lambda a: a.diag(-1), lambda a: a.diag(-1), [(3, 4)], "any"),
    ("diagonal", lambda a: gpubp.diagonal(a, 1, 2, 0), lambda a: torch.diagonal(a, 1, 2, 0), [(2, 3, 4)], "any"),
    ("diagonal", lambda a: a.diagonal(), lambda a: a.diagonal(), [(3, 4)], "any"),
    ("diag_embed", lambda a: gpubp.diag_embed(a, -1, 0, 2), lambda a: torch.diag_embed(a, -1, 0, 2), [(2, 3)], "any"),
    ("diag_embed", lambda a: a.diag_embed(), lambda a: a.diag_embed(), [(3,)], "any"),
    ("trace", lambda a: gpubp.trace(a), lambda a: torch.trace(a), [(3, 4)], "any"),
    ("put", lambda a, s: gpubp.put(a, _g(_P, a), s, accumulate=True),
     lambda a, s: torch.put(a, T(_P), s, accumulate=True), [(3, 4), (2, 2)], "any"),
    ("put", lambda a, s: a.put(_g(_P[:1], a), s), lambda a, s: a.put(T(_P[:1]), s), [(3, 4), (2,)], "any"),
    ("index_reduce", lambda a, s: gpubp.index_reduce(a, 1, _g(_V, a), s, "prod"),
     lambda a, s: torch.index_reduce(a, 1, T(_V), s, "prod"), [(3, 4), (3, 3)], "away"),
    ("index_reduce", lambda a, s: a.index_reduce(0, _g(_F, a), s, "amax", include_self=False),
     lambda a, s: a.index_reduce(0, T(_F), s, "amax", include_self=False), [(3, 4), (2, 4)], "any"),
    ("index_reduce", lambda a, s: gpubp.index_reduce(a, -1, _g(_V, a), s, "mean"),
     lambda a, s: torch.index_reduce(a, -1, T(_V), s, "mean"), [(2, 3), (2, 3)], "any"),
    ("diagflat", lambda a: gpubp.diagflat(a, -1), lambda a: torch.diagflat(a, -1), [(2, 2)], "any"),
    ("diagonal_scatter", lambda a, s: gpubp.diagonal_scatter(a, s, -1, 2, 0),
     lambda a, s: torch.diagonal_scatter(a, s, -1, 2, 0), [(2, 3, 4), (3, 2)], "any"),
    ("diagonal_scatter", lambda a, s: a.diagonal_scatter(s), lambda a, s: a.diagonal_scatter(s), [(3, 4), (3,)],
     "any"),
    ("select_scatter", lambda a, s: gpubp.select_scatter(a, s, 1, -1),
     lambda a, s: torch.select_scatter(a, s, 1, -1), [(3, 4), (3,)], "any"),
    ("slice_scatter", lambda a, s: gpubp.slice_scatter(a, s, 1, 1, None, 2),
     lambda a, s: torch.slice_scatter(a, s, 1, 1, None, 2), [(3, 4), (3, 2)], "any"),
    ("slice_scatter", lambda a, s: a.slice_scatter(s, start=-2), lambda a, s: a.slice_scatter(s, start=-2),
     [(3, 4), (2, 4)], "any"),
]  # fmt: skip
