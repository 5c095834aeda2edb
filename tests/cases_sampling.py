"""Gradient cases of the sampling family, in tests/test_ops_grad.py's format (its CASES takes them in).

normal and poisson have PyTorch's zero gradient (a draw is not reparameterized; bernoulli has none in torch). A
random value can be neither compared with torch's nor finite-differenced, so each case keeps the sample out of the
value, or makes it certain (rate 0), while the gradient still flows through the op: it must come out zero."""

from __future__ import annotations

import gpubp

try:
    import torch
except ImportError:  # the torch side of a case is then never called
    torch = None

CASES: list = [
    # the sample, times zero, keeps the value deterministic; mean and std both broadcast
    (
        "normal",
        lambda m, s: gpubp.normal(m, s) * 0.0 + m * s,
        lambda m, s: torch.normal(m, s) * 0.0 + m * s,
        [(2, 3), (3,)],
        ["any", "pos"],
    ),
    (
        "normal",
        lambda m: gpubp.normal(m, 1.5) * 0.0 + m.exp(),
        lambda m: torch.normal(m, 1.5) * 0.0 + m.exp(),
        [(4,)],
        "any",
    ),
    ("normal", lambda s: gpubp.normal(0.5, s) * 0.0 - s, lambda s: torch.normal(0.5, s) * 0.0 - s, [(2, 2)], "pos"),
    # rates a * 0 = 0: every count is 0
    ("poisson", lambda a: gpubp.poisson(a * 0.0) + a * 3, lambda a: torch.poisson(a * 0.0) + a * 3, [(3, 2)], "pos"),
    ("poisson", lambda a: gpubp.poisson(a) * 0.0 + a.log(), lambda a: torch.poisson(a) * 0.0 + a.log(), [(5,)], "pos"),
]
