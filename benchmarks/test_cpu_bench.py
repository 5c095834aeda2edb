"""CPU benchmarks: gpubp's NumPy backend against hand-written NumPy and PyTorch, in one run.

    pytest benchmarks/test_cpu_bench.py --benchmark-enable

Without ``--benchmark-enable`` (the default configuration) each case runs once, as a test.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import gpubp

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

# Importing PyTorch (for the comparison) puts several hundred thousand objects under Python's
# cyclic GC; a full collection then costs ~90 ms whenever gpubp's graphs trigger one, a cost a
# gpubp program without torch never pays. Freeze the import-time heap so both sides run as they
# would alone.
gc.freeze()

BATCH, SIZES, LR = 256, (784, 512, 512, 10), 0.01


def _mlp_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    params = []
    for fan_in, fan_out in zip(SIZES, SIZES[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return x, y, params


# ---- (1) one MLP training step: 784-512-512-10, batch 256, ReLU, softmax cross-entropy, SGD ----


def gpubp_mlp_step(x: gpubp.Tensor, y: gpubp.Tensor, params: list[gpubp.Tensor]) -> gpubp.Tensor:
    w1, b1, w2, b2, w3, b3 = params
    h = gpubp.relu(gpubp.linear(x, w1, b1))
    h = gpubp.relu(gpubp.linear(h, w2, b2))
    loss = gpubp.cross_entropy(gpubp.linear(h, w3, b3), y)
    loss.backward()
    with gpubp.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=LR)
            p.grad = None
    return loss


def numpy_mlp_step(x: np.ndarray, y: np.ndarray, params: list[np.ndarray]) -> float:
    """The same step written by hand in NumPy, as a careful user would."""
    w1, b1, w2, b2, w3, b3 = params
    h1 = x @ w1.T
    h1 += b1
    np.maximum(h1, 0, out=h1)
    h2 = h1 @ w2.T
    h2 += b2
    np.maximum(h2, 0, out=h2)
    logits = h2 @ w3.T
    logits += b3
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = -np.log(p[rows, y]).mean()
    p[rows, y] -= 1
    p /= len(y)  # d loss / d logits
    grads = [None] * 6
    grads[4], grads[5] = p.T @ h2, p.sum(0)
    d2 = p @ w3
    d2 *= h2 > 0
    grads[2], grads[3] = d2.T @ h1, d2.sum(0)
    d1 = d2 @ w2
    d1 *= h1 > 0
    grads[0], grads[1] = d1.T @ x, d1.sum(0)
    for w, g in zip(params, grads):
        g *= LR
        w -= g
    return loss


def torch_mlp_step(x, y, params, opt):  # noqa: ANN001
    w1, b1, w2, b2, w3, b3 = params
    F = torch.nn.functional
    h = F.relu(F.linear(x, w1, b1))
    h = F.relu(F.linear(h, w2, b2))
    loss = F.cross_entropy(F.linear(h, w3, b3), y)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss


@pytest.mark.benchmark(group="mlp-step-cpu")
def test_mlp_step_gpubp(benchmark) -> None:  # noqa: ANN001
    x, y, params = _mlp_data()
    gx, gy = gpubp.tensor(x, device="cpu"), gpubp.tensor(y, device="cpu")
    gp = [gpubp.tensor(p, device="cpu", requires_grad=True) for p in params]
    first = gpubp_mlp_step(gx, gy, gp).item()
    benchmark(gpubp_mlp_step, gx, gy, gp)
    assert np.isfinite(first)


@pytest.mark.benchmark(group="mlp-step-cpu")
def test_mlp_step_numpy(benchmark) -> None:  # noqa: ANN001
    x, y, params = _mlp_data()
    benchmark(numpy_mlp_step, x, y, params)


@needs_torch
@pytest.mark.benchmark(group="mlp-step-cpu")
def test_mlp_step_torch(benchmark) -> None:  # noqa: ANN001
    x, y, params = _mlp_data()
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    opt = torch.optim.SGD(tp, lr=LR)
    benchmark(torch_mlp_step, torch.tensor(x), torch.tensor(y), tp, opt)


def test_mlp_step_matches_hand_numpy() -> None:
    """The benchmarked steps compute the same thing: same loss, same updated weights."""
    x, y, params = _mlp_data(1)
    ref = [p.copy() for p in params]
    gp = [gpubp.tensor(p, device="cpu", requires_grad=True) for p in params]
    loss_gp = gpubp_mlp_step(gpubp.tensor(x, device="cpu"), gpubp.tensor(y, device="cpu"), gp).item()
    loss_np = numpy_mlp_step(x, y, ref)
    assert abs(loss_gp - loss_np) < 1e-5
    for a, b in zip(gp, ref):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-4, atol=1e-6)


# ---- (2) per-op overhead: a chain of 200 tiny elementwise ops (16 elements), forward + backward ----

CHAIN = 200


def gpubp_chain(x: gpubp.Tensor) -> None:
    h = x
    for _ in range(CHAIN // 4):
        h = h * 1.001
        h = h + 0.01
        h = h.sin()
        h = h.tanh()
    h.backward(gpubp.ones_like(h))


def torch_chain(x) -> None:  # noqa: ANN001
    h = x
    for _ in range(CHAIN // 4):
        h = h * 1.001
        h = h + 0.01
        h = h.sin()
        h = h.tanh()
    h.backward(torch.ones_like(h))


@pytest.mark.benchmark(group="tiny-op-chain")
def test_tiny_chain_gpubp(benchmark) -> None:  # noqa: ANN001
    x = gpubp.randn(16, device="cpu", requires_grad=True)
    benchmark(gpubp_chain, x)
    benchmark.extra_info["per_op_us"] = benchmark.stats.stats.median / CHAIN * 1e6 if benchmark.stats else None


@needs_torch
@pytest.mark.benchmark(group="tiny-op-chain")
def test_tiny_chain_torch(benchmark) -> None:  # noqa: ANN001
    x = torch.randn(16, requires_grad=True)
    benchmark(torch_chain, x)
    benchmark.extra_info["per_op_us"] = benchmark.stats.stats.median / CHAIN * 1e6 if benchmark.stats else None


@pytest.mark.benchmark(group="mlp-step-cpu-interleaved")
def test_mlp_step_interleaved_ratio(benchmark) -> None:  # noqa: ANN001
    """gpubp and hand NumPy alternating step by step, so drift on a shared machine hits both alike.

    The ratio of medians lands in the JSON's extra_info as ``gpubp_over_numpy``.
    """
    import time

    x, y, params = _mlp_data()
    ref = [p.copy() for p in params]
    gx, gy = gpubp.tensor(x, device="cpu"), gpubp.tensor(y, device="cpu")
    gp = [gpubp.tensor(p, device="cpu", requires_grad=True) for p in params]
    rounds = 60 if benchmark.enabled else 2
    ours, theirs = [], []

    def pair() -> None:
        t0 = time.perf_counter()
        gpubp_mlp_step(gx, gy, gp)
        t1 = time.perf_counter()
        numpy_mlp_step(x, y, ref)
        t2 = time.perf_counter()
        ours.append(t1 - t0)
        theirs.append(t2 - t1)

    benchmark.pedantic(pair, rounds=rounds, warmup_rounds=3 if benchmark.enabled else 0)
    benchmark.extra_info["gpubp_ms"] = float(np.median(ours) * 1e3)
    benchmark.extra_info["numpy_ms"] = float(np.median(theirs) * 1e3)
    benchmark.extra_info["gpubp_over_numpy"] = float(np.median(ours) / np.median(theirs))
