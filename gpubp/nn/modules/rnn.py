"""torch.nn.modules.rnn: RNN, LSTM, GRU."""

from ..rnn import GRU, LSTM, RNN

__all__ = ["GRU", "LSTM", "RNN"]
