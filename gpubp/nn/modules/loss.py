"""torch.nn.modules.loss: re-exported from ``gpubp.nn.loss``."""

from ..loss import *  # noqa: F403
from ..loss import __all__  # noqa: F401
