"""gpubp: a tensor engine for training neural networks by backpropagation, on CUDA GPUs
(CuPy) or the CPU (NumPy), with a PyTorch-like API."""

from __future__ import annotations

import numpy as _np

from . import accelerator, backends, cuda, data, dtypes, linalg, nn, optim, utils
from .autograd import backward, enable_grad, grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backend import Device, cuda_available, default_device, device_count, get_default_device, set_default_device
from .backends import (
    are_deterministic_algorithms_enabled,
    get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled,
    set_float32_matmul_precision,
    use_deterministic_algorithms,
)
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    empty_strided,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .generator import Generator, default_generator
from .ops import TOP_LEVEL as _TOP_LEVEL
from .ops import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    bitwise_not,
    bmm,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    clone,
    cos,
    cross_entropy,
    div,
    elu,
    eq,
    erf,
    exp,
    expand,
    flatten,
    ge,
    gelu,
    gt,
    le,
    leaky_relu,
    linear,
    log,
    log1p,
    log_softmax,
    logsumexp,
    lt,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mse_loss,
    mul,
    narrow,
    ne,
    neg,
    norm,
    pad,
    permute,
    pow,
    relu,
    reshape,
    rsqrt,
    sigmoid,
    sign,
    silu,
    sin,
    softmax,
    softplus,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    t,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from .serialization import load, save
from .tensor import Tensor, is_tensor, set_sync_debug_mode
from .threads import get_num_threads, set_num_threads

float16 = dtypes.float16
float32 = dtypes.float32
float64 = dtypes.float64
int8 = dtypes.int8
int16 = dtypes.int16
int32 = dtypes.int32
int64 = dtypes.int64
uint8 = dtypes.uint8
bool = dtypes.bool_  # noqa: A001 - PyTorch's name; shadows the builtin only as gpubp.bool
half, float, double, long = float16, float32, float64, int64  # noqa: A001

device = Device  # PyTorch's name: gpubp.device('cuda', 1), with gpubp.device('cuda'): ...
dtype = _np.dtype  # gpubp's dtypes are NumPy's: isinstance(gpubp.float32, gpubp.dtype) holds
finfo = _np.finfo  # .eps, .max, .min, .tiny, .smallest_normal of a floating dtype
iinfo = _np.iinfo


def get_default_dtype() -> dtype:
    """The dtype of new floating-point tensors: float32."""
    return dtypes.DEFAULT_FLOAT


def is_floating_point(input: Tensor) -> bool:
    """True for a float16/32/64 tensor."""
    return input.is_floating_point()


def numel(input: Tensor) -> int:
    """Number of elements of ``input``."""
    return input.numel()


def _export_families() -> None:
    """The op families' functions as ``gpubp.<name>`` (``gpubp.ops.TOP_LEVEL`` says which)."""
    from . import ops

    for name, fn_name in _TOP_LEVEL.items():
        globals()[name] = getattr(ops, fn_name)


_export_families()

# torch.* twins of nn.functional's functions, where PyTorch's top-level function takes the same arguments (not, for
# example, torch.embedding(weight, indices) or the losses whose torch.* forms take an integer reduction)
NN_FUNCTIONS = (
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "avg_pool1d", "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle",
    "cosine_similarity", "pairwise_distance", "pdist",
    "prelu", "selu", "selu_", "celu", "celu_", "rrelu", "rrelu_", "threshold", "threshold_", "hardshrink", "relu_",
    "group_norm", "layer_norm", "rms_norm",
)  # fmt: skip
globals().update({_name: getattr(nn.functional, _name) for _name in NN_FUNCTIONS})

from . import special  # noqa: E402 - torch.special's names, over the ops exported above

__version__ = "0.1.0"
