"""Gradient cases of the recurrent family (``ops.rnn_scan``), in tests/test_ops_grad.py's format (its CASES takes
them in). The torch side runs the same steps with torch's own cells (torch.rnn_tanh_cell, torch.gru_cell,
torch.lstm_cell), the input projection given as the cell's input with an identity W_ih."""

from __future__ import annotations

from conftest import torch

from gpubp.ops.recurrent import rnn_scan

_CELLS = {"RNN_TANH": "rnn_tanh_cell", "RNN_RELU": "rnn_relu_cell", "GRU": "gru_cell", "LSTM": "lstm_cell"}


def _tscan(mode, xw, s0, w, b=None, whr=None, sizes=None, rev=False):
    """rnn_scan with torch's cells: steps in packed order, the state shrinking (forward) or growing (reverse)."""
    sizes = sizes or [s0.shape[0]] * (xw.shape[0] // s0.shape[0])
    offs = [sum(sizes[:t]) for t in range(len(sizes) + 1)]
    eye = torch.eye(xw.shape[1], dtype=xw.dtype)
    cell = getattr(torch, _CELLS[mode])
    p = w.shape[1]
    outs, s = [None] * len(sizes), None
    for t in reversed(range(len(sizes))) if rev else range(len(sizes)):
        bs = sizes[t]
        if s is None:
            s_in = s0[:bs]
        else:
            s_in = s[:bs] if bs <= s.shape[0] else torch.cat([s, s0[s.shape[0] : bs]])
        x = xw[offs[t] : offs[t + 1]]
        if mode == "LSTM":
            if whr is None:
                h, c = cell(x, (s_in[:, :p], s_in[:, p:]), eye, w, None, b)
            else:  # torch.lstm_cell has no projection: the step written out
                i, f, g, o = (x + s_in[:, :p] @ w.T + b).chunk(4, 1)
                c = torch.sigmoid(f) * s_in[:, p:] + torch.sigmoid(i) * torch.tanh(g)
                h = (torch.sigmoid(o) * torch.tanh(c)) @ whr.T
            s = torch.cat([h, c], 1)
        else:
            s = cell(x, s_in, eye, w, None, b)
        outs[t] = s
    return torch.cat(outs)


def _case(mode, shapes, sizes=None, rev=False):
    """(gpubp fn, torch fn) over (xw, state, w_hh, b_hh[, w_hr])."""

    def ours(xw, s0, w, b, whr=None):
        return rnn_scan(mode, xw, s0, w, b, whr, sizes, rev)

    def theirs(xw, s0, w, b, whr=None):
        return _tscan(mode, xw, s0, w, b, whr, sizes, rev)

    return ("rnn_scan", ours, theirs, shapes, "any")


CASES = [
    _case("RNN_TANH", [(6, 3), (2, 3), (3, 3), (3,)]),
    _case("RNN_RELU", [(5, 2), (3, 2), (2, 2), (2,)], sizes=[3, 2], rev=True),
    _case("GRU", [(6, 6), (2, 2), (6, 2), (6,)]),
    _case("GRU", [(6, 6), (3, 2), (6, 2), (6,)], sizes=[3, 2, 1], rev=True),
    _case("GRU", [(6, 6), (3, 2), (6, 2), (6,)], sizes=[3, 2, 1]),
    _case("LSTM", [(4, 8), (2, 4), (8, 2), (8,)]),
    _case("LSTM", [(6, 12), (3, 5), (12, 2), (12,), (2, 3)], sizes=[3, 2, 1], rev=True),
    ("rnn_scan", lambda xw, s0, w: rnn_scan("GRU", xw, s0, w), lambda xw, s0, w: _tscan("GRU", xw, s0, w),
     [(2, 3), (1, 1), (3, 1)], "any"),
]  # fmt: skip
