"""GPU benchmarks: gpubp's kernels and an MLP training step against PyTorch on the same GPU.

    pytest benchmarks/test_gpu_bench.py --benchmark-enable --benchmark-json=gpu.json

Times come from CUDA events around ITERS back-to-back launches after a warm-up; each case
records in extra_info its achieved GB/s, that as a fraction of this GPU's measured copy
bandwidth, and PyTorch's time for the same work. Skipped without CuPy and a GPU.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import gpubp
from gpubp.backend import get_backend

pytestmark = pytest.mark.skipif(not gpubp.cuda_available(), reason="needs CuPy and a CUDA GPU")
ITERS = 50
N = 1 << 26  # 64 Mi elements: 256 MiB per float32 array, far past every cache


def cuda_ms(fn: Callable[[], object], iters: int = ITERS) -> float:
    """Mean milliseconds per call of ``fn``, timed with CUDA events after 3 warm-up calls."""
    import cupy

    for _ in range(3):
        fn()
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    for _ in range(iters):
        fn()
    stop.record()
    stop.synchronize()
    return cupy.cuda.get_elapsed_time(start, stop) / iters


def torch_ms(fn: Callable[[], object], iters: int = ITERS) -> float | None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        return None
    for _ in range(3):
        fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / iters


@pytest.fixture(scope="module")
def copy_gbps() -> float:
    """This GPU's device-to-device copy bandwidth (read + write bytes per second), in GB/s."""
    import cupy

    src = cupy.ones(N, dtype=cupy.float32)
    dst = cupy.empty_like(src)
    ms = cuda_ms(lambda: cupy.copyto(dst, src), 20)
    return 2 * src.nbytes / (ms * 1e-3) / 1e9


def _record(benchmark, ms: float, nbytes: int, copy_gbps: float, torch_time: float | None) -> None:  # noqa: ANN001
    gbps = nbytes / (ms * 1e-3) / 1e9
    benchmark.extra_info.update(
        gpubp_ms=ms,
        gbps=gbps,
        copy_gbps=copy_gbps,
        fraction_of_copy=gbps / copy_gbps,
        torch_ms=torch_time,
        gpubp_over_torch=None if torch_time is None else ms / torch_time,
    )


def _sync() -> None:
    import cupy

    cupy.cuda.get_current_stream().synchronize()


@pytest.mark.parametrize(
    "name", ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "gelu_tanh", "silu"]
)
@pytest.mark.benchmark(group="gpu-activation-backward")
def test_activation_backward_kernel(benchmark, copy_gbps: float, name: str) -> None:  # noqa: ANN001
    import torch

    be = get_backend("cuda")
    rng = be.xp.random.default_rng(0)
    x = rng.standard_normal(N, dtype=np.float32)
    g = rng.standard_normal(N, dtype=np.float32)
    saved = be.act_forward(name, x, 0.1)
    if name not in ("relu", "sigmoid", "tanh"):
        saved = x
    ms = cuda_ms(lambda: be.act_backward(name, g, saved, 0.1))
    tx = torch.from_dlpack(x).requires_grad_()
    tg = torch.from_dlpack(g)
    fn = {
        "relu": torch.relu,
        "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.1),
        "elu": lambda t: torch.nn.functional.elu(t, 0.1),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softplus": lambda t: torch.nn.functional.softplus(t, 0.1),
        "gelu": torch.nn.functional.gelu,
        "gelu_tanh": lambda t: torch.nn.functional.gelu(t, approximate="tanh"),
        "silu": torch.nn.functional.silu,
    }[name]
    ty = fn(tx)
    t_ms = torch_ms(lambda: torch.autograd.grad(ty, tx, tg, retain_graph=True))
    _record(benchmark, ms, 3 * N * 4, copy_gbps, t_ms)
    benchmark.pedantic(lambda: (be.act_backward(name, g, saved, 0.1), _sync()), rounds=10)


