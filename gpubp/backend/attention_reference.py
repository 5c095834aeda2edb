"""The attention primitives' references, on ``xp``: a mixin of ``Backend`` (the NumPy backend's own path; the CUDA
backend overrides them with kernels/attention.cu and is checked against them)."""

from __future__ import annotations


class AttentionReferences:
    """attention_forward / attention_backward on raw arrays."""
