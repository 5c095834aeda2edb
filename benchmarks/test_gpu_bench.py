"""GPU benchmarks: gpubp's kernels and an MLP training step against PyTorch on the same GPU.

    pytest benchmarks/test_gpu_bench.py --benchmark-enable --benchmark-json=gpu.json

Times come from CUDA events around ITERS back-to-back launches after a warm-up; each case
records in extra_info its achieved GB/s, that as a fraction of this GPU's measured copy
bandwidth, and PyTorch's time for the same work (None where PyTorch has no CUDA device: then
only gpubp's side runs). The MLP step also records the memory one step needs, gpubp (CuPy's
pool) against PyTorch (its caching allocator). Skipped without a CUDA device (CuPy and a GPU,
or the emulated one of ``GPUBP_EMULATE_CUDA``). ``GPUBP_BENCH_SMALL=1`` shrinks every size and
iteration count so that a run on the emulator checks the code in seconds, not the speed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import gpubp
import gpubp.cuda
from gpubp.backend import get_backend

pytestmark = pytest.mark.skipif(not gpubp.cuda_available(), reason="needs CuPy and a CUDA GPU")
SMALL = os.environ.get("GPUBP_BENCH_SMALL", "0") not in ("", "0")
ITERS = 3 if SMALL else 50
ROUNDS = 2 if SMALL else 10
N = 1 << 14 if SMALL else 1 << 26  # 64 Mi elements: 256 MiB per float32 array, far past every cache
MIB = 1 << 20


def _xp() -> Any:
    """CuPy, or its CPU stand-in under GPUBP_EMULATE_CUDA: whatever the CUDA backend runs on."""
    return get_backend("cuda").xp


def _torch_cuda() -> Any:
    """PyTorch when it has a CUDA device here, else None (the comparison is then left out)."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def cuda_ms(fn: Callable[[], object], iters: int = ITERS) -> float:
    """Mean milliseconds per call of ``fn``, timed with CUDA events after 3 warm-up calls."""
    cuda = _xp().cuda
    for _ in range(3):
        fn()
    start, stop = cuda.Event(), cuda.Event()
    start.record()
    for _ in range(iters):
        fn()
    stop.record()
    stop.synchronize()
    return cuda.get_elapsed_time(start, stop) / iters


def torch_ms(fn: Callable[[], object], iters: int = ITERS) -> float | None:
    """Like ``cuda_ms`` for PyTorch's work; None without PyTorch CUDA."""
    torch = _torch_cuda()
    if torch is None:
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


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


@pytest.fixture(autouse=True)
def _fallbacks(benchmark) -> Iterator[None]:  # noqa: ANN001
    """Records in extra_info each fused primitive that took its slower reference path during the case:
    the case then measured the reference, not the kernel. Empty is what every case should show."""
    before = gpubp.cuda.fallback_counts()
    yield
    after = gpubp.cuda.fallback_counts()
    benchmark.extra_info["fallbacks"] = {
        f"{primitive}: {reason}": n - before.get((primitive, reason), 0)
        for (primitive, reason), n in after.items()
        if n > before.get((primitive, reason), 0)
    }


@pytest.fixture(scope="module")
def copy_gbps() -> float:
    """This GPU's device-to-device copy bandwidth (read + write bytes per second), in GB/s."""
    xp = _xp()
    src = xp.ones(N, dtype=xp.float32)
    dst = xp.empty_like(src)
    ms = cuda_ms(lambda: xp.copyto(dst, src), 20)
    return 2 * src.nbytes / (ms * 1e-3) / 1e9


def _record(benchmark, ms: float, nbytes: int, copy_gbps: float, torch_time: float | None) -> None:  # noqa: ANN001
    gbps = nbytes / (ms * 1e-3) / 1e9
    benchmark.extra_info.update(
        gpubp_ms=ms,
        gbps=gbps,
        copy_gbps=copy_gbps,
        fraction_of_copy=gbps / copy_gbps,
        torch_ms=torch_time,
        gpubp_over_torch=_ratio(ms, torch_time),
    )


def _sync() -> None:
    _xp().cuda.get_current_stream().synchronize()


@pytest.mark.benchmark(group="gpu-copy")
def test_copy_bandwidth(benchmark, copy_gbps: float) -> None:  # noqa: ANN001
    """The yardstick every kernel's GB/s is a fraction of: one device-to-device copy of N float32."""
    xp = _xp()
    src = xp.ones(N, dtype=xp.float32)
    dst = xp.empty_like(src)
    benchmark.extra_info.update(copy_gbps=copy_gbps, nbytes=2 * src.nbytes)
    benchmark.pedantic(lambda: (xp.copyto(dst, src), _sync()), rounds=ROUNDS)


