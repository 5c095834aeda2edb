"""Recurrent ops. ``rnn_scan``: every step of one layer direction (RNN tanh/relu, LSTM with optional projection,
GRU; padded or packed batches, forward or reverse) as one op, for the layers and the cells alike.

Composed from primitives, a step records ~15 nodes (matmul, add, slices, activations, products); over many short
steps that bookkeeping costs more than the arithmetic, so speed demands a fused op. rnn_scan goes further: one node
per layer direction; its backward runs backpropagation through time on arrays and forms W_hh's (and W_hr's)
gradient as ONE product over all steps' rows instead of one per step, and the input projections' gradient as one
(R, G*H) array, never a full-size zero gradient per step. Its rule is written over ``m`` with a recomputed forward
(``m.cached``), so gradients of gradients come from the same code.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from ._core import check_same_device, make, spec

# the family's registration (gpubp/ops/__init__.py's FAMILIES)
DIFFERENTIABLE: tuple[str, ...] = ("rnn_scan",)
NON_DIFFERENTIABLE: tuple[str, ...] = ()
TOP_LEVEL: tuple[str, ...] = ()  # gpubp.ops.rnn_scan only: PyTorch has no top-level twin


def _array_math(be: Any) -> Any:
    from ._math import array_math

    return array_math(be)


# ---- a whole layer direction as one op ---------------------------------------------------------------------------

_MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
_CHUNKS = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def rnn_scan(
    mode: str,
    xw: Tensor,
    state: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None = None,
    w_hr: Tensor | None = None,
    batch_sizes: Any = None,
    reverse: bool = False,
) -> Tensor:
    """Every step of one recurrent layer in one direction, as one op. ``mode``: RNN_TANH, RNN_RELU, LSTM or GRU.
    xw (R, G*H): the input projections W_ih x + b_ih of all steps, in packed order (step t's rows are the first
    ``batch_sizes[t]`` sequences; None: T equal steps of B = state rows); state (B, S): the initial state, [h, c]
    for LSTM (h of size P = proj_size with ``w_hr`` (P, H)). ``reverse``: run from the last step to the first.
    Returns (R, S): the state after each step, in xw's row order."""
    if mode not in _MODES:
        raise ValueError(f"rnn_scan: mode must be one of {_MODES}, got {mode!r}")
    for t in (xw, state, w_hh, b_hh, w_hr):
        if t is not None:
            check_same_device("rnn_scan", xw, t)
    hid = w_hh.shape[0] // _CHUNKS[mode] if w_hh.ndim == 2 else -1
    p = w_hh.shape[1] if w_hh.ndim == 2 else -1
    s_size = p + hid if mode == "LSTM" else hid
    rows, batch = (xw.shape[0] if xw.ndim == 2 else -1), (state.shape[0] if state.ndim == 2 else -1)
    ok = (
        w_hh.ndim == 2
        and w_hh.shape[0] == _CHUNKS[mode] * hid
        and xw.ndim == 2
        and xw.shape[1] == w_hh.shape[0]
        and state.shape == (batch, s_size)
        and (b_hh is None or b_hh.shape == (w_hh.shape[0],))
        and (
            w_hr is None
            if mode != "LSTM"
            else (w_hr is None and p == hid) or (w_hr is not None and w_hr.shape == (p, hid))
        )
    )
    if not ok:
        raise ValueError(
            f"rnn_scan: {mode} expects xw (R, {_CHUNKS[mode]}H), state (B, {'P+H' if mode == 'LSTM' else 'H'}), "
            f"w_hh ({_CHUNKS[mode]}H, {'P' if mode == 'LSTM' else 'H'}), b_hh ({_CHUNKS[mode]}H,), w_hr (P, H)/None; "
            f"got {xw.shape}, {state.shape}, {w_hh.shape}, {None if b_hh is None else b_hh.shape}, "
            f"{None if w_hr is None else w_hr.shape}"
        )
    dts = {t.dtype for t in (xw, state, w_hh, b_hh, w_hr) if t is not None}
    if len(dts) != 1:
        raise TypeError(f"rnn_scan: xw, state and the weights must share one dtype, got {sorted(map(str, dts))}")
    if batch_sizes is None:
        if batch <= 0 or rows % batch:
            raise ValueError(f"rnn_scan: xw rows ({rows}) must be a multiple of the state's batch ({batch})")
        sizes = (batch,) * (rows // batch)
    else:
        sizes = tuple(int(b) for b in batch_sizes)
        if (
            not sizes
            or sizes[0] != batch
            or sum(sizes) != rows
            or any(a < b or b <= 0 for a, b in zip(sizes, sizes[1:]))
        ):
            raise ValueError(
                f"rnn_scan: batch_sizes must be positive, non-increasing, start at the state's batch ({batch}) and "
                f"sum to xw's rows ({rows}); got {list(sizes)}"
            )
    offs = [0]
    for b in sizes:
        offs.append(offs[-1] + b)
    be = xw._be
    raw = [None if t is None else t._data for t in (xw, state, w_hh, b_hh, w_hr)]
    with be.enter():
        cache = _scan(_array_math(be), mode, *raw, sizes, offs, reverse)
        out = be.xp.concatenate(cache[0], axis=0)
    _rebase(out, cache, sizes, offs, reverse)
    specs = [spec(t) for t in (xw, state, w_hh, b_hh, w_hr)]

    def rule(m: Any, gout: Any, xw: Any, s0: Any, w: Any, b: Any, whr: Any, cached: Any) -> tuple:
        outs, ins, caches = m.cached(cached, lambda: _scan(m, mode, xw, s0, w, b, whr, sizes, offs, reverse))
        return _scan_back(m, mode, gout, s0, w, whr, sizes, offs, reverse, outs, ins, caches, specs)

    return make("rnn_scan", out, be, (xw, state, w_hh, b_hh, w_hr), rule, saved=(xw, state, w_hh, b_hh, w_hr, cache))


def _scan(m: Any, mode: str, xw: Any, s0: Any, w: Any, b: Any, whr: Any, sizes: tuple, offs: list, rev: bool) -> tuple:
    """Run the steps (arrays forward, tensors when recomputed for gradients of gradients): per step t, in row
    order, its output state, the state it read and what its backward needs."""
    steps = len(sizes)
    outs, ins, caches = [None] * steps, [None] * steps, [None] * steps
    s = None
    for t in range(steps - 1, -1, -1) if rev else range(steps):
        bs = sizes[t]
        if s is None:
            s_in = s0[:bs]
        elif bs < s.shape[0]:  # forward over packed rows: the sequences that ended drop out
            s_in = s[:bs]
        elif bs > s.shape[0]:  # reverse: the sequences that end here start from the initial state
            s_in = m.concatenate([s, s0[s.shape[0] : bs]], 0)
        else:
            s_in = s
        s, caches[t] = _cell(m, mode, xw[offs[t] : offs[t + 1]], s_in, w, b, whr)
        ins[t] = s_in
        outs[t] = s
    return outs, ins, caches


def _rebase(out: Any, cache: tuple, sizes: tuple, offs: list, rev: bool) -> None:
    """Point the saved per-step states (and the states each step read) at rows of ``out``, so backward keeps one
    copy of them, not two."""
    outs, ins, _ = cache
    for t in range(len(sizes)):
        outs[t] = out[offs[t] : offs[t + 1]]
    for t in range(len(sizes)):
        prev = t + 1 if rev else t - 1
        if 0 <= prev < len(sizes) and sizes[t] <= sizes[prev]:  # s_in was (a slice of) the previous state
            ins[t] = out[offs[prev] : offs[prev] + sizes[t]]


def _cell(m: Any, mode: str, x: Any, s_in: Any, w: Any, b: Any, whr: Any) -> tuple:
    """One step: (new state, what its backward reads)."""
    p = w.shape[1]
    h = s_in[:, :p] if mode == "LSTM" else s_in
    hw = m.matmul(h, w.T)
    if b is not None:
        hw = hw + b
    if mode == "RNN_TANH":
        return m.tanh(x + hw), ()
    if mode == "RNN_RELU":
        pre = x + hw
        return m.where(m.raw(pre) > 0, pre, m.zeros_like(pre)), ()  # relu'(0) = 0, as PyTorch
    if mode == "GRU":  # gates (r, z, n); b_hn stays inside r * (W_hn h + b_hn), as PyTorch
        rz = m.sigmoid(x[:, : 2 * p] + hw[:, : 2 * p])  # r and z in one pass
        r, z = rz[:, :p], rz[:, p:]
        hn = hw[:, 2 * p :]
        n = m.tanh(x[:, 2 * p :] + r * hn)
        return (1 - z) * n + z * h, (r, z, n, hn)
    hid = w.shape[0] // 4  # LSTM: gates (i, f, g, o)
    gates = x + hw
    sig = m.sigmoid(gates)  # i, f and o in one pass (g's block unused): fewer calls beat the extra quarter
    i, f, o = sig[:, :hid], sig[:, hid : 2 * hid], sig[:, 3 * hid :]
    g = m.tanh(gates[:, 2 * hid : 3 * hid])
    c_new = f * s_in[:, p:] + i * g
    tc = m.tanh(c_new)
    hh = o * tc
    hp = hh if whr is None else m.matmul(hh, whr.T)  # proj_size: h = W_hr (o tanh(c))
    return m.concatenate([hp, c_new], 1), (i, f, g, o, tc, hh)


def _cell_back(m: Any, mode: str, gs: Any, s_in: Any, s_out: Any, cache: tuple, w: Any, whr: Any) -> tuple:
    """One step's backward: (d input projection, d hidden projection (W_hh h + b_hh), d state read)."""
    if mode == "RNN_TANH":
        d = gs * (1 - s_out * s_out)
        return d, d, m.matmul(d, w)
    if mode == "RNN_RELU":
        d = m.where(m.raw(s_out) > 0, gs, m.zeros_like(gs))
        return d, d, m.matmul(d, w)
    if mode == "GRU":
        r, z, n, hn = cache
        dn = gs * (1 - z) * (1 - n * n)
        dz = gs * (s_in - n) * z * (1 - z)
        dr = dn * hn * r * (1 - r)
        dhw = m.concatenate([dr, dz, dn * r], 1)
        return m.concatenate([dr, dz, dn], 1), dhw, m.matmul(dhw, w) + gs * z
    i, f, g, o, tc, _ = cache
    p = w.shape[1]
    gh = gs[:, :p]
    ghh = gh if whr is None else m.matmul(gh, whr)
    gc = gs[:, p:] + ghh * o * (1 - tc * tc)
    d = m.concatenate(
        [gc * g * i * (1 - i), gc * s_in[:, p:] * f * (1 - f), gc * i * (1 - g * g), ghh * tc * o * (1 - o)], 1
    )
    return d, d, m.concatenate([m.matmul(d, w), gc * f], 1)


def _scan_back(
    m: Any, mode: str, gout: Any, s0: Any, w: Any, whr: Any, sizes: tuple, offs: list, rev: bool,
    outs: list, ins: list, caches: list, specs: list,
) -> tuple:  # fmt: skip
    """Backpropagation through time. The weight gradients are formed once, as one product over all steps' rows,
    not one per step."""
    steps = len(sizes)
    p = w.shape[1]
    dxs, dhws, gss, g0 = [None] * steps, [None] * steps, [None] * steps, []
    carry = None
    for t in range(steps) if rev else range(steps - 1, -1, -1):
        bs = sizes[t]
        g = gout[offs[t] : offs[t + 1]]
        if carry is not None:
            k = carry.shape[0]
            g = g + carry if k == bs else m.concatenate([g[:k] + carry, g[k:]], 0)
        gss[t] = g
        dxs[t], dhws[t], gin = _cell_back(m, mode, g, ins[t], outs[t], caches[t], w, whr)
        if not rev:
            carry = gin
            continue
        k = sizes[t + 1] if t + 1 < steps else 0  # rows that came from the next step's state
        if bs > k:
            g0.append(gin[k:])
        carry = gin[:k] if k else None
    if rev:
        g0.reverse()
        g_s0 = g0[0] if len(g0) == 1 else m.concatenate(g0, 0)
    else:
        g_s0 = carry
    s_xw, s_s0, s_w, s_b, s_whr = specs
    gx = gw = gb = gwhr = None
    dhw = None
    if s_w is not None or s_b is not None or (s_xw is not None and mode != "GRU"):
        dhw = m.concatenate(dhws, 0)  # (R, G*H)
    if s_xw is not None:
        gx = dhw if mode != "GRU" else m.concatenate(dxs, 0)  # the same gradient but for GRU's n gate
    if s_w is not None or s_b is not None:
        if s_w is not None:
            h_in = m.concatenate([s[:, :p] if mode == "LSTM" else s for s in ins], 0)  # (R, H or P)
            gw = m.matmul(dhw.T, h_in)
        if s_b is not None:
            gb = m.sum(dhw, 0)
    if s_whr is not None:
        gh = m.concatenate([g[:, :p] for g in gss], 0)  # each step's whole gradient of h (its output and the next step)
        gwhr = m.matmul(gh.T, m.concatenate([c[5] for c in caches], 0))  # (P, H)
    return gx, (g_s0 if s_s0 is not None else None), gw, gb, gwhr


def _take_rows(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """index_select along ``dim`` for indices the recurrent code built itself (packing orders, permutations of
    sequences, each sequence's last row): distinct and in range by construction, so no bounds check (a host read
    of the index, a sync on a GPU) and the gradient is a plain scatter."""
    key = (slice(None),) * dim + (index._data,)
    shp, dt = x._data.shape, x._data.dtype
    with x._be.enter():
        data = x._data[key]

    def rule(m: Any, g: Any) -> tuple:
        return (m.index_scatter(g, shp, dt, key, False),)

    return make("index_select", data, x._be, (x,), rule)
