"""The CUDA backend's attention primitives: kernels/attention.cu launched through CuPy (a mixin of CupyBackend)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import kernels
from .attention_reference import dropout_threshold

ATTN_BLOCK = 128  # threads per attention block: D / 32 threads a row, so 128 / 32 / 64 rows per block (D 32/64/128)


def _head_dim(e: int, ev: int) -> int | None:
    """The smallest instantiated head-size bound holding both head sizes, or None (above 128: the reference)."""
    return next((d for d in kernels.ATTENTION_HEAD_DIMS if max(e, ev) <= d), None)


class FusedAttention:
    """attention_forward / attention_backward on gpubp's flash-style kernels."""

    def _attention_plan(self, q: Any, k: Any, v: Any, bias: Any, group: int) -> tuple[str, int] | str:
        """(ctype, D) when the kernels take these inputs, else the reason they do not."""
        ct = kernels.CTYPES.get(q.dtype.name)
        if ct is None or k.dtype != q.dtype or v.dtype != q.dtype:
            return f"dtype {q.dtype}/{k.dtype}/{v.dtype}"
        if q.ndim != 3 or k.ndim != 3 or v.ndim != 3 or (bias is not None and bias.ndim != 3):
            return "not 3-D"
        (B, L, E), (Bk, S, Ek), (Bv, Sv, Ev) = q.shape, k.shape, v.shape
        # the kernels index without bounds checks: shapes that do not fit together go to the reference (which raises)
        if group < 1 or B != Bk * group or Ek != E or (Bv, Sv) != (Bk, S):
            return f"shapes q {q.shape}, k {k.shape}, v {v.shape}, group {group}"
        if bias is not None and any(n not in (1, full) for n, full in zip(bias.shape, (B, L, S))):
            return f"bias shape {bias.shape} for scores {(B, L, S)}"
        d = _head_dim(E, Ev)
        if d is None:
            return f"head size {max(q.shape[2], v.shape[2])} > {kernels.ATTENTION_HEAD_DIMS[-1]}"
        return ct, d

    def _attention_args(self, q: Any, bias: Any, causal: bool, scale: float, dropout_p: float, seed: Any) -> tuple:
        """The trailing launch arguments shared by the kernels: bias and its element strides, then the scalars."""
        acc = np.float64 if q.dtype == np.float64 else np.float32
        if bias is None:
            b = (np.uint64(0), np.int64(0), np.int64(0), np.int64(0))  # a null pointer: no bias
        else:
            # strides, not a copy: a broadcast mask (stride 0 on a size-1 axis) stays one row in memory
            bias = bias.astype(acc, copy=False)
            strides = [0 if n == 1 else s // bias.itemsize for n, s in zip(bias.shape, bias.strides)]
            b = (bias, *(np.int64(s) for s in strides))
        threshold = dropout_threshold(dropout_p) if dropout_p > 0 and seed is not None else 0
        tail = (
            np.int32(1 if causal else 0),
            np.float64(scale),
            seed if threshold else np.uint64(0),
            np.int64(threshold),
            np.float64(1.0 / (1.0 - dropout_p) if threshold else 1.0),
        )
        return b, tail

    def _attention_grid(self, tiles: int) -> tuple[int]:
        # the kernels loop over tiles: a grid of sm_count * 16 blocks at most fills the GPU and covers any size
        return (max(1, min(tiles, self._sm_count * 16)),)

    def attention_forward(
        self, q: Any, k: Any, v: Any, bias: Any, causal: bool, scale: float, dropout_p: float, seed: Any, group: int
    ) -> tuple[Any, Any]:
        """Fused attention forward: out (B, L, Ev) and lse (B, L), no L x S matrix in memory."""
        plan = self._attention_plan(q, k, v, bias, group)
        if isinstance(plan, str):
            self._fallback("attention_forward", plan)
            return super().attention_forward(q, k, v, bias, causal, scale, dropout_p, seed, group)
        ct, d = plan
        xp = self.xp
        # q, k, v made contiguous (a copy only for views such as heads split out of (N, L, H, E)): the kernels index
        # rows as (b * L + i) * E, which keeps the tile loads coalesced and the argument list short
        q, k, v = self._contig(q), self._contig(k), self._contig(v)
        (B, L, E), (_, S, _), ev = q.shape, k.shape, v.shape[2]
        acc = np.float64 if q.dtype == np.float64 else np.float32
        out = xp.empty((B, L, ev), dtype=q.dtype)
        lse = xp.empty((B, L), dtype=acc)
        if B * L == 0:
            return out, lse
        b, tail = self._attention_args(q, bias, causal, scale, dropout_p, seed)
        rows = ATTN_BLOCK // max(1, d // 32)
        args = (q, k, v, *b, out, lse, np.int64(B), np.int64(L), np.int64(S), np.int64(E), np.int64(ev))
        args += (np.int64(group), *tail)
        grid = self._attention_grid(B * -(-L // rows))
        self._kernel("attention", f"attention_forward<{ct}, {d}>")(grid, (ATTN_BLOCK,), args)
        return out, lse

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
        """Fused attention backward from the saved out and lse: (dq, dk, dv), dk/dv summed over each group."""
        plan = self._attention_plan(q, k, v, bias, group)
        if not isinstance(plan, str) and (g.shape != out.shape or out.shape != q.shape[:2] + v.shape[2:]):
            plan = f"gradient {g.shape} / output {out.shape}"
        if not isinstance(plan, str) and lse.shape != q.shape[:2]:
            plan = f"lse {lse.shape}"
        if isinstance(plan, str):
            self._fallback("attention_backward", plan)
            return super().attention_backward(g, q, k, v, out, lse, bias, causal, scale, dropout_p, seed, group)
        ct, d = plan
        xp = self.xp
        acc = np.float64 if q.dtype == np.float64 else np.float32
        q, k, v = self._contig(q), self._contig(k), self._contig(v)
        g = self._contig(g.astype(q.dtype, copy=False))
        out = self._contig(out.astype(q.dtype, copy=False))
        lse = self._contig(lse.astype(acc, copy=False))
        (B, L, E), (Bk, S, _), ev = q.shape, k.shape, v.shape[2]
        dq = xp.empty_like(q)
        dk = xp.empty_like(k)
        dv = xp.empty_like(v)
        if B * L == 0 or S == 0:  # nothing attends: every gradient is zero
            dq[...] = 0
            dk[...] = 0
            dv[...] = 0
            return dq, dk, dv
        delta = xp.empty((B, L), dtype=acc)  # Delta_i = g_i . out_i, one warp per row
        self._kernel("attention", f"attention_delta<{ct}>")(
            self._attention_grid(-(-B * L // 8)), (256,), (g, out, delta, np.int64(B * L), np.int64(ev))
        )
        b, tail = self._attention_args(q, bias, causal, scale, dropout_p, seed)
        rows = ATTN_BLOCK // max(1, d // 32)
        sizes = (np.int64(L), np.int64(S), np.int64(E), np.int64(ev), np.int64(group))
        args = (g, q, k, v, lse, delta, *b, dq, np.int64(B), *sizes, *tail)
        self._kernel("attention", f"attention_backward_dq<{ct}, {d}>")(
            self._attention_grid(B * -(-L // rows)), (ATTN_BLOCK,), args
        )
        args = (g, q, k, v, lse, delta, *b, dk, dv, np.int64(Bk), *sizes, *tail)
        self._kernel("attention", f"attention_backward_dkv<{ct}, {d}>")(
            self._attention_grid(Bk * -(-S // rows)), (ATTN_BLOCK,), args
        )
        return dq, dk, dv
