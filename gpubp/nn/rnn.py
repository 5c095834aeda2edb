"""Recurrent layers: RNN, LSTM, GRU, multi-layer, ``batch_first``, PyTorch's parameter names and
gate order. Each step is built from ops, so backpropagation through time comes from the tape.
The input projection of a layer is one matrix product over all time steps at once."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .. import ops
from ..errors import InputError, InputIndexError
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import _int_arg, _param
from .module import Module

__all__ = ["GRU", "LSTM", "RNN"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _RNNBase(Module):
    _mode = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
        mode: str | None = None,
    ) -> None:
        super().__init__()
        mode = mode or self._mode
        layer = type(self).__name__
        if bidirectional or proj_size:
            raise InputError(f"{layer}: bidirectional=True and proj_size > 0 are not supported in gpubp yet (issue 14)")
        for name, value, minimum in (("input_size", input_size, 0), ("hidden_size", hidden_size, 1)):
            _int_arg(layer, name, value, minimum)
        _int_arg(layer, "num_layers", num_layers, 1)
        if not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
            raise ValueError(f"{layer}: dropout must be a number in [0, 1], got {dropout!r}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        self.bidirectional, self.proj_size = False, 0
        g = _GATES[mode] * hidden_size
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else hidden_size
            setattr(self, f"weight_ih_l{layer}", _param(g, n_in, device=device, dtype=dtype))
            setattr(self, f"weight_hh_l{layer}", _param(g, hidden_size, device=device, dtype=dtype))
            if bias:
                setattr(self, f"bias_ih_l{layer}", _param(g, device=device, dtype=dtype))
                setattr(self, f"bias_hh_l{layer}", _param(g, device=device, dtype=dtype))
        bound = 1 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _layer_params(self, layer: int) -> tuple:
        get = self._parameters.get
        return (
            get(f"weight_ih_l{layer}"),
            get(f"weight_hh_l{layer}"),
            get(f"bias_ih_l{layer}"),
            get(f"bias_hh_l{layer}"),
        )

    def _check(self, x: Tensor) -> None:
        order = "(N, T, input_size)" if self.batch_first else "(T, N, input_size)"
        layer = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{layer}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[2] != self.input_size:
            got = f"input.size(-1) = {x.shape[-1]}" if x.ndim == 3 else f"a {x.ndim}-D input"
            raise InputError(
                f"{layer}: expected input {order} with input_size={self.input_size}, got shape {x.shape} ({got})"
            )
        w = self.weight_ih_l0
        if x.dtype != w.dtype:  # PyTorch: a ValueError ("RNN input dtype ... does not match weight dtype ...")
            raise InputError(
                f"{layer}: input dtype {x.dtype} does not match weight dtype {w.dtype}; convert the input with "
                f".to({w.dtype}) or the model with .to(dtype={x.dtype})"
            )
        if x.shape[1 if self.batch_first else 0] == 0:
            raise RuntimeError(
                f"{layer}: expected sequence length to be larger than 0, got input of shape {x.shape} {order}"
            )

    def _initial(self, h0: Tensor | None, like: Tensor, batch: int, name: str = "h_0") -> Tensor:
        shape = (self.num_layers, batch, self.hidden_size)
        if h0 is None:
            with like._be.enter():
                return Tensor._wrap(like._be.xp.zeros(shape, dtype=like.dtype), like._be)
        layer = type(self).__name__
        if not isinstance(h0, Tensor):
            raise TypeError(f"{layer}: initial state {name} must be a Tensor or None, got {type(h0).__name__}")
        if h0.shape != shape:
            raise InputError(f"{layer}: initial state {name} must have shape {shape}, got {h0.shape}")
        return h0

    def _run(self, x: Tensor, h0: Tensor | None, c0: Tensor | None = None) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        self._check(x)
        batch = x.shape[0] if self.batch_first else x.shape[1]
        h0 = self._initial(h0, x, batch)
        c0 = self._initial(c0, x, batch, "c_0") if self.mode == "LSTM" else None
        seq = x.transpose(0, 1) if self.batch_first else x  # (T, N, I)
        hs, cs = [], []
        hid = self.hidden_size
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer_params(layer)
            proj = F.linear(seq, w_ih, b_ih)  # (T, N, G*H): every time step in one product
            outs = []
            if self.mode == "LSTM":
                hc = ops.cat([h0[layer], c0[layer]], 1)  # h and c packed: the fused cell's state
                for t in range(seq.shape[0]):
                    hc = ops.lstm_cell(proj[t], hc, w_hh, b_hh)
                    outs.append(hc[:, :hid])
                hs.append(hc[:, :hid])
                cs.append(hc[:, hid:])
            else:
                h = h0[layer]
                for t in range(seq.shape[0]):
                    h = self._cell(proj[t], h, w_hh, b_hh)
                    outs.append(h)
                hs.append(h)
            seq = ops.stack(outs, 0)
            if self.dropout and self.training and layer < self.num_layers - 1:
                seq = F.dropout(seq, self.dropout, True)
        out = seq.transpose(0, 1) if self.batch_first else seq
        return out, hs, cs

    def _cell(self, xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
        """One RNN or GRU step from ops (the LSTM step is the fused ``ops.lstm_cell``)."""
        hw = F.linear(h, w_hh, b_hh)
        if self.mode == "RNN_TANH":
            return F.tanh(xw + hw)
        if self.mode == "RNN_RELU":
            return F.relu(xw + hw)
        xr, xz, xn = xw.chunk(3, 1)  # GRU: r, z, n
        hr, hz, hn = hw.chunk(3, 1)
        r = F.sigmoid(xr + hr)
        z = F.sigmoid(xz + hz)
        n = F.tanh(xn + r * hn)
        return (1 - z) * n + z * h

    def forward(self, x: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(output (T, N, H) or (N, T, H), h_n (num_layers, N, H))."""
        out, hs, _ = self._run(x, hx)
        return out, ops.stack(hs, 0)

    def flatten_parameters(self) -> None:
        """A no-op, for PyTorch code that calls it: gpubp keeps each weight as its own tensor (there is no cuDNN
        weight buffer to pack them into)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        return s


class RNN(_RNNBase):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or relu."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
            mode=f"RNN_{nonlinearity.upper()}",
        )
        self.nonlinearity = nonlinearity


class LSTM(_RNNBase):
    """LSTM with gates (i, f, g, o): c_t = f c_{t-1} + i g, h_t = o tanh(c_t)."""

    _mode = "LSTM"

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(output, (h_n, c_n))."""
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            # PyTorch indexes hx[1] and fails with an IndexError; say what is expected instead
            raise InputIndexError(f"LSTM: hx must be a tuple (h_0, c_0) of two tensors, got {type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        out, hs, cs = self._run(x, h0, c0)
        return out, (ops.stack(hs, 0), ops.stack(cs, 0))


class GRU(_RNNBase):
    """GRU with gates (r, z, n): n = tanh(W_in x + r (W_hn h + b_hn)), h = (1 - z) n + z h."""

    _mode = "GRU"
