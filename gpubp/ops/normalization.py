"""Normalization over the last dims as fused ops: layer_norm and rms_norm, forward and VJP each one
pass, on the backend's row-norm primitives (NumPy; gpubp's kernel on CUDA)."""

from __future__ import annotations

# the family's registration (gpubp/ops/__init__.py's FAMILIES)
DIFFERENTIABLE: tuple[str, ...] = ()
NON_DIFFERENTIABLE: tuple[str, ...] = ()
TOP_LEVEL: tuple[str, ...] = ()
