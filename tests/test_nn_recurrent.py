"""Recurrent layers and cells against torch.nn in float64: outputs, final states, input, initial-state and parameter
gradients, state_dict keys; bidirectional, proj_size, unbatched and PackedSequence input; gpubp.nn.utils.rnn."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import nn
from gpubp.nn.utils import rnn as R
from gpubp.testing import gradcheck, gradgradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy()


def _twins(kind: str, kw: dict, device: str, size: tuple = (3, 4)) -> tuple[Any, Any]:
    """(ours, torch's) with torch's float64 parameters copied into ours; the state_dict keys must agree."""
    theirs = getattr(torch.nn, kind)(*size, **kw).double()
    ours = getattr(nn, kind)(*size, **kw).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours.to(device), theirs


def _states(kind: str, shapes: list[tuple], rng: np.random.Generator, device: str) -> tuple[Any, Any, list]:
    """Random initial states (h or (h, c)) for both, and the (ours, theirs) leaf pairs."""
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [gpubp.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    if kind.startswith("LSTM"):
        return tuple(ours), tuple(theirs), list(zip(ours, theirs))
    return ours[0], theirs[0], list(zip(ours, theirs))


def _loss(out: Any, states: Any, rng_key: tuple, lib: Any) -> Any:
    """A loss that weighs every output and state element differently (fixed random weights)."""
    rng = rng_for(*rng_key)
    parts = [out] + (list(states) if isinstance(states, tuple) else [states])
    total = 0
    for p in parts:
        w = rng.standard_normal(tuple(p.shape))
        total = total + (p * (lib.tensor(w, device=p.device) if lib is gpubp else torch.tensor(w))).sum()
    return total


def _assert_grads(ours: Any, theirs: Any, leaves: list) -> None:
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(_np(p.grad), q.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)
    for a, b in leaves:
        np.testing.assert_allclose(_np(a.grad), b.grad.numpy(), rtol=1e-9, atol=1e-11)


def _state_shapes(kind: str, kw: dict, batch: int | None) -> list[tuple]:
    lead = (kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1),) + (() if batch is None else (batch,))
    h = lead + (kw.get("proj_size") or 4,)
    return [h, lead + (4,)] if kind == "LSTM" else [h]


_CONFIGS = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}),
    ("GRU", {"batch_first": True, "bidirectional": True}),
    ("GRU", {"num_layers": 2, "bias": False}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 2, "batch_first": True}),
    ("LSTM", {"proj_size": 3, "num_layers": 2, "bidirectional": True}),
]
_IDS = [f"{k}-{'-'.join(f'{a}={b}' for a, b in kw.items()) or 'plain'}" for k, kw in _CONFIGS]


@needs_torch
@pytest.mark.parametrize("kind, kw", _CONFIGS, ids=_IDS)
@pytest.mark.parametrize("form", ["batched", "batched-h0", "unbatched-h0"])
def test_layers_match_torch(device: str, kind: str, kw: dict, form: str) -> None:
    ours, theirs = _twins(kind, kw, device)
    rng = rng_for("rnn-layer", kind, kw, form)
    batch = None if form.startswith("unbatched") else 2
    shape = (5, 3) if batch is None else ((batch, 5, 3) if kw.get("batch_first") else (5, batch, 3))
    x = rng.standard_normal(shape)
    gx, tx = gpubp.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    leaves = [(gx, tx)]
    args_g, args_t = (), ()
    if form.endswith("h0"):
        hg, ht, pairs = _states(kind, _state_shapes(kind, kw, batch), rng, device)
        args_g, args_t, leaves = (hg,), (ht,), leaves + pairs
    out_g, st_g = ours(gx, *args_g)
    out_t, st_t = theirs(tx, *args_t)
    assert tuple(out_g.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(_np(out_g), _np(out_t), rtol=1e-10, atol=1e-12)
    for a, b in zip(st_g if kind == "LSTM" else [st_g], st_t if kind == "LSTM" else [st_t]):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)
    _loss(out_g, st_g, ("w", kind, form), gpubp).backward()
    _loss(out_t, st_t, ("w", kind, form), torch).backward()
    _assert_grads(ours, theirs, leaves)


@needs_torch
@pytest.mark.parametrize("kind, kw", [_CONFIGS[i] for i in (1, 2, 4, 6)], ids=[_IDS[i] for i in (1, 2, 4, 6)])
@pytest.mark.parametrize("with_h0", [False, True])
def test_packed_sequences_through_layers_match_torch(device: str, kind: str, kw: dict, with_h0: bool) -> None:
    """Every layer and direction runs each sequence to its own length; h_n is each sequence's state there."""
    ours, theirs = _twins(kind, kw, device)
    rng = rng_for("rnn-packed", kind, kw, with_h0)
    lengths = [3, 5, 1, 4]
    bf = kw.get("batch_first", False)
    x = rng.standard_normal((4, 5, 3) if bf else (5, 4, 3))
    gx, tx = gpubp.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    pg = R.pack_padded_sequence(gx, lengths, batch_first=bf, enforce_sorted=False)
    pt = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=bf, enforce_sorted=False)
    leaves = [(gx, tx)]
    args_g, args_t = (), ()
    if with_h0:
        hg, ht, pairs = _states(kind, _state_shapes(kind, kw, 4), rng, device)
        args_g, args_t, leaves = (hg,), (ht,), leaves + pairs
    out_g, st_g = ours(pg, *args_g)
    out_t, st_t = theirs(pt, *args_t)
    assert isinstance(out_g, R.PackedSequence)
    assert out_g.batch_sizes.tolist() == out_t.batch_sizes.tolist()
    assert out_g.sorted_indices.tolist() == out_t.sorted_indices.tolist()
    np.testing.assert_allclose(_np(out_g.data), _np(out_t.data), rtol=1e-10, atol=1e-12)
    for a, b in zip(st_g if kind == "LSTM" else [st_g], st_t if kind == "LSTM" else [st_t]):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)
    padded_g, lens_g = R.pad_packed_sequence(out_g, batch_first=bf)
    padded_t, lens_t = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=bf)
    assert lens_g.tolist() == lens_t.tolist() == lengths
    _loss(padded_g, st_g, ("wp", kind), gpubp).backward()
    _loss(padded_t, st_t, ("wp", kind), torch).backward()
    _assert_grads(ours, theirs, leaves)


