"""``torch.utils.data.dataloader``'s names, from gpubp.data."""

from ...data._worker import get_worker_info
from ...data.collate import default_collate, default_convert
from ...data.dataloader import DataLoader

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]
