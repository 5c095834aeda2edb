"""Optimizers and learning-rate schedules. Each optimizer family has its own file with an ``__all__``, gathered
here; ``lr_scheduler`` and ``swa_utils`` are PyTorch's submodules."""

from . import lr_scheduler, swa_utils
from .lbfgs import *  # noqa: F403
from .optimizer import *  # noqa: F403
from .optimizer_more import *  # noqa: F403