@needs_torch
@pytest.mark.parametrize(
    "kind, kw",
    [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu", "bias": False}), ("LSTMCell", {}), ("GRUCell", {})],
    ids=["rnn", "rnn-relu-nobias", "lstm", "gru"],
)
@pytest.mark.parametrize("form", ["batched", "batched-hx", "unbatched-hx"])
def test_cells_match_torch(device: str, kind: str, kw: dict, form: str) -> None:
    ours, theirs = _twins(kind, kw, device)
    rng = rng_for("rnn-cell", kind, kw, form)
    lead = () if form.startswith("unbatched") else (3,)
    x = rng.standard_normal(lead + (3,))
    gx, tx = gpubp.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    leaves = [(gx, tx)]
    args_g, args_t = (), ()
    if form.endswith("hx"):
        hg, ht, pairs = _states(kind, [lead + (4,)] * (2 if kind == "LSTMCell" else 1), rng, device)
        args_g, args_t, leaves = (hg,), (ht,), leaves + pairs
    out_g, out_t = ours(gx, *args_g), theirs(tx, *args_t)
    outs = list(zip(out_g, out_t)) if kind == "LSTMCell" else [(out_g, out_t)]
    for a, b in outs:
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)
    _loss(outs[0][0], tuple(a for a, _ in outs[1:]), ("wc", kind), gpubp).backward()
    _loss(outs[0][1], tuple(b for _, b in outs[1:]), ("wc", kind), torch).backward()
    _assert_grads(ours, theirs, leaves)


@needs_torch
def test_layer_repr_and_parameter_shapes_match_torch() -> None:
    for kind, kw in _CONFIGS + [("GRUCell", {"bias": False}), ("RNNCell", {"nonlinearity": "relu"})]:
        size = (3, 4)
        ours, theirs = getattr(nn, kind)(*size, **kw), getattr(torch.nn, kind)(*size, **kw)
        assert repr(ours) == repr(theirs)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
        ]
        if hasattr(theirs, "all_weights"):
            assert [[tuple(p.shape) for p in w] for w in ours.all_weights] == [
                [tuple(p.shape) for p in w] for w in theirs.all_weights
            ]
        bound = 1 / np.sqrt(4)  # every weight uniform in (-1/sqrt(hidden), 1/sqrt(hidden)), as torch
        assert all(float(p.abs().max()) <= bound for p in ours.parameters())


