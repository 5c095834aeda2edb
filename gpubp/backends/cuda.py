"""``gpubp.backends.cuda``: PyTorch's CUDA math switches. gpubp accepts, checks and reads back each one; none changes
what gpubp computes: CuPy's matmul runs in full float32 (no TF32) and float16 sums accumulate in float32 whatever
the flags say, and gpubp has no separate flash / memory-efficient attention kernels to switch."""

from __future__ import annotations

import importlib.util
from typing import Any

from ..errors import InputTypeError

__all__ = [
    "cudnn_sdp_enabled", "enable_cudnn_sdp", "enable_flash_sdp", "enable_math_sdp", "enable_mem_efficient_sdp",
    "flash_sdp_enabled", "is_built", "math_sdp_enabled", "matmul", "mem_efficient_sdp_enabled",
]  # fmt: skip

# torch.set_float32_matmul_precision and matmul.allow_tf32 are two faces of one setting, as in PyTorch
PRECISION = {"float32_matmul": "highest"}


class _Matmul:
    """``gpubp.backends.cuda.matmul``: cuBLAS's switches (``allow_tf32``, ``allow_fp16_reduced_precision_reduction``,
    ``allow_bf16_reduced_precision_reduction``); unknown names raise AttributeError, as PyTorch's."""

    _reductions = {"allow_fp16_reduced_precision_reduction": True, "allow_bf16_reduced_precision_reduction": True}

    def __getattr__(self, name: str) -> Any:
        if name == "allow_tf32":
            return PRECISION["float32_matmul"] != "highest"
        if name in self._reductions:
            return self._reductions[name]
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "allow_tf32":
            if not isinstance(value, bool):
                raise InputTypeError(f"set_allow_tf32_cublas expects a bool, but got {type(value).__name__}")
            PRECISION["float32_matmul"] = "high" if value else "highest"
        elif name in self._reductions:
            if not isinstance(value, (bool, tuple, list)) or (
                not isinstance(value, bool) and not all(isinstance(v, bool) for v in value)
            ):
                raise TypeError(f"{name} expects a bool or a tuple/list of bools, but got {type(value)}")
            self._reductions[name] = value if isinstance(value, bool) else value[0]
        else:
            raise AttributeError(f"Unknown attribute {name}")


matmul = _Matmul()

_state = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def is_built() -> bool:
    """True when gpubp can drive CUDA here: CuPy is installed (PyTorch: built with CUDA). A GPU may still be absent."""
    from ..backend import emulated

    return emulated() or importlib.util.find_spec("cupy") is not None


def _enable(kind: str, setter: str, enabled: Any) -> None:
    if not isinstance(enabled, bool):
        raise InputTypeError(f"{setter} expects a bool, but got {type(enabled).__name__}")
    _state[kind] = enabled


def enable_flash_sdp(enabled: bool) -> None:
    """Allow the flash kernel for scaled_dot_product_attention (recorded; gpubp has one attention path)."""
    _enable("flash", "set_sdp_use_flash", enabled)


def enable_mem_efficient_sdp(enabled: bool) -> None:
    """Allow the memory-efficient attention kernel (recorded; gpubp has one attention path)."""
    _enable("mem_efficient", "set_sdp_use_mem_efficient", enabled)


def enable_math_sdp(enabled: bool) -> None:
    """Allow the math attention path (recorded; gpubp has one attention path)."""
    _enable("math", "set_sdp_use_math", enabled)


def enable_cudnn_sdp(enabled: bool) -> None:
    """Allow cuDNN attention (recorded; gpubp does not use cuDNN)."""
    _enable("cudnn", "set_sdp_use_cudnn", enabled)


def flash_sdp_enabled() -> bool:
    """The flag ``enable_flash_sdp`` set (default True)."""
    return _state["flash"]


def mem_efficient_sdp_enabled() -> bool:
    """The flag ``enable_mem_efficient_sdp`` set (default True)."""
    return _state["mem_efficient"]


def math_sdp_enabled() -> bool:
    """The flag ``enable_math_sdp`` set (default True)."""
    return _state["math"]


def cudnn_sdp_enabled() -> bool:
    """The flag ``enable_cudnn_sdp`` set (default True)."""
    return _state["cudnn"]
