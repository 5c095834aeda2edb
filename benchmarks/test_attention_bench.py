"""Attention benchmarks: ``F.scaled_dot_product_attention`` forward + backward, gpubp against PyTorch, on the CPU
and on the GPU (there against PyTorch's own fused SDPA: its flash and memory-efficient backends).

    pytest benchmarks/test_attention_bench.py --benchmark-enable

Sequence lengths 128 to 4096, head size 64, causal and not. Both sides get the same inputs and alternate round by
round, so a machine's drift hits both alike; each case records in extra_info the median of the per-round ratios
(``gpubp_over_torch``) and the peak memory of one forward + backward. CPU memory: tracemalloc for gpubp (NumPy's
allocations are traced); PyTorch's CPU allocator is invisible to tracemalloc, so its side is None. GPU memory:
CuPy's pool peak against ``torch.cuda.max_memory_allocated``. On the CPU, one thread as the issue measures
(``GPUBP_BENCH_THREADS=1 OMP_NUM_THREADS=1``). Without ``--benchmark-enable`` each case runs one round, on fewer
heads, as a test; ``GPUBP_BENCH_SMALL=1`` (the emulated GPU check) shrinks the GPU sizes to what an emulator does
in seconds.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from test_gpu_bench import _cupy_step_bytes  # CuPy's pool peak of one call

import gpubp
import gpubp.nn.functional as F
from gpubp.backend import get_backend

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
needs_gpu = pytest.mark.skipif(not gpubp.cuda_available(), reason="needs CuPy and a CUDA GPU")
SMALL = os.environ.get("GPUBP_BENCH_SMALL", "0") not in ("", "0")
if torch is not None and os.environ.get("GPUBP_BENCH_THREADS") == "1":
    torch.set_num_threads(1)
gc.freeze()  # see test_cpu_bench.py: torch's import-time objects would otherwise slow every full GC

HEAD = 64
LENGTHS = (128, 512, 1024, 2048, 4096)
MIB = 1 << 20


def _cpu_heads(length: int, enabled: bool) -> int:
    """batch * heads for a CPU case: about 4 Mi score entries (16 MiB float32) per case, so that the dense L x L
    work stays seconds at every length; one head as a test (benchmark disabled)."""
    return max(1, (1 << 22) // (length * length)) if enabled else 1


def _inputs(bh: int, length: int, dtype: np.dtype, seed: int = 0) -> list[np.ndarray]:
    """query, key, value and the output gradient, (B, H, L, E) with H = min(bh, 4)."""
    heads = min(bh, 4)
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((bh // heads, heads, length, HEAD)).astype(dtype) for _ in range(4)]


def _gpubp_fwd_bwd(arrays: list[np.ndarray], device: str, causal: bool) -> Callable[[], object]:
    q, k, v = (gpubp.tensor(a, device=device, requires_grad=True) for a in arrays[:3])
    g = gpubp.tensor(arrays[3], device=device)

    def run() -> object:
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return gpubp.autograd.grad(out, (q, k, v), g)

    return run


def _torch_fwd_bwd(arrays: list[np.ndarray], device: str, causal: bool) -> Callable[[], object]:
    q, k, v = (torch.tensor(a, device=device, requires_grad=True) for a in arrays[:3])
    g = torch.tensor(arrays[3], device=device)

    def run() -> object:
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return torch.autograd.grad(out, (q, k, v), g)

    return run


def _interleave(ours: Callable[[], object], theirs: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    """(gpubp ms, torch ms, median of the per-round ratios), the two alternating (warmed up by the caller)."""
    a, b = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        ours()
        t1 = time.perf_counter()
        theirs()
        t2 = time.perf_counter()
        a.append(t1 - t0)
        b.append(t2 - t1)
    ratio = float(np.median(np.array(a) / np.array(b)))
    return float(np.median(a) * 1e3), float(np.median(b) * 1e3), ratio


def _traced_peak(fn: Callable[[], object]) -> int:
    """Bytes one call of ``fn`` holds at its peak beyond what was held before, as tracemalloc sees them."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak - base