_TORCH_ACT = {  # the same activation in PyTorch, as a function of (torch, input)
    "relu": lambda T, t: T.relu(t),
    "leaky_relu": lambda T, t: T.nn.functional.leaky_relu(t, 0.1),
    "elu": lambda T, t: T.nn.functional.elu(t, 0.1),
    "sigmoid": lambda T, t: T.sigmoid(t),
    "tanh": lambda T, t: T.tanh(t),
    "softplus": lambda T, t: T.nn.functional.softplus(t, 0.1),
    "gelu": lambda T, t: T.nn.functional.gelu(t),
    "gelu_tanh": lambda T, t: T.nn.functional.gelu(t, approximate="tanh"),
    "silu": lambda T, t: T.nn.functional.silu(t),
}


@pytest.mark.parametrize("name", sorted(_TORCH_ACT))
@pytest.mark.benchmark(group="gpu-activation-backward")
def test_activation_backward_kernel(benchmark, copy_gbps: float, name: str) -> None:  # noqa: ANN001
    be = get_backend("cuda")
    rng = be.xp.random.default_rng(0)
    x = rng.standard_normal(N, dtype=np.float32)
    g = rng.standard_normal(N, dtype=np.float32)
    saved = be.act_forward(name, x, 0.1)
    if name not in ("relu", "sigmoid", "tanh"):
        saved = x
    ms = cuda_ms(lambda: be.act_backward(name, g, saved, 0.1))
    t_ms = None
    torch = _torch_cuda()
    if torch is not None:
        tx = torch.from_dlpack(x).requires_grad_()
        tg = torch.from_dlpack(g)
        ty = _TORCH_ACT[name](torch, tx)
        t_ms = torch_ms(lambda: torch.autograd.grad(ty, tx, tg, retain_graph=True))
    _record(benchmark, ms, 3 * N * 4, copy_gbps, t_ms)
    benchmark.pedantic(lambda: (be.act_backward(name, g, saved, 0.1), _sync()), rounds=ROUNDS)


@pytest.mark.benchmark(group="gpu-cross-entropy")
@pytest.mark.parametrize("rows,cols", [(64, 100), (16, 1000)] if SMALL else [(8192, 1000), (4096, 32768)])
def test_cross_entropy_kernel(benchmark, copy_gbps: float, rows: int, cols: int) -> None:  # noqa: ANN001
    be = get_backend("cuda")
    rng = be.xp.random.default_rng(0)
    logits = rng.standard_normal((rows, cols), dtype=np.float32)
    target = rng.integers(0, cols, rows)
    g = be.xp.full(rows, 1.0 / rows, dtype=np.float32)

    def step() -> None:
        _, saved = be.cross_entropy(logits, target)
        be.cross_entropy_backward(g, saved, target)

    ms = cuda_ms(step)
    t_ms = None
    torch = _torch_cuda()
    if torch is not None:
        tl = torch.from_dlpack(logits).requires_grad_()
        tt = torch.from_dlpack(target)

        def torch_step() -> None:
            loss = torch.nn.functional.cross_entropy(tl, tt)
            torch.autograd.grad(loss, tl)

        t_ms = torch_ms(torch_step)
    # forward reads the logits; backward reads them again and writes the gradient
    _record(benchmark, ms, 3 * rows * cols * 4, copy_gbps, t_ms)
    benchmark.pedantic(lambda: (step(), _sync()), rounds=ROUNDS)


@pytest.mark.benchmark(group="gpu-optimizer")
def test_fused_adam_step(benchmark, copy_gbps: float) -> None:  # noqa: ANN001
    be = get_backend("cuda")
    xp = be.xp
    rng = xp.random.default_rng(0)
    big, mid = (64, 16) if SMALL else (4096, 1024)
    sizes = [big * big, big, big * mid, mid, mid * 10, 10] * 4  # a few large and small tensors
    params = [rng.standard_normal(s, dtype=np.float32) for s in sizes]
    grads = [rng.standard_normal(s, dtype=np.float32) for s in sizes]
    m = [xp.zeros_like(p) for p in params]
    v = [xp.zeros_like(p) for p in params]
    step = xp.ones(1, dtype=xp.float64)
    ms = cuda_ms(lambda: be.adam_update(params, grads, m, v, step=step, lr=1e-3))
    t_ms = None
    torch = _torch_cuda()
    if torch is not None:
        tp = [torch.from_dlpack(p.copy()) for p in params]
        for t, gr in zip(tp, grads):
            t.grad = torch.from_dlpack(gr)
        opt = torch.optim.Adam(tp, lr=1e-3, fused=True)
        t_ms = torch_ms(opt.step)
    _record(benchmark, ms, 7 * sum(sizes) * 4, copy_gbps, t_ms)  # reads p g m v, writes p m v
    benchmark.pedantic(lambda: (be.adam_update(params, grads, m, v, step=step, lr=1e-3), _sync()), rounds=ROUNDS)


