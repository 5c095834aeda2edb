"""Neural-network building blocks: Module, containers, layers, losses, initialization, functional forms.
``gpubp.nn.modules.*`` and ``gpubp.nn.parameter`` mirror PyTorch's import paths. Each family of layers lives in
its own file with an ``__all__`` (``activation``, ``conv``, ``pooling``, ...), gathered here."""

from . import functional, init, modules, parameter, utils
from .activation import *  # noqa: F403
from .attention import *  # noqa: F403
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import *  # noqa: F403
from .distance import *  # noqa: F403
from .dropout import *  # noqa: F403
from .layers import *  # noqa: F403
from .lazy import *  # noqa: F403
from .loss import *  # noqa: F403
from .module import Module
from .normalization import *  # noqa: F403
from .padding import *  # noqa: F403
from .parameter import Buffer, Parameter
from .pooling import *  # noqa: F403
from .resampling import *  # noqa: F403
from .rnn import *  # noqa: F403
from .transformer import *  # noqa: F403
