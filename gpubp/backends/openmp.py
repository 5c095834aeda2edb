"""``gpubp.backends.openmp``: gpubp's own code does not use OpenMP (NumPy's BLAS threads: gpubp.set_num_threads)."""

from __future__ import annotations

__all__ = ["is_available"]


def is_available() -> bool:
    """False: gpubp's own code does not use OpenMP."""
    return False
