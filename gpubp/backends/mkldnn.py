"""``gpubp.backends.mkldnn``: oneDNN, which gpubp does not use (its CPU math is NumPy's); ``enabled`` is accepted and
read back, with no effect."""

from __future__ import annotations

from ._flags import flag, make_flag_module

__all__ = ["enabled", "is_available"]

_state = {"enabled": True}
enabled: bool


def is_available() -> bool:
    """False: gpubp does not use oneDNN (MKL-DNN)."""
    return False


make_flag_module(__name__, enabled=flag("enabled", "set_enabled_mkldnn", "Use oneDNN (no effect in gpubp)."))
