"""Gradient cases of the layout family, in tests/test_ops_grad.py's format (its CASES takes them in)."""

from __future__ import annotations

import numpy as np
from conftest import torch

import gpubp

if torch is not None:
    import torch.nn.functional as F
else:
    F = None
GF = gpubp.ops

_REPS = np.array([2, 0, 1])  # repeat_interleave counts: a zero drops an element, a 2 doubles one


def _g(a: np.ndarray, like: gpubp.Tensor) -> gpubp.Tensor:
    return gpubp.tensor(a, device=like.device)


CASES = [
    ("repeat", lambda a: a.repeat(2, 1, 3), lambda a: a.repeat(2, 1, 3), [(2, 3)], "any"),
    ("repeat", lambda a: a.repeat((3,)), lambda a: a.repeat((3,)), [()], "any"),
    ("tile", lambda a: gpubp.tile(a, (2,)), lambda a: torch.tile(a, (2,)), [(2, 3)], "any"),
    ("tile", lambda a: a.tile(2, 1, 2), lambda a: a.tile(2, 1, 2), [(3, 2)], "any"),
    ("repeat_interleave", lambda a: gpubp.repeat_interleave(a, 2, dim=-1),
     lambda a: torch.repeat_interleave(a, 2, dim=-1), [(2, 3)], "any"),
    ("repeat_interleave", lambda a: a.repeat_interleave(_g(_REPS, a), 0),
     lambda a: a.repeat_interleave(torch.tensor(_REPS), 0), [(3, 2)], "any"),
    ("repeat_interleave", lambda a: gpubp.repeat_interleave(a, _g(_REPS, a), output_size=3),
     lambda a: torch.repeat_interleave(a, torch.tensor(_REPS), output_size=3), [(3,)], "any"),
    ("flip", lambda a: gpubp.flip(a, (0, -1)), lambda a: torch.flip(a, (0, -1)), [(2, 3, 4)], "any"),
    ("flip", lambda a: a.flip(1), lambda a: a.flip(1), [(3, 4)], "any"),
    ("fliplr", lambda a: gpubp.fliplr(a), lambda a: torch.fliplr(a), [(3, 4)], "any"),
    ("flipud", lambda a: a.flipud(), lambda a: a.flipud(), [(3, 2)], "any"),
    ("roll", lambda a: gpubp.roll(a, (1, -2), (0, 2)), lambda a: torch.roll(a, (1, -2), (0, 2)), [(2, 3, 4)], "any"),
    ("roll", lambda a: a.roll(4), lambda a: a.roll(4), [(3, 2)], "any"),
    ("rot90", lambda a: gpubp.rot90(a, 1, (1, 2)), lambda a: torch.rot90(a, 1, (1, 2)), [(2, 3, 4)], "any"),
    ("rot90", lambda a: a.rot90(-1, (-1, 0)), lambda a: a.rot90(-1, (-1, 0)), [(3, 4)], "any"),
    ("movedim", lambda a: gpubp.movedim(a, (0, 1), (-1, 0)) * 2, lambda a: torch.movedim(a, (0, 1), (-1, 0)) * 2,
     [(2, 3, 4)], "any"),
    ("moveaxis", lambda a: a.moveaxis(-1, 0) * 2, lambda a: a.moveaxis(-1, 0) * 2, [(2, 3, 4)], "any"),
    ("swapaxes", lambda a: gpubp.swapaxes(a, 0, -1) * 2, lambda a: torch.swapaxes(a, 0, -1) * 2, [(2, 3, 4)], "any"),
    ("swapdims", lambda a: a.swapdims(1, 0) * 2, lambda a: a.swapdims(1, 0) * 2, [(3, 4)], "any"),
    ("unflatten", lambda a: gpubp.unflatten(a, -1, (2, -1)) * 2, lambda a: torch.unflatten(a, -1, (2, -1)) * 2,
     [(3, 4)], "any"),
    ("view_as", lambda a, b: a.view_as(b) * b, lambda a, b: a.view_as(b) * b, [(12,), (3, 4)], "any"),
    ("reshape_as", lambda a, b: a.reshape_as(b) * b, lambda a, b: a.reshape_as(b) * b, [(2, 6), (3, 4)], "any"),
    ("expand_as", lambda a, b: a.expand_as(b) * b, lambda a, b: a.expand_as(b) * b, [(3, 1), (2, 3, 4)], "any"),
    ("hstack", lambda a, b: gpubp.hstack([a, b, a]), lambda a, b: torch.hstack([a, b, a]), [(2, 3), (2, 1)], "any"),
    ("hstack", lambda a, b: gpubp.hstack((a, b)), lambda a, b: torch.hstack((a, b)), [(3,), ()], "any"),
    ("vstack", lambda a, b: gpubp.vstack([a, b]), lambda a, b: torch.vstack([a, b]), [(3,), (2, 3)], "any"),
    ("row_stack", lambda a, b: gpubp.row_stack([a, b]), lambda a, b: torch.vstack([a, b]), [(1, 3), (2, 3)], "any"),
    ("dstack", lambda a, b: gpubp.dstack([a, b]), lambda a, b: torch.dstack([a, b]), [(2, 3), (2, 3, 2)], "any"),
    ("column_stack", lambda a, b, c: gpubp.column_stack([a, b, c]), lambda a, b, c: torch.column_stack([a, b, c]),
     [(3,), (3, 2), (3, 1)], "any"),
    ("tensor_split", lambda a: gpubp.tensor_split(a, 3, dim=-1), lambda a: torch.tensor_split(a, 3, dim=-1),
     [(2, 7)], "any"),
    ("tensor_split", lambda a: a.tensor_split([1, -1, 2]), lambda a: a.tensor_split([1, -1, 2]), [(4, 2)], "any"),
    ("hsplit", lambda a: gpubp.hsplit(a, [1]), lambda a: torch.hsplit(a, [1]), [(2, 3)], "any"),
    ("vsplit", lambda a: a.vsplit(2), lambda a: a.vsplit(2), [(4, 2)], "any"),
    ("dsplit", lambda a: gpubp.dsplit(a, [1, 3]), lambda a: torch.dsplit(a, [1, 3]), [(2, 1, 4)], "any"),
    ("atleast_1d", lambda a: gpubp.atleast_1d(a) * 2, lambda a: torch.atleast_1d(a) * 2, [()], "any"),
    ("atleast_2d", lambda a, b: gpubp.atleast_2d(a, b), lambda a, b: torch.atleast_2d(a, b), [(3,), (2, 2)], "any"),
    ("atleast_3d", lambda a, b: gpubp.atleast_3d([a, b]), lambda a, b: torch.atleast_3d([a, b]), [(3,), (2, 3)],
     "any"),
    ("meshgrid", lambda a, b: gpubp.meshgrid(a, b, indexing="ij"), lambda a, b: torch.meshgrid(a, b, indexing="ij"),
     [(3,), (2,)], "any"),
    ("meshgrid", lambda a, b, c: gpubp.meshgrid([a, b, c], indexing="xy"),
     lambda a, b, c: torch.meshgrid([a, b, c], indexing="xy"), [(3,), (), (2,)], "any"),
    ("broadcast_tensors", lambda a, b, c: gpubp.broadcast_tensors(a, b, c),
     lambda a, b, c: torch.broadcast_tensors(a, b, c), [(2, 1), (3,), ()], "any"),
    ("nn_unfold", lambda a: GF.nn_unfold(a, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
     lambda a: F.unfold(a, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), [(2, 2, 3, 4)], "any"),
    ("nn_unfold", lambda a: GF.nn_unfold(a, 2), lambda a: F.unfold(a, 2), [(2, 3, 3)], "any"),
    ("nn_fold", lambda a: GF.nn_fold(a, (3, 4), 2, padding=1, stride=2), lambda a: F.fold(a, (3, 4), 2, padding=1, stride=2),
     [(2, 8, 6)], "any"),
    ("nn_fold", lambda a: GF.nn_fold(a, (3, 3), (2, 1), dilation=(1, 2)),
     lambda a: F.fold(a, (3, 3), (2, 1), dilation=(1, 2)), [(4, 6)], "any"),
    ("unfold", lambda a: a.unfold(1, 2, 1), lambda a: a.unfold(1, 2, 1), [(2, 4)], "any"),
    ("unfold", lambda a: a.unfold(-1, 2, 3) * 2, lambda a: a.unfold(-1, 2, 3) * 2, [(3, 2, 5)], "any"),
]  # fmt: skip
