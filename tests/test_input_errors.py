"""Bad input gets PyTorch's exception type with a message naming the op; views know their base for in-place checks;
shape ops on empty and 0-d tensors, factories, layer constructors and var/std accuracy behave as PyTorch's."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
from gpubp import nn


def _raises(exc: type, match: str, ours: Callable[[], Any], theirs: Callable[[], Any] | None = None) -> None:
    """``ours`` raises ``exc`` with a message matching ``match``; PyTorch's ``theirs`` raises the same type."""
    with pytest.raises(exc, match=match):
        ours()
    if torch is not None and theirs is not None:
        with pytest.raises(exc):
            theirs()


def _leaf(device: str, key: str, lib: Any = gpubp) -> tuple[Any, np.ndarray]:
    arr = rng_for("leaf", key).standard_normal((4, 3)).astype(np.float32)
    kwargs = {"device": device} if lib is gpubp else {}
    return lib.tensor(arr.copy(), requires_grad=True, **kwargs), arr


# ---- in-place writes through views of a leaf that requires grad --------------------------------------------------

_VIEWS = {
    "slice": lambda w: w[0:2],
    "int": lambda w: w[1],
    "element": lambda w: w[1, 2],
    "T": lambda w: w.T,
    "transpose": lambda w: w.transpose(0, 1),
    "permute": lambda w: w.permute(1, 0),
    "reshape": lambda w: w.reshape(12),
    "view": lambda w: w.view(2, 6),
    "flatten": lambda w: w.flatten(),
    "unsqueeze": lambda w: w.unsqueeze(0),
    "squeeze": lambda w: w.unsqueeze(1).squeeze(1),
    "expand": lambda w: w.unsqueeze(0).expand(2, 4, 3),
    "split": lambda w: w.split(2)[1],
    "chunk": lambda w: w.chunk(3, 1)[0],
    "view-of-view": lambda w: w.T[0][1:],
}

_INPLACE = {
    "add_": lambda v: v.add_(1.0),
    "sub_": lambda v: v.sub_(1.0, alpha=2),
    "mul_": lambda v: v.mul_(2.0),
    "div_": lambda v: v.div_(2.0),
    "iadd": lambda v: v.__iadd__(1.0),
    "isub": lambda v: v.__isub__(1.0),
    "setitem": lambda v: v.__setitem__(..., 5.0),
    "fill_": lambda v: v.fill_(5.0),
    "zero_": lambda v: v.zero_(),
    "copy_": lambda v: v.copy_(v.detach() * 0 + 3),
    "clamp_": lambda v: v.clamp_(-0.1, 0.1),
}


@pytest.mark.parametrize("view", sorted(_VIEWS))
def test_inplace_through_a_view_of_a_leaf_is_refused(device: str, view: str) -> None:
    for name, op in _INPLACE.items():
        w, arr = _leaf(device, view + name)
        with pytest.raises(RuntimeError, match=r"view of a leaf tensor that requires grad .* in-place"):
            op(_VIEWS[view](w))
        np.testing.assert_array_equal(w.detach().cpu().numpy(), arr, err_msg=name)  # nothing was written
        assert w.is_leaf and w.grad is None
        if torch is not None:
            tw, _ = _leaf("cpu", view + name, torch)
            with pytest.raises(RuntimeError):  # "a view of a leaf Variable" (split, chunk: "multiple views")
                op(_VIEWS[view](tw))


def test_inplace_on_the_leaf_itself_is_still_refused(device: str) -> None:
    for name, op in _INPLACE.items():
        w, arr = _leaf(device, "direct" + name)
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad cannot be changed in place"):
            op(w)
        np.testing.assert_array_equal(w.detach().cpu().numpy(), arr, err_msg=name)


@pytest.mark.parametrize("view", sorted(set(_VIEWS) - {"expand"}))  # an expanded view is read-only
def test_inplace_through_a_view_under_no_grad_writes_the_leaf(device: str, view: str) -> None:
    w, arr = _leaf(device, "nograd" + view)
    with gpubp.no_grad():
        _VIEWS[view](w).mul_(3.0).add_(1.0)
        w[0:2] -= 0.5 * w[2:4]  # an optimizer's update through a view
    expected = arr.copy()
    if torch is not None:
        tw = torch.tensor(arr.copy(), requires_grad=True)
        with torch.no_grad():
            _VIEWS[view](tw).mul_(3.0).add_(1.0)
            tw[0:2] -= 0.5 * tw[2:4]
        expected = tw.detach().numpy()
    np.testing.assert_allclose(w.detach().cpu().numpy(), expected, rtol=1e-6)
    assert not np.array_equal(w.detach().cpu().numpy(), arr)
    assert w.is_leaf and w.requires_grad


