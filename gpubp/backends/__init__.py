"""``gpubp.backends``: PyTorch's ``torch.backends`` switches, and the global determinism and float32-matmul settings.

Programs set these (``gpubp.backends.cudnn.benchmark = True``, ``use_deterministic_algorithms(True)``,
``set_float32_matmul_precision("high")``); gpubp accepts each, checks its value as PyTorch does and reads it back as
set. None changes what gpubp computes yet: there is no cuDNN, TF32 or alternative attention kernel to switch, and
determinism is not enforced (on CUDA, gradient norms and scatter-add gradients add with atomics).
"""

from __future__ import annotations

import warnings

from . import cuda, cudnn, mkldnn, mps, openmp

__all__ = [
    "are_deterministic_algorithms_enabled", "cuda", "cudnn", "get_float32_matmul_precision",
    "is_deterministic_algorithms_warn_only_enabled", "mkldnn", "mps", "openmp", "set_float32_matmul_precision",
    "use_deterministic_algorithms",
]  # fmt: skip

_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record PyTorch's determinism switch. Accepted and read back; gpubp does not yet raise or warn at operations
    that are nondeterministic on CUDA (atomic float sums in gradient norms and scatter-add gradients)."""
    for name, value in (("mode", mode), ("warn_only", warn_only)):
        if not isinstance(value, bool):
            raise TypeError(
                f"use_deterministic_algorithms(): argument '{name}' must be bool, not {type(value).__name__}"
            )
    _deterministic["mode"], _deterministic["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """The ``mode`` last given to ``use_deterministic_algorithms`` (default False)."""
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """The ``warn_only`` last given to ``use_deterministic_algorithms`` (default False)."""
    return _deterministic["warn_only"]


def set_float32_matmul_precision(precision: str) -> None:
    """``'highest'``, ``'high'`` or ``'medium'``, as PyTorch (``'high'`` and ``'medium'`` also set
    ``backends.cuda.matmul.allow_tf32``). Recorded only: gpubp's float32 matmuls always run in full float32."""
    if precision not in ("highest", "high", "medium"):
        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current set_float32_matmul_precision "
            "call has no effect.",
            UserWarning,
            stacklevel=2,
        )
        return
    cuda.PRECISION["float32_matmul"] = precision


def get_float32_matmul_precision() -> str:
    """The precision last set (``'highest'`` unless changed)."""
    return cuda.PRECISION["float32_matmul"]
