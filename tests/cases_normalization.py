"""Gradient cases of the normalization family, in tests/test_ops_grad.py's format (its CASES takes them in)."""

from __future__ import annotations

from conftest import torch

import gpubp.ops

if torch is not None:
    import torch.nn.functional as F
else:
    F = None

CASES: list = [
    ("layer_norm", lambda x, w, b: gpubp.ops.layer_norm(x, (4,), w, b), lambda x, w, b: F.layer_norm(x, (4,), w, b),
     [(3, 4), (4,), (4,)], "any"),
    ("layer_norm", lambda x: gpubp.ops.layer_norm(x, (3, 2), eps=1e-3), lambda x: F.layer_norm(x, (3, 2), eps=1e-3),
     [(2, 5, 3, 2)], "any"),
    ("layer_norm", lambda x, w: gpubp.ops.layer_norm(x * 3 + 1, 5, w), lambda x, w: F.layer_norm(x * 3 + 1, (5,), w),
     [(2, 3, 5), (5,)], "any"),
    ("rms_norm", lambda x, w: gpubp.ops.rms_norm(x, (4,), w), lambda x, w: F.rms_norm(x, (4,), w), [(3, 4), (4,)], "any"),
    ("rms_norm", lambda x: gpubp.ops.rms_norm(x, (2, 3), eps=1e-4), lambda x: F.rms_norm(x, (2, 3), eps=1e-4),
     [(4, 2, 3)], "any"),
]  # fmt: skip
