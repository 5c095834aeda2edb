"""Attention: scaled_dot_product_attention as one fused op (forward and VJP), on the backend's
attention primitives (a blocked NumPy path; gpubp's flash-style kernel on CUDA)."""

from __future__ import annotations

# the family's registration (gpubp/ops/__init__.py's FAMILIES)
DIFFERENTIABLE: tuple[str, ...] = ()
NON_DIFFERENTIABLE: tuple[str, ...] = ()
TOP_LEVEL: tuple[str, ...] = ()
