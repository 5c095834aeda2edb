"""Datasets and data loading."""

from . import datasets
from .loader import DataLoader, Dataset, TensorDataset, default_collate
