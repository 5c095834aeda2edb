"""Functional multi-head attention: multi_head_attention_forward, under torch.nn.functional's name."""

from __future__ import annotations

__all__: list[str] = []
