"""``torch.utils.data.sampler``'s names, from gpubp.data."""

from ...data.sampler import *  # noqa: F403
from ...data.sampler import __all__  # noqa: F401
