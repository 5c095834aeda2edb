"""The attention primitives' references, on ``xp``: a mixin of ``Backend`` (the NumPy backend's own path; the CUDA
backend overrides them with kernels/attention.cu and is checked against them).

Blocked over query rows, so at most one block of scores (about ``SCORE_BLOCK`` floats) is in memory at once, never
L x S; each block is a few batched matmuls. Backward recomputes a block's probabilities from the saved
log-sum-exp. Query batch ``b`` reads key/value batch ``b // group`` (GQA without copying): the query is viewed as
(Bk, group, L, E) and the key as (Bk, 1, S, E), which matmul broadcasts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SCORE_BLOCK = 2**20  # floats of scores per query block (4 MiB in float32): big matmuls, bounded memory

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def dropout_threshold(p: float) -> int:
    """The integer a score's 24-bit hash is compared with: kept iff hash >= round(p * 2**24)."""
    return int(round(p * 2**24))


def dropout_keep(
    xp: Any,
    seed: Any,
    b0: int,
    b1: int,
    i0: int,
    i1: int,
    L: int,
    S: int,
    p: float,
    j1: int | None = None,  # noqa: N803
) -> Any:
    """The dropout keep-mask (b1 - b0, i1 - i0, j1) of query batches [b0, b1), rows [i0, i1), keys [0, j1 or S):
    splitmix64 of ``idx = (b * L + i) * S + j`` and the 1-element uint64 ``seed``; kept iff
    ``hash >> 40 >= threshold``. Every backend draws this same mask (kernels/attention.cu computes it per score)."""
    u = xp.uint64
    b = xp.arange(b0, b1, dtype=u).reshape(-1, 1, 1)
    i = xp.arange(i0, i1, dtype=u).reshape(1, -1, 1)
    j = xp.arange(S if j1 is None else j1, dtype=u).reshape(1, 1, -1)
    idx = (b * u(L) + i) * u(S) + j  # (nb, ni, S), uint64 arithmetic wraps mod 2**64 as the kernels'
    x = seed.astype(u).reshape(1, 1, 1) + (idx + u(1)) * u(_GOLDEN)
    x = (x ^ (x >> u(30))) * u(_MIX1)
    x = (x ^ (x >> u(27))) * u(_MIX2)
    x = x ^ (x >> u(31))
    return (x >> u(40)) >= u(dropout_threshold(p))


def _math_dtype(dt: Any) -> Any:
    return np.float64 if dt == np.float64 else np.float32


