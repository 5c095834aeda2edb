"""torch.nn.modules.channelshuffle: re-exported from ``gpubp.nn.resampling``."""

from ..resampling import *  # noqa: F403
from ..resampling import __all__  # noqa: F401
