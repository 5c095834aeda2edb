"""PyTorch's ``torch.nn.modules`` paths (``gpubp.nn.modules.linear.Linear``...), each a thin re-export."""

from .. import activation as _activation
from .. import attention as _attention
from .. import conv as _conv
from .. import distance as _distance
from .. import dropout as _dropout
from .. import layers as _layers
from .. import lazy as _lazy
from .. import loss as _loss
from .. import normalization as _normalization
from .. import padding as _padding
from .. import pooling as _pooling
from .. import resampling as _resampling
from .. import rnn as _rnn
from .. import transformer as _transformer
from ..activation import *  # noqa: F403
from ..attention import *  # noqa: F403
from ..container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from ..conv import *  # noqa: F403
from ..distance import *  # noqa: F403
from ..dropout import *  # noqa: F403
from ..layers import *  # noqa: F403
from ..lazy import *  # noqa: F403
from ..loss import *  # noqa: F403
from ..module import Module
from ..normalization import *  # noqa: F403
from ..padding import *  # noqa: F403
from ..pooling import *  # noqa: F403
from ..resampling import *  # noqa: F403
from ..rnn import *  # noqa: F403
from ..transformer import *  # noqa: F403
from . import (
    activation,
    batchnorm,
    channelshuffle,
    container,
    conv,
    distance,
    dropout,
    flatten,
    fold,
    instancenorm,
    lazy,
    linear,
    loss,
    module,
    normalization,
    padding,
    pixelshuffle,
    pooling,
    rnn,
    sparse,
    transformer,
    upsampling,
)

__all__ = (
    ["Module", "ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"]
    + _activation.__all__
    + _attention.__all__
    + _conv.__all__
    + _dropout.__all__
    + _layers.__all__
    + _lazy.__all__
    + _loss.__all__
    + _distance.__all__
    + _normalization.__all__
    + _padding.__all__
    + _pooling.__all__
    + _resampling.__all__
    + _rnn.__all__
    + _transformer.__all__
)