def test_a_view_made_under_no_grad_is_refused_once_grad_mode_is_back(device: str) -> None:
    w, arr = _leaf(device, "made under no_grad")
    with gpubp.no_grad():
        v = w[1:]
    with pytest.raises(RuntimeError, match="view of a leaf"):
        v.add_(1.0)
    np.testing.assert_array_equal(w.detach().cpu().numpy(), arr)
    if torch is not None:
        tw = torch.tensor(arr, requires_grad=True)
        with torch.no_grad():
            tv = tw[1:]
        with pytest.raises(RuntimeError):
            tv.add_(1.0)


def test_inplace_through_a_view_of_a_non_leaf_keeps_working(device: str) -> None:
    w, arr = _leaf(device, "non-leaf")
    y = w * 2
    y[0:2].add_(1.0)
    y.T[0] = 5.0
    y.sum().backward()  # runs; the base's graph is not rebased onto the write (PyTorch's CopySlices), as before
    assert w.grad is not None
    if torch is not None:
        ty = torch.tensor(arr) * 2
        ty[0:2].add_(1.0)
        ty.T[0] = 5.0
        np.testing.assert_allclose(y.detach().cpu().numpy(), ty.numpy(), rtol=1e-6)


def test_copies_and_detached_tensors_are_not_views_of_the_leaf(device: str) -> None:
    w, arr = _leaf(device, "copies")
    copies = {
        "integer array": lambda t: t[[0, 2]],
        "mask": lambda t: t[t > 0],
        "reshape of a transposed view": lambda t: t.T.reshape(12),
        "clone": lambda t: t.clone(),
    }
    for name, make in copies.items():
        make(w).add_(1.0)  # a new tensor in the graph: PyTorch allows it too
        if torch is not None:
            make(torch.tensor(arr, requires_grad=True)).add_(1.0)
        np.testing.assert_array_equal(w.detach().cpu().numpy(), arr, err_msg=name)
    w.detach()[0].add_(1.0)  # detach() shares memory and is no view of the graph's leaf, as PyTorch
    np.testing.assert_allclose(w.detach().cpu().numpy()[0], arr[0] + 1)


# ---- dims: IndexError out of range, TypeError for a non-int ----------------------------------------------------

_DIM_CASES = [
    ("transpose", (), lambda t: t.transpose(0, 1)),
    ("transpose", (2, 3), lambda t: t.transpose(2, 0)),
    ("sum", (2, 3), lambda t: t.sum(2)),
    ("sum", (), lambda t: t.sum(1)),
    ("mean", (2, 3), lambda t: t.mean(-3)),
    ("var", (2, 3), lambda t: t.var(2)),
    ("std", (2, 3), lambda t: t.std((0, 2))),
    ("amax", (2, 3), lambda t: t.amax(5)),
    ("logsumexp", (2, 3), lambda t: t.logsumexp(2)),
    ("norm", (2, 3), lambda t: t.norm(dim=2)),
    ("max", (2, 3), lambda t: t.max(2)),
    ("argmax", (), lambda t: t.argmax(5)),
    ("argmin", (2, 3), lambda t: t.argmin(-3)),
    ("squeeze", (), lambda t: t.squeeze(1)),
    ("flatten", (), lambda t: t.flatten(1)),
    ("flatten", (2, 3), lambda t: t.flatten(0, 2)),
    ("unsqueeze", (2, 3), lambda t: t.unsqueeze(3)),
    ("permute", (2, 3), lambda t: t.permute(0, 2)),
    ("split", (2, 3), lambda t: t.split(1, 2)),
    ("chunk", (2, 3), lambda t: t.chunk(2, -3)),
    ("size", (2, 3), lambda t: t.size(2)),
    ("size", (), lambda t: t.size(0)),
]


