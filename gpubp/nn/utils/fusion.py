"""Folding batch norm into the convolution or linear layer before it, for inference, as ``torch.nn.utils``."""

from __future__ import annotations

__all__: list[str] = []
