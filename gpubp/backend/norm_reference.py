"""The row-norm primitives' references (layer norm and RMS norm over the last axis), on ``xp``: a mixin of
``Backend`` (the NumPy backend's own path; the CUDA backend overrides them with kernels/norm.cu)."""

from __future__ import annotations


class NormReferences:
    """row_norm_forward / row_norm_backward on raw arrays."""