@pytest.mark.parametrize("op,shape,fn", _DIM_CASES, ids=[f"{c[0]}-{len(c[1])}d" for c in _DIM_CASES])
def test_dim_out_of_range_is_an_index_error(device: str, op: str, shape: tuple, fn: Callable) -> None:
    arr = rng_for("dim", op, shape).standard_normal(shape).astype(np.float32)
    x = gpubp.tensor(arr, device=device)
    _raises(IndexError, rf"{op}: .*(out of range|no dimensions)", lambda: fn(x), lambda: fn(torch.tensor(arr)))


def test_joins_check_their_dim(device: str) -> None:
    a = gpubp.ones(2, 3, device=device)
    _raises(IndexError, r"cat: Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)",
            lambda: gpubp.cat([a, a], 2), lambda: torch.cat([torch.ones(2, 3)] * 2, 2))  # fmt: skip
    _raises(IndexError, r"stack: .*\[-3, 2\], but got 3", lambda: gpubp.stack([a, a], 3),
            lambda: torch.stack([torch.ones(2, 3)] * 2, 3))  # fmt: skip


def test_0d_tensors_take_dims_minus_one_and_zero(device: str) -> None:
    x = gpubp.tensor(3.0, device=device)
    for fn in (lambda t: t.transpose(0, -1), lambda t: t.sum(0), lambda t: t.squeeze(-1), lambda t: t.argmax(0)):
        out = fn(x)
        if torch is not None:
            assert out.shape == tuple(fn(torch.tensor(3.0)).shape)
    assert x.flatten(0, -1).shape == (1,)


def test_dim_of_the_wrong_type(device: str) -> None:
    x = gpubp.ones(2, 3, device=device)
    _raises(TypeError, "sum: dim must be", lambda: x.sum(dim=1.5), lambda: torch.ones(2, 3).sum(dim=1.5))
    _raises(TypeError, "mean: dim must be", lambda: x.mean((0, 1.5)), lambda: torch.ones(2, 3).mean((0, 1.5)))
    _raises(TypeError, "size: dim must be an int", lambda: x.size(1.5), lambda: torch.ones(2, 3).size(1.5))
    _raises(TypeError, "transpose: dim must be an int", lambda: x.transpose(0, 1.0))


def test_repeated_dims(device: str) -> None:
    x = gpubp.ones(2, 3, device=device)
    _raises(RuntimeError, r"sum: dim \(0, -2\) repeats", lambda: x.sum((0, -2)), lambda: torch.ones(2, 3).sum((0, -2)))


# ---- split and chunk on empty and 0-d tensors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,fn",
    [
        ((0,), lambda t: t.split(2)),
        ((0,), lambda t: t.split(0)),
        ((0,), lambda t: t.split([0])),
        ((2, 0), lambda t: t.split(2, 1)),
        ((0,), lambda t: t.chunk(3)),
        ((2, 0), lambda t: t.chunk(2, 1)),
        ((5,), lambda t: t.chunk(4)),
        ((7, 2), lambda t: t.split(3)),
    ],
)
def test_split_and_chunk_give_pytorchs_pieces(device: str, shape: tuple, fn: Callable) -> None:
    arr = rng_for("split", shape).standard_normal(shape).astype(np.float32)
    pieces = fn(gpubp.tensor(arr, device=device))
    expected = [(2, 0)] if shape == (2, 0) and len(pieces) == 1 else None
    if torch is not None:
        expected = [tuple(p.shape) for p in fn(torch.tensor(arr))]
    if expected is not None:
        assert [p.shape for p in pieces] == expected
    assert sum(p.numel() for p in pieces) == arr.size


def test_split_and_chunk_errors(device: str) -> None:
    x = gpubp.ones(2, 3, device=device)
    s = gpubp.tensor(1.0, device=device)
    _raises(
        RuntimeError, "split: expects at least a 1-dimensional", lambda: s.split(2), lambda: torch.tensor(1.0).split(2)
    )
    _raises(
        RuntimeError, "chunk: expects at least a 1-dimensional", lambda: s.chunk(2), lambda: torch.tensor(1.0).chunk(2)
    )
    _raises(RuntimeError, "split: split_size must be positive", lambda: x.split(0), lambda: torch.ones(2, 3).split(0))
    _raises(RuntimeError, "split: split_size must be positive", lambda: x.split(-1), lambda: torch.ones(2, 3).split(-1))
    _raises(RuntimeError, "chunk: chunks must be greater than 0", lambda: x.chunk(0), lambda: torch.ones(2, 3).chunk(0))


