"""torch.nn.modules.pooling: re-exported from ``gpubp.nn.pooling``."""

from ..pooling import *  # noqa: F403
from ..pooling import __all__  # noqa: F401
