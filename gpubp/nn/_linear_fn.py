"""Functional bilinear and embedding_bag, under ``torch.nn.functional``'s names."""

from __future__ import annotations

__all__: list[str] = []
