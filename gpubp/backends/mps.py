"""``gpubp.backends.mps``: Apple's Metal backend, which gpubp does not have."""

from __future__ import annotations

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """False: gpubp has no MPS backend."""
    return False


def is_built() -> bool:
    """False: gpubp has no MPS backend."""
    return False
