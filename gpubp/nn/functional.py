"""Functional forms of activations and losses, under PyTorch's ``torch.nn.functional`` names."""

from ..ops import (
    cross_entropy,
    elu,
    gelu,
    leaky_relu,
    linear,
    log_softmax,
    mse_loss,
    pad,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)

__all__ = [
    "cross_entropy", "elu", "gelu", "leaky_relu", "linear", "log_softmax", "mse_loss", "pad", "relu",
    "sigmoid", "silu", "softmax", "softplus", "tanh",
]  # fmt: skip
