"""Recurrent training-step benchmarks against PyTorch: a GRU step (batch 32, 20 steps, 32 -> 128, linear to 10 on
the last state, Adam; the LSTM's twin is in test_train_bench.py) and a bidirectional 2-layer LSTM on a packed batch
of mixed lengths; on the CPU, and on the GPU against PyTorch CUDA (skipped without one).

    pytest benchmarks/test_bench_recurrent.py --benchmark-enable

On one thread, as the issue measured: ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1`` (and
torch.set_num_threads(1), which this file does when GPUBP_BENCH_THREADS=1).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable

import numpy as np
import pytest

import gpubp
import gpubp.nn as nn
from gpubp import optim

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
needs_gpu = pytest.mark.skipif(not gpubp.cuda_available(), reason="needs CuPy and a CUDA GPU")
needs_torch_cuda = pytest.mark.skipif(
    torch is None or not torch.cuda.is_available(), reason="needs PyTorch with a CUDA GPU"
)
SMALL = os.environ.get("GPUBP_BENCH_SMALL", "0") not in ("", "0")
if torch is not None and os.environ.get("GPUBP_BENCH_THREADS") == "1":
    torch.set_num_threads(1)
gc.freeze()  # see test_cpu_bench.py: torch's import-time objects would otherwise slow every full GC

_LENGTHS = [20, 17, 20, 9, 14, 20, 3, 11] * 4  # 32 sequences, packed unsorted


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((32, 20, 32), dtype=np.float32), rng.integers(0, 10, 32)


def _gpubp_step(kind: str, device: str) -> Callable[[], None]:
    x, y = _data()
    gpubp.manual_seed(0)
    if kind == "gru":
        rnn = nn.GRU(32, 128, batch_first=True).to(device)
    else:
        rnn = nn.LSTM(32, 64, num_layers=2, bidirectional=True, batch_first=True).to(device)
    head = nn.Linear(128, 10).to(device)
    opt = optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-3)
    gx, gy = gpubp.tensor(x, device=device), gpubp.tensor(y, device=device)

    def step() -> None:
        if kind == "gru":
            _, h = rnn(gx)
            feat = h[0]
        else:
            packed = nn.utils.rnn.pack_padded_sequence(gx, _LENGTHS, batch_first=True, enforce_sorted=False)
            _, (h, _) = rnn(packed)
            feat = gpubp.cat([h[-2], h[-1]], 1)
        loss = nn.functional.cross_entropy(head(feat), gy)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _torch_step(kind: str, device: str) -> Callable[[], None]:
    x, y = _data()
    dev = torch.device(device)
    if kind == "gru":
        rnn = torch.nn.GRU(32, 128, batch_first=True).to(dev)
    else:
        rnn = torch.nn.LSTM(32, 64, num_layers=2, bidirectional=True, batch_first=True).to(dev)
    head = torch.nn.Linear(128, 10).to(dev)
    opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-3)
    tx, ty = torch.tensor(x, device=dev), torch.tensor(y, device=dev)

    def step() -> None:
        if kind == "gru":
            _, h = rnn(tx)
            feat = h[0]
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(tx, _LENGTHS, batch_first=True, enforce_sorted=False)
            _, (h, _) = rnn(packed)
            feat = torch.cat([h[-2], h[-1]], 1)
        loss = torch.nn.functional.cross_entropy(head(feat), ty)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


@pytest.mark.benchmark(group="gru-step-cpu")
def test_gru_step_gpubp(benchmark) -> None:  # noqa: ANN001
    benchmark(_gpubp_step("gru", "cpu"))


@needs_torch
@pytest.mark.benchmark(group="gru-step-cpu")
def test_gru_step_torch(benchmark) -> None:  # noqa: ANN001
    benchmark(_torch_step("gru", "cpu"))


@pytest.mark.benchmark(group="packed-bilstm-step-cpu")
def test_packed_bilstm_step_gpubp(benchmark) -> None:  # noqa: ANN001
    benchmark(_gpubp_step("bilstm", "cpu"))


@needs_torch
@pytest.mark.benchmark(group="packed-bilstm-step-cpu")
def test_packed_bilstm_step_torch(benchmark) -> None:  # noqa: ANN001
    benchmark(_torch_step("bilstm", "cpu"))


# ---- the same on the GPU, against PyTorch CUDA ----------------------------------------------------


def _synced(step: Callable[[], None], sync: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        step()
        sync()

    return run


def _gpu_sync() -> None:
    from gpubp.backend import get_backend

    get_backend("cuda").xp.cuda.get_current_stream().synchronize()  # CuPy, or its stand-in


def _bench_gpu(benchmark, run: Callable[[], None]) -> None:  # noqa: ANN001
    if SMALL:
        benchmark.pedantic(run, rounds=2, warmup_rounds=1)
    else:
        benchmark(run)


@needs_gpu
@pytest.mark.parametrize("kind", ["gru", "bilstm"])
@pytest.mark.benchmark(group="recurrent-step-gpu")
def test_recurrent_step_gpubp_cuda(benchmark, kind: str) -> None:  # noqa: ANN001
    _bench_gpu(benchmark, _synced(_gpubp_step(kind, "cuda"), _gpu_sync))


@needs_torch_cuda
@pytest.mark.parametrize("kind", ["gru", "bilstm"])
@pytest.mark.benchmark(group="recurrent-step-gpu")
def test_recurrent_step_torch_cuda(benchmark, kind: str) -> None:  # noqa: ANN001
    _bench_gpu(benchmark, _synced(_torch_step(kind, "cuda"), torch.cuda.synchronize))
