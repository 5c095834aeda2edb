"""Recurrent layers: RNN, LSTM, GRU, multi-layer, bidirectional, LSTM's proj_size, ``batch_first``, unbatched
input and PackedSequence input, with PyTorch's parameter names and gate order.

A layer direction is one op (``ops.rnn_scan``) over every step: its input projection W_ih x is one matrix product
over all steps, and its backward forms the weight gradients once over all steps. Inputs are handled in packed
order (step t's rows are the sequences still running at t), a padded batch being the case of equal lengths."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import ops
from ..errors import InputError, InputIndexError
from ..ops.recurrent import _take_rows, rnn_scan
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import _int_arg, _param
from .module import Module
from .rnn_cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from .utils.rnn import PackedSequence, _host, _index

__all__ = ["GRU", "LSTM", "RNN", "RNNBase", "GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """The recurrent layers' common base (``mode``: RNN_TANH, RNN_RELU, LSTM or GRU), as ``torch.nn.RNNBase``."""

    def __init__(
        self,
        mode: str,
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
    ) -> None:
        super().__init__()
        layer = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        if mode not in _GATES:
            raise ValueError(f"RNNBase: Unrecognized RNN mode: {mode}")
        for name, value, minimum in (("input_size", input_size, 0), ("hidden_size", hidden_size, 1)):
            _int_arg(layer, name, value, minimum)
        _int_arg(layer, "num_layers", num_layers, 1)
        _int_arg(layer, "proj_size", proj_size, 0)
        if not isinstance(dropout, numbers.Real) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{layer}: dropout must be a number in [0, 1], got {dropout!r}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{layer}: proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError(f"{layer}: proj_size ({proj_size}) has to be smaller than hidden_size ({hidden_size})")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bool(bidirectional), proj_size
        dirs = 2 if bidirectional else 1
        g = _GATES[mode] * hidden_size
        h_out = proj_size or hidden_size
        for layer_k in range(num_layers):
            n_in = input_size if layer_k == 0 else h_out * dirs
            for sfx in ("", "_reverse")[:dirs]:
                setattr(self, f"weight_ih_l{layer_k}{sfx}", _param(g, n_in, device=device, dtype=dtype))
                setattr(self, f"weight_hh_l{layer_k}{sfx}", _param(g, h_out, device=device, dtype=dtype))
                if bias:
                    setattr(self, f"bias_ih_l{layer_k}{sfx}", _param(g, device=device, dtype=dtype))
                    setattr(self, f"bias_hh_l{layer_k}{sfx}", _param(g, device=device, dtype=dtype))
                if proj_size:
                    setattr(
                        self, f"weight_hr_l{layer_k}{sfx}", _param(proj_size, hidden_size, device=device, dtype=dtype)
                    )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias uniform in (-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _layer_params(self, layer: int, sfx: str) -> tuple:
        get = self._parameters.get
        return tuple(get(f"{w}_l{layer}{sfx}") for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))

    def _check(self, x: Tensor) -> None:
        order = "(N, T, input_size)" if self.batch_first else "(T, N, input_size)"
        layer = self._name
        if not isinstance(x, Tensor):
            raise TypeError(f"{layer}: input must be a Tensor or a PackedSequence, got {type(x).__name__}")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            got = f"input.size(-1) = {x.shape[-1]}" if x.ndim in (2, 3) else f"a {x.ndim}-D input"
            raise InputError(
                f"{layer}: expected input {order} with input_size={self.input_size}, or unbatched (T, input_size); "
                f"got shape {x.shape} ({got})"
            )
        w = self.weight_ih_l0
        if x.dtype != w.dtype:  # PyTorch: a ValueError ("RNN input dtype ... does not match weight dtype ...")
            raise InputError(
                f"{layer}: input dtype {x.dtype} does not match weight dtype {w.dtype}; convert the input with "
                f".to({w.dtype}) or the model with .to(dtype={x.dtype})"
            )
        if x.shape[1 if self.batch_first and x.ndim == 3 else 0] == 0:
            raise RuntimeError(
                f"{layer}: expected sequence length to be larger than 0, got input of shape {x.shape} {order}"
            )

    def _initial(self, h0: Tensor | None, like: Tensor, batch: int | None, size: int, name: str) -> Tensor:
        """The initial state (num_layers * num_directions, N, size); ``batch`` None: unbatched (no N dim)."""
        dirs = 2 if self.bidirectional else 1
        shape = (self.num_layers * dirs, size) if batch is None else (self.num_layers * dirs, batch, size)
        if h0 is None:
            with like._be.enter():
                return Tensor._wrap(like._be.xp.zeros(shape, dtype=like.dtype), like._be)
        layer = self._name
        if not isinstance(h0, Tensor):
            raise TypeError(f"{layer}: initial state {name} must be a Tensor or None, got {type(h0).__name__}")
        if h0.shape != shape:
            raise InputError(f"{layer}: initial state {name} must have shape {shape}, got {h0.shape}")
        if h0.dtype != like.dtype:
            raise InputError(f"{layer}: initial state {name} dtype {h0.dtype} does not match input dtype {like.dtype}")
        return h0

    def _run(self, x: Any, h0: Tensor | None, c0: Tensor | None = None) -> tuple[Any, Tensor, Tensor | None]:
        """(output, h_n, c_n (LSTM) or None), output of the input's kind (a tensor or a PackedSequence)."""
        packed = isinstance(x, PackedSequence)
        hid, h_out = self.hidden_size, self.proj_size or self.hidden_size
        lstm = self.mode == "LSTM"
        if packed:
            data = x.data
            if not isinstance(data, Tensor) or data.ndim != 2 or data.shape[1] != self.input_size:
                raise InputError(
                    f"{self._name}: expected PackedSequence data (sum of lengths, {self.input_size}), got "
                    f"{getattr(data, 'shape', type(data).__name__)}"
                )
            self._check(data)
            sizes = [int(b) for b in _host(x.batch_sizes, self._name)]
            batch, unbatched = sizes[0], False
        else:
            self._check(x)
            unbatched = x.ndim == 2
            seq = x.unsqueeze(1) if unbatched else (x.transpose(0, 1) if self.batch_first else x)  # (T, N, I)
            batch = seq.shape[1]
            sizes = [batch] * seq.shape[0]
            data = seq.reshape(seq.shape[0] * batch, self.input_size)  # (T*N, I): packed order of equal lengths
        h0 = self._initial(h0, data, None if unbatched else batch, h_out, "h_0")
        c0 = self._initial(c0, data, None if unbatched else batch, hid, "c_0") if lstm else None
        if unbatched:
            h0, c0 = h0.unsqueeze(1), (c0.unsqueeze(1) if lstm else None)
        elif packed and x.sorted_indices is not None:  # states follow the sequences into sorted order
            h0 = _take_rows(h0, 1, x.sorted_indices)
            c0 = _take_rows(c0, 1, x.sorted_indices) if lstm else None
        last = self._last_rows(sizes, data)
        dirs = 2 if self.bidirectional else 1
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d, sfx in enumerate(("", "_reverse")[:dirs]):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_params(layer, sfx)
                k = layer * dirs + d
                xw = F.linear(data, w_ih, b_ih)  # (R, G*H): every step in one product
                state = ops.cat([h0[k], c0[k]], 1) if lstm else h0[k]
                y = rnn_scan(self.mode, xw, state, w_hh, b_hh, w_hr, sizes, reverse=d == 1)  # (R, S)
                fin = y[:batch] if d == 1 else (y[-batch:] if last is None else _take_rows(y, 0, last))
                hs.append(fin[:, :h_out] if lstm else fin)
                if lstm:
                    cs.append(fin[:, h_out:])
                outs.append(y[:, :h_out] if lstm else y)
            data = outs[0] if dirs == 1 else ops.cat(outs, 1)  # (R, dirs * H_out)
            if self.dropout and self.training and layer < self.num_layers - 1:
                data = F.dropout(data, self.dropout, True)
        h_n = ops.stack(hs, 0)
        c_n = ops.stack(cs, 0) if lstm else None
        if packed:
            out = PackedSequence(data, x.batch_sizes, x.sorted_indices, x.unsorted_indices)
            if x.unsorted_indices is not None:  # back to the caller's order
                h_n = _take_rows(h_n, 1, x.unsorted_indices)
                c_n = _take_rows(c_n, 1, x.unsorted_indices) if lstm else None
            return out, h_n, c_n
        out = data.reshape(len(sizes), batch, data.shape[1])  # (T, N, dirs * H_out)
        if unbatched:
            return out.squeeze(1), h_n.squeeze(1), (c_n.squeeze(1) if lstm else None)
        return (out.transpose(0, 1) if self.batch_first else out), h_n, c_n

    @staticmethod
    def _last_rows(sizes: list[int], like: Tensor) -> Tensor | None:
        """The packed row of each sequence's last step (None when all have the same length: the last B rows)."""
        if sizes[-1] == sizes[0]:
            return None
        arr = np.asarray(sizes)
        offs = np.concatenate([[0], np.cumsum(arr)])
        lens = (arr[None, :] > np.arange(sizes[0])[:, None]).sum(1)  # (B,)
        return _index(offs[lens - 1] + np.arange(sizes[0]), like)

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple[Any, Tensor]:  # noqa: A002
        """(output (T, N, D*H) or (N, T, D*H) or a PackedSequence, h_n (num_layers * D, N, H))."""
        out, h_n, _ = self._run(input, hx)
        return out, h_n

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """The parameters of each layer and direction, in torch's order (w_ih, w_hh, b_ih, b_hh, w_hr)."""
        dirs = ("", "_reverse")[: 2 if self.bidirectional else 1]
        return [
            [p for p in self._layer_params(k, sfx) if p is not None] for k in range(self.num_layers) for sfx in dirs
        ]

    def flatten_parameters(self) -> None:
        """A no-op, for PyTorch code that calls it: gpubp keeps each weight as its own tensor (there is no cuDNN
        weight buffer to pack them into)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
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
            f"RNN_{nonlinearity.upper()}",
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
        )
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """LSTM with gates (i, f, g, o): c_t = f c_{t-1} + i g, h_t = o tanh(c_t) (times W_hr with proj_size)."""

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
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
        )

    def forward(  # type: ignore[override]
        self,
        input: Any,  # noqa: A002
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Any, tuple[Tensor, Tensor]]:
        """(output, (h_n, c_n)); h_n (num_layers * D, N, proj_size or hidden_size), c_n (..., hidden_size)."""
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            # PyTorch indexes hx[1] and fails with an IndexError; say what is expected instead
            raise InputIndexError(f"LSTM: hx must be a tuple (h_0, c_0) of two tensors, got {type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        out, h_n, c_n = self._run(input, h0, c0)
        return out, (h_n, c_n)


class GRU(RNNBase):
    """GRU with gates (r, z, n): n = tanh(W_in x + r (W_hn h + b_hn)), h = (1 - z) n + z h."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "GRU",
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
        )
