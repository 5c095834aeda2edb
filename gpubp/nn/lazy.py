"""Lazy modules (LazyLinear, LazyConv*, LazyBatchNorm*, LazyInstanceNorm*): shapes inferred at the first forward."""

from __future__ import annotations

__all__: list[str] = []
