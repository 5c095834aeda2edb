"""``gpubp.backends.cudnn``: PyTorch's cuDNN switches. gpubp does not use cuDNN (its convolutions are its own), so
every flag is accepted, checked and read back as set, and changes nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ._flags import flag, make_flag_module, set_flags

__all__ = ["allow_tf32", "benchmark", "benchmark_limit", "deterministic", "enabled", "flags", "is_available", "version"]

_state = {"enabled": True, "benchmark": False, "deterministic": False, "allow_tf32": True}
benchmark_limit: int | None = 10  # cuDNN's algorithm count to try with benchmark=True; no effect in gpubp
enabled: bool
benchmark: bool
deterministic: bool
allow_tf32: bool


def is_available() -> bool:
    """False: gpubp does not use cuDNN."""
    return False


def version() -> int | None:
    """None: gpubp does not use cuDNN (PyTorch's answer where cuDNN is absent)."""
    return None


@contextlib.contextmanager
def flags(
    enabled: bool = False,
    benchmark: bool = False,
    benchmark_limit: int | None = 10,
    deterministic: bool = False,
    allow_tf32: bool = True,
) -> Iterator[None]:
    """Set the cuDNN flags for the block, as PyTorch's ``cudnn.flags`` (no effect in gpubp)."""
    import sys

    module = sys.modules[__name__]
    values = {"enabled": enabled, "benchmark": benchmark, "deterministic": deterministic, "allow_tf32": allow_tf32}
    old_limit = module.benchmark_limit
    module.benchmark_limit = benchmark_limit
    try:
        with set_flags(module, values):
            yield
    finally:
        module.benchmark_limit = old_limit


make_flag_module(
    __name__,
    enabled=flag("enabled", "set_enabled_cudnn", "Use cuDNN (no effect: gpubp does not use it)."),
    benchmark=flag("benchmark", "set_benchmark_cudnn", "Pick cuDNN algorithms by timing (no effect in gpubp)."),
    deterministic=flag("deterministic", "set_deterministic_cudnn", "Deterministic cuDNN algorithms (no effect)."),
    allow_tf32=flag("allow_tf32", "set_allow_tf32_cublas", "TF32 in cuDNN convolutions (no effect in gpubp)."),
)
