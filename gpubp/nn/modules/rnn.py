"""torch.nn.modules.rnn: re-exported from ``gpubp.nn.rnn``."""

from ..rnn import *  # noqa: F403
from ..rnn import __all__  # noqa: F401
