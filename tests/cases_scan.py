"""Gradient cases of the scan family, in tests/test_ops_grad.py's format (its CASES takes them in)."""

from __future__ import annotations

import math

import numpy as np
from conftest import torch

import gpubp

_NAN = np.where(np.random.default_rng(11).random((3, 4)) > 0.7, np.nan, 0.0)  # NaN at some places, 0 elsewhere
_NAN[0, 0] = np.nan


def _nan(a):  # a with NaN at _NAN's places (on a's device)
    return a + gpubp.tensor(_NAN, device=a.device)


def _tnan(a):
    return a + torch.tensor(_NAN)


def _tcdist(a, b, p):  # torch's cdist written out: its own cdist has no double backward for the direct form
    return torch.linalg.vector_norm(a.unsqueeze(-2) - b.unsqueeze(-3), p, dim=-1)


CASES = [
    ("cumsum", lambda a: a.cumsum(1), lambda a: a.cumsum(1), [(3, 4)], "any"),
    ("cumsum", lambda a: gpubp.cumsum(a, -1, dtype=gpubp.float64) * a, lambda a: torch.cumsum(a, -1, dtype=torch.float64) * a, [(2, 3, 4)], "any"),
    ("cumsum", lambda a: gpubp.cumsum(a, 0) * 2, lambda a: torch.cumsum(a, 0) * 2, [()], "any"),
    ("cumprod", lambda a: a.cumprod(1), lambda a: a.cumprod(1), [(3, 4)], "any"),
    ("cumprod", lambda a: gpubp.cumprod(a, -1) * a, lambda a: torch.cumprod(a, -1) * a, [(2, 3, 5)], "any"),
    ("logcumsumexp", lambda a: a.logcumsumexp(1), lambda a: a.logcumsumexp(1), [(3, 4)], "any"),
    ("logcumsumexp", lambda a: gpubp.logcumsumexp(a * 50, 0), lambda a: torch.logcumsumexp(a * 50, 0), [(5, 2)], "any"),
    ("prod", lambda a: a.prod(), lambda a: a.prod(), [(3, 4)], "pos"),
    ("prod", lambda a: a.prod(-1, keepdim=True), lambda a: a.prod(-1, keepdim=True), [(2, 3, 4)], "any"),
    ("prod", lambda a: gpubp.prod(a, 0) * a, lambda a: torch.prod(a, 0) * a, [()], "any"),
    ("var_mean", lambda a: gpubp.var_mean(a, 1), lambda a: torch.var_mean(a, 1), [(3, 4)], "any"),
    ("var_mean", lambda a: gpubp.var_mean(a, (0, 2), correction=0, keepdim=True),
     lambda a: torch.var_mean(a, (0, 2), correction=0, keepdim=True), [(2, 3, 4)], "any"),
    ("std_mean", lambda a: gpubp.std_mean(a), lambda a: torch.std_mean(a), [(3, 4)], "any"),
    ("std_mean", lambda a: gpubp.std_mean(a, -1, keepdim=True), lambda a: torch.std_mean(a, -1, keepdim=True), [(2, 5)], "any"),
    ("nansum", lambda a: _nan(a).nansum(1), lambda a: _tnan(a).nansum(1), [(3, 4)], "any"),
    ("nansum", lambda a: gpubp.nansum(_nan(a)), lambda a: torch.nansum(_tnan(a)), [(3, 4)], "any"),
    ("nanmean", lambda a: _nan(a).nanmean(0, keepdim=True), lambda a: _tnan(a).nanmean(0, keepdim=True), [(3, 4)], "any"),
    ("nanmean", lambda a: gpubp.nanmean(_nan(a)), lambda a: torch.nanmean(_tnan(a)), [(3, 4)], "any"),
    ("aminmax", lambda a: a.aminmax(dim=1), lambda a: a.aminmax(dim=1), [(3, 4)], "any"),
    ("aminmax", lambda a: gpubp.aminmax(a), lambda a: torch.aminmax(a), [(2, 3)], "any"),
    ("dist", lambda a, b: a.dist(b), lambda a, b: a.dist(b), [(3, 4), (4,)], "any"),
    ("dist", lambda a, b: gpubp.dist(a, b, 3), lambda a, b: torch.dist(a, b, 3), [(2, 3), (2, 1)], "any"),
    ("dist", lambda a, b: gpubp.dist(a, b, 1), lambda a, b: torch.dist(a, b, 1), [(2, 3), (2, 3)], "any"),
    ("cdist", lambda a, b: gpubp.cdist(a, b), lambda a, b: _tcdist(a, b, 2), [(3, 4), (5, 4)], "any"),
    ("cdist", lambda a, b: gpubp.cdist(a, b, 1.0), lambda a, b: _tcdist(a, b, 1), [(2, 3, 2), (1, 4, 2)], "away"),
    ("cdist", lambda a, b: gpubp.cdist(a, b, 3.0), lambda a, b: _tcdist(a, b, 3), [(2, 3, 2), (2, 2, 2)], "any"),
    ("cdist", lambda a, b: gpubp.cdist(a, b, math.inf), lambda a, b: _tcdist(a, b, math.inf), [(3, 3), (2, 3)], "any"),
    ("cdist", lambda a, b: gpubp.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
     lambda a, b: _tcdist(a, b, 2), [(2, 3, 4), (2, 2, 4)], "any"),
    ("renorm", lambda a: a.renorm(2, 0, 1.5), lambda a: a.renorm(2, 0, 1.5), [(3, 4)], "any"),
    ("renorm", lambda a: gpubp.renorm(a, 1, -1, 2.0), lambda a: torch.renorm(a, 1, -1, 2.0), [(2, 3, 4)], "any"),
]  # fmt: skip