def _cupy_step_bytes(xp: Any, fn: Callable[[], object]) -> int | None:
    """Bytes one call of ``fn`` holds at its peak beyond what was in use before it, from CuPy's
    memory pool; None where the allocator cannot be hooked (the emulator has no ``using_allocator``)."""
    using_allocator = getattr(xp.cuda, "using_allocator", None)
    if using_allocator is None:
        return None
    pool = xp.get_default_memory_pool()
    _sync()
    base = peak = pool.used_bytes()

    def malloc(nbytes: int) -> Any:
        nonlocal peak
        mem = pool.malloc(nbytes)
        peak = max(peak, pool.used_bytes())
        return mem

    with using_allocator(malloc):  # this thread's allocations only: the step runs on it
        fn()
        _sync()
    return peak - base


def _torch_step_bytes(torch: Any, fn: Callable[[], object]) -> int:
    """The same for PyTorch, from its caching allocator's statistics."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


@pytest.mark.benchmark(group="gpu-mlp-step")
def test_mlp_training_step_against_torch(benchmark) -> None:  # noqa: ANN001
    """784-2048-2048-10, batch 1024, float32: forward, cross-entropy, backward, SGD update;
    its time and the memory one step needs beyond the parameters and the batch, against PyTorch."""
    be = get_backend("cuda")
    hidden, batch = (64, 32) if SMALL else (2048, 1024)
    sizes = (784, hidden, hidden, 10)
    gpubp.manual_seed(0)
    x = gpubp.randn(batch, 784, device="cuda")
    y = gpubp.randint(0, 10, (batch,), device="cuda")
    params = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        params.append((gpubp.randn(fan_out, fan_in, device="cuda") * fan_in**-0.5).requires_grad_())
        params.append(gpubp.zeros(fan_out, device="cuda", requires_grad=True))
    bufs = [be.xp.zeros_like(p._data) for p in params]

    def step() -> None:
        w1, b1, w2, b2, w3, b3 = params
        h = gpubp.relu(gpubp.linear(x, w1, b1))
        h = gpubp.relu(gpubp.linear(h, w2, b2))
        gpubp.cross_entropy(gpubp.linear(h, w3, b3), y).backward()
        be.sgd_update([p._data for p in params], [p.grad._data for p in params], bufs, lr=0.01)
        for p in params:
            p.grad = None

    step()  # the first step compiles and fills the pool; the memory figure is a steady step's
    ms = cuda_ms(step)
    step_bytes = _cupy_step_bytes(be.xp, step)
    t_ms = t_bytes = None
    torch = _torch_cuda()
    if torch is not None:
        tx, ty = torch.from_dlpack(x._data), torch.from_dlpack(y._data)
        tparams = [torch.from_dlpack(p._data.copy()).requires_grad_() for p in params]
        opt = torch.optim.SGD(tparams, lr=0.01)

        def torch_step() -> None:
            w1, b1, w2, b2, w3, b3 = tparams
            F = torch.nn.functional
            h = F.relu(F.linear(tx, w1, b1))
            h = F.relu(F.linear(h, w2, b2))
            F.cross_entropy(F.linear(h, w3, b3), ty).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        torch_step()
        t_ms = torch_ms(torch_step)
        t_bytes = _torch_step_bytes(torch, torch_step)
    benchmark.extra_info.update(
        gpubp_ms=ms,
        torch_ms=t_ms,
        gpubp_over_torch=_ratio(ms, t_ms),
        gpubp_step_mib=None if step_bytes is None else step_bytes / MIB,
        torch_step_mib=None if t_bytes is None else t_bytes / MIB,
        gpubp_over_torch_memory=_ratio(step_bytes, t_bytes),
    )
    benchmark.pedantic(lambda: (step(), _sync()), rounds=2 * ROUNDS)