def test_split_of_an_empty_tensor_backpropagates(device: str) -> None:
    x = gpubp.zeros(0, 3, device=device, requires_grad=True)
    (piece,) = x.split(2)
    (piece.sum() + 1).backward()
    assert x.grad is not None and x.grad.shape == (0, 3)


# ---- creating tensors -------------------------------------------------------------------------------------------


def test_ragged_nested_lists(device: str) -> None:
    _raises(ValueError, r"tensor: expected sequence of length 2 at dim 1 \(got 1\)",
            lambda: gpubp.tensor([[1, 2], [3]], device=device), lambda: torch.tensor([[1, 2], [3]]))  # fmt: skip
    _raises(ValueError, r"tensor: expected sequence of length 1 at dim 2 \(got 2\)",
            lambda: gpubp.tensor([[[1.0], [2.0]], [[1.0], [2.0, 3.0]]], device=device),
            lambda: torch.tensor([[[1.0], [2.0]], [[1.0], [2.0, 3.0]]]))  # fmt: skip
    _raises(TypeError, "tensor: expected a sequence at dim 1", lambda: gpubp.tensor([[1, 2], 3], device=device),
            lambda: torch.tensor([[1, 2], 3]))  # fmt: skip
    _raises(TypeError, "tensor: expected a number at dim 1", lambda: gpubp.tensor([1, [2, 3]], device=device),
            lambda: torch.tensor([1, [2, 3]]))  # fmt: skip
    assert gpubp.tensor([[1, 2], [3, 4]], device=device).shape == (2, 2)


def test_cat_of_0d_tensors(device: str) -> None:
    a, s = gpubp.ones(2, device=device), gpubp.tensor(2.0, device=device)
    _raises(RuntimeError, r"cat: zero-dimensional tensor \(at position 0\) cannot be concatenated",
            lambda: gpubp.cat([s, s]), lambda: torch.cat([torch.tensor(1.0), torch.tensor(2.0)]))  # fmt: skip
    _raises(RuntimeError, r"cat: zero-dimensional tensor \(at position 1\)",
            lambda: gpubp.cat([a, s]), lambda: torch.cat([torch.ones(2), torch.tensor(2.0)]))  # fmt: skip
    assert gpubp.stack([s, s]).shape == (2,)


def _factory_cases(device: str) -> list[tuple[type, str, Callable, Callable]]:
    d = {"device": device}
    return [
        (TypeError, "randn: size must be a tuple of ints", lambda: gpubp.randn(2.5, **d), lambda: torch.randn(2.5)),
        (RuntimeError, "randn: .*negative dimension -1", lambda: gpubp.randn(-1, **d), lambda: torch.randn(-1)),
        (RuntimeError, "zeros: .*negative dimension -1", lambda: gpubp.zeros(2, -1, **d), lambda: torch.zeros(2, -1)),
        (TypeError, "zeros: size must be", lambda: gpubp.zeros((2, 2.5), **d), lambda: torch.zeros((2, 2.5))),
        (TypeError, "zeros: size must be", lambda: gpubp.zeros(True, **d), lambda: torch.zeros(True)),
        (RuntimeError, "ones: .*negative", lambda: gpubp.ones([-3], **d), lambda: torch.ones([-3])),
        (RuntimeError, "empty: .*negative", lambda: gpubp.empty(-1, **d), lambda: torch.empty(-1)),
        (RuntimeError, "full: .*negative", lambda: gpubp.full((-1,), 1.0, **d), lambda: torch.full((-1,), 1.0)),
        (TypeError, "full: size must be", lambda: gpubp.full((2.5,), 1.0, **d), lambda: torch.full((2.5,), 1.0)),
        (RuntimeError, "rand: .*negative", lambda: gpubp.rand(-2, **d), lambda: torch.rand(-2)),
        (RuntimeError, "randint: .*negative", lambda: gpubp.randint(0, 5, (-2,), **d),
         lambda: torch.randint(0, 5, (-2,))),
        (TypeError, "randint: size must be", lambda: gpubp.randint(0, 5, (2.5,), **d),
         lambda: torch.randint(0, 5, (2.5,))),
        (TypeError, "randint: low and high must be ints", lambda: gpubp.randint(0, 5.5, (2,), **d),
         lambda: torch.randint(0, 5.5, (2,))),
        (RuntimeError, "eye: n must be greater or equal to 0, got -1", lambda: gpubp.eye(-1, **d),
         lambda: torch.eye(-1)),
        (RuntimeError, "eye: m must be greater or equal to 0, got -2", lambda: gpubp.eye(2, -2, **d),
         lambda: torch.eye(2, -2)),
        (TypeError, "eye: n must be an int", lambda: gpubp.eye(2.5, **d), lambda: torch.eye(2.5)),
        (RuntimeError, "arange: step must be nonzero", lambda: gpubp.arange(0, 5, 0, **d),
         lambda: torch.arange(0, 5, 0)),
        (RuntimeError, "arange: step must be nonzero", lambda: gpubp.arange(0.0, 1.0, 0.0, **d),
         lambda: torch.arange(0.0, 1.0, 0.0)),
        (RuntimeError, "arange: .*inconsistent with step sign", lambda: gpubp.arange(5, 0, **d),
         lambda: torch.arange(5, 0)),
        (RuntimeError, "linspace: number of steps must be non-negative", lambda: gpubp.linspace(0, 1, -1, **d),
         lambda: torch.linspace(0, 1, -1)),
        (TypeError, "linspace: steps must be an int", lambda: gpubp.linspace(0, 1, 2.5, **d),
         lambda: torch.linspace(0, 1, 2.5)),
    ]  # fmt: skip


