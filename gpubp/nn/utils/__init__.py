"""``torch.nn.utils``: gradient clipping, parameter vectors, weight and spectral norm, parametrizations and (as
``rnn``) packed sequences. Each family has its own file with an ``__all__``, gathered here."""

from . import clip_grad, convert_parameters, fusion, parametrizations, parametrize, rnn
from . import init as _init
from . import spectral_norm as _spectral_norm  # the names spectral_norm, weight_norm become the functions, as PyTorch
from . import weight_norm as _weight_norm
from .clip_grad import *  # noqa: F403
from .convert_parameters import *  # noqa: F403
from .fusion import *  # noqa: F403
from .init import *  # noqa: F403
from .spectral_norm import *  # noqa: F403
from .weight_norm import *  # noqa: F403

__all__ = (
    ["parametrizations", "parametrize", "rnn"]
    + clip_grad.__all__
    + convert_parameters.__all__
    + fusion.__all__
    + _init.__all__
    + _spectral_norm.__all__
    + _weight_norm.__all__
)
