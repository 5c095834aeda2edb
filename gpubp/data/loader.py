"""The data-loading names gpubp has always had here, re-exported from their homes (dataset, collate, dataloader)."""

from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import Dataset, TensorDataset

__all__ = ["DataLoader", "Dataset", "TensorDataset", "default_collate", "default_convert"]
