"""Transformer-block training-step benchmarks against PyTorch, on the CPU and on the GPU (against PyTorch eager).

    GPUBP_BENCH_THREADS=1 OMP_NUM_THREADS=1 pytest benchmarks/test_transformer_bench.py --benchmark-enable

The block is pre-norm: x + proj(SDPA(qkv(LayerNorm(x)), causal)), then + MLP(LayerNorm(.)) with 4x GELU; batch 16,
sequence 64, d_model 128, 4 heads; loss = mean of the output squared; AdamW. It is written once, over the library's
public API (``gpubp`` or ``torch`` passed in), with identical weights on both sides; a test checks that both compute
the same loss, gradients and updated weights at the first step. Also ``nn.TransformerEncoderLayer(norm_first=True,
batch_first=True, activation="gelu")``. CPU cases alternate gpubp and torch step by step and
record the median of the per-step ratios (``gpubp_over_torch``) in extra_info; one thread when
GPUBP_BENCH_THREADS=1. Without ``--benchmark-enable`` each case runs one round, as a test; ``GPUBP_BENCH_SMALL=1``
(the emulated GPU check) shrinks the GPU cases' batch and sequence.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import gpubp
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

BATCH, SEQ, D_MODEL, HEADS, LR = 16, 64, 128, 4, 1e-3


def make_block(lib: Any, d_model: int = D_MODEL, heads: int = HEADS) -> Any:
    """The pre-norm block, built from ``lib``'s public API: ``lib`` is ``gpubp`` or ``torch``."""
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        """LayerNorm, causal self-attention (fused qkv), output projection, LayerNorm, 4x GELU MLP, residuals."""

        def __init__(self) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(d_model)
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)
            self.ln2 = nn.LayerNorm(d_model)
            self.fc = nn.Linear(d_model, 4 * d_model)
            self.out = nn.Linear(4 * d_model, d_model)

        def forward(self, x: Any) -> Any:
            n, length, e = x.shape  # (N, L, E)
            q, k, v = self.qkv(self.ln1(x)).view(n, length, 3, heads, e // heads).permute(2, 0, 3, 1, 4).unbind(0)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (N, H, L, E / H)
            x = x + self.proj(a.transpose(1, 2).reshape(n, length, e))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    return Block()


def make_encoder_layer(lib: Any, d_model: int = D_MODEL, heads: int = HEADS) -> Any:
    """``nn.TransformerEncoderLayer`` of ``lib``, pre-norm, batch first, GELU, no dropout (so both sides agree); it is
    called without a mask, so its attention is full, not causal as the block's."""
    return lib.nn.TransformerEncoderLayer(
        d_model, heads, 4 * d_model, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    )


def _pair(kind: str, device: str, batch: int, seq: int) -> tuple[Any, Any, np.ndarray]:
    """(gpubp module, torch module with the same weights or None, input x) for ``kind`` "block" or "encoder"."""
    make = make_block if kind == "block" else make_encoder_layer
    gpubp.manual_seed(0)
    ours = make(gpubp).to(device)
    torch_here = torch is not None and (device == "cpu" or torch.cuda.is_available())
    theirs = make(torch) if torch_here else None  # None: no PyTorch, or none with a GPU (the emulated check)
    if theirs is not None:
        state = {name: torch.tensor(t.detach().cpu().numpy()) for name, t in ours.state_dict().items()}
        theirs.load_state_dict(state)  # strict: the same parameter names and shapes, or this fails
        theirs.to(device)
    x = np.random.default_rng(1).standard_normal((batch, seq, D_MODEL), dtype=np.float32)
    return ours, theirs, x


def _step(lib: Any, module: Any, x: Any) -> Callable[[], Any]:
    """One training step of ``module`` on ``x`` with ``lib``'s AdamW: zero grads, forward, loss, backward, step."""
    opt = lib.optim.AdamW(module.parameters(), lr=LR)

    def step() -> Any:
        opt.zero_grad()
        loss = module(x).pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    return step


def _steps(kind: str, device: str, batch: int = BATCH, seq: int = SEQ) -> tuple[Callable, Callable | None, Any, Any]:
    ours, theirs, x = _pair(kind, device, batch, seq)
    gstep = _step(gpubp, ours, gpubp.tensor(x, device=device))
    tstep = None if theirs is None else _step(torch, theirs, torch.tensor(x, device=device))
    return gstep, tstep, ours, theirs


def _interleave(ours: Callable, theirs: Callable, rounds: int) -> tuple[float, float, float]:
    """(gpubp ms, torch ms, median of per-round ratios), alternating after two warm-up steps each."""
    for _ in range(2):
        ours(), theirs()
    a, b = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        ours()
        t1 = time.perf_counter()
        theirs()
        t2 = time.perf_counter()
        a.append(t1 - t0)
        b.append(t2 - t1)
    return float(np.median(a) * 1e3), float(np.median(b) * 1e3), float(np.median(np.array(a) / np.array(b)))


def _check_first_step(kind: str, device: str, batch: int, seq: int) -> None:
    ours, theirs, x = _pair(kind, device, batch, seq)
    gx, tx = gpubp.tensor(x, device=device), torch.tensor(x, device=device)
    gloss, tloss = ours(gx).pow(2).mean(), theirs(tx).pow(2).mean()
    np.testing.assert_allclose(gloss.item(), tloss.item(), rtol=1e-4)
    gloss.backward()
    tloss.backward()
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        t = tparams[name]
        np.testing.assert_allclose(
            p.grad.cpu().numpy(), t.grad.cpu().numpy(), rtol=2e-3, atol=2e-5, err_msg=f"{kind} {name}.grad"
        )
    before = {name: p.detach().cpu().numpy().copy() for name, p in ours.named_parameters()}
    gpubp.optim.AdamW(ours.parameters(), lr=LR).step()
    torch.optim.AdamW(theirs.parameters(), lr=LR).step()
    for name, p in ours.named_parameters():
        # Adam's first update is lr * g / (|g| + eps): where |g| is near eps it hangs on the gradient's last bits,
        # so the updates are compared where |g| is well above eps (the rest still moved by at most lr)
        grad = tparams[name].grad.cpu().numpy()
        mine = p.detach().cpu().numpy() - before[name]
        ref = tparams[name].detach().cpu().numpy() - before[name]
        keep = np.abs(grad) > 1e-5
        np.testing.assert_allclose(mine[keep], ref[keep], rtol=0, atol=0.02 * LR, err_msg=f"{kind} {name} update")
        assert np.abs(mine).max() <= 1.02 * LR, name  # plus weight decay lr * 0.01 * |p|


@needs_torch
def test_block_first_step_matches_torch() -> None:
    """The benchmarked steps do the same work: same loss, gradients and AdamW update as PyTorch."""
    _check_first_step("block", "cpu", 4, 16)


@needs_torch
def test_encoder_layer_first_step_matches_torch() -> None:
    _check_first_step("encoder", "cpu", 4, 16)


@needs_torch
@pytest.mark.parametrize("kind", ["block", "encoder"])
@pytest.mark.benchmark(group="transformer-step-cpu")
def test_transformer_step_cpu(benchmark, kind: str) -> None:  # noqa: ANN001
    """Batch 16 x 64 x 128, 4 heads: gpubp and torch alternating step by step."""
    gstep, tstep, _, _ = _steps(kind, "cpu")
    gp_ms, t_ms, ratio = _interleave(gstep, tstep, 40 if benchmark.enabled else 1)
    benchmark.extra_info.update(gpubp_ms=gp_ms, torch_ms=t_ms, gpubp_over_torch=ratio)
    benchmark.pedantic(gstep, rounds=20 if benchmark.enabled else 1)


# ---- the GPU, against PyTorch eager -------------------------------------------------------------------------------

GPU_BATCH, GPU_SEQ = (2, 16) if SMALL else (BATCH, SEQ)
GPU_ITERS = 2 if SMALL else 20


def _sync() -> None:
    get_backend("cuda").xp.cuda.get_current_stream().synchronize()  # CuPy, or its stand-in


def _cuda_ms(fn: Callable[[], object]) -> float:
    """Mean ms per gpubp step from CUDA events (CuPy's, or its stand-in's), after two warm-up steps."""
    cuda = get_backend("cuda").xp.cuda
    fn(), fn()
    start, stop = cuda.Event(), cuda.Event()
    start.record()
    for _ in range(GPU_ITERS):
        fn()
    stop.record()
    stop.synchronize()
    return cuda.get_elapsed_time(start, stop) / GPU_ITERS


def _torch_ms(fn: Callable[[], object]) -> float:
    fn(), fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(GPU_ITERS):
        fn()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / GPU_ITERS


@needs_gpu
@pytest.mark.parametrize("kind", ["block", "encoder"])
@pytest.mark.benchmark(group="gpu-transformer-step")
def test_transformer_step_cuda(benchmark, kind: str) -> None:  # noqa: ANN001
    """The same step on the GPU; PyTorch eager CUDA beside it when it has a GPU (first step checked equal)."""
    torch_cuda = torch is not None and torch.cuda.is_available()
    if torch_cuda:
        _check_first_step(kind, "cuda", 4, 16)
    ours, theirs, x = _pair(kind, "cuda", GPU_BATCH, GPU_SEQ)
    gstep = _step(gpubp, ours, gpubp.tensor(x, device="cuda"))
    gp_ms = _cuda_ms(gstep)
    t_ms = None
    if torch_cuda:
        t_ms = _torch_ms(_step(torch, theirs, torch.tensor(x, device="cuda")))
    benchmark.extra_info.update(
        batch=GPU_BATCH,
        seq=GPU_SEQ,
        gpubp_ms=gp_ms,
        torch_ms=t_ms,
        gpubp_over_torch=None if t_ms is None else gp_ms / t_ms,
    )
    benchmark.pedantic(lambda: (gstep(), _sync()), rounds=2 if SMALL else 10)
