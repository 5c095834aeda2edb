"""The CUDA kernel sources in ``kernels/``: where they are, which instantiations each one has,
and the source text CuPy compiles. Pure Python (no CuPy): CI uses it to compile every
instantiation with nvcc on a machine without a GPU."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

# Options the CUDA backend hands to CuPy's RawModule (CuPy adds its own: -arch for the device, -ftz=true,
# --device-as-default-execution-space and its include paths)
OPTIONS = ("-std=c++17",)

# C++ type for each array dtype the kernels are instantiated for
CTYPES = {"float32": "float", "float64": "double", "float16": "half_t"}

# Activation ids: the ``Activation`` enum of kernels/activations.cuh
ACTIVATION_IDS = {
    "relu": 0,
    "leaky_relu": 1,
    "elu": 2,
    "sigmoid": 3,
    "tanh": 4,
    "softplus": 5,
    "gelu": 6,
    "gelu_tanh": 7,
    "silu": 8,
}

# TensorTable of kernels/common.cuh: how many arrays of how many tensors one launch takes
MT_LISTS = 5
MT_MAX = 64


# The fused optimizer steps of kernels/optim.cu, one ``<name>_multi`` kernel each
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam", "asgd", "rprop")


# kernels/attention.cu: the head sizes each kernel is compiled for (a head of size E <= D runs in the D instantiation)
ATTENTION_HEAD_DIMS = (32, 64, 128)


def _family(file: str, names: list[str]) -> tuple[str, tuple[str, ...]]:
    return file, tuple(names)


_T = list(CTYPES.values())
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "activations": _family(
        "activations.cu",
        [f"act_{d}<{t}, {k}>" for d in ("forward", "backward") for t in _T for k in ACTIVATION_IDS.values()],
    ),
    "softmax": _family(
        "softmax.cu",
        [f"softmax_{d}<{t}, {b}>" for d in ("forward", "backward") for t in _T for b in ("false", "true")]
        + [f"cross_entropy_{d}<{t}>" for d in ("forward", "backward", "reduce") for t in _T],
    ),
    "reduce": _family("reduce.cu", [f"{k}<{t}>" for k in ("sq_norm_multi", "channel_moments") for t in _T]),
    "optim": _family("optim.cu", [f"{k}_multi<{t}>" for k in OPTIMIZERS for t in _T]),
    "attention": _family(
        "attention.cu",
        [
            f"attention_{k}<{t}, {d}>"
            for k in ("forward", "backward_dq", "backward_dkv")
            for t in _T
            for d in ATTENTION_HEAD_DIMS
        ]
        + [f"attention_delta<{t}>" for t in _T],
    ),
    "norm": _family(
        "norm.cu",
        [
            f"row_norm_{k}<{t}, {r}>"
            for k in ("forward", "backward", "param_grads")
            for t in _T
            for r in ("false", "true")
        ],
    ),
}


def ctype_of(name: str) -> str:
    """The element type an instantiation is for: ``"act_forward<float, 0>"`` -> ``"float"``."""
    return name[name.index("<") + 1 :].split(",")[0].strip(" >")


def instantiations(family: str, ctype: str) -> tuple[str, ...]:
    """The name expressions of ``family`` for element type ``ctype``: what one compiled module holds. One module per
    (family, dtype) means a float32 model compiles a third of a family on a cold cache, not all of it."""
    return tuple(n for n in FAMILIES[family][1] if ctype_of(n) == ctype)


def kernel_dir() -> Path:
    """The folder holding the .cu/.cuh sources: gpubp/_kernels in an installed wheel,
    the repository's kernels/ when running from a checkout."""
    installed = Path(__file__).resolve().parents[1] / "_kernels"
    if (installed / "common.cuh").is_file():
        return installed
    checkout = Path(__file__).resolve().parents[2] / "kernels"
    if (checkout / "common.cuh").is_file():
        return checkout
    raise FileNotFoundError(f"gpubp: CUDA kernel sources not found in {installed} or {checkout}")


_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.MULTILINE)


@cache
def source(family: str) -> str:
    """The family's source with its local ``#include "..."`` headers pasted in (once each).

    CuPy's on-disk kernel cache is keyed by the source text it is given, which would not
    change when only an included header changes; inlining makes every edit a new key.
    """
    folder = kernel_dir()
    seen: set[str] = set()

    def expand(name: str) -> str:
        if name in seen:
            return ""
        seen.add(name)
        text = (folder / name).read_text()
        text = text.replace("#pragma once", "")
        return _INCLUDE.sub(lambda m: expand(m.group(1)), text)

    return f"// gpubp kernel family '{family}'\n" + expand(FAMILIES[family][0])
