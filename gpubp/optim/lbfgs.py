"""L-BFGS with a closure, and the strong-Wolfe line search, as ``torch.optim.LBFGS``."""

from __future__ import annotations

__all__: list[str] = []
