"""A small GPT (nanoGPT's shape) and the text-addition task it learns: ``"123+456=9750"``.

The answer is written with the sum's digits REVERSED (579 -> "9750", padded to n + 1 digits): a left-to-right model
then emits the ones digit first, which depends only on the ones digits of the operands, and every later digit needs
just the operand digits at its place plus the carry it has already written. In the usual order the first digit
written depends on every carry below it, which a small model learns far more slowly (Lee et al. 2023, "Teaching
Arithmetic to Small Transformers"). Operands are zero-padded to a fixed width, so all problems have one length.
"""

from __future__ import annotations

import math

import numpy as np

from . import nn
from .autograd import no_grad
from .creation import arange
from .data import TensorDataset
from .nn import functional as F
from .ops.sampling import multinomial
from .ops.shape import cat
from .tensor import Tensor

VOCAB = "0123456789+="
IGNORE = -100  # target of the prompt positions: cross_entropy's default ignore_index, so only answers are learned


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position i sees positions <= i, through F.scaled_dot_product_attention."""

    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"CausalSelfAttention: n_embd {n_embd} is not divisible by n_head {n_head}")
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: Tensor) -> Tensor:
        n, t, e = x.shape  # (N, T, E)
        q, k, v = self.qkv(x).split(e, dim=2)  # each (N, T, E)
        q, k, v = (z.view(n, t, self.n_head, e // self.n_head).transpose(1, 2) for z in (q, k, v))  # (N, H, T, D)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (N, H, T, D)
        return self.proj(y.transpose(1, 2).reshape(n, t, e))


class Block(nn.Module):
    """A pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x)) with a 4x GELU MLP."""

    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Token + position embeddings, ``n_layer`` pre-norm blocks, a final LayerNorm and a head tied to the token
    embedding (one matrix fewer to learn). ``forward(idx)`` maps (N, T) token ids to (N, T, vocab) logits."""

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 2, n_head: int = 4, n_embd: int = 64) -> None:
        super().__init__()
        self.block_size = block_size
        self.tok = nn.Embedding(vocab_size, n_embd)
        self.pos = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.tok.weight  # tied
        for name, p in self.named_parameters():  # GPT-2's init: N(0, 0.02), residual projections scaled down
            if name.endswith("weight") and p.ndim == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith(("proj.weight", "mlp.2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx: Tensor) -> Tensor:
        t = idx.shape[1]
        if t > self.block_size:
            raise ValueError(f"GPT: sequence length {t} exceeds block_size {self.block_size}")
        x = self.tok(idx) + self.pos(arange(t, device=idx.device))  # (N, T, E)
        return self.head(self.ln_f(self.blocks(x)))  # (N, T, V)

    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        do_sample: bool = True,
        generator: object = None,
    ) -> Tensor:
        """Extend (N, T) ids by ``max_new_tokens``: sample each from softmax(logits / temperature), among the
        ``top_k`` most likely when given; ``do_sample=False`` takes the most likely token (greedy)."""
        _check_sampling(max_new_tokens, temperature, top_k)
        was_training = self.training
        self.eval()
        with no_grad():
            for _ in range(max_new_tokens):
                logits = self(idx[:, -self.block_size :])[:, -1, :]  # (N, V), the last position's
                if do_sample:
                    nxt = sample_logits(logits, temperature, top_k, generator)
                else:
                    nxt = logits.argmax(-1, keepdim=True)
                idx = cat([idx, nxt], dim=1)
        self.train(was_training)
        return idx


def _check_sampling(max_new_tokens: int, temperature: float, top_k: int | None) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"generate: temperature must be a finite number > 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"generate: top_k must be an integer >= 1 or None, got {top_k!r}")


def sample_logits(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, generator: object = None
) -> Tensor:
    """One token id per row of (N, V) ``logits``, as (N, 1): drawn from softmax(logits / temperature), restricted
    to the ``top_k`` largest logits when given (ties at the k-th value stay in, as nanoGPT)."""
    _check_sampling(0, temperature, top_k)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (N, 1), the k-th largest
        logits = logits.masked_fill(logits < kth, -math.inf)
    return multinomial(logits.softmax(-1), 1, generator=generator)  # (N, 1)


def encode(text: str) -> list[int]:
    """Token ids of ``text`` over VOCAB ("0123456789+="); a ValueError names any character outside it."""
    bad = sorted({c for c in text if c not in VOCAB})
    if bad:
        raise ValueError(f"encode: characters {bad} of {text!r} are not in the vocabulary {VOCAB!r}")
    return [VOCAB.index(c) for c in text]


def decode(ids: list[int]) -> str:
    """The text of token ids over VOCAB."""
    return "".join(VOCAB[i] for i in ids)


def problem(a: int, b: int, digits: int) -> str:
    """The full text of a + b: zero-padded operands, '=', the sum's digits reversed (``digits + 1`` of them)."""
    return f"{a:0{digits}d}+{b:0{digits}d}=" + f"{a + b:0{digits + 1}d}"[::-1]


def prompt_length(digits: int) -> int:
    """Tokens before the answer: two operands, '+' and '='."""
    return 2 * digits + 2


def addition_data(digits: int = 2, n_val: int = 1000, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """Every a + b with ``digits``-digit operands, shuffled by ``seed``; ``n_val`` held out (never trained on).
    Items are (input ids (T,), targets (T,)): targets are the inputs shifted by one, IGNORE on prompt positions."""
    top = 10**digits
    pairs = np.random.default_rng(seed).permutation(top * top)
    a, b = pairs // top, pairs % top
    text = np.array([encode(problem(int(x), int(y), digits)) for x, y in zip(a, b)], dtype=np.int64)  # (P, T + 1)
    x, y = text[:, :-1], text[:, 1:].copy()
    y[:, : prompt_length(digits) - 1] = IGNORE  # only the answer tokens carry loss
    return TensorDataset(x[n_val:], y[n_val:]), TensorDataset(x[:n_val], y[:n_val])


def answer_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Next-token cross-entropy of (N, T, V) logits against (N, T) targets, over the answer tokens only."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)


def exact_match(model: GPT, loader: object, digits: int) -> float:
    """The fraction of problems in ``loader`` whose whole answer, generated greedily from the prompt, is right."""
    p = prompt_length(digits)
    right = total = None
    for x, y in loader:
        out = model.generate(x[:, :p], digits + 1, do_sample=False)[:, p:]  # (N, digits + 1)
        hit = (out == y[:, p - 1 :]).all(dim=1).sum()
        right = hit if right is None else right + hit
        total = x.shape[0] if total is None else total + x.shape[0]
    return right.item() / total  # .item() waits for the device: once, at the end


def normalize_prompt(prompt: str, digits: int) -> str:
    """``prompt`` with operands of "a+b=" zero-padded to ``digits`` (the trained width); other text as is."""
    encode(prompt)
    head, eq, tail = prompt.partition("=")
    a, plus, b = head.partition("+")
    if plus and eq and not tail and a.isdigit() and b.isdigit() and max(len(a), len(b)) <= digits:
        return f"{int(a):0{digits}d}+{int(b):0{digits}d}="
    return prompt
