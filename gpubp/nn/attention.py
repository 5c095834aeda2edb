"""Attention layers: MultiheadAttention (PyTorch's torch.nn.modules.activation.MultiheadAttention)."""

from __future__ import annotations

__all__: list[str] = []
