"""torch.nn.modules.dropout: re-exported from ``gpubp.nn.dropout``."""

from ..dropout import *  # noqa: F403
from ..dropout import __all__  # noqa: F401
