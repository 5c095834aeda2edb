"""Connectionist temporal classification loss (Graves et al., 2006), as ``torch.nn.functional.ctc_loss``.

The forward runs the alpha recursion in log space, vectorized over the batch and the extended label axis
l' = (blank, y1, blank, y2, ..., blank) of length L = 2 S + 1, looping over time only; the backward runs the beta
recursion the same way and forms PyTorch's gradient with respect to the log-probabilities,
    grad[t, n, c] = exp(lp[t, n, c]) - exp(log sum_{s: l'_s = c} exp(alpha[t, s] + beta[t, s]) + nll_n - lp[t, n, c]),
zero for t >= input_length (PyTorch's formula assumes log_softmax outputs: the exp(lp) term vanishes through it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ..ops._core import make
from ..ops.loss import check_reduction, host_values
from ..tensor import Tensor

__all__ = ["ctc_loss"]


def _lengths(name: str, v: Any, n: int, unbatched: bool) -> np.ndarray:
    """Host int64 lengths of shape (n,). PyTorch reads lengths on the host too: a tensor on a GPU is copied back."""
    if isinstance(v, Tensor):
        if v.dtype.kind not in "iu":
            raise InputError(f"ctc_loss: {name} must be integral, got dtype {v.dtype}")
        arr = np.asarray(v.tolist(), dtype=np.int64)  # a host sync, as PyTorch's (lengths drive the loop bounds)
    elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        arr = np.asarray(v, dtype=np.int64)
    elif isinstance(v, Sequence) and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in v):
        arr = np.asarray(list(v), dtype=np.int64)
    else:
        raise TypeError(f"ctc_loss: {name} must be a Tensor or a tuple of ints, got {type(v).__name__}")
    if arr.ndim > 1 or (unbatched and arr.size != 1):
        raise InputError(f"ctc_loss: {name} must be 1-D (one length per sequence), got shape {arr.shape}")
    arr = arr.reshape(-1)
    if arr.size != n:
        raise InputError(f"ctc_loss: {name} must be of size batch_size ({n}), got {arr.size}")
    if arr.size and arr.min() < 0:
        raise InputError(f"ctc_loss: Expected {name} to have value at least 0, but got value {int(arr.min())}")
    return arr


def _lse3(xp: Any, a: Any, b: Any, c: Any) -> Any:
    """log(exp(a) + exp(b) + exp(c)), -inf where all three are."""
    m = xp.maximum(xp.maximum(a, b), c)
    safe = xp.where(xp.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        return xp.log(xp.exp(a - safe) + xp.exp(b - safe) + xp.exp(c - safe)) + safe


def _shift(xp: Any, a: Any, k: int, right: bool) -> Any:
    """``a`` (N, L) moved k places along L (toward higher s when ``right``), filled with -inf (False in a mask)."""
    k = min(k, a.shape[1])
    fill = xp.full((a.shape[0], k), -np.inf if a.dtype.kind == "f" else 0, dtype=a.dtype)
    if right:
        return xp.concatenate([fill, a[:, : a.shape[1] - k]], axis=1)
    return xp.concatenate([a[:, k:], fill], axis=1)


def _padded_targets(xp: Any, targets: Tensor, tl: np.ndarray, s: int, classes: int) -> Any:
    """(N, S) int64 targets from padded (N, >= S) or concatenated 1-D targets, on the device; padding reads 0."""
    n = tl.size
    if s == 0:
        return xp.zeros((n, 0), dtype=np.int64)
    if targets.ndim == 2:
        tg = targets._data[:, :s]
    else:
        offsets = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
        pos = np.arange(s)[None, :]
        idx = np.where(pos < tl[:, None], offsets[:, None] + pos, 0)
        tg = targets._data[xp.asarray(idx)]
    return xp.clip(tg.astype(np.int64), 0, classes - 1)  # never an out-of-bounds read (the CPU raised already)


def _check_targets(targets: Tensor, tl: np.ndarray, n: int, blank: int, classes: int) -> None:
    if not isinstance(targets, Tensor):
        raise TypeError(f"ctc_loss: targets must be a Tensor, got {type(targets).__name__}")
    if targets.dtype.kind not in "iuf":
        raise InputError(f"ctc_loss: targets must hold class indices (integers), got dtype {targets.dtype}")
    longest = int(tl.max()) if tl.size else 0
    if targets.ndim == 2:
        if targets.shape[0] != n or targets.shape[1] < longest:
            raise InputError(
                f"ctc_loss: Expected tensor to have size at least {longest} at dimension 1 (and {n} at dimension 0), "
                f"but got shape {targets.shape} for argument #2 'targets'"
            )
        values = host_values(targets)
        if values is not None:
            values = np.concatenate([values[i, : tl[i]] for i in range(n)]) if n else values.reshape(-1)
    elif targets.ndim == 1:
        if targets.shape[0] != int(tl.sum()):
            raise InputError(
                f"ctc_loss: Expected tensor to have size {int(tl.sum())} at dimension 0 (the sum of target_lengths), "
                f"but got size {targets.shape[0]} for argument #2 'targets'"
            )
        values = host_values(targets)
    else:
        raise InputError(f"ctc_loss: targets must be padded (N, S) or concatenated 1-D, got shape {targets.shape}")
    if values is not None and values.size and ((values < 0) | (values >= classes)).any():
        raise IndexError(f"ctc_loss: target class indices must be in [0, {classes}), blank={blank}")


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Tensor | Sequence[int],
    target_lengths: Tensor | Sequence[int],
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """CTC negative log-likelihood of targets under (T, N, C) (or unbatched (T, C)) log-probabilities; 'mean'
    divides each sequence's loss by its target length, then averages. Lengths are read on the host (as PyTorch).
    Differentiable once in log_probs, with PyTorch's gradient; gradients of gradients are not supported."""
    if not isinstance(log_probs, Tensor):
        raise TypeError(f"ctc_loss: log_probs must be a Tensor, got {type(log_probs).__name__}")
    check_reduction("ctc_loss", reduction)
    unbatched = log_probs.ndim == 2
    if log_probs.ndim not in (2, 3):
        raise InputError(f"ctc_loss: log_probs must be (T, N, C) or unbatched (T, C), got shape {log_probs.shape}")
    if log_probs.dtype.kind != "f":
        raise InputError(f"ctc_loss: log_probs must be floating point, got {log_probs.dtype}")
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    if unbatched and isinstance(targets, Tensor) and targets.ndim == 1:
        targets = targets.unsqueeze(0)
    t_max, n, classes = lp.shape
    if not 0 <= blank < classes:
        raise InputError(f"ctc_loss: blank must be in label range [0, {classes}), got {blank}")
    il = _lengths("input_lengths", input_lengths, n, unbatched)
    tl = _lengths("target_lengths", target_lengths, n, unbatched)
    if il.size and il.max() > t_max:
        raise InputError(f"ctc_loss: Expected input_lengths to have value at most {t_max}, but got value {il.max()}")
    _check_targets(targets, tl, n, blank, classes)
    if targets._be is not lp._be:
        raise InputError(f"ctc_loss: targets are on {targets.device}, log_probs on {lp.device}")
    nll = _ctc_nll(lp, targets, il, tl, blank, zero_infinity)
    be, xp = lp._be, lp._be.xp
    if reduction == "mean":
        with be.enter():
            denom = Tensor._wrap(xp.asarray(np.maximum(tl, 1), dtype=lp.dtype), be)
        return (nll / denom).mean()
    if reduction == "sum":
        return nll.sum()
    return nll.reshape(()) if unbatched else nll


