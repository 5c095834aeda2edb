"""parameters_to_vector and vector_to_parameters, as ``torch.nn.utils``."""

from __future__ import annotations

__all__: list[str] = []
