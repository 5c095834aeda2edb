"""torch.nn.modules.activation: re-exported from ``gpubp.nn.activation`` (and MultiheadAttention from
``gpubp.nn.attention``)."""

from .. import activation as _activation
from .. import attention as _attention
from ..activation import *  # noqa: F403
from ..attention import *  # noqa: F403

__all__ = _activation.__all__ + _attention.__all__
