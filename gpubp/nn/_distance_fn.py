"""Functional distances (cosine_similarity, pairwise_distance, normalize, pdist), as ``torch.nn.functional``."""

from __future__ import annotations

__all__: list[str] = []