def test_lstm_with_projection_has_gradients_of_gradients(device: str) -> None:
    gpubp.manual_seed(3)
    lstm = nn.LSTM(2, 3, proj_size=2, bidirectional=True).double().to(device)
    x = gpubp.tensor(rng_for("gg-lstm").standard_normal((3, 2, 2)), device=device, requires_grad=True)
    h0 = gpubp.tensor(rng_for("gg-lstm-h").standard_normal((2, 2, 2)), device=device, requires_grad=True)

    def f(x: gpubp.Tensor, h0: gpubp.Tensor) -> gpubp.Tensor:
        out, (h, c) = lstm(x, (h0, gpubp.zeros(2, 2, 3, dtype=gpubp.float64, device=device)))
        return (out * out).sum() + (h * c[..., :2]).sum()

    gradgradcheck(f, [x, h0])


def test_gru_step_trains(device: str) -> None:
    """A GRU fit to a fixed target: the loss falls (a smoke check of the whole training path)."""
    gpubp.manual_seed(0)
    gru, head = nn.GRU(3, 8, batch_first=True).to(device), nn.Linear(8, 1).to(device)
    opt = gpubp.optim.Adam([*gru.parameters(), *head.parameters()], lr=0.05)
    rng = rng_for("gru-train")
    x = gpubp.tensor(rng.standard_normal((8, 6, 3)).astype(np.float32), device=device)
    y = x.sum((1, 2)).reshape(8, 1) * 0.1
    losses = []
    for _ in range(25):
        out, _ = gru(x)
        loss = ((head(out[:, -1]) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))  # .item() waits for the device: a test, not a training path
    assert losses[-1] < 0.3 * losses[0]


# ---- gpubp.nn.utils.rnn ----------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_and_pad_match_torch(device: str, batch_first: bool, enforce_sorted: bool) -> None:
    lengths = [5, 4, 2, 2] if enforce_sorted else [2, 5, 1, 4]
    rng = rng_for("pack", batch_first, enforce_sorted)
    x = rng.standard_normal((4, 6, 2) if batch_first else (6, 4, 2))
    gx, tx = gpubp.tensor(x, device=device), torch.tensor(x)
    lens_cpu = gpubp.tensor(lengths, device="cpu")
    p = R.pack_padded_sequence(gx, lens_cpu, batch_first=batch_first, enforce_sorted=enforce_sorted)
    q = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(_np(p.data), q.data.numpy())
    assert p.batch_sizes.tolist() == q.batch_sizes.tolist()
    assert p.batch_sizes.device.type == "cpu" and p.batch_sizes.dtype == gpubp.int64
    for a, b in ((p.sorted_indices, q.sorted_indices), (p.unsorted_indices, q.unsorted_indices)):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.tolist() == b.tolist()
    for total in (None, 8):
        a, la = R.pad_packed_sequence(p, batch_first, -2.0, total)
        b, lb = torch.nn.utils.rnn.pad_packed_sequence(q, batch_first, -2.0, total)
        np.testing.assert_array_equal(_np(a), b.numpy())
        assert la.tolist() == lb.tolist() and la.device.type == "cpu"
    seqs = [_np(s) for s in R.unpack_sequence(p)]
    theirs = [s.numpy() for s in torch.nn.utils.rnn.unpack_sequence(q)]
    assert all(np.array_equal(a, b) for a, b in zip(seqs, theirs)) and len(seqs) == 4


@needs_torch
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_family_matches_torch(device: str, padding_side: str) -> None:
    rng = rng_for("padseq", padding_side)
    arrays = [rng.standard_normal((n, 2, 3)) for n in (2, 4, 3)]
    ours, theirs = [gpubp.tensor(a, device=device) for a in arrays], [torch.tensor(a) for a in arrays]
    for bf in (False, True):
        a = R.pad_sequence(ours, bf, 7.0, padding_side)
        b = torch.nn.utils.rnn.pad_sequence(theirs, bf, 7.0, padding_side)
        np.testing.assert_array_equal(_np(a), b.numpy())
    padded = R.pad_sequence(ours, True)
    back = R.unpad_sequence(padded, gpubp.tensor([2, 4, 3]), batch_first=True)
    assert all(np.array_equal(_np(s), a) for s, a in zip(back, arrays))
    packed, tpacked = R.pack_sequence(ours, enforce_sorted=False), torch.nn.utils.rnn.pack_sequence(theirs, False)
    np.testing.assert_array_equal(_np(packed.data), tpacked.data.numpy())
    assert isinstance(packed, tuple) and packed._fields == tpacked._fields


