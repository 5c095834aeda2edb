"""Adadelta, Adamax, NAdam, RAdam, ASGD and Rprop on fused backend primitives, as ``torch.optim``."""

from __future__ import annotations

__all__: list[str] = []
