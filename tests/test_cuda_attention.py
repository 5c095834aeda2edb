"""The CUDA backend's attention primitives (kernels/attention.cu through gpubp/backend/cupy_attention.py) against the
float64 dense formula and, where it exists, NumpyBackend's reference: float32/float64/float16, head sizes below each
instantiation's bound, non-contiguous inputs, broadcast biases, grouped key/value batches, causal masks, dropout from
a device seed, rows that see no key, and the fallback above head size 128. Skipped without a CUDA device (runs on the
emulated one under GPUBP_EMULATE_CUDA=1)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from conftest import rng_for
from test_emulated_attention import dense

import gpubp
from gpubp.backend import get_backend
from gpubp.backend.numpy_backend import NumpyBackend

pytestmark = pytest.mark.skipif(not gpubp.cuda_available(), reason="needs CuPy and a CUDA GPU (or the emulated one)")

REF = NumpyBackend()
HAS_REF = hasattr(REF, "attention_forward")  # gpubp/backend/attention_reference.py (helper A's), when present
TOL = {"float16": 1e-2, "float32": 3e-5, "float64": 1e-11}
ACC = {"float16": np.float32, "float32": np.float32, "float64": np.float64}

# (B, group, L, S, E, Ev, causal, bias shape or None, dropout p, transposed q)
CASES = [
    (2, 1, 19, 40, 16, 16, False, None, 0.0, False),
    (4, 2, 33, 33, 64, 48, True, (1, 33, 33), 0.0, True),
    (2, 2, 40, 17, 100, 128, False, (2, 1, 17), 0.3, False),
    (3, 1, 9, 70, 8, 30, True, (3, 9, 1), 0.1, True),
]


@pytest.fixture(scope="module")
def gpu():  # noqa: ANN201
    # the default device when it is a GPU (cuda:1 under GPUBP_EMULATE_CUDA=2 GPUBP_DEVICE=cuda:1: launches must enter
    # their arrays' device), else the current one
    device = os.environ.get("GPUBP_DEVICE", "cuda")
    return get_backend(device if device.startswith("cuda") else "cuda")


def _close(got, want: np.ndarray, dtype: str, what: str) -> None:  # noqa: ANN001
    got = np.asarray(got.get() if hasattr(got, "get") else got, dtype=np.float64)
    np.testing.assert_allclose(got, want.astype(np.float64), rtol=TOL[dtype], atol=TOL[dtype], err_msg=what)


def _inputs(case: tuple, dtype: str):  # noqa: ANN202
    B, group, L, S, E, Ev, causal, bias_shape, p, transposed = case
    rng = rng_for("cuda-attention", case, dtype)
    q = rng.standard_normal((B, L, E)).astype(dtype)
    k = rng.standard_normal((B // group, S, E)).astype(dtype)
    v = rng.standard_normal((B // group, S, Ev)).astype(dtype)
    g = rng.standard_normal((B, L, Ev)).astype(dtype)
    bias = None
    if bias_shape is not None:
        bias = rng.standard_normal(bias_shape).astype(ACC[dtype])
        if bias_shape[1] > 3:
            bias[:, 3, :] = -np.inf  # query row 3 sees no key
    return q, k, v, g, bias


def _device(gpu, a: np.ndarray | None, transposed: bool = False):  # noqa: ANN001, ANN202
    if a is None:
        return None
    if transposed:  # the same values through a non-contiguous view
        return gpu.asarray(np.ascontiguousarray(a.transpose(1, 0, 2))).transpose(1, 0, 2)
    return gpu.asarray(a)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("case", CASES)
def test_attention_primitives_match_the_formula(gpu, case: tuple, dtype: str) -> None:  # noqa: ANN001
    B, group, L, S, E, Ev, causal, bias_shape, p, transposed = case
    q, k, v, g, bias = _inputs(case, dtype)
    seed_value = 0x0123_4567_89AB_CDEF
    seed = gpu.asarray(np.array([seed_value], dtype=np.uint64)) if p else None
    scale = 0.7 / np.sqrt(E)
    out_ref, lse_ref, _, dq_ref, dk_ref, dv_ref = dense(q, k, v, bias, causal, scale, p, seed_value, group, g)
    dq_, dk_, dv_ = (_device(gpu, a, transposed) for a in (q, k, v))
    db = None
    if bias is not None:  # non-contiguous (transposed), or broadcast to the full score shape with stride-0 axes
        full = np.broadcast_to(bias, (B, L, S))
        with gpu.enter():  # raw-array work outside the backend's methods runs on its device
            db = gpu.asarray(np.ascontiguousarray(bias.transpose(0, 2, 1))).transpose(0, 2, 1)
            db = db if transposed else gpu.xp.broadcast_to(gpu.asarray(bias), full.shape)
    before = sum(gpu.fallbacks.values())
    out, lse = gpu.attention_forward(dq_, dk_, dv_, db, causal, scale, p, seed, group)
    assert out.dtype == np.dtype(dtype) and out.shape == (B, L, Ev)
    assert lse.dtype == ACC[dtype] and lse.shape == (B, L)
    what = f"{case} {dtype}"
    _close(out, out_ref, dtype, what + " out")
    np.testing.assert_allclose(lse.get(), lse_ref, rtol=TOL[dtype], atol=TOL[dtype], err_msg=what + " lse")
    grads = gpu.attention_backward(_device(gpu, g), dq_, dk_, dv_, out, lse, db, causal, scale, p, seed, group)
    for got, want, name in zip(grads, (dq_ref, dk_ref, dv_ref), ("dq", "dk", "dv")):
        assert got.dtype == np.dtype(dtype)
        _close(got, want, dtype, f"{what} {name}")
    assert sum(gpu.fallbacks.values()) == before, "the kernels took these inputs: no fallback"
    if HAS_REF:  # the NumPy backend's reference gives the same results (same dropout mask)
        ref_seed = np.array([seed_value], dtype=np.uint64) if p else None
        r_out, r_lse = REF.attention_forward(q, k, v, bias, causal, scale, p, ref_seed, group)
        _close(out, np.asarray(r_out, dtype=np.float64), dtype, what + " out vs NumpyBackend")
        r_grads = REF.attention_backward(g, q, k, v, r_out, r_lse, bias, causal, scale, p, ref_seed, group)
        for got, want in zip(grads, r_grads):
            _close(got, np.asarray(want, dtype=np.float64), dtype, what + " grad vs NumpyBackend")


def test_no_keys_gives_zero_rows(gpu) -> None:  # noqa: ANN001
    rng = rng_for("cuda-attention-empty")
    q = gpu.asarray(rng.standard_normal((2, 5, 8)).astype(np.float32))
    k = gpu.asarray(np.zeros((2, 0, 8), dtype=np.float32))
    v = gpu.asarray(np.zeros((2, 0, 4), dtype=np.float32))
    out, lse = gpu.attention_forward(q, k, v, None, False, 0.5, 0.0, None, 1)
    assert (out.get() == 0).all() and np.isneginf(lse.get()).all()
    g = gpu.asarray(rng.standard_normal((2, 5, 4)).astype(np.float32))
    dq, dk, dv = gpu.attention_backward(g, q, k, v, out, lse, None, False, 0.5, 0.0, None, 1)
    assert (dq.get() == 0).all() and dk.shape == (2, 0, 8) and dv.shape == (2, 0, 4)


@pytest.mark.skipif(not HAS_REF, reason="NumpyBackend's attention reference has not landed")
def test_head_size_above_128_takes_the_reference(gpu) -> None:  # noqa: ANN001
    rng = rng_for("cuda-attention-wide")
    q, k, v = (rng.standard_normal((1, 6, 130)).astype(np.float32) for _ in range(3))
    before = sum(gpu.fallbacks.values())
    with warnings.catch_warnings():  # the fallback warns once per process; the counter is what is checked
        warnings.simplefilter("ignore")
        out, _ = gpu.attention_forward(gpu.asarray(q), gpu.asarray(k), gpu.asarray(v), None, False, 0.1, 0.0, None, 1)
    assert sum(gpu.fallbacks.values()) == before + 1
    _close(out, dense(q, k, v, None, False, 0.1, 0.0, 0, 1, np.zeros((1, 6, 130)))[0], "float32", "wide head")
