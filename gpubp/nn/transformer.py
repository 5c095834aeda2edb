"""PyTorch's transformer modules: TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,
TransformerDecoder and Transformer."""

from __future__ import annotations

__all__: list[str] = []