@pytest.mark.benchmark(group="gpu-cross-entropy")
@pytest.mark.parametrize("rows,cols", [(8192, 1000), (4096, 32768)])
def test_cross_entropy_kernel(benchmark, copy_gbps: float, rows: int, cols: int) -> None:  # noqa: ANN001
    import torch

    be = get_backend("cuda")
    rng = be.xp.random.default_rng(0)
    logits = rng.standard_normal((rows, cols), dtype=np.float32)
    target = rng.integers(0, cols, rows)
    g = be.xp.full(rows, 1.0 / rows, dtype=np.float32)

    def step() -> None:
        _, saved = be.cross_entropy(logits, target)
        be.cross_entropy_backward(g, saved, target)

    ms = cuda_ms(step)
    tl = torch.from_dlpack(logits).requires_grad_()
    tt = torch.from_dlpack(target)

    def torch_step() -> None:
        loss = torch.nn.functional.cross_entropy(tl, tt)
        torch.autograd.grad(loss, tl)

    # forward reads the logits; backward reads them again and writes the gradient
    _record(benchmark, ms, 3 * rows * cols * 4, copy_gbps, torch_ms(torch_step))
    benchmark.pedantic(lambda: (step(), _sync()), rounds=10)


@pytest.mark.benchmark(group="gpu-optimizer")
def test_fused_adam_step(benchmark, copy_gbps: float) -> None:  # noqa: ANN001
    import torch

    be = get_backend("cuda")
    xp = be.xp
    rng = xp.random.default_rng(0)
    sizes = [4096 * 4096, 4096, 4096 * 1024, 1024, 1024 * 10, 10] * 4  # a few large and small tensors
    params = [rng.standard_normal(s, dtype=np.float32) for s in sizes]
    grads = [rng.standard_normal(s, dtype=np.float32) for s in sizes]
    m = [xp.zeros_like(p) for p in params]
    v = [xp.zeros_like(p) for p in params]
    step = xp.ones(1, dtype=xp.float64)
    ms = cuda_ms(lambda: be.adam_update(params, grads, m, v, step=step, lr=1e-3))
    tp = [torch.from_dlpack(p.copy()) for p in params]
    for t, gr in zip(tp, grads):
        t.grad = torch.from_dlpack(gr)
    opt = torch.optim.Adam(tp, lr=1e-3, fused=True)
    total = sum(sizes)
    _record(benchmark, ms, 7 * total * 4, copy_gbps, torch_ms(opt.step))  # reads p g m v, writes p m v
    benchmark.pedantic(lambda: (be.adam_update(params, grads, m, v, step=step, lr=1e-3), _sync()), rounds=10)


@pytest.mark.benchmark(group="gpu-mlp-step")
def test_mlp_training_step_against_torch(benchmark) -> None:  # noqa: ANN001
    """784-2048-2048-10, batch 1024, float32: forward, cross-entropy, backward, SGD update."""
    import torch

    be = get_backend("cuda")
    sizes = (784, 2048, 2048, 10)
    gpubp.manual_seed(0)
    x = gpubp.randn(1024, 784, device="cuda")
    y = gpubp.randint(0, 10, (1024,), device="cuda")
    params = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        params.append((gpubp.randn(fan_out, fan_in, device="cuda") * fan_in**-0.5).requires_grad_())
        params.append(gpubp.zeros(fan_out, device="cuda", requires_grad=True))
    bufs = [be.xp.zeros_like(p.data) for p in params]

    def step() -> None:
        w1, b1, w2, b2, w3, b3 = params
        h = gpubp.relu(gpubp.linear(x, w1, b1))
        h = gpubp.relu(gpubp.linear(h, w2, b2))
        gpubp.cross_entropy(gpubp.linear(h, w3, b3), y).backward()
        be.sgd_update([p.data for p in params], [p.grad.data for p in params], bufs, lr=0.01)
        for p in params:
            p.grad = None

    ms = cuda_ms(step)
    tx, ty = torch.from_dlpack(x.data), torch.from_dlpack(y.data)
    tparams = [torch.from_dlpack(p.data.copy()).requires_grad_() for p in params]
    opt = torch.optim.SGD(tparams, lr=0.01)

    def torch_step() -> None:
        w1, b1, w2, b2, w3, b3 = tparams
        F = torch.nn.functional
        h = F.relu(F.linear(tx, w1, b1))
        h = F.relu(F.linear(h, w2, b2))
        F.cross_entropy(F.linear(h, w3, b3), ty).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t_ms = torch_ms(torch_step)
    benchmark.extra_info.update(gpubp_ms=ms, torch_ms=t_ms, gpubp_over_torch=None if t_ms is None else ms / t_ms)
    benchmark.pedantic(lambda: (step(), _sync()), rounds=20)
