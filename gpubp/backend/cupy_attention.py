"""The CUDA backend's attention primitives: kernels/attention.cu launched through CuPy (a mixin of CupyBackend)."""

from __future__ import annotations


class FusedAttention:
    """attention_forward / attention_backward on gpubp's flash-style kernels."""