def _ctc_nll(lp: Tensor, targets: Tensor, il: np.ndarray, tl: np.ndarray, blank: int, zero_inf: bool) -> Tensor:
    """Per-sequence losses (N,) of checked (T, N, C) log-probabilities, an op with its own VJP."""
    be, xp = lp._be, lp._be.xp
    t_max, n, classes = lp.shape
    s = int(tl.max()) if n else 0
    width = 2 * s + 1
    with be.enter():
        x = lp._data
        ext = xp.full((n, width), blank, dtype=np.int64)  # l': blank, y1, blank, y2, ..., blank
        ext[:, 1::2] = _padded_targets(xp, targets, tl, s, classes)
        inside = xp.asarray(np.arange(width)[None, :] < (2 * tl + 1)[:, None])
        skip = xp.zeros((n, width), dtype=bool)  # s - 2 -> s allowed: a label unlike the one two back
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        lpe = xp.where(inside[None], x[:, xp.arange(n)[:, None], ext], -np.inf)  # (T, N, L)
        alpha = xp.full((max(t_max, 1), n, width), -np.inf, dtype=x.dtype)
        if t_max:
            alpha[0, :, :2] = lpe[0, :, :2]
        for t in range(1, t_max):
            a = alpha[t - 1]
            a2 = xp.where(skip, _shift(xp, a, 2, True), -np.inf)
            alpha[t] = _lse3(xp, a, _shift(xp, a, 1, True), a2) + lpe[t]
        rows = xp.arange(n)
        last = xp.asarray(np.maximum(il - 1, 0))
        end = alpha[last, rows]  # (N, L) at each sequence's last frame
        e_last = end[rows, xp.asarray(2 * tl)]
        e_prev = xp.where(xp.asarray(tl > 0), end[rows, xp.asarray(np.maximum(2 * tl - 1, 0))], -np.inf)
        nll = -xp.logaddexp(e_last, e_prev)
        empty = xp.asarray(il == 0)  # no frames: probability 1 of the empty target, 0 of any other
        nll = xp.where(empty, xp.where(xp.asarray(tl == 0), 0.0, np.inf), nll).astype(x.dtype)
        out = xp.where(xp.isinf(nll), 0.0, nll).astype(x.dtype) if zero_inf else nll

    def rule(m: Any, g: Any, x: Any, lpe: Any, alpha: Any, nll: Any) -> tuple:
        if isinstance(g, Tensor):
            raise RuntimeError("ctc_loss: gradients of gradients (create_graph=True) are not supported")
        beta = xp.full(alpha.shape, -np.inf, dtype=x.dtype)
        stop = xp.asarray(il - 1)[:, None]  # (N, 1): each sequence's last frame
        pos = np.arange(width)[None, :]
        at_end = xp.asarray((pos == 2 * tl[:, None]) | ((pos == 2 * tl[:, None] - 1) & (tl[:, None] > 0)))
        skip_next = _shift(xp, skip, 2, False)  # (N, L): s -> s + 2 allowed
        for t in range(t_max - 1, -1, -1):
            init = xp.where(at_end, lpe[t], -np.inf)
            if t + 1 < t_max:
                b = beta[t + 1]
                b2 = xp.where(skip_next, _shift(xp, b, 2, False), -np.inf)
                rec = _lse3(xp, b, _shift(xp, b, 1, False), b2) + lpe[t]
                beta[t] = xp.where(t == stop, init, xp.where(t < stop, rec, -np.inf))
            else:
                beta[t] = xp.where(t == stop, init, -np.inf)
        ab = alpha[:t_max] + beta[:t_max]  # (T, N, L)
        top = ab.max(axis=2, keepdims=True)
        top = xp.where(xp.isfinite(top), top, 0)
        # sum over the s with l'_s = c as one batched matmul with a one-hot (N, L, C): N L C memory, no scatter
        onehot = (ext[:, :, None] == xp.arange(classes)[None, None, :]).astype(x.dtype)  # (N, L, C)
        summed = xp.matmul(xp.exp(ab - top).transpose(1, 0, 2), onehot).transpose(1, 0, 2)  # (T, N, C)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lcab = xp.log(summed) + top
            grad = xp.exp(x) - xp.exp(lcab + nll[None, :, None] - x)
        live = xp.asarray(np.arange(t_max)[:, None] < il[None, :])[:, :, None]  # frames inside each sequence
        if zero_inf:
            live = live & ~xp.isinf(nll)[None, :, None]
        return (xp.where(live, grad * g[None, :, None], 0.0).astype(x.dtype),)

    return make("ctc_loss", out, be, (lp,), rule, saved=(lp, lpe, alpha, nll))
