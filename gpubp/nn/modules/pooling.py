"""torch.nn.modules.pooling: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d."""

from ..layers import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "MaxPool2d"]
