"""torch.nn.modules.conv: Conv1d, Conv2d."""

from ..layers import Conv1d, Conv2d

__all__ = ["Conv1d", "Conv2d"]
