"""Gradient cases of the sorting family, in tests/test_ops_grad.py's format (its CASES takes them in).

Random normal inputs have no ties, so every index is determined and the gradients match PyTorch's exactly."""

from __future__ import annotations

import numpy as np
from conftest import torch

import gpubp

_Q = np.array([0.1, 0.5, 0.73, 1.0])


def _tq(a):  # q as a torch tensor of the input's dtype
    return torch.tensor(_Q, dtype=a.dtype)


def _gq(a):
    return gpubp.tensor(_Q.astype(a.dtype), device=a.device)


CASES = [
    ("sort", lambda a: gpubp.sort(a).values, lambda a: torch.sort(a).values, [(3, 5)], "any"),
    ("sort", lambda a: a.sort(0, descending=True).values, lambda a: a.sort(0, descending=True).values,
     [(4, 3)], "any"),
    ("sort", lambda a: gpubp.sort(a, -1).values, lambda a: torch.sort(a, -1).values, [()], "any"),
    ("msort", lambda a: gpubp.msort(a), lambda a: torch.msort(a), [(4, 3)], "any"),
    ("topk", lambda a: gpubp.topk(a, 2).values, lambda a: torch.topk(a, 2).values, [(3, 5)], "any"),
    ("topk", lambda a: a.topk(3, dim=0, largest=False).values, lambda a: a.topk(3, dim=0, largest=False).values,
     [(4, 2, 3)], "any"),
    ("kthvalue", lambda a: gpubp.kthvalue(a, 2, -1).values, lambda a: torch.kthvalue(a, 2, -1).values,
     [(3, 4)], "any"),
    ("kthvalue", lambda a: a.kthvalue(3, 0, keepdim=True).values, lambda a: a.kthvalue(3, 0, keepdim=True).values,
     [(4, 3)], "any"),
    ("median", lambda a: gpubp.median(a), lambda a: torch.median(a), [(3, 4)], "any"),
    ("median", lambda a: a.median(-1).values, lambda a: a.median(-1).values, [(3, 4)], "any"),
    ("median", lambda a: a.median(0, keepdim=True).values, lambda a: a.median(0, keepdim=True).values,
     [(5, 2)], "any"),
    ("nanmedian", lambda a: gpubp.nanmedian(a), lambda a: torch.nanmedian(a), [(2, 3)], "any"),
    ("nanmedian", lambda a: a.nanmedian(1).values, lambda a: a.nanmedian(1).values, [(2, 5)], "any"),
    ("mode", lambda a: gpubp.mode(a, 1).values, lambda a: torch.mode(a, 1).values, [(3, 4)], "any"),
    ("mode", lambda a: a.mode(0, keepdim=True).values, lambda a: a.mode(0, keepdim=True).values, [(3, 2)], "any"),
    ("quantile", lambda a: gpubp.quantile(a, 0.3), lambda a: torch.quantile(a, 0.3), [(3, 4)], "any"),
    ("quantile", lambda a: gpubp.quantile(a, _gq(a), dim=-1, keepdim=True),
     lambda a: torch.quantile(a, _tq(a), dim=-1, keepdim=True), [(2, 5)], "any"),
    ("quantile", lambda a: a.quantile(0.4, dim=0, interpolation="midpoint"),
     lambda a: a.quantile(0.4, dim=0, interpolation="midpoint"), [(6, 2)], "any"),
    ("nanquantile", lambda a: gpubp.nanquantile(a, _gq(a), dim=1),
     lambda a: torch.nanquantile(a, _tq(a), dim=1), [(2, 4)], "any"),
    ("cummax", lambda a: gpubp.cummax(a, 1).values, lambda a: torch.cummax(a, 1).values, [(3, 5)], "any"),
    ("cummax", lambda a: a.cummax(-1).values, lambda a: a.cummax(-1).values, [()], "any"),
    ("cummin", lambda a: gpubp.cummin(a, 0).values, lambda a: torch.cummin(a, 0).values, [(5, 2)], "any"),
]  # fmt: skip
