"""nn.Module's PyTorch API against the installed torch: state-dict keys and order, repr, traversal, registration,
devices and dtypes, containers, in-place activations, BatchNorm's num_batches_tracked, pickling, import paths."""

from __future__ import annotations

import copy
import importlib
import pickle
import re
from typing import Any

import numpy as np
import pytest
from conftest import rng_for, torch

import gpubp
import gpubp.nn as nn
import gpubp.nn.functional as F

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy()


def _to_gpubp(sd: dict, device: str) -> dict:
    """A torch state dict as gpubp tensors (through NumPy), keys and order kept."""
    return {k: gpubp.tensor(v.detach().cpu().numpy(), device=device) for k, v in sd.items()}


def _raises_like(ours: Any, theirs: Any) -> tuple[BaseException, BaseException]:
    """Both raise; gpubp's exception is an instance of PyTorch's exception type."""
    with pytest.raises(Exception) as g:
        ours()
    with pytest.raises(Exception) as t:
        theirs()
    assert isinstance(g.value, type(t.value)), (g.value, t.value)
    return g.value, t.value


def _net(lib: Any) -> Any:
    """The same model in gpubp or torch: every gpubp layer, nested in every container."""
    L = lib.nn

    class Net(L.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = L.Sequential(
                L.Conv2d(2, 4, 3, padding=1), L.BatchNorm2d(4), L.ReLU(), L.MaxPool2d(2), L.Dropout(0.0)
            )
            self.conv1 = L.Conv1d(4, 3, 3, padding="same", bias=False)
            self.bn1 = L.BatchNorm1d(3)
            self.emb = L.Embedding(7, 4, padding_idx=0)
            self.rnns = L.ModuleList([L.RNN(4, 5), L.LSTM(5, 5, num_layers=2), L.GRU(5, 4)])
            self.heads = L.ModuleDict({"norm": L.LayerNorm(4), "fc": L.Linear(4, 3), "act": L.Tanh()})
            self.scale = L.ParameterList([L.Parameter(lib.ones(3) * 1.5)])
            self.shift = L.ParameterDict({"b": L.Parameter(lib.zeros(3) + 0.25)})
            self.pool = L.Sequential(L.AdaptiveAvgPool2d(1), L.Flatten(), L.Identity())
            self.loss = L.CrossEntropyLoss(weight=lib.ones(3) * 0.5)
            self.register_buffer("steps", lib.zeros(2), persistent=False)

        def forward(self, img: Any, tokens: Any) -> Any:
            f = self.features(img)  # (N, 4, 3, 3)
            g = self.bn1(self.conv1(f.flatten(2)))  # (N, 3, 9)
            h = self.emb(tokens)  # (T, N, 4)
            for rnn in self.rnns:
                h = rnn(h)[0]
            head = self.heads["fc"](self.heads["norm"](h[-1]))  # (N, 3)
            return self.heads["act"](head * self.scale[0] + self.shift["b"]) + g.mean(-1) + self.pool(f)[:, :3]

    return Net()


def _inputs(lib: Any, device: Any, key: str) -> tuple[Any, Any]:
    rng = rng_for("net inputs", key)
    img, tokens = rng.standard_normal((2, 2, 6, 6)), rng.integers(0, 7, (5, 2))
    if lib is torch:
        return torch.tensor(img), torch.tensor(tokens)
    return gpubp.tensor(img, device=device), gpubp.tensor(tokens, device=device)


@needs_torch
def test_state_dict_keys_order_and_a_torch_checkpoint_give_the_same_outputs(device: str) -> None:
    theirs, ours = _net(torch).double(), _net(gpubp).to(device).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert ours.features[1].num_batches_tracked.dtype == gpubp.int64  # double() leaves the counter alone
    result = ours.load_state_dict(_to_gpubp(theirs.state_dict(), device))
    assert repr(result) == repr(theirs.load_state_dict(theirs.state_dict())) == "<All keys matched successfully>"
    for mode in ("train", "eval", "train"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        t_out = theirs(*_inputs(torch, None, mode))
        g_out = ours(*_inputs(gpubp, device, mode))
        np.testing.assert_allclose(_np(g_out), t_out.detach().numpy(), rtol=1e-9, atol=1e-11, err_msg=mode)
    for k, v in theirs.state_dict().items():  # running statistics and num_batches_tracked moved alike
        np.testing.assert_allclose(_np(ours.state_dict()[k]), v.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
    assert int(ours.bn1.num_batches_tracked.item()) == 2


@needs_torch
def test_reprs_are_torchs(device: str) -> None:
    builds = [
        lambda L: L.Linear(3, 4),
        lambda L: L.Linear(3, 4, bias=False),
        lambda L: L.Conv1d(2, 3, 3),
        lambda L: L.Conv2d(1, 32, 3),
        lambda L: L.Conv2d(2, 4, (3, 2), stride=2, padding=1, dilation=2, groups=2, bias=False),
        lambda L: L.Conv2d(1, 2, 3, padding="same", padding_mode="reflect"),
        lambda L: L.Conv2d(1, 2, 3, padding="valid"),
        lambda L: L.MaxPool2d(2),
        lambda L: L.MaxPool2d(3, 1, 1),
        lambda L: L.AvgPool2d(3, 2, 1),
        lambda L: L.AdaptiveAvgPool2d((2, 3)),
        lambda L: L.Flatten(0, 2),
        lambda L: L.Dropout(),
        lambda L: L.Dropout(0.1, inplace=True),
        lambda L: L.BatchNorm1d(3),
        lambda L: L.BatchNorm2d(3, affine=False, track_running_stats=False),
        lambda L: L.BatchNorm2d(3, momentum=0.3, bias=False),
        lambda L: L.LayerNorm(4),
        lambda L: L.LayerNorm((2, 3), elementwise_affine=False),
        lambda L: L.LayerNorm(4, bias=False),
        lambda L: L.Embedding(5, 3),
        lambda L: L.Embedding(5, 3, padding_idx=-1),
        lambda L: L.Identity(),
        lambda L: L.ReLU(),
        lambda L: L.ReLU(True),
        lambda L: L.LeakyReLU(0.2, True),
        lambda L: L.ELU(),
        lambda L: L.ELU(0.5, inplace=True),
        lambda L: L.SiLU(inplace=True),
        lambda L: L.Softplus(2.0, 10),
        lambda L: L.GELU("tanh"),
        lambda L: L.Softmax(),
        lambda L: L.LogSoftmax(dim=1),
        lambda L: L.RNN(3, 4, 2, nonlinearity="relu", bias=False, batch_first=True, dropout=0.5),
        lambda L: L.LSTM(3, 4),
        lambda L: L.GRU(3, 4, num_layers=3),
        lambda L: L.L1Loss(reduction="sum"),
        lambda L: L.BCEWithLogitsLoss(),
        lambda L: L.Sequential(),
        lambda L: L.Sequential(L.Linear(2, 2), L.ReLU(), L.Sequential(L.Linear(2, 2), L.Tanh())),
        lambda L: L.ModuleList([L.Linear(2, 2), L.Linear(2, 2), L.ReLU(), L.Linear(2, 2)]),
        lambda L: L.ModuleList(),
        lambda L: L.ModuleDict({"a": L.ReLU(), "b": L.Linear(1, 1)}),
    ]
    for build in builds:
        assert repr(build(nn)) == repr(build(torch.nn))
    # PyTorch names dtypes torch.float32 / torch.FloatTensor in these; gpubp says float32
    theirs = re.sub(r"torch\.(float32|FloatTensor)", "float32", repr(_net(torch)))
    assert repr(_net(gpubp).to(device)).replace(f" ({device}:0)", "") == theirs


@needs_torch
def test_traversal_apply_and_lookups_match_torch(device: str) -> None:
    def build(L: Any) -> Any:
        shared = L.Linear(2, 2)
        m = L.Sequential(shared, L.ReLU(), shared, L.Sequential(L.Linear(2, 3)))
        m[3].tied = shared  # the same module under two names
        return m

    ours, theirs = build(nn).to(device), build(torch.nn)
    for kw in ({}, {"remove_duplicate": False}):
        assert [n for n, _ in ours.named_modules(**kw)] == [n for n, _ in theirs.named_modules(**kw)]
        assert [n for n, _ in ours.named_parameters(**kw)] == [n for n, _ in theirs.named_parameters(**kw)]
    assert [n for n, _ in ours.named_parameters(prefix="m", recurse=False)] == []
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())  # a shared module's weights under each name
    seen_g, seen_t = [], []
    assert ours.apply(lambda m: seen_g.append(type(m).__name__)) is ours
    theirs.apply(lambda m: seen_t.append(type(m).__name__))
    assert seen_g == seen_t
    assert ours.get_submodule("3.0") is ours[3][0] and ours.get_submodule("") is ours
    assert ours.get_parameter("3.0.bias") is ours[3][0].bias
    for target in ("0.weight", "7", "3.nope"):
        g, t = _raises_like(lambda t=target: ours.get_submodule(t), lambda t=target: theirs.get_submodule(t))
        assert str(g) == str(t)
    for target in ("0.foo", "1", "0"):
        g, t = _raises_like(lambda t=target: ours.get_parameter(t), lambda t=target: theirs.get_parameter(t))
        assert str(g) == str(t)
    bn, tbn = nn.Sequential(nn.BatchNorm1d(2)).to(device), torch.nn.Sequential(torch.nn.BatchNorm1d(2))
    assert bn.get_buffer("0.running_var") is bn[0].running_var
    for target in ("0.weight", "0.nope"):
        g, t = _raises_like(lambda t=target: bn.get_buffer(t), lambda t=target: tbn.get_buffer(t))
        assert str(g) == str(t)
    assert {"weight", "bias", "in_features"} <= set(dir(ours[0])) and "0" not in dir(ours)


@needs_torch
def test_modes_gradients_and_registration_as_torch(device: str) -> None:
    m, tm = nn.Sequential(nn.Linear(3, 2), nn.Dropout()).to(device), torch.nn.Sequential(torch.nn.Linear(3, 2))
    assert m.eval() is m and not m[1].training
    _raises_like(lambda: m.train(1), lambda: tm.train(1))
    assert m.training is False  # the refused call changed nothing
    assert m.requires_grad_(False) is m and not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    m(gpubp.randn(4, 3, device=device)).sum().backward()
    grad = m[0].weight.grad
    m.zero_grad(set_to_none=False)
    assert m[0].weight.grad is grad and not _np(grad).any()
    m.zero_grad()
    assert m[0].weight.grad is None
    # buffers: persistent or not, nn.Buffer assignment, reassignment keeps the kind
    for lib_nn, lib in ((nn, gpubp), (torch.nn, torch)):
        mod = lib_nn.Linear(2, 2)
        mod.register_buffer("hidden", lib.ones(2), persistent=False)
        mod.kept = lib_nn.Buffer(lib.zeros(3))
        mod.gone = lib_nn.Buffer(lib.zeros(1), persistent=False)
        mod.hidden = lib.ones(4)  # still a non-persistent buffer
        assert [n for n, _ in mod.named_buffers()] == ["hidden", "kept", "gone"]
        assert list(mod.state_dict()) == ["weight", "bias", "kept"]
    errors = [
        lambda L, lib: L.Module().register_buffer(1, None),
        lambda L, lib: L.Module().register_buffer("a.b", None),
        lambda L, lib: L.Module().register_parameter("", None),
        lambda L, lib: L.Module().add_module("x", 3),
        lambda L, lib: L.Module().add_module("a.b", L.ReLU()),
        lambda L, lib: L.Module().add_module("training", L.ReLU()),
        lambda L, lib: setattr(L.Linear(2, 2), "weight", lib.ones(2, 2)),
        lambda L, lib: setattr(L.Sequential(L.ReLU()), "0", 3),
        lambda L, lib: setattr(L.BatchNorm1d(2), "running_mean", 3),
        lambda L, lib: L.Module()(lib.ones(1)),
    ]
    for bad in errors:
        _raises_like(lambda b=bad: b(nn, gpubp), lambda b=bad: b(torch.nn, torch))
    lin = nn.Linear(2, 2)
    lin.weight = None  # None keeps the name registered, as PyTorch
    assert "weight" in lin._parameters and lin.weight is None


@needs_torch
def test_to_forms_and_dtype_casts(device: str) -> None:
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    w = m[0].weight
    assert m.to(device, gpubp.float64) is m and m[0].weight is w and w.dtype == gpubp.float64
    assert str(w.device).startswith(device) and m[1].num_batches_tracked.dtype == gpubp.int64
    m.to(dtype=gpubp.float16)
    assert w.dtype == gpubp.float16
    m.float()
    m.to(gpubp.zeros(1, dtype=gpubp.float64, device=device), non_blocking=True)
    assert w.dtype == gpubp.float64
    m.type(gpubp.float32).half().double()
    assert m[1].running_var.dtype == gpubp.float64
    m.cpu()
    assert str(w.device) == "cpu"
    for bad in (lambda L, lib: L.Linear(2, 2).to(lib.int64), lambda L, lib: L.Linear(2, 2).to("cpu", foo=1)):
        _raises_like(lambda b=bad: b(nn, gpubp), lambda b=bad: b(torch.nn, torch))
    with pytest.raises(TypeError, match="bfloat16"):
        nn.Linear(2, 2).bfloat16()
    with pytest.raises(TypeError, match="floating point"):
        nn.Linear(2, 2).type(gpubp.int64)
    with pytest.raises(ValueError, match="unknown device"):
        m.to("tpu")
    assert str(w.device) == "cpu"


def test_pickle_and_deepcopy_round_trip(device: str) -> None:
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.CrossEntropyLoss(weight=gpubp.ones(4))).to(device)
    m[0].register_buffer("plain", gpubp.arange(3, device=device), persistent=False)
    m[0].plain_attr = m[0].plain  # one tensor held twice
    x = gpubp.randn(5, 3, device=device)
    m.train()
    m[:2](x)
    m[0].weight.requires_grad_(False)
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert repr(clone) == repr(m) and list(clone.state_dict()) == list(m.state_dict())
        for (k, a), b in zip(m.state_dict().items(), clone.state_dict().values()):
            np.testing.assert_array_equal(_np(a), _np(b), err_msg=k)
            assert a.device == b.device and a.dtype == b.dtype
        assert isinstance(clone[0].weight, nn.Parameter) and not clone[0].weight.requires_grad
        assert clone[0].weight is not m[0].weight and clone[0].plain_attr is clone[0].plain
        assert "plain" not in clone[0].state_dict()
        clone.eval()
        m.eval()
        np.testing.assert_allclose(_np(clone[:2](x)), _np(m[:2](x)), rtol=1e-6)
        m.train()


@needs_torch
def test_load_state_dict_reports_keys_as_torch(device: str) -> None:
    def build(L: Any) -> Any:
        return L.Sequential(L.Linear(2, 2), L.BatchNorm1d(2))

    ours, theirs = build(nn).to(device), build(torch.nn)
    bad = {"0.weight": np.ones((2, 2), np.float32), "x": 1, "0.x": 2, "1.y.z": 3}
    g, t = _raises_like(
        lambda: ours.load_state_dict(bad),
        lambda: theirs.load_state_dict({k: torch.tensor(v) if k == "0.weight" else v for k, v in bad.items()}),
    )
    for line in str(t).split("\n")[:3]:  # the heading and PyTorch's lines listing missing and unexpected keys
        assert line in str(g)
    res = ours.load_state_dict({"0.weight": gpubp.ones(2, 2), "9.w": gpubp.ones(1)}, strict=False)
    tres = theirs.load_state_dict({"0.weight": torch.ones(2, 2), "9.w": torch.ones(1)}, strict=False)
    assert repr(res) == repr(tres) and res.missing_keys == tres.missing_keys and res.unexpected_keys == ["9.w"]
    np.testing.assert_array_equal(_np(ours[0].weight), np.ones((2, 2)))
    # a plain dict without num_batches_tracked (an old checkpoint) loads strictly, as PyTorch
    sd = {k: v for k, v in theirs.state_dict().items() if "num_batches" not in k}
    ours[1].num_batches_tracked.fill_(3)
    ours.load_state_dict(_to_gpubp(sd, device))
    theirs.load_state_dict(sd)
    assert int(ours[1].num_batches_tracked.item()) == 3
    # assign=True takes the given tensors (a Parameter where there was one, requires_grad kept)
    w = gpubp.randn(2, 2, dtype=gpubp.float64, device=device)
    full = {**ours.state_dict(), "0.weight": w}
    ours.load_state_dict(full, assign=True)
    assert isinstance(ours[0].weight, nn.Parameter) and ours[0].weight.dtype == gpubp.float64
    assert ours[0].weight.requires_grad
    ours[0].weight.detach().fill_(7.0)
    assert float(w[0, 0].item()) == 7.0  # the same memory


@needs_torch
def test_sequential_and_modulelist_indexing_as_torch(device: str) -> None:
    def ops(L: Any) -> list:
        a, b, c, d = L.Linear(1, 1), L.ReLU(), L.Tanh(), L.Sigmoid()
        s = L.Sequential(a, b, c)
        out = [repr(s[-1]), repr(s[1:]), list(s[1:]._modules)]
        s[0] = d
        s.append(a).insert(1, L.Identity())
        del s[2]
        out += [list(s._modules), repr(s), len(s), repr(s + L.Sequential(b)), repr(s.pop(0))]
        s.extend([c])
        s += L.Sequential(d)
        del s[1:3]
        out += [repr(s), [type(m).__name__ for m in s]]
        named = L.Sequential(__import__("collections").OrderedDict([("x", a), ("y", b)]))
        del named[0]
        out.append(list(named._modules))
        ml = L.ModuleList([a, b])
        ml += [c]
        ml.insert(0, d)
        ml[-1] = a
        ml.append(b).extend([c, c])
        del ml[1]
        out += [repr(ml), len(ml), repr(ml[1:3]), type(ml[::2]).__name__, repr(ml + L.ModuleList([d]))]
        out.append(repr(ml.pop(-1)))
        return out

    assert ops(nn) == ops(torch.nn)
    for bad in (lambda L: L.Sequential(L.ReLU())[3], lambda L: L.ModuleList([L.ReLU()])[-2]):
        _raises_like(lambda b=bad: b(nn), lambda b=bad: b(torch.nn))
    _raises_like(lambda: nn.ModuleList().extend(3), lambda: torch.nn.ModuleList().extend(3))
    _raises_like(lambda: nn.Sequential(3), lambda: torch.nn.Sequential(3))


@needs_torch
def test_module_dict_parameter_list_and_dict_as_torch(device: str) -> None:
    def ops(L: Any, lib: Any) -> list:
        md = L.ModuleDict({"b": L.ReLU(), "a": L.Linear(1, 2)})
        md["c"] = L.Tanh()
        md.update([("d", L.Sigmoid()), ("a", L.Identity())])
        del md["b"]
        out = [list(md), list(md.keys()), [type(v).__name__ for v in md.values()], len(md), "c" in md]
        out += [[k for k, _ in md.items()], type(md.pop("c")).__name__, list(md.state_dict()), repr(md)]
        md.clear()
        out.append(len(md))
        pl = L.ParameterList([lib.ones(2, 3), L.Parameter(lib.zeros(2))])
        pl.append(lib.ones(1))
        pl.extend([lib.zeros(4)])
        pl += [lib.ones(5)]
        pl[0] = lib.ones(3)
        out += [len(pl), [tuple(p.shape) for p in pl], [type(p).__name__ for p in pl], list(pl.state_dict())]
        out += [len(pl[1:4]), [n for n, _ in pl.named_parameters()], all(p.requires_grad for p in pl)]
        pd = L.ParameterDict({"w": lib.ones(2), "b": L.Parameter(lib.zeros(1))})  # a dict: sorted keys
        pd["z"] = lib.ones(3)
        pd.update({"y": lib.ones(1)})
        out += [list(pd), list(pd.state_dict()), "w" in pd, len(pd), type(pd["w"]).__name__]
        out += [pd.popitem()[0], tuple(pd.pop("b").shape), list(pd.keys()), pd.get("nope", 5)]
        out += [list(pd.copy()), list(pd.fromkeys(["p", "q"], lib.ones(1))), list(pd | L.ParameterDict({"m": None}))]
        return out

    ours, theirs = ops(nn, gpubp), ops(torch.nn, torch)
    assert ours[:9] == theirs[:9] and ours[10:] == theirs[10:] and ours[9] == theirs[9]
    _raises_like(lambda: nn.ModuleDict({"a": 1}), lambda: torch.nn.ModuleDict({"a": 1}))
    _raises_like(lambda: nn.ModuleDict().update([(1, 2, 3)]), lambda: torch.nn.ModuleDict().update([(1, 2, 3)]))
    _raises_like(lambda: nn.ParameterDict()[1], lambda: torch.nn.ParameterDict()[1])
    m = nn.ParameterList([gpubp.ones(2)]).to(device)
    assert str(m[0].device).startswith(device)


_INPLACE = [
    ("ReLU", lambda L: L.ReLU(inplace=True)),
    ("LeakyReLU", lambda L: L.LeakyReLU(0.2, inplace=True)),
    ("ELU", lambda L: L.ELU(0.7, inplace=True)),
    ("SiLU", lambda L: L.SiLU(inplace=True)),
    ("F.relu", lambda L: lambda x: L.functional.relu(x, inplace=True)),
    ("F.relu_", lambda L: L.functional.relu_),
    ("F.leaky_relu", lambda L: lambda x: L.functional.leaky_relu(x, 0.3, inplace=True)),
    ("F.elu", lambda L: lambda x: L.functional.elu(x, 1.5, True)),
    ("F.silu", lambda L: lambda x: L.functional.silu(x, inplace=True)),
]


@needs_torch
@pytest.mark.parametrize("name,build", _INPLACE, ids=[c[0] for c in _INPLACE])
def test_inplace_activations_write_into_the_input_with_torchs_gradients(device: str, name: str, build: Any) -> None:
    rng = rng_for("inplace", name)
    x_np, w_np = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    results = []
    for lib, dev in ((gpubp, device), (torch, "cpu")):
        x = lib.tensor(x_np, device=dev, requires_grad=True)
        y = x * 2.0  # a non-leaf: in place is allowed
        z = build(lib.nn)(y)
        assert z is y
        (z * lib.tensor(w_np, device=dev)).sum().backward()
        results.append((_np(z), _np(x.grad)))
        leaf = lib.tensor(x_np, device=dev, requires_grad=True)
        with pytest.raises(RuntimeError):
            build(lib.nn)(leaf)  # a leaf that requires grad cannot be changed in place
        with lib.no_grad():
            plain = lib.tensor(x_np, device=dev)
            assert build(lib.nn)(plain) is plain
        results.append(_np(plain))
    np.testing.assert_allclose(results[0][0], results[2][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[2][1], rtol=1e-12)
    np.testing.assert_allclose(results[1], results[3], rtol=1e-12)


def test_inplace_dropout_masks_the_input_itself(device: str) -> None:
    rng = rng_for("inplace dropout")
    x = gpubp.tensor(rng.uniform(0.5, 2.0, (50, 8)), device=device, requires_grad=True)
    w = gpubp.tensor(rng.standard_normal((50, 8)), device=device)
    y = x * 1.0
    d = nn.Dropout(0.4, inplace=True)
    z = d(y)
    assert z is y and repr(d) == "Dropout(p=0.4, inplace=True)"
    (z * w).sum().backward()
    kept = _np(z) != 0
    assert 0.3 < 1 - kept.mean() < 0.5
    np.testing.assert_allclose(_np(x.grad), _np(w) * kept / 0.6, rtol=1e-12)
    np.testing.assert_allclose(_np(z)[kept], _np(x)[kept] / 0.6, rtol=1e-12)
    d.eval()
    assert d(y) is y
    assert F.dropout(y, 0.5, training=False, inplace=True) is y


@needs_torch
def test_batchnorm_counts_training_batches(device: str) -> None:
    ours, theirs = nn.BatchNorm2d(3, momentum=0.2).to(device), torch.nn.BatchNorm2d(3, momentum=0.2)
    rng = rng_for("bn count")
    for step in range(4):
        x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
        ours.train(step != 2)
        theirs.train(step != 2)
        ours(gpubp.tensor(x, device=device))
        theirs(torch.tensor(x))
    assert ours.num_batches_tracked.dtype == gpubp.int64 and ours.num_batches_tracked.shape == ()
    assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked) == 3
    np.testing.assert_allclose(_np(ours.running_var), theirs.running_var.numpy(), rtol=1e-5)
    assert nn.BatchNorm1d(2, track_running_stats=False).num_batches_tracked is None
    ours.reset_running_stats()
    assert int(ours.num_batches_tracked.item()) == 0 and float(ours.running_var.sum().item()) == 3.0


@needs_torch
def test_torch_import_paths_exist(device: str) -> None:
    paths = {
        "module": ["Module"], "linear": ["Linear", "Identity"], "conv": ["Conv1d", "Conv2d"],
        "activation": ["ReLU", "LeakyReLU", "ELU", "SiLU", "GELU", "Sigmoid", "Tanh", "Softmax", "Softplus"],
        "loss": ["MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss"], "rnn": ["RNN", "LSTM", "GRU"],
        "container": ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"],
        "batchnorm": ["BatchNorm1d", "BatchNorm2d"], "dropout": ["Dropout"], "sparse": ["Embedding"],
        "normalization": ["LayerNorm"], "pooling": ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"],
        "flatten": ["Flatten"],
    }  # fmt: skip
    for path, names in paths.items():
        ours = importlib.import_module(f"gpubp.nn.modules.{path}")
        theirs = importlib.import_module(f"torch.nn.modules.{path}")
        for name in names:
            assert getattr(ours, name) is getattr(nn, name) and hasattr(theirs, name), (path, name)
    from gpubp.nn.parameter import Buffer, Parameter

    assert Parameter is nn.Parameter and Buffer is nn.Buffer and nn.modules.Linear is nn.Linear
    lstm = nn.LSTM(2, 3).to(device)
    assert lstm.flatten_parameters() is None and torch.nn.LSTM(2, 3).flatten_parameters() is None
