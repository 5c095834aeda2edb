"""Training-step benchmarks: a CNN step against hand-written NumPy im2col and PyTorch, and an
LSTM step against PyTorch; on the CPU, and on the GPU against PyTorch CUDA (skipped without one).

    pytest benchmarks/test_train_bench.py --benchmark-enable

The GPU cases (``-k cuda``) also run on the emulated device of ``GPUBP_EMULATE_CUDA``; their
PyTorch halves then skip (PyTorch has no CUDA there), and ``GPUBP_BENCH_SMALL=1`` makes each
case two rounds instead of pytest-benchmark's calibrated second.
"""

from __future__ import annotations

import gc
import os
import time

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
gc.freeze()  # see test_cpu_bench.py: torch's import-time objects would otherwise slow every full GC
LR = 0.01


def _cnn_data(seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    w = (rng.standard_normal((32, 1, 3, 3)) / 3).astype(np.float32)
    b = np.zeros(32, np.float32)
    fw = (rng.standard_normal((10, 32 * 13 * 13)) * 0.01).astype(np.float32)
    fb = np.zeros(10, np.float32)
    return x, y, [w, b, fw, fb]


class CNN(nn.Module):
    """conv 3x3 (32) -> ReLU -> 2x2 max-pool -> linear to 10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 32, 3)
        self.fc = nn.Linear(32 * 13 * 13, 10)

    def forward(self, x: gpubp.Tensor) -> gpubp.Tensor:
        return self.fc(nn.functional.max_pool2d(self.conv(x).relu(), 2).flatten(1))


def _gpubp_cnn(device: str) -> tuple:
    x, y, (w, b, fw, fb) = _cnn_data()
    model = CNN()
    model.load_state_dict({"conv.weight": w, "conv.bias": b, "fc.weight": fw, "fc.bias": fb})
    model.to(device)
    opt = optim.SGD(model.parameters(), lr=LR)
    gx, gy = gpubp.tensor(x, device=device), gpubp.tensor(y, device=device)

    def step() -> gpubp.Tensor:
        loss = nn.functional.cross_entropy(model(gx), gy)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step, model


def numpy_cnn_step(x: np.ndarray, y: np.ndarray, params: list[np.ndarray]) -> float:
    """The same step by hand: im2col convolution, ReLU, 2x2 max-pool, linear, softmax cross-entropy, SGD."""
    w, b, fw, fb = params
    n = x.shape[0]
    win = np.lib.stride_tricks.sliding_window_view(x[:, 0], (3, 3), axis=(1, 2))  # (N, 26, 26, 3, 3)
    cols = win.reshape(n * 26 * 26, 9)
    conv = cols @ w.reshape(32, 9).T + b  # (N*26*26, 32)
    relu = np.maximum(conv, 0).reshape(n, 26, 26, 32)
    blocks = relu.reshape(n, 13, 2, 13, 2, 32)
    pooled = blocks.max(axis=(2, 4))  # (N, 13, 13, 32)
    flat = pooled.transpose(0, 3, 1, 2).reshape(n, -1)
    logits = flat @ fw.T + fb
    logits -= logits.max(1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean()
    p[np.arange(n), y] -= 1
    p /= n
    gfw, gfb = p.T @ flat, p.sum(0)
    gflat = (p @ fw).reshape(n, 32, 13, 13).transpose(0, 2, 3, 1)  # (N, 13, 13, 32)
    mask = blocks == pooled[:, :, None, :, None, :]  # where each window's max sits
    grelu = (mask * gflat[:, :, None, :, None, :]).reshape(n, 26, 26, 32)
    gconv = (grelu * (relu > 0)).reshape(-1, 32)
    gw, gb = (gconv.T @ cols).reshape(32, 1, 3, 3), gconv.sum(0)
    for prm, g in zip(params, (gw, gb, gfw, gfb)):
        prm -= LR * g
    return loss


def _torch_cnn(device: str) -> tuple:
    x, y, (w, b, fw, fb) = _cnn_data()
    dev = torch.device(device)
    conv = torch.nn.Conv2d(1, 32, 3).to(dev)
    fc = torch.nn.Linear(32 * 13 * 13, 10).to(dev)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(w))
        conv.bias.copy_(torch.tensor(b))
        fc.weight.copy_(torch.tensor(fw))
        fc.bias.copy_(torch.tensor(fb))
    params = [*conv.parameters(), *fc.parameters()]
    opt = torch.optim.SGD(params, lr=LR)
    tx, ty = torch.tensor(x, device=dev), torch.tensor(y, device=dev)
    F = torch.nn.functional

    def step():  # noqa: ANN202
        loss = F.cross_entropy(fc(F.max_pool2d(F.relu(conv(tx)), 2).flatten(1)), ty)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


@pytest.mark.benchmark(group="cnn-step-cpu")
def test_cnn_step_gpubp(benchmark) -> None:  # noqa: ANN001
    step, _ = _gpubp_cnn("cpu")
    benchmark(step)


@pytest.mark.benchmark(group="cnn-step-cpu")
def test_cnn_step_numpy(benchmark) -> None:  # noqa: ANN001
    x, y, params = _cnn_data()
    benchmark(numpy_cnn_step, x, y, params)


@needs_torch
@pytest.mark.benchmark(group="cnn-step-cpu")
def test_cnn_step_torch(benchmark) -> None:  # noqa: ANN001
    benchmark(_torch_cnn("cpu"))


@pytest.mark.benchmark(group="cnn-step-cpu-interleaved")
def test_cnn_step_interleaved_ratio(benchmark) -> None:  # noqa: ANN001
    """gpubp and hand NumPy alternating; the ratio of medians lands in extra_info."""
    step, _ = _gpubp_cnn("cpu")
    x, y, params = _cnn_data()
    ours, theirs = [], []

    def pair() -> None:
        t0 = time.perf_counter()
        step()
        t1 = time.perf_counter()
        numpy_cnn_step(x, y, params)
        ours.append(t1 - t0)
        theirs.append(time.perf_counter() - t1)

    benchmark.pedantic(pair, rounds=30 if benchmark.enabled else 1, warmup_rounds=2 if benchmark.enabled else 0)
    benchmark.extra_info.update(
        gpubp_ms=float(np.median(ours) * 1e3),
        numpy_ms=float(np.median(theirs) * 1e3),
        gpubp_over_numpy=float(np.median(ours) / np.median(theirs)),
    )


def test_cnn_steps_agree() -> None:
    """The benchmarked gpubp and hand-NumPy steps compute the same loss and the same update."""
    step, model = _gpubp_cnn("cpu")
    x, y, params = _cnn_data()
    loss = step().item()
    ref = numpy_cnn_step(x, y, params)
    assert abs(loss - ref) < 1e-4
    ours = [model.conv.weight, model.conv.bias, model.fc.weight, model.fc.bias]
    for a, b in zip(ours, params):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-3, atol=1e-5)


# ---- LSTM: batch 32, 20 steps, 32 -> 128 hidden, linear to 10 on the last step ----------------


def _lstm_data() -> tuple:
    rng = np.random.default_rng(0)
    return rng.standard_normal((32, 20, 32), dtype=np.float32), rng.integers(0, 10, 32)


def _gpubp_lstm(device: str):  # noqa: ANN202
    x, y = _lstm_data()
    gpubp.manual_seed(0)
    lstm, head = nn.LSTM(32, 128, batch_first=True).to(device), nn.Linear(128, 10).to(device)
    opt = optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-3)
    gx, gy = gpubp.tensor(x, device=device), gpubp.tensor(y, device=device)

    def step() -> None:
        _, (h, _) = lstm(gx)
        loss = nn.functional.cross_entropy(head(h[0]), gy)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _torch_lstm(device: str):  # noqa: ANN202
    x, y = _lstm_data()
    dev = torch.device(device)
    lstm, head = torch.nn.LSTM(32, 128, batch_first=True).to(dev), torch.nn.Linear(128, 10).to(dev)
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-3)
    tx, ty = torch.tensor(x, device=dev), torch.tensor(y, device=dev)

    def step() -> None:
        _, (h, _) = lstm(tx)
        loss = torch.nn.functional.cross_entropy(head(h[0]), ty)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


@pytest.mark.benchmark(group="lstm-step-cpu")
def test_lstm_step_gpubp(benchmark) -> None:  # noqa: ANN001
    benchmark(_gpubp_lstm("cpu"))


@needs_torch
@pytest.mark.benchmark(group="lstm-step-cpu")
def test_lstm_step_torch(benchmark) -> None:  # noqa: ANN001
    benchmark(_torch_lstm("cpu"))


# ---- the same on the GPU, against PyTorch CUDA ----------------------------------------------------


def _synced(step, sync):  # noqa: ANN001, ANN202
    def run() -> None:
        step()
        sync()

    return run


def _gpu_sync() -> None:
    from gpubp.backend import get_backend

    get_backend("cuda").xp.cuda.get_current_stream().synchronize()  # CuPy, or its stand-in


def _bench_gpu(benchmark, run) -> None:  # noqa: ANN001
    if SMALL:
        benchmark.pedantic(run, rounds=2, warmup_rounds=1)
    else:
        benchmark(run)


@needs_gpu
@pytest.mark.benchmark(group="cnn-step-gpu")
def test_cnn_step_gpubp_cuda(benchmark) -> None:  # noqa: ANN001
    step, _ = _gpubp_cnn("cuda")
    _bench_gpu(benchmark, _synced(step, _gpu_sync))


@needs_torch_cuda
@pytest.mark.benchmark(group="cnn-step-gpu")
def test_cnn_step_torch_cuda(benchmark) -> None:  # noqa: ANN001
    _bench_gpu(benchmark, _synced(_torch_cnn("cuda"), torch.cuda.synchronize))


@needs_gpu
@pytest.mark.benchmark(group="lstm-step-gpu")
def test_lstm_step_gpubp_cuda(benchmark) -> None:  # noqa: ANN001
    _bench_gpu(benchmark, _synced(_gpubp_lstm("cuda"), _gpu_sync))


@needs_torch_cuda
@pytest.mark.benchmark(group="lstm-step-gpu")
def test_lstm_step_torch_cuda(benchmark) -> None:  # noqa: ANN001
    _bench_gpu(benchmark, _synced(_torch_lstm("cuda"), torch.cuda.synchronize))
