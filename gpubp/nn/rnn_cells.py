"""Single-step recurrent cells: RNNCell, LSTMCell, GRUCell, with PyTorch's parameter names (weight_ih, weight_hh,
bias_ih, bias_hh). A step is the recurrent layers' op (``ops.rnn_scan``) over one time step."""

from __future__ import annotations

import math
from typing import Any

from .. import ops
from ..errors import InputError
from ..ops.recurrent import rnn_scan
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import _int_arg, _param
from .module import Module

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]


class RNNCellBase(Module):
    """The cells' common base, as ``torch.nn.RNNCellBase``: weights (num_chunks * hidden_size, ·), uniform in
    (-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""

    _mode = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        layer = type(self).__name__
        _int_arg(layer, "input_size", input_size, 0)
        _int_arg(layer, "hidden_size", hidden_size, 1)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        g = num_chunks * hidden_size
        self.weight_ih = _param(g, input_size, device=device, dtype=dtype)
        self.weight_hh = _param(g, hidden_size, device=device, dtype=dtype)
        if bias:
            self.bias_ih = _param(g, device=device, dtype=dtype)
            self.bias_hh = _param(g, device=device, dtype=dtype)
        else:
            self.bias_ih = self.bias_hh = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias uniform in (-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s

    def _input(self, x: Tensor) -> tuple[Tensor, bool]:
        """x as (N, input_size), and whether it was unbatched (input_size,)."""
        layer = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{layer}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim not in (1, 2):
            raise ValueError(f"{layer}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        if x.shape[-1] != self.input_size:
            raise InputError(
                f"{layer}: input has inconsistent input_size: got {x.shape[-1]} expected {self.input_size} "
                f"(input shape {x.shape})"
            )
        if x.dtype != self.weight_ih.dtype:
            raise InputError(f"{layer}: input dtype {x.dtype} does not match weight dtype {self.weight_ih.dtype}")
        return (x.unsqueeze(0), True) if x.ndim == 1 else (x, False)

    def _state(self, h: Tensor | None, x: Tensor, unbatched: bool, name: str) -> Tensor:
        """A state (N, hidden_size): zeros when None, as PyTorch."""
        layer = type(self).__name__
        shape = (x.shape[0], self.hidden_size)
        if h is None:
            with x._be.enter():
                return Tensor._wrap(x._be.xp.zeros(shape, dtype=x.dtype), x._be)
        if not isinstance(h, Tensor):
            raise TypeError(f"{layer}: {name} must be a Tensor or None, got {type(h).__name__}")
        want = (self.hidden_size,) if unbatched else shape
        if h.shape != want:
            raise InputError(f"{layer}: {name} must have shape {want} for input of shape {x.shape}, got {h.shape}")
        return h.unsqueeze(0) if unbatched else h

    def _step(self, mode: str, x: Tensor, state: Tensor) -> Tensor:
        xw = F.linear(x, self.weight_ih, self.bias_ih)  # (N, G*H)
        return rnn_scan(mode, xw, state, self.weight_hh, self.bias_hh)


class RNNCell(RNNCellBase):
    """h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        """h' (N, hidden_size), or (hidden_size,) for an unbatched input."""
        x, unbatched = self._input(input)
        h = self._step(f"RNN_{self.nonlinearity.upper()}", x, self._state(hx, x, unbatched, "hx"))
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step, gates (i, f, g, o): c' = f c + i g, h' = o tanh(c')."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(
        self,
        input: Tensor,  # noqa: A002
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """(h', c'), each (N, hidden_size) or (hidden_size,) for an unbatched input."""
        x, unbatched = self._input(input)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: hx must be a tuple (h_0, c_0) of two tensors, got {type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        state = ops.cat([self._state(h0, x, unbatched, "hx[0]"), self._state(c0, x, unbatched, "hx[1]")], 1)
        hc = self._step("LSTM", x, state)
        hid = self.hidden_size
        h, c = hc[:, :hid], hc[:, hid:]
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step, gates (r, z, n): n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        """h' (N, hidden_size), or (hidden_size,) for an unbatched input."""
        x, unbatched = self._input(input)
        h = self._step("GRU", x, self._state(hx, x, unbatched, "hx"))
        return h.squeeze(0) if unbatched else h
