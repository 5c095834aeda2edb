"""torch.nn.modules.padding: re-exported from ``gpubp.nn.padding``."""

from ..padding import *  # noqa: F403
from ..padding import __all__  # noqa: F401
