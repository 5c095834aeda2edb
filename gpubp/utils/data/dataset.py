"""``torch.utils.data.dataset``'s names, from gpubp.data."""

from ...data.dataset import *  # noqa: F403
from ...data.dataset import __all__  # noqa: F401