def test_factories_check_sizes_as_pytorch(device: str) -> None:
    for exc, match, ours, theirs in _factory_cases(device):
        _raises(exc, match, ours, theirs)


def test_factories_still_take_every_size_form(device: str) -> None:
    assert gpubp.zeros(2, 3, device=device).shape == (2, 3)
    assert gpubp.zeros((2, 3), device=device).shape == (2, 3)
    assert gpubp.zeros([2, 3], device=device).shape == (2, 3)
    assert gpubp.zeros(np.int64(2), device=device).shape == (2,)
    assert gpubp.ones(gpubp.zeros(4, 1, device=device).shape, device=device).shape == (4, 1)
    assert gpubp.zeros((), device=device).shape == ()
    assert gpubp.zeros(0, device=device).shape == (0,)
    assert gpubp.full((3,), 1.5, device=device).shape == (3,)
    assert gpubp.full([2, 1], 1.5, device=device).shape == (2, 1)
    assert gpubp.randint(5, (2, 2), device=device).shape == (2, 2)
    assert gpubp.eye(0, device=device).shape == (0, 0)
    assert gpubp.arange(0, 0, device=device).shape == (0,)
    assert gpubp.arange(5, 0, -2, device=device).tolist() == [5, 3, 1]
    assert gpubp.linspace(0, 1, 0, device=device).shape == (0,)


# ---- layers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_layers_refuse_an_empty_sequence(device: str, layer: str, batch_first: bool) -> None:
    m = getattr(nn, layer)(3, 4, batch_first=batch_first).to(device)
    shape = (2, 0, 3) if batch_first else (0, 2, 3)

    def theirs() -> Any:
        return getattr(torch.nn, layer)(3, 4, batch_first=batch_first)(torch.zeros(shape))

    match = f"{layer}: expected sequence length to be larger than 0, got input of shape {re.escape(str(shape))}"
    _raises(RuntimeError, match, lambda: m(gpubp.zeros(shape, device=device)), theirs)


def test_recurrent_layers_name_the_expected_and_given_feature_size(device: str) -> None:
    m = nn.GRU(3, 4).to(device)
    with pytest.raises(
        ValueError, match=r"GRU: expected input \(T, N, input_size\) with input_size=3, .*size\(-1\) = 5"
    ):
        m(gpubp.ones(6, 2, 5, device=device))
    with pytest.raises(ValueError, match=r"LSTM: expected input \(N, T, input_size\) .*\(a 1-D input\)"):
        nn.LSTM(3, 4, batch_first=True).to(device)(gpubp.ones(3, device=device))
    _raises(ValueError, "LSTM: dropout must be a number in", lambda: nn.LSTM(3, 4, dropout=1.5),
            lambda: torch.nn.LSTM(3, 4, dropout=1.5))  # fmt: skip


