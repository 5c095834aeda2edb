"""PyTorch's ``torch.utils`` paths: ``gpubp.utils.data`` is gpubp.data under torch's name."""

from . import data

__all__ = ["data"]
