"""torch.nn.modules.conv: re-exported from ``gpubp.nn.conv``."""

from ..conv import *  # noqa: F403
from ..conv import __all__  # noqa: F401
