"""``torch.nn.utils``: gradient clipping, parameter vectors, weight and spectral norm, and (as ``rnn``) packed
sequences. Each family has its own file with an ``__all__``, gathered here."""

from . import clip_grad, convert_parameters, rnn, spectral_norm, weight_norm
from .clip_grad import *  # noqa: F403
from .convert_parameters import *  # noqa: F403
from .spectral_norm import *  # noqa: F403
from .weight_norm import *  # noqa: F403

__all__ = ["rnn"] + clip_grad.__all__ + convert_parameters.__all__ + spectral_norm.__all__ + weight_norm.__all__
