"""``torch.utils.data`` under its PyTorch path: a face over gpubp.data, which holds the one implementation (and the
one list of its names)."""

from ...data import *  # noqa: F403 - exactly gpubp.data's public names
from ...data import __all__ as _data_names
from . import dataloader, dataset, sampler

__all__ = [*_data_names, "dataloader", "dataset", "sampler"]