def test_packing_and_padding_carry_gradients(device: str) -> None:
    rng = rng_for("pack-grad")
    x = gpubp.tensor(rng.standard_normal((4, 3, 2)), device=device, requires_grad=True)
    s = gpubp.tensor(rng.standard_normal((2, 2)), device=device, requires_grad=True)

    def f(x: gpubp.Tensor, s: gpubp.Tensor) -> gpubp.Tensor:
        p = R.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        padded, _ = R.pad_packed_sequence(p, batch_first=True, padding_value=0.5, total_length=5)
        return padded * 1.5 + R.pad_sequence([s, x[:, 0]], batch_first=True)[:1, :1].sum()

    assert gradcheck(f, [x, s])


def test_packed_sequence_is_a_named_tuple(device: str) -> None:
    data = gpubp.tensor(np.arange(6.0).reshape(3, 2), device=device)
    p = R.PackedSequence(data, gpubp.tensor([2, 1]), gpubp.tensor([1, 0], device=device))
    assert p.unsorted_indices.tolist() == [1, 0]  # the inverse permutation, derived as torch does
    data_, sizes, sorted_idx, unsorted_idx = p
    assert data_ is data and sizes.tolist() == [2, 1] and sorted_idx.tolist() == [1, 0]
    moved = p.to(gpubp.float32)
    assert moved.data.dtype == gpubp.float32 and moved.batch_sizes is p.batch_sizes
    assert p.is_cuda == (data.device.type == "cuda")
    perm = gpubp.tensor([2, 0, 3, 1], device=device)
    assert R.invert_permutation(perm).tolist() == [1, 3, 0, 2] and R.invert_permutation(None) is None
    assert isinstance(p, R.PackedSequence_)


# ---- errors ------------------------------------------------------------------------------------------------------


def _raises(exc: type, match: str, fn: Any, theirs: Any = None) -> None:
    """fn raises exc (matching ``match``); so does torch's twin ``theirs``, when given."""
    with pytest.raises(exc, match=match):
        fn()
    if theirs is not None and torch is not None:
        with pytest.raises(exc):
            theirs()


def test_recurrent_errors(device: str) -> None:
    T = torch.nn if torch is not None else None
    # (torch's RNNBase builds this broken module; its GRU(proj_size=2) raises the ValueError, gpubp's a TypeError)
    _raises(
        ValueError, "GRU: proj_size argument is only supported for LSTM", lambda: nn.RNNBase("GRU", 3, 4, proj_size=2)
    )
    _raises(ValueError, r"LSTM: proj_size \(4\) has to be smaller than hidden_size \(4\)",
            lambda: nn.LSTM(3, 4, proj_size=4), T and (lambda: T.LSTM(3, 4, proj_size=4)))  # fmt: skip
    lstm = nn.LSTM(3, 4, bidirectional=True, proj_size=2).to(device)
    x = gpubp.zeros(5, 2, 3, device=device)
    h, c = gpubp.zeros(2, 2, 2, device=device), gpubp.zeros(2, 2, 4, device=device)
    _raises(RuntimeError, r"LSTM: initial state h_0 must have shape \(2, 2, 2\), got \(1, 2, 2\)",
            lambda: lstm(x, (h[:1], c)))  # fmt: skip
    _raises(RuntimeError, r"LSTM: initial state c_0 must have shape \(2, 2, 4\), got \(2, 2, 2\)",
            lambda: lstm(x, (h, h)))  # fmt: skip
    _raises(RuntimeError, r"LSTM: initial state h_0 must have shape \(2, 2\), got \(2, 2, 2\)",
            lambda: lstm(x[:, 0], (h, c)))  # fmt: skip
    _raises(RuntimeError, r"GRU: expected input \(T, N, input_size\) with input_size=3, .*\(a 4-D input\)",
            lambda: nn.GRU(3, 4).to(device)(gpubp.zeros(2, 2, 2, 3, device=device)))  # fmt: skip
    cell = nn.GRUCell(3, 4).to(device)
    _raises(ValueError, "GRUCell: Expected input to be 1D or 2D, got 3D instead",
            lambda: cell(gpubp.zeros(1, 2, 3, device=device)),
            T and (lambda: T.GRUCell(3, 4)(torch.zeros(1, 2, 3))))  # fmt: skip
    _raises(RuntimeError, "RNNCell: input has inconsistent input_size: got 2 expected 3",
            lambda: nn.RNNCell(3, 4).to(device)(gpubp.zeros(2, 2, device=device)),
            T and (lambda: T.RNNCell(3, 4)(torch.zeros(2, 2))))  # fmt: skip
    _raises(RuntimeError, r"LSTMCell: hx\[1\] must have shape \(2, 4\) for input of shape \(2, 3\), got \(2, 3\)",
            lambda: nn.LSTMCell(3, 4).to(device)(gpubp.zeros(2, 3, device=device),
                                                  (gpubp.zeros(2, 4, device=device), gpubp.zeros(2, 3, device=device))),
            T and (lambda: T.LSTMCell(3, 4)(torch.zeros(2, 3), (torch.zeros(2, 4), torch.zeros(2, 3)))))  # fmt: skip
    # (torch's RNNCell takes it and fails at the first forward; gpubp refuses it at construction)
    _raises(ValueError, "RNNCell: Unknown nonlinearity: gelu", lambda: nn.RNNCell(3, 4, nonlinearity="gelu"))


