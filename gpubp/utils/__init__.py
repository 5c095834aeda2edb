"""PyTorch's ``torch.utils`` paths: ``gpubp.utils.data`` (gpubp.data under torch's name), ``gpubp.utils.checkpoint``
and ``gpubp.utils.hooks``."""

from . import checkpoint, data, hooks

__all__ = ["checkpoint", "data", "hooks"]
