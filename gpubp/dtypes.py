"""dtypes (NumPy's, shared with CuPy) and PyTorch's promotion rules.

PyTorch promotes by category (bool < integer < floating): an int64 tensor times a float32
tensor is float32, and a Python float never turns float32 into float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

DEFAULT_FLOAT = float32
SUPPORTED = (float16, float32, float64, int8, int16, int32, int64, uint8, bool_)
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def to_dtype(dtype: Any) -> np.dtype:
    """Normalize a dtype given as a NumPy dtype, a type or a name; reject unsupported ones."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; expected one of {[str(d) for d in SUPPORTED]}") from None
    if dt not in SUPPORTED:
        raise TypeError(f"dtype {dt} is not supported; expected one of {[str(d) for d in SUPPORTED]}")
    return dt


# PyTorch's legacy tensor type names, as ``Tensor.type()`` gives and takes them
_TYPE_NAMES = {
    float32: "FloatTensor", float64: "DoubleTensor", float16: "HalfTensor", int64: "LongTensor", int32: "IntTensor",
    int16: "ShortTensor", int8: "CharTensor", uint8: "ByteTensor", bool_: "BoolTensor",
}  # fmt: skip
_BY_TYPE_NAME = {v: k for k, v in _TYPE_NAMES.items()}


def tensor_type_name(dtype: np.dtype) -> str:
    """``'FloatTensor'`` for float32, and so on."""
    return _TYPE_NAMES[dtype]


def from_tensor_type_name(name: str) -> tuple[np.dtype, bool]:
    """(dtype, on CUDA) for a name such as ``'torch.FloatTensor'`` or ``'torch.cuda.LongTensor'``."""
    head, _, tail = name.rpartition(".")
    if head not in ("torch", "torch.cuda", "gpubp", "gpubp.cuda") or tail not in _BY_TYPE_NAME:
        raise ValueError(f"type: invalid type '{name}': expected a name such as 'torch.FloatTensor' or a dtype")
    return _BY_TYPE_NAME[tail], head.endswith("cuda")


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """The result dtype of a binary op between tensors of dtypes ``a`` and ``b``."""
    if a == b:
        return a
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def scalar_dtype(tensor_dtype: np.dtype, scalar: Any) -> np.dtype:
    """The result dtype of a tensor of ``tensor_dtype`` combined with a Python scalar."""
    if isinstance(scalar, bool):
        return tensor_dtype
    if isinstance(scalar, int):
        return int64 if tensor_dtype.kind == "b" else tensor_dtype
    return tensor_dtype if tensor_dtype.kind == "f" else DEFAULT_FLOAT