def test_packing_errors(device: str) -> None:
    T = torch.nn.utils.rnn if torch is not None else None
    x = gpubp.zeros(4, 3, 2, device=device)
    tx = torch.zeros(4, 3, 2) if torch is not None else None
    _raises(RuntimeError, re.escape("pack_padded_sequence: `lengths` array must be sorted in decreasing order"),
            lambda: R.pack_padded_sequence(x, [2, 3, 1]), T and (lambda: T.pack_padded_sequence(tx, [2, 3, 1])))  # fmt: skip
    _raises(RuntimeError, r"Expected `len\(lengths\)` to be equal to batch_size, but got 2 \(batch_size=3\)",
            lambda: R.pack_padded_sequence(x, [2, 1]), T and (lambda: T.pack_padded_sequence(tx, [2, 1])))  # fmt: skip
    _raises(RuntimeError, "Length of all samples has to be greater than 0",
            lambda: R.pack_padded_sequence(x, [2, 1, 0]), T and (lambda: T.pack_padded_sequence(tx, [2, 1, 0])))  # fmt: skip
    p = R.pack_padded_sequence(x, [4, 2, 1])
    _raises(ValueError, "Expected total_length to be at least the length of the longest sequence in input, but "
            "got total_length=3 and max sequence length being 4", lambda: R.pad_packed_sequence(p, total_length=3),
            T and (lambda: T.pad_packed_sequence(T.pack_padded_sequence(tx, [4, 2, 1]), total_length=3)))  # fmt: skip
    _raises(RuntimeError, "pad_sequence: Expected padding_side to be one of left or right, but got middle",
            lambda: R.pad_sequence([x[0]], padding_side="middle"),
            T and (lambda: T.pad_sequence([tx[0]], padding_side="middle")))  # fmt: skip
    if device != "cpu":
        _raises(RuntimeError, "'lengths' argument should be a 1D CPU int64 tensor",
                lambda: R.pack_padded_sequence(x, gpubp.tensor([4, 2, 1], device=device)))  # fmt: skip


def test_recurrent_training_step_never_reads_device_data() -> None:
    """Forward and backward of a bidirectional LSTM and GRU, padded and packed, with no host read of device data."""
    from test_no_sync import _strict, strict

    for kind in ("LSTM", "GRU"):
        m = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True).double()
        for p in m.parameters():
            _strict(p.data)
        x = _strict(gpubp.tensor(rng_for("nosync-rnn", kind).standard_normal((5, 3, 3)), requires_grad=True))
        packed = R.pack_padded_sequence(x, [5, 3, 2], enforce_sorted=False)  # host lengths, device indices
        for p in (packed.sorted_indices, packed.unsorted_indices):
            _strict(p)
        with strict():
            for inp in (x, packed):
                out, state = m(inp)
                h = state[0] if kind == "LSTM" else state
                ((out.data if inp is packed else out).sum() + h.sum()).backward()
        assert x.grad is not None and all(p.grad is not None for p in m.parameters())
