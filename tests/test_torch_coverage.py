"""The meta-test of gpubp's coverage of PyTorch's functions and Tensor methods (docs/torch_coverage.md).

- The coverage table is current for the installed PyTorch (``python tests/torch_coverage.py`` rewrites it).
- Every public gpubp function is classified: an op with a gradient (which ``test_ops_grad.py`` requires a gradient
  case of), an op without one, a factory, one of nn.functional's (``gpubp.NN_FUNCTIONS``, checked against PyTorch in
  ``tests/test_nn_*.py``), or a utility listed here.
- Every function gpubp shares with PyTorch that PyTorch differentiates (probed: called on one float64 tensor that
  requires grad, its float result requires grad) is a differentiable op of gpubp's with a gradient case.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch_coverage
from conftest import torch
from test_ops_grad import CASES

import gpubp
import gpubp.ops

# public gpubp callables that are not tensor ops: configuration, devices, grad mode, files
UTILITIES = {
    "are_deterministic_algorithms_enabled", "backward", "cuda_available", "default_device", "device_count",
    "get_default_device", "get_default_dtype", "get_float32_matmul_precision", "get_num_threads", "grad",
    "is_deterministic_algorithms_warn_only_enabled", "is_floating_point", "is_grad_enabled", "is_tensor", "load",
    "numel", "save", "set_default_device", "set_float32_matmul_precision", "set_num_threads", "set_sync_debug_mode",
    "use_deterministic_algorithms", "manual_seed", "broadcast_shapes", "get_sync_debug_mode",
}  # fmt: skip

# PyTorch records these (their results require grad), but its backward raises NotImplementedError
NO_TORCH_DERIVATIVE = {"unique", "unique_consecutive"}


def _gpubp_functions() -> list[str]:
    return sorted(
        n
        for n in dir(gpubp)
        if not n.startswith("_")
        and callable(getattr(gpubp, n))
        and not isinstance(getattr(gpubp, n), (type, types.ModuleType))
    )


def _op_name(name: str) -> str:
    """The gpubp.ops function behind gpubp.<name> (a family may export an op under another name)."""
    return gpubp.ops.TOP_LEVEL.get(name, name)


def _is_nn_function(name: str) -> bool:
    """gpubp.<name> is nn.functional's (gpubp.NN_FUNCTIONS), checked against PyTorch by tests/test_nn_*.py."""
    return name in gpubp.NN_FUNCTIONS and getattr(gpubp, name) is getattr(gpubp.nn.functional, name)


def _is_factory(name: str) -> bool:
    return getattr(getattr(gpubp, name), "__module__", "") == "gpubp.creation"


def test_every_gpubp_function_is_classified() -> None:
    ops = set(gpubp.ops.DIFFERENTIABLE) | set(gpubp.ops.NON_DIFFERENTIABLE)
    unclassified = [
        n
        for n in _gpubp_functions()
        if _op_name(n) not in ops and n not in UTILITIES and not _is_factory(n) and not _is_nn_function(n)
    ]
    assert not unclassified, f"gpubp functions that are neither ops, factories nor listed utilities: {unclassified}"


def test_functions_torch_differentiates_have_gradient_cases() -> None:
    """A function PyTorch differentiates must be one of gpubp's differentiable ops, with a gradient case."""
    if torch is None:
        pytest.skip("PyTorch is not installed")
    covered = {c[0] for c in CASES}
    x = np.random.default_rng(0).standard_normal((3, 4)) + 2.5  # positive: log, sqrt, ... take it
    wrong = []
    for name in torch_coverage.torch_functions():
        if name not in _gpubp_functions() or name in UTILITIES or name in NO_TORCH_DERIVATIVE:
            continue
        if _is_factory(name) or _is_nn_function(name):
            continue
        t = torch.from_numpy(x.copy()).requires_grad_()
        try:
            out = getattr(torch, name)(t)
        except Exception:  # needs more arguments: not probed
            continue
        outs = out if isinstance(out, (tuple, list)) else (out,)
        if not any(isinstance(o, torch.Tensor) and o.is_floating_point() and o.requires_grad for o in outs):
            continue
        op = _op_name(name)
        if op not in gpubp.ops.DIFFERENTIABLE or op not in covered:
            wrong.append(name)
    assert not wrong, f"PyTorch differentiates these, gpubp has no gradient (or no gradient case) for them: {wrong}"


def test_coverage_table_is_current() -> None:
    if torch is None:
        pytest.skip("PyTorch is not installed")
    text = torch_coverage.DOC.read_text()
    if f"PyTorch {torch.__version__} " not in text:
        pytest.skip(f"the table was measured against another PyTorch than the installed {torch.__version__}")
    assert text == torch_coverage.render() + "\n", "docs/torch_coverage.md is stale: run python tests/torch_coverage.py"


def test_readme_states_the_coverage() -> None:
    text = torch_coverage.DOC.read_text()
    readme = (torch_coverage.DOC.parent.parent / "README.md").read_text()
    for line in text.splitlines():
        if line.startswith("- `") and "gpubp has **" in line:
            figure = line.split("**")[1]
            name = line.split("`")[1]
            assert (
                f"{figure}** of `{name}`" in readme
                or f"{figure}** of its `{name}`" in readme
                or (name in ("torch.*", "Tensor") and figure in readme)
            ), f"README.md does not state the coverage {figure!r} of `{name}` (docs/torch_coverage.md)"
