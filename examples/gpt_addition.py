"""A tiny GPT learns two-digit addition written as text: "12+34=" -> "640", the sum's digits reversed.

    python examples/gpt_addition.py [--steps 1500] [--digits 2] [--device cpu|cuda]

No download: every problem a + b is generated, shuffled by a seeded RNG, and 1,000 are held out (never trained on).
The answer is written ones digit first ("46" -> "640") because a model that writes left to right then needs, for each
digit, only the operand digits at its place and the carry it has already written; in the usual order the first digit
depends on every carry below it, and a small model learns that far more slowly. Runs on the GPU when there is one.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import gpubp as torch
import gpubp.nn as nn
import gpubp.nn.functional as F

VOCAB = "0123456789+="


def make_problems(digits: int, seed: int) -> np.ndarray:
    """Every "a+b=reversed(sum)" with zero-padded ``digits``-digit operands, as token ids (P, 3 * digits + 3)."""
    top = 10**digits
    order = np.random.default_rng(seed).permutation(top * top)
    rows = []
    for a, b in zip(order // top, order % top):
        text = f"{a:0{digits}d}+{b:0{digits}d}=" + f"{a + b:0{digits + 1}d}"[::-1]
        rows.append([VOCAB.index(c) for c in text])
    return np.array(rows, dtype=np.int64)


class CausalSelfAttention(nn.Module):
    """Multi-head attention where each position sees itself and the positions before it."""

    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)  # query, key and value in one matrix product
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, e = x.shape  # (N, T, E)
        q, k, v = self.qkv(x).split(e, dim=2)
        q, k, v = (z.view(n, t, self.n_head, e // self.n_head).transpose(1, 2) for z in (q, k, v))  # (N, H, T, D)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # softmax(q k^T / sqrt(D) + causal mask) v
        return self.proj(y.transpose(1, 2).reshape(n, t, e))


class Block(nn.Module):
    """Pre-norm: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x))."""

    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Token + position embeddings, a stack of blocks, a final LayerNorm, a head tied to the token embedding."""

    def __init__(self, block_size: int, n_layer: int = 2, n_head: int = 4, n_embd: int = 64) -> None:
        super().__init__()
        self.block_size = block_size
        self.tok = nn.Embedding(len(VOCAB), n_embd)
        self.pos = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, len(VOCAB), bias=False)
        self.head.weight = self.tok.weight  # tied: the same vectors read tokens in and write them out
        for p in self.parameters():
            if p.ndim == 2:
                nn.init.normal_(p, 0.0, 0.02)  # GPT-2's initialization

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))  # (N, T, E)
        return self.head(self.ln_f(self.blocks(x)))  # (N, T, vocab) logits of the next token

    @torch.no_grad()
    def generate(
        self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` tokens, each sampled from softmax(logits / temperature) over the top_k."""
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.block_size :])[:, -1, :] / temperature  # (N, vocab)
            if top_k is not None:
                kth = logits.topk(top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, -math.inf)  # only the k most likely stay possible
            idx = torch.cat([idx, torch.multinomial(logits.softmax(-1), 1)], dim=1)
        return idx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    d = args.digits
    problems = make_problems(d, args.seed)
    n_val = min(1000, len(problems) // 10)
    prompt = 2 * d + 2  # tokens before the answer: "12+34="
    val, train = torch.tensor(problems[:n_val], device=device), torch.tensor(problems[n_val:], device=device)
    print(f"gpubp {torch.__version__} on {device}: {d}-digit addition, {len(train)} train / {len(val)} held-out sums")

    model = GPT(block_size=problems.shape[1] - 1).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    warmup = max(1, args.steps // 10)  # Adam's first steps on a transformer are large: ramp the rate up, then decay

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, args.steps - warmup))))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = train[torch.tensor(rng.integers(0, len(train), args.batch_size), device=device)]  # (B, T + 1)
        x, y = batch[:, :-1], batch[:, 1:]  # predict each next token...
        logits = model(x)[:, prompt - 1 :]  # ...but learn only the answer's: the operands are random
        loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), y[:, prompt - 1 :].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if step % 100 == 0 or step == args.steps:
            print(f"step {step:5d}  loss {loss.item():.4f}")  # .item() waits for the device: once per 100 steps

    # exact match: the whole answer, generated greedily (top_k=1 keeps only the most likely token), must be right
    out = model.generate(val[:, :prompt], d + 1, top_k=1)[:, prompt:]
    exact = (out == val[:, prompt:]).all(dim=1).float().mean().item()
    print(f"held-out exact match {exact:.3f}  ({time.perf_counter() - start:.1f}s)")
    rows = model.generate(val[:4, :prompt], d + 1, temperature=0.8, top_k=3).tolist()
    for row in rows:
        text = "".join(VOCAB[i] for i in row)
        answer = text[prompt:]
        shown = int(answer[::-1]) if answer.isdigit() else answer
        print(f"sample (temperature 0.8, top-k 3): {text}  -> reads {shown}")


if __name__ == "__main__":
    main()
