"""Functional dropout variants (dropout1d/2d/3d, alpha dropout), under ``torch.nn.functional``'s names."""

from __future__ import annotations

__all__: list[str] = []
