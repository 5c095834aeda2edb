"""The CUDA backend's row-norm primitives: kernels/norm.cu launched through CuPy (a mixin of CupyBackend)."""

from __future__ import annotations


class FusedNorm:
    """row_norm_forward / row_norm_backward on gpubp's kernels."""
