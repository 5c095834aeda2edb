"""Weight normalization (Salimans & Kingma) as a forward pre-hook, as ``torch.nn.utils.weight_norm``."""

from __future__ import annotations

__all__: list[str] = []