_BAD_LAYERS = [
    ("Conv2d: kernel_size must be positive, got 0", lambda m: m.Conv2d(1, 2, 0), False),
    ("Conv2d: kernel_size must be positive, got -1", lambda m: m.Conv2d(1, 2, (3, -1)), False),
    ("Conv2d: kernel_size must be an int or a tuple of 2", lambda m: m.Conv2d(1, 2, (3,)), False),
    ("Conv2d: stride must be positive, got 0", lambda m: m.Conv2d(1, 2, 3, stride=0), False),
    ("Conv2d: padding must be >= 0, got -1", lambda m: m.Conv2d(1, 2, 3, padding=-1), False),
    ("Conv2d: dilation must be positive, got 0", lambda m: m.Conv2d(1, 2, 3, dilation=0), False),
    ("Conv2d: groups must be positive, got 0", lambda m: m.Conv2d(1, 2, 3, groups=0), True),
    (r"Conv2d: in_channels \(1\) and out_channels \(2\) must be divisible by groups \(2\)",
     lambda m: m.Conv2d(1, 2, 3, groups=2), True),
    ("Conv2d: in_channels must be >= 0, got -1", lambda m: m.Conv2d(-1, 2, 3), False),
    ("Conv1d: kernel_size must be positive, got 0", lambda m: m.Conv1d(1, 2, 0), False),
    ("Conv1d: out_channels must be >= 0, got -4", lambda m: m.Conv1d(1, -4, 3), False),
    ("MaxPool2d: kernel_size must be positive, got 0", lambda m: m.MaxPool2d(0), False),
    ("MaxPool2d: stride must be positive, got 0", lambda m: m.MaxPool2d(2, stride=0), False),
    ("MaxPool2d: padding must be >= 0, got -1", lambda m: m.MaxPool2d(2, padding=-1), False),
    ("MaxPool2d: padding 2 must be at most half of kernel_size 3", lambda m: m.MaxPool2d(3, padding=2), False),
    ("AvgPool2d: kernel_size must be positive, got 0", lambda m: m.AvgPool2d((0, 2)), False),
    ("Linear: in_features must be >= 0, got -1", lambda m: m.Linear(-1, 2), False),
    ("Linear: out_features must be >= 0, got -3", lambda m: m.Linear(2, -3), False),
    ("Dropout: dropout probability p must be between 0 and 1, got 1.5", lambda m: m.Dropout(1.5), True),
    ("Dropout: dropout probability p must be between 0 and 1, got -0.1", lambda m: m.Dropout(-0.1), True),
    ("BatchNorm1d: num_features must be positive, got 0", lambda m: m.BatchNorm1d(0), False),
    ("BatchNorm2d: num_features must be positive, got -1", lambda m: m.BatchNorm2d(-1), False),
    ("Embedding: num_embeddings must be positive, got 0", lambda m: m.Embedding(0, 3), False),
    ("Embedding: embedding_dim must be >= 0, got -1", lambda m: m.Embedding(3, -1), False),
    (r"Embedding: padding_idx must be within num_embeddings: in \[-5, 4\], got 5",
     lambda m: m.Embedding(5, 3, padding_idx=5), False),
    (r"Embedding: padding_idx must be within num_embeddings: in \[-5, 4\], got -6",
     lambda m: m.Embedding(5, 3, padding_idx=-6), False),
]  # fmt: skip


@pytest.mark.parametrize("match,build,torch_too", _BAD_LAYERS, ids=[c[0].split(",")[0] for c in _BAD_LAYERS])
def test_layer_constructors_validate_their_arguments(device: str, match: str, build: Callable, torch_too: bool) -> None:
    """ValueError naming the layer and the argument; ``torch_too``: PyTorch's constructor raises ValueError as well
    (elsewhere it raises RuntimeError or AssertionError, or only fails in forward)."""
    _raises(ValueError, match, lambda: build(nn), (lambda: build(torch.nn)) if torch_too else None)


