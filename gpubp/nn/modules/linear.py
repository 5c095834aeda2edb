"""torch.nn.modules.linear: Linear, Identity."""

from ..layers import Identity, Linear

__all__ = ["Identity", "Linear"]
