"""Activation checkpointing: memory held between forward and backward, peak memory, and the time it costs.

    pytest benchmarks/test_checkpoint_memory.py --benchmark-enable -s

Two models on the CPU (NumPy's allocations are what tracemalloc sees): a deep MLP (16 blocks of Linear 512 + GELU,
batch 256) and a stack of 4 transformer blocks written from gpubp's public ops (batch 16, sequence 64, width 128,
4 heads, MLP 4x). Each is run plainly and with one checkpoint per block. The memory figures land in the JSON's
extra_info and are printed; the gradients are checked to be the same either way.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import gpubp
from gpubp import nn
from gpubp.utils.checkpoint import checkpoint


class _Block(nn.Module):
    """Pre-norm transformer block from public ops: attention with a causal mask, then an MLP."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x: gpubp.Tensor) -> gpubp.Tensor:
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.reshape(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))  # (B, H, T, D/H)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / np.sqrt(d // h))
        mask = gpubp.tensor(np.triu(np.ones((t, t), dtype=bool), 1), device=x.device)
        att = gpubp.softmax(gpubp.where(mask, -1e9, scores), -1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.out(gpubp.gelu(self.fc(self.ln2(x))))


def _mlp() -> tuple[list, gpubp.Tensor]:
    gpubp.manual_seed(0)
    blocks = [nn.Sequential(nn.Linear(512, 512), nn.GELU()).to("cpu") for _ in range(16)]
    return blocks, gpubp.randn(256, 512, device="cpu", requires_grad=True)


def _transformer() -> tuple[list, gpubp.Tensor]:
    gpubp.manual_seed(0)
    blocks = [_Block(128, 4).to("cpu") for _ in range(4)]
    return blocks, gpubp.randn(16, 64, 128, device="cpu", requires_grad=True)


def _step(blocks: list, x: gpubp.Tensor, ckpt: bool) -> gpubp.Tensor:
    h = x
    for blk in blocks:
        h = checkpoint(blk, h, use_reentrant=False) if ckpt else blk(h)
    return h


def _measure(blocks: list, x: gpubp.Tensor, ckpt: bool) -> dict:
    """Bytes held after forward (what backward keeps alive) and the peak over forward + backward."""
    for blk in blocks:
        blk.zero_grad()
    tracemalloc.start()
    loss = (_step(blocks, x, ckpt) ** 2).mean()
    held = tracemalloc.get_traced_memory()[0]
    loss.backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"held_mb": held / 2**20, "peak_mb": peak / 2**20}


def _grads(blocks: list) -> list:
    return [p.grad.numpy().copy() for blk in blocks for p in blk.parameters()]


@pytest.mark.parametrize("model", ["mlp", "transformer"])
@pytest.mark.parametrize("ckpt", [False, True], ids=["plain", "checkpoint"])
@pytest.mark.benchmark(group="checkpoint-memory")
def test_checkpoint_memory(benchmark, model: str, ckpt: bool) -> None:  # noqa: ANN001
    blocks, x = _mlp() if model == "mlp" else _transformer()
    mem = _measure(blocks, x, ckpt)
    got = _grads(blocks)
    if ckpt:
        _measure(blocks, x, False)
        for a, b in zip(got, _grads(blocks)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    benchmark.extra_info.update(mem)
    print(f"\n{model} {'checkpoint' if ckpt else 'plain'}: held {mem['held_mb']:.1f} MB, peak {mem['peak_mb']:.1f} MB")

    def step() -> None:
        for blk in blocks:
            blk.zero_grad()
        (_step(blocks, x, ckpt) ** 2).mean().backward()

    benchmark(step)
