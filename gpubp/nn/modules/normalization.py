"""torch.nn.modules.normalization: re-exported from ``gpubp.nn.normalization``."""

from ..normalization import *  # noqa: F403
from ..normalization import __all__  # noqa: F401