def _blocks(L: int, S: int, B: int, causal: bool) -> int:
    """Query rows per block: one block's scores within SCORE_BLOCK; causal, at least 4 blocks of >= 128 rows when
    L allows, so the blocks above the diagonal skip their keys (about 3/8 of the work at 4 blocks)."""
    bq = max(1, min(L, SCORE_BLOCK // max(1, B * S)))
    if causal and L >= 512:
        bq = min(bq, max(128, -(-L // 4)))
    return bq


class AttentionReferences:
    """attention_forward / attention_backward on raw arrays."""

    def _attn_scores(self, q4: Any, k4: Any, b4: Any, causal: bool, scale: float, i0: int, i1: int, send: int) -> Any:
        """scale * q k^T + bias for query rows [i0, i1) and keys [0, send), masked entries -inf: (Bk, G, bq, send)."""
        xp = self.xp
        # the scale goes on the (bq, E) queries, not the (bq, send) scores: one pass over the smaller array
        s = xp.matmul(q4[:, :, i0:i1] * scale, k4[:, :, :send].swapaxes(-1, -2))
        if b4 is not None:
            rows = slice(i0, i1) if b4.shape[2] > 1 else slice(None)
            s += b4[:, :, rows, :send] if b4.shape[3] > 1 else b4[:, :, rows]
        if causal:  # key j is seen by query i iff j <= i: an additive 0 / -inf (bq, send), cheaper than a masked store
            i = xp.arange(i0, i1).reshape(-1, 1)
            j = xp.arange(send).reshape(1, -1)
            t = s.dtype.type
            s += xp.where(j > i, t(-np.inf), t(0.0))  # in s's dtype: no float64 temporary
        return s

    def _attn_views(self, q: Any, k: Any, v: Any, bias: Any, group: int) -> tuple:
        """q as (Bk, G, L, E) in the math dtype, k and v as (Bk, 1, S, .), bias as (1 or Bk, 1 or G, Lm, Sm)."""
        acc = _math_dtype(q.dtype)
        B, L, E = q.shape
        Bk = B // group
        q4 = q.astype(acc, copy=False).reshape(Bk, group, L, E)
        k4 = k.astype(acc, copy=False)[:, None]
        v4 = v.astype(acc, copy=False)[:, None]
        b4 = None
        if bias is not None:
            bias = bias.astype(acc, copy=False)
            if bias.shape[0] == 1:
                b4 = bias[:, None]
            else:
                b4 = bias.reshape(Bk, group, *bias.shape[1:])
        return q4, k4, v4, b4

    def _attn_bounded(self, q4: Any, k4: Any, bias: Any, scale: float) -> bool:
        """Whether every score is within +-60 (|q_i . k_j| <= |q_i| |k_j|), so softmax needs no row-max shift:
        exp stays finite and normal in float32 and the per-row max (the slowest reduction here) is skipped. On
        NumPy only: the check reads a number back, which on a GPU would wait for it."""
        if self.xp is not np or bias is not None or q4.size == 0 or k4.size == 0:
            return False
        qn = float(np.einsum("...e,...e->...", q4, q4).max())
        kn = float(np.einsum("...e,...e->...", k4, k4).max())
        return abs(scale) * np.sqrt(qn * kn) < 60.0

    def attention_forward(
        self, q: Any, k: Any, v: Any, bias: Any, causal: bool, scale: float, dropout_p: float, seed: Any, group: int
    ) -> tuple[Any, Any]:
        """softmax(scale q k^T + bias, masked) (dropped out) @ v: out (B, L, Ev) in q's dtype, lse (B, L)."""
        xp = self.xp
        acc = _math_dtype(q.dtype)
        B, L, _ = q.shape
        Bk, S, _ = k.shape
        Ev = v.shape[2]
        q4, k4, v4, b4 = self._attn_views(q, k, v, bias, group)
        out = xp.zeros((Bk, group, L, Ev), dtype=acc)  # (Bk, G, L, Ev)
        lse = xp.full((Bk, group, L), -np.inf, dtype=acc)
        drop = dropout_p > 0.0 and seed is not None
        bq = _blocks(L, S, B, causal)
        small = self._attn_bounded(q4, k4, bias, scale)
        if not drop:  # v with a column of ones: one product gives the weighted values and the row sums
            v4 = xp.concatenate([v4, xp.ones(v4.shape[:-1] + (1,), dtype=acc)], -1)
        for i0 in range(0, L if S else 0, bq):
            i1 = min(L, i0 + bq)
            send = min(S, i1) if causal else S  # causal: keys past the block's last query are never seen
            s = self._attn_scores(q4, k4, b4, causal, scale, i0, i1, send)  # (Bk, G, bq, send)
            if small:
                mx = xp.zeros(s.shape[:-1] + (1,), dtype=acc)
            else:
                mx = s.max(-1, keepdims=True)
                mx = xp.where(mx > -np.inf, mx, 0.0)  # a row that sees no key: exp(-inf) = 0, no NaN
                s -= mx
            xp.exp(s, out=s)
            if drop:
                tot = s.sum(-1, keepdims=True)
            else:
                o = xp.matmul(s, v4[:, :, :send])  # (Bk, G, bq, Ev + 1): normalized after the product
                tot = o[..., Ev:]
            with np.errstate(divide="ignore"):
                lse[:, :, i0:i1] = (mx + xp.log(tot))[..., 0]
            inv = 1.0 / xp.where(tot > 0, tot, 1.0)
            if drop:
                keep = dropout_keep(xp, seed, 0, B, i0, i1, L, S, dropout_p, send).reshape(s.shape)
                inv *= 1.0 / (1.0 - dropout_p)
                s *= keep
                o = xp.matmul(s, v4[:, :, :send])  # normalized after the product: (bq, Ev) work, not (bq, send)
            o = o[..., :Ev]
            o *= inv
            out[:, :, i0:i1] = o
        return out.reshape(B, L, Ev).astype(q.dtype, copy=False), lse.reshape(B, L)

    def attention_backward(
        self,
        g: Any,
        q: Any,
        k: Any,
        v: Any,
        out: Any,
        lse: Any,
        bias: Any,
        causal: bool,
        scale: float,
        dropout_p: float,
        seed: Any,
        group: int,
    ) -> tuple[Any, Any, Any]:
        """(dq, dk, dv) from the saved out and lse, probabilities recomputed per block; dk, dv summed over groups."""
        xp = self.xp
        acc = _math_dtype(q.dtype)
        B, L, E = q.shape
        Bk, S, _ = k.shape
        Ev = v.shape[2]
        q4, k4, v4, b4 = self._attn_views(q, k, v, bias, group)
        g4 = g.astype(acc, copy=False).reshape(Bk, group, L, Ev)
        # Delta_i = g_i . out_i (= sum_j P_ij dP_ij, dropout included), (Bk, G, L, 1)
        delta = xp.einsum("...e,...e->...", g4, out.astype(acc, copy=False).reshape(Bk, group, L, Ev))[..., None]
        lse4 = lse.astype(acc, copy=False).reshape(Bk, group, L, 1)
        lse4 = xp.where(lse4 > -np.inf, lse4, np.inf)  # a row that saw no key: P = exp(-inf) = 0
        dq = xp.zeros((Bk, group, L, E), dtype=acc)
        dk = xp.zeros((Bk, S, E), dtype=acc)
        dv = xp.zeros((Bk, S, Ev), dtype=acc)
        drop = dropout_p > 0.0 and seed is not None
        bq = _blocks(L, S, B, causal)
        for i0 in range(0, L if S else 0, bq):
            i1 = min(L, i0 + bq)
            n = i1 - i0
            send = min(S, i1) if causal else S
            p = self._attn_scores(q4, k4, b4, causal, scale, i0, i1, send)  # (Bk, G, n, send)
            p -= lse4[:, :, i0:i1]
            xp.exp(p, out=p)  # P, recomputed
            gb = g4[:, :, i0:i1]
            dp = xp.matmul(gb, v4[:, :, :send].swapaxes(-1, -2))  # g v^T, (Bk, G, n, send)
            g3 = gb.reshape(Bk, group * n, Ev)
            if drop:
                m = dropout_keep(xp, seed, 0, B, i0, i1, L, S, dropout_p, send).reshape(p.shape) * (
                    1.0 / (1.0 - dropout_p)
                )
                m = m.astype(acc, copy=False)
                dp *= m
                pm = (p * m).reshape(Bk, group * n, send)
            else:
                pm = p.reshape(Bk, group * n, send)
            dv[:, :send] += xp.matmul(pm.swapaxes(-1, -2), g3)  # (P M)^T g, summed over the group's rows
            dp -= delta[:, :, i0:i1]
            dp *= p  # dS / scale: the scale goes on the (., E) products below, not on this (n, send) block
            dq[:, :, i0:i1] = xp.matmul(dp, k4[:, :, :send])
            q3 = q4[:, :, i0:i1].reshape(Bk, group * n, E)
            dk[:, :send] += xp.matmul(dp.reshape(Bk, group * n, send).swapaxes(-1, -2), q3)
        dq *= scale
        dk *= scale
        return (
            dq.reshape(B, L, E).astype(q.dtype, copy=False),
            dk.astype(k.dtype, copy=False),
            dv.astype(v.dtype, copy=False),
        )
