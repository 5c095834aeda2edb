"""Shared fixtures: every test runs on each backend present (NumPy always, CuPy with a GPU)."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import gpubp
from gpubp.testing import gradcheck

try:
    import torch

    torch.set_default_dtype(torch.float32)
except ImportError:  # the comparisons against PyTorch skip without it
    torch = None

DEVICES = ["cpu"] + (["cuda"] if gpubp.cuda_available() else [])
EMULATED = gpubp.backend.emulated()  # GPUBP_EMULATE_CUDA: the CUDA backend over the CPU stand-in of CuPy

if EMULATED:
    from gpubp.backend.emulation import cupy_standin

    # every kernel launch runs twice, the second time with warps and lanes in reverse order: a difference is a race
    cupy_standin.set_race_check(os.environ.get("GPUBP_EMULATE_RACE_CHECK", "1") != "0")


@pytest.fixture(params=DEVICES)
def device(request: Any) -> str:
    return request.param


def rng_for(*key: Any) -> np.random.Generator:
    """A generator seeded from the test's own key: fresh values per case, reproducible runs."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make_input(rng: np.random.Generator, shape: tuple, kind: str) -> np.ndarray:
    """Random float64 data: 'any' (normal), 'pos' (in [0.5, 2]), 'unit' (in (-0.9, 0.9)), 'away' (|x| >= 0.3)."""
    if kind == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "unit":
        return rng.uniform(-0.9, 0.9, shape)
    if kind == "away":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)
    return rng.standard_normal(shape)


def _leaf(arr: np.ndarray, device: str, noncontig: bool) -> tuple[gpubp.Tensor, gpubp.Tensor]:
    """(leaf, input): with ``noncontig`` the input is a permuted view of a leaf with reversed dims."""
    if noncontig and arr.ndim >= 2:
        leaf = gpubp.tensor(np.ascontiguousarray(arr.transpose()), device=device, requires_grad=True)
        return leaf, leaf.permute(*range(arr.ndim - 1, -1, -1))
    leaf = gpubp.tensor(arr, device=device, requires_grad=True)
    return leaf, leaf


def _as_list(out: Any) -> list:
    if isinstance(out, (tuple, list)):
        return [
            o
            for o in out
            if getattr(o, "dtype", None) is not None and str(o.dtype).startswith(("float", "torch.float"))
        ]
    return [out]


def check_op(
    device: str,
    gp_fn: Callable,
    torch_fn: Callable | None,
    shapes: Sequence[tuple],
    kinds: Sequence[str] | str = "any",
    key: Any = None,
    noncontig: bool = False,
    eps: float = 1e-6,
) -> None:
    """Check one op on fresh random inputs: float64 gradcheck, then forward and backward
    against PyTorch (float64 tight, float32 loose) when PyTorch is installed."""
    kinds = [kinds] * len(shapes) if isinstance(kinds, str) else list(kinds)
    rng = rng_for(key, shapes, noncontig)
    arrays = [make_input(rng, s, k) for s, k in zip(shapes, kinds)]

    pairs = [_leaf(a, device, noncontig) for a in arrays]
    leaves = [p[0] for p in pairs]

    def through_views(*ls: gpubp.Tensor) -> Any:
        ins = [inp if leaf is given else given for given, (leaf, inp) in zip(ls, pairs)]
        return gp_fn(*ins)

    gradcheck(through_views, leaves, eps=eps)
    if torch is None or torch_fn is None:
        return
    for dtype, tdtype, tol in ((np.float64, torch.float64, 1e-9), (np.float32, torch.float32, 2e-4)):
        g_in = [gpubp.tensor(a.astype(dtype), device=device, requires_grad=True) for a in arrays]
        t_in = [torch.tensor(a.astype(dtype), dtype=tdtype, requires_grad=True) for a in arrays]
        g_out = _as_list(gp_fn(*g_in))
        t_out = _as_list(torch_fn(*t_in))
        assert len(g_out) == len(t_out)
        cot = [rng.standard_normal(tuple(o.shape)) for o in t_out]
        for go, to in zip(g_out, t_out):
            assert go.dtype == np.dtype(str(to.dtype).replace("torch.", "")), (go.dtype, to.dtype)
            np.testing.assert_allclose(go.detach().cpu().numpy(), to.detach().cpu().numpy(), rtol=tol, atol=tol)
        gpubp.backward(g_out, [gpubp.tensor(c.astype(dtype), device=device) for c in cot])
        torch.autograd.backward(t_out, [torch.tensor(c, dtype=tdtype) for c in cot])
        for gi, ti in zip(g_in, t_in):
            if ti.grad is None:
                assert gi.grad is None or not np.any(gi.grad.detach().cpu().numpy())
                continue
            assert gi.grad is not None and gi.grad.dtype == dtype
            np.testing.assert_allclose(
                gi.grad.detach().cpu().numpy(), ti.grad.detach().cpu().numpy(), rtol=tol * 10, atol=tol * 10
            )
