"""Spectral normalization (Miyato et al.) by power iteration, as ``torch.nn.utils.spectral_norm``."""

from __future__ import annotations

__all__: list[str] = []
