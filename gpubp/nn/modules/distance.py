"""torch.nn.modules.distance: re-exported from ``gpubp.nn.distance``."""

from ..distance import *  # noqa: F403
from ..distance import __all__  # noqa: F401
