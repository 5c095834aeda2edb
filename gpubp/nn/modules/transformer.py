"""torch.nn.modules.transformer: re-exported from ``gpubp.nn.transformer``."""

from ..transformer import *  # noqa: F403
from ..transformer import __all__  # noqa: F401
