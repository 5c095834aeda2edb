"""A fused LSTM cell: one op per time step instead of about fifteen.

Composed from primitives, a step records ~15 nodes (matmul, add, 4 slices, 5 activations,
3 products, a sum); in a training loop over many short steps that bookkeeping costs more
than the arithmetic, so speed demands a fused op. h and c travel packed as one (N, 2H)
tensor, so the recurrence needs no slicing.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from ._core import check_same_device, make, spec


def lstm_cell(xw: Tensor, hc: Tensor, w_hh: Tensor, b_hh: Tensor | None = None) -> Tensor:
    """One LSTM step. xw (N, 4H): the input projection W_ih x + b_ih; hc (N, 2H): [h, c].
    Gates (i, f, g, o) = split(xw + h W_hh^T + b_hh); c' = sigmoid(f) c + sigmoid(i) tanh(g);
    h' = sigmoid(o) tanh(c'). Returns [h', c'] as (N, 2H)."""
    check_same_device("lstm_cell", xw, hc)
    n, h2 = hc.shape if hc.ndim == 2 else (None, None)
    if hc.ndim != 2 or h2 % 2 or xw.shape != (n, 2 * h2) or w_hh.shape != (2 * h2, h2 // 2):
        raise ValueError(
            f"lstm_cell: expected xw (N, 4H), hc (N, 2H), w_hh (4H, H); got {xw.shape}, {hc.shape}, {w_hh.shape}"
        )
    be = xw._be
    hid = h2 // 2
    i, f, g, o, c_new, tc = _step(_array_math(be), xw._data, hc._data, w_hh._data, None if b_hh is None else b_hh._data)
    out = be.xp.concatenate([o * tc, c_new], axis=1)
    s_xw, s_hc, s_w, s_b = spec(xw), spec(hc), spec(w_hh), spec(b_hh)

    def rule(m: Any, gout: Any, xw: Any, hc: Any, w: Any, b: Any, *cache: Any) -> tuple:
        i, f, g, o, _, tc = m.cached(cache, lambda: _step(m, xw, hc, w, b))
        h, c = hc[:, :hid], hc[:, hid:]
        gh, gc_out = gout[:, :hid], gout[:, hid:]
        gc = gc_out + gh * o * (1 - tc * tc)
        dgates = m.concatenate(
            [gc * g * i * (1 - i), gc * c * f * (1 - f), gc * i * (1 - g * g), gh * tc * o * (1 - o)], 1
        )  # (N, 4H)
        ghc = None
        if s_hc is not None:
            ghc = m.concatenate([m.matmul(dgates, w), gc * f], 1)
        gw = None if s_w is None else m.matmul(dgates.T, h)
        gb = None if s_b is None else m.sum(dgates, 0)
        return (dgates if s_xw is not None else None), ghc, gw, gb

    return make("lstm_cell", out, be, (xw, hc, w_hh, b_hh), rule, saved=(xw, hc, w_hh, b_hh, i, f, g, o, c_new, tc))


def _step(m: Any, xw: Any, hc: Any, w: Any, b: Any) -> tuple:
    """The gates and the new cell state, on arrays (forward) or on tensors (recomputed for gradients of gradients)."""
    hid = w.shape[1]
    gates = xw + m.matmul(hc[:, :hid], w.T)
    if b is not None:
        gates = gates + b
    i = m.sigmoid(gates[:, :hid])
    f = m.sigmoid(gates[:, hid : 2 * hid])
    g = m.tanh(gates[:, 2 * hid : 3 * hid])
    o = m.sigmoid(gates[:, 3 * hid :])
    c_new = f * hc[:, hid:] + i * g
    return i, f, g, o, c_new, m.tanh(c_new)


def _array_math(be: Any) -> Any:
    from ._math import array_math

    return array_math(be)
