"""torch.nn.modules.lazy: re-exported from ``gpubp.nn.lazy``."""

from ..lazy import *  # noqa: F403
from ..lazy import __all__  # noqa: F401
