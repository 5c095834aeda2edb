"""skip_init: build a module without running its parameter initialization, as ``torch.nn.utils``."""

from __future__ import annotations

__all__: list[str] = []
