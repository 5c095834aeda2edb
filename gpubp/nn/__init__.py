"""Neural-network building blocks. For now: the functional forms in ``gpubp.nn.functional``."""

from . import functional

__all__ = ["functional"]