@needs_torch
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.benchmark(group="attention-cpu")
def test_attention_cpu(benchmark, length: int, causal: bool) -> None:  # noqa: ANN001
    """SDPA forward + backward on the CPU, float32, gpubp against PyTorch, interleaved."""
    bh = _cpu_heads(length, benchmark.enabled)
    arrays = _inputs(bh, length, np.float32)
    ours, theirs = _gpubp_fwd_bwd(arrays, "cpu", causal), _torch_fwd_bwd(arrays, "cpu", causal)
    mine, ref = ours(), theirs()  # also the warm-up of both
    for a, b in zip(mine, ref):  # the same work on both sides
        np.testing.assert_allclose(a.detach().numpy(), b.numpy(), rtol=2e-3, atol=2e-4)
    del mine, ref
    rounds = (3 if length >= 2048 else 7) if benchmark.enabled else 1
    gp_ms, t_ms, ratio = _interleave(ours, theirs, rounds)
    benchmark.extra_info.update(
        batch_heads=bh,
        length=length,
        head=HEAD,
        causal=causal,
        gpubp_ms=gp_ms,
        torch_ms=t_ms,
        gpubp_over_torch=ratio,
        gpubp_peak_mib=_traced_peak(ours) / MIB,
        torch_peak_mib=None,  # PyTorch's CPU allocator bypasses tracemalloc: no honest figure
        scores_mib=bh * length * length * 4 / MIB,  # one dense float32 L x L matrix per head, for scale
    )
    if benchmark.enabled:  # as a test, the rounds above were the run; pytest-benchmark's own figure is gpubp's
        benchmark.pedantic(ours, rounds=rounds)
    else:
        benchmark.pedantic(lambda: None, rounds=1)


# ---- the GPU, against PyTorch's fused SDPA (flash / memory-efficient) ----------------------------------------------

GPU_LENGTHS = (16, 64) if SMALL else LENGTHS
GPU_HEADS = 2 if SMALL else 32  # batch 8 x 4 heads, or 1 x 2 on the emulator
GPU_ITERS = 2 if SMALL else 10


def _xp() -> Any:
    return get_backend("cuda").xp


def _torch_cuda() -> Any:
    """PyTorch when it has a CUDA device here, else None (the comparison is then left out)."""
    return torch if torch is not None and torch.cuda.is_available() else None


def _cuda_ms(fn: Callable[[], object], iters: int = GPU_ITERS) -> float:
    """Mean ms per call of gpubp's work from CUDA events (CuPy's, or its stand-in's) after one warm-up call."""
    cuda = _xp().cuda
    fn()
    start, stop = cuda.Event(), cuda.Event()
    start.record()
    for _ in range(iters):
        fn()
    stop.record()
    stop.synchronize()
    return cuda.get_elapsed_time(start, stop) / iters


def _torch_ms(fn: Callable[[], object], iters: int = GPU_ITERS) -> float:
    """The same for PyTorch's work, from its own CUDA events."""
    fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / iters


def _sync() -> None:
    _xp().cuda.get_current_stream().synchronize()


def _torch_peak(fn: Callable[[], object]) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    result = fn()
    torch.cuda.synchronize()
    del result
    return torch.cuda.max_memory_allocated() - base


def _torch_fused(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` under PyTorch's flash and memory-efficient SDPA backends only (never its dense math path)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def run() -> object:
        with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]):
            return fn()

    return run


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


@needs_gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("length", GPU_LENGTHS)
@pytest.mark.benchmark(group="gpu-attention")
def test_attention_cuda(benchmark, length: int, causal: bool, dtype: str) -> None:  # noqa: ANN001
    """SDPA forward + backward on the GPU, gpubp's kernels against PyTorch's fused SDPA on the same inputs."""
    arrays = _inputs(GPU_HEADS, length, np.dtype(dtype))
    ours = _gpubp_fwd_bwd(arrays, "cuda", causal)
    gp_ms = _cuda_ms(ours)
    gp_bytes = _cupy_step_bytes(_xp(), ours)
    t_ms = t_bytes = None
    if _torch_cuda() is not None:
        theirs = _torch_fused(_torch_fwd_bwd(arrays, "cuda", causal))
        mine, ref = ours(), theirs()
        tol = 5e-2 if dtype == "float16" else 2e-3  # float16 inputs, float32 accumulation on both sides
        diff = 0.0
        for a, b in zip(mine, ref):  # the same work on both sides
            a, b = a.detach().cpu().numpy().astype(np.float32), b.float().cpu().numpy()
            diff = max(diff, float(np.abs(a - b).max()))
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        benchmark.extra_info["max_abs_diff"] = diff
        del mine, ref
        t_ms = _torch_ms(theirs)
        t_bytes = _torch_peak(theirs)
    benchmark.extra_info.update(
        batch_heads=GPU_HEADS,
        length=length,
        head=HEAD,
        causal=causal,
        dtype=dtype,
        gpubp_ms=gp_ms,
        torch_ms=t_ms,
        gpubp_over_torch=_ratio(gp_ms, t_ms),
        gpubp_peak_mib=None if gp_bytes is None else gp_bytes / MIB,
        torch_peak_mib=None if t_bytes is None else t_bytes / MIB,
        gpubp_over_torch_memory=_ratio(gp_bytes, t_bytes),
    )
    benchmark.pedantic(lambda: (ours(), _sync()), rounds=2 if SMALL else 5)