def test_layer_constructors_still_take_valid_arguments(device: str) -> None:
    rng = rng_for("layers ok")
    x2 = rng.standard_normal((2, 2, 7, 6)).astype(np.float32)
    x1 = rng.standard_normal((2, 2, 9)).astype(np.float32)
    cases = [
        (lambda m: m.Conv2d(2, 4, (3, 1), stride=(2, 1), padding=(1, 0), dilation=(1, 1)), x2),
        (lambda m: m.Conv2d(2, 4, 3, padding="valid"), x2),
        (lambda m: m.Conv1d(2, 4, 3, stride=(2,), padding=1), x1),
        (lambda m: m.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 1)), x2),
        (lambda m: m.AvgPool2d(3, 1, 1), x2),
    ]
    for build, x in cases:
        ours = build(nn).to(device)
        out = ours(gpubp.tensor(x, device=device))
        if torch is not None:
            theirs = build(torch.nn)
            if hasattr(theirs, "weight"):
                with torch.no_grad():
                    theirs.weight.copy_(torch.tensor(ours.weight.detach().cpu().numpy()))
                    theirs.bias.copy_(torch.tensor(ours.bias.detach().cpu().numpy()))
            np.testing.assert_allclose(out.detach().cpu().numpy(), theirs(torch.tensor(x)).detach().numpy(), atol=1e-5)
    assert nn.Linear(0, 2).weight.shape == (2, 0)


def test_embedding_normalizes_a_negative_padding_idx(device: str) -> None:
    m = nn.Embedding(5, 3, padding_idx=-1).to(device)
    assert m.padding_idx == 4
    if torch is not None:
        assert torch.nn.Embedding(5, 3, padding_idx=-1).padding_idx == 4
    np.testing.assert_array_equal(m.weight.detach().cpu().numpy()[4], 0)
    assert np.all(m.weight.detach().cpu().numpy()[:4] != 0)


# ---- accuracy of var / std / mean in float32 --------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, None])
def test_var_std_mean_of_float32_are_accurate_over_many_rows(device: str, dim: Any) -> None:
    """1e5 rows with a large mean: NumPy's float32 sum along a strided axis is off by ~2e-5; PyTorch by ~1e-8."""
    rng = rng_for("var accuracy", dim)
    arr = (1000 + rng.standard_normal((100_000, 3))).astype(np.float32)
    x = gpubp.tensor(arr, device=device)
    truth = {
        "var": arr.astype(np.float64).var(axis=dim, ddof=1),
        "std": arr.astype(np.float64).std(axis=dim, ddof=1),
        "mean": arr.astype(np.float64).mean(axis=dim),
    }
    # the CPU accumulates in float64; the CUDA path keeps float32 (CuPy's tree reductions are accurate on a GPU, but
    # the emulated device sums as NumPy does), so only the CPU is held to PyTorch's accuracy
    tol = 1e-6 if device == "cpu" else 1e-4
    for name, expected in truth.items():
        out = getattr(x, name)(dim) if dim is not None else getattr(x, name)()
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.cpu().numpy(), expected, rtol=tol, err_msg=name)


def test_var_gradient_uses_the_accurate_mean(device: str) -> None:
    rng = rng_for("var grad")
    arr = (1000 + rng.standard_normal((20_000, 2))).astype(np.float32)
    x = gpubp.tensor(arr, device=device, requires_grad=True)
    x.var(0).sum().backward()
    a64 = arr.astype(np.float64)
    expected = 2 * (a64 - a64.mean(axis=0)) / (len(arr) - 1)
    tol = 1e-3 if device == "cpu" else 1e-1
    np.testing.assert_allclose(x.grad.cpu().numpy(), expected, atol=tol * np.abs(expected).max())


# ---- numpy() of a tensor that requires grad ---------------------------------------------------------------------


def test_numpy_of_a_tensor_that_requires_grad_is_refused(device: str) -> None:
    w, arr = _leaf(device, "numpy")
    y = w * 2
    for t in (w, y, w[0]):
        _raises(RuntimeError, r"numpy\(\): Can't call numpy\(\) on Tensor that requires grad. Use tensor.detach",
                lambda t=t: t.cpu().numpy(), lambda: torch.tensor(arr, requires_grad=True).numpy())  # fmt: skip
    forced = w.numpy(force=True)  # detached (and on the host), as PyTorch
    np.testing.assert_array_equal(forced, arr)
    np.testing.assert_array_equal(w.detach().cpu().numpy(), arr)
    with gpubp.no_grad():
        assert not (w * 2).requires_grad
        np.testing.assert_allclose((w * 2).cpu().numpy(), arr * 2)
    if torch is not None:
        np.testing.assert_array_equal(torch.tensor(arr, requires_grad=True).numpy(force=True), arr)
