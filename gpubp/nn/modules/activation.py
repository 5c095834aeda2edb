"""torch.nn.modules.activation: re-exported from ``gpubp.nn.activation``."""

from ..activation import *  # noqa: F403
from ..activation import __all__  # noqa: F401
